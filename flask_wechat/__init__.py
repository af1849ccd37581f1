"""flask_wechat: connect a Flask site to WeChat."""

from __future__ import annotations

from .errors import APIError, ConfigError, WeChatError
from .extension import WeChat
from .messages import Message
from .replies import (
    Article,
    ImageReply,
    MusicReply,
    NewsReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
)

__all__ = [
    "APIError",
    "Article",
    "ConfigError",
    "ImageReply",
    "Message",
    "MusicReply",
    "NewsReply",
    "Reply",
    "TextReply",
    "TransferCustomerServiceReply",
    "VideoReply",
    "VoiceReply",
    "WeChat",
    "WeChatError",
]
