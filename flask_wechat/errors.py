"""The one exception hierarchy of flask_wechat.

Every error derives from :class:`WeChatError` and from the built-in that best
describes it, so ``except ValueError`` around a decrypt still works. Each says
what went wrong and, where the caller can act, what to do.

Three families:

* **configuration** (:class:`ConfigError`), raised from ``init_app``;
* **rejected requests** (:class:`RejectedRequest` and subclasses), turned into a
  short 4xx answer by the callbacks, never seen by handlers;
* **calls out** — WeChat answered an ``errcode`` (:class:`APIError` and
  subclasses), could not be reached (:class:`TransportError`), no credential
  could be had (:class:`TokenUnavailable`), the relay platform refused
  (:class:`RelayError`), or late work cannot succeed (:class:`PermanentFailure`).
"""

from __future__ import annotations

import re
import time

#: WeChat ends ``errmsg`` with the request's id:
#: ``"invalid credential, access_token is invalid or not latest rid: 6638c156-2d826832-17af344b"``.
_RID = re.compile(r"\brid:\s*([0-9A-Za-z-]+)")


def parse_rid(errmsg: str) -> str | None:
    """WeChat's ``rid`` (request id) in ``errmsg``, or ``None``.

    The rid is what ``/cgi-bin/openapi/rid/get`` (``client.operations.get_rid_info``)
    and WeChat's support need to look a failed call up.
    """
    found = _RID.search(errmsg)
    return found.group(1) if found else None


class WeChatError(Exception):
    """Base class of every flask_wechat error."""


class ConfigError(WeChatError, ValueError):
    """The app's WeChat configuration is missing or wrong.

    Raised from :meth:`flask_wechat.WeChat.init_app` (or when a call needs a
    setting that is not there); the message names the key to fix.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


# -- rejected requests ------------------------------------------------------------


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


class ReplayedRequest(RejectedRequest):
    """A ``(timestamp, nonce, signature)`` already accepted came back with another
    body or in another mode: a captured request turned into a forgery."""

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


# -- calls out ---------------------------------------------------------------------


class APIError(WeChatError, RuntimeError):
    """The WeChat API answered a non-zero ``errcode``; :attr:`errcode` and
    :attr:`errmsg` are WeChat's own (look the code up in WeChat's global error list);
    :attr:`rid` is the request id WeChat put in ``errmsg`` (``None`` when absent),
    which ``flask wechat rid RID`` looks up."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.rid = parse_rid(errmsg)
        super().__init__(self.describe())

    def describe(self) -> str:
        """The message: the errcode, WeChat's errmsg (which carries the rid) and,
        where the caller can act, what to do."""
        return f"WeChat API error {self.errcode}: {self.errmsg}"


class SystemBusy(APIError):
    """-1: WeChat is busy; nothing was done. The client already retried with backoff."""


class AccessTokenExpired(APIError):
    """40001 / 40014 / 42001: the access_token is invalid or expired.

    The client refreshes the token and retries once before raising this; seeing it
    means WeChat keeps refusing fresh tokens (an AppSecret reset elsewhere?).
    """


class QuotaExceeded(APIError):
    """45009: the daily quota of this API (often the token API itself) is used up;
    wait for tomorrow or clear it with ``clear_quota``."""


class RateLimited(APIError):
    """45011: this API's per-minute frequency limit is reached ("api minute-quota
    reach limit"). Not retried at once: :attr:`retry_after` is the number of seconds
    until the next minute, when WeChat counts again; a queued task is retried by its
    queue after that long."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        #: seconds until the next minute starts.
        self.retry_after = 60.0 - time.time() % 60.0
        super().__init__(errcode, errmsg)

    def describe(self) -> str:
        return f"{super().describe()}; the per-minute limit resets in {self.retry_after:.0f}s"


class IPNotWhitelisted(APIError):
    """40164: the server's IP address is not on the account's IP whitelist; add it
    in the admin console (公众平台 → 设置与开发 → 基本配置 → IP白名单; WeCom: the app's
    企业可信IP) and try again."""

    def describe(self) -> str:
        return (
            f"{super().describe()}; this server's IP address is not on the account's "
            "IP whitelist: add it in the admin console (IP白名单) and try again"
        )


class ResponseWindowClosed(APIError):
    """45015: the user has not written within 48 hours; customer-service messages
    can no longer reach them (use a template or subscribe message)."""


class CustomerServiceLimit(APIError):
    """45047: too many customer-service messages without an answer from the user."""


class APIUnauthorized(APIError):
    """48001: this account has no permission for the API (not verified, wrong type)."""


class InvalidCode(APIError):
    """40029: the one-time code (OAuth, ``wx.login``, phone number) is unknown,
    belongs to another app, or was already used; get a new one from the client."""


class SubscriptionRefused(APIError):
    """43101: the user has not accepted (or has used up) this subscribe message
    template; ask again with ``wx.requestSubscribeMessage``."""


class InvalidArgument(APIError):
    """47003: an argument is invalid, e.g. a subscribe message value that does
    not fit its keyword's type (``thing`` longer than 20 characters, ...)."""


class RiskyContent(APIError):
    """87014: WeChat's content security check judged the content risky."""


class NotAuthorized(WeChatError, LookupError):
    """An account has not authorized (or has revoked the authorization of) the
    site's third-party platform; :attr:`app_id` names it. It must authorize
    again through :meth:`~flask_wechat.component.Component.authorize_url`."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        super().__init__(
            f"{app_id} has not authorized this third-party platform (or revoked it); "
            "it must authorize again"
        )


class TransportError(WeChatError, ConnectionError):
    """WeChat's API (or a host it pointed to) could not be reached, or answered
    something that is not an API answer. Carries no URL (URLs hold secrets).

    :attr:`may_have_arrived` tells whether the request may have reached WeChat
    (a read timeout, a dropped answer): a send is then not repeated, since it
    could reach the user twice.
    """

    def __init__(self, what: str, *, may_have_arrived: bool) -> None:
        self.may_have_arrived = may_have_arrived
        super().__init__(what)


class StoreUnavailable(WeChatError, ConnectionError):
    """The shared store (Redis) did not answer. Callbacks keep answering without
    it; API calls raise :class:`TokenUnavailable` instead of waiting."""


class TokenUnavailable(WeChatError, RuntimeError):
    """No access_token or ticket could be had in time: another process holds the
    refresh lock and did not finish, or the shared store is unreachable."""


class RelayError(WeChatError, ConnectionError):
    """The relay platform (or a media URL it gave) answered with an HTTP error."""

    def __init__(self, status: int, what: str) -> None:
        self.status = status
        super().__init__(f"{what} answered HTTP {status}")


class PermanentFailure(WeChatError, RuntimeError):
    """Late work that must not be retried: retrying cannot help, or could make a
    message reach a user twice."""


#: errcodes that mean the access_token the call carried is no good.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

_TYPED: dict[int, type[APIError]] = {
    -1: SystemBusy,
    **dict.fromkeys(TOKEN_ERRCODES, AccessTokenExpired),
    40029: InvalidCode,
    40164: IPNotWhitelisted,
    43101: SubscriptionRefused,
    45009: QuotaExceeded,
    45011: RateLimited,
    45015: ResponseWindowClosed,
    45047: CustomerServiceLimit,
    47003: InvalidArgument,
    48001: APIUnauthorized,
    87014: RiskyContent,
}


def api_error(errcode: int, errmsg: str = "") -> APIError:
    """The most specific :class:`APIError` for WeChat's ``errcode``."""
    return _TYPED.get(errcode, APIError)(errcode, errmsg)


class WeChatWarning(UserWarning):
    """Something that works but is probably not what was meant, such as
    ``@wechat.on("txet")`` (a name close to a known type)."""
