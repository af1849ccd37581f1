"""The one exception hierarchy of flask_wechat.

Every error derives from :class:`WeChatError` and from the built-in that best
describes it, so ``except ValueError`` around a decrypt still works.
"""

from __future__ import annotations


class WeChatError(Exception):
    """Base class of every flask_wechat error."""


class ConfigError(WeChatError, ValueError):
    """The app's WeChat configuration is missing or wrong.

    Raised from :meth:`flask_wechat.WeChat.init_app`; the message names the key.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


class RejectedRequest(WeChatError, ValueError):
    """A callback request that must not reach a handler.

    :attr:`reason` is the short plain-text answer sent to the caller and
    :attr:`status` the HTTP status code of that answer.
    """

    status: int = 400

    def __init__(self, reason: str, status: int | None = None) -> None:
        self.reason = reason
        if status is not None:
            self.status = status
        super().__init__(reason)


class InvalidSignature(RejectedRequest):
    """``signature``/``msg_signature`` does not match, or is missing."""

    status = 403


class StaleRequest(RejectedRequest):
    """The request's ``timestamp`` lies outside ``WECHAT_REPLAY_WINDOW``."""

    status = 403


class InvalidAppId(RejectedRequest):
    """The message decrypted, but for another AppID/CorpID (receive id)."""

    status = 403


class DecryptError(RejectedRequest):
    """The ciphertext is not valid base64, has bad padding or a bad length."""


class MalformedBody(RejectedRequest):
    """The body is not well-formed XML/JSON, declares a DOCTYPE, or lacks fields."""


class BodyTooLarge(RejectedRequest):
    """The body is larger than WeChat ever sends (1 MiB)."""

    status = 413


class APIError(WeChatError, RuntimeError):
    """The WeChat API answered a non-zero ``errcode``."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeChat API error {errcode}: {errmsg}")


class AccessTokenExpired(APIError):
    """40001 / 40014 / 42001: the access_token is invalid or expired.

    The client refreshes the token and retries once before raising this.
    """


class QuotaExceeded(APIError):
    """45009: the daily quota of this API (often the token API itself) is used up."""


class ResponseWindowClosed(APIError):
    """45015: the user has not written within 48 hours; customer-service messages
    can no longer reach them."""


class CustomerServiceLimit(APIError):
    """45047: too many customer-service messages without an answer from the user."""


class APIUnauthorized(APIError):
    """48001: this account has no permission for the API (not verified, wrong type)."""


class TokenUnavailable(WeChatError, RuntimeError):
    """No access_token or ticket could be had in time (another process held the
    refresh lock and did not finish)."""


#: errcodes that mean the access_token the call carried is no good.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

_TYPED: dict[int, type[APIError]] = {
    **dict.fromkeys(TOKEN_ERRCODES, AccessTokenExpired),
    45009: QuotaExceeded,
    45015: ResponseWindowClosed,
    45047: CustomerServiceLimit,
    48001: APIUnauthorized,
}


def api_error(errcode: int, errmsg: str = "") -> APIError:
    """The most specific :class:`APIError` for WeChat's ``errcode``."""
    return _TYPED.get(errcode, APIError)(errcode, errmsg)
