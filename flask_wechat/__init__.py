"""flask_wechat: connect a Flask site to WeChat."""

from __future__ import annotations

import importlib.metadata as _metadata

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

try:
    #: The installed distribution's version (``flask-wechat-connect`` on PyPI).
    __version__ = _metadata.version("flask-wechat-connect")
except _metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

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
    "__version__",
]
