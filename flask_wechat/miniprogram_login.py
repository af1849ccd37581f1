"""Mini Program login (小程序登录) and WeChat's open-data checks (开放数据校验与解密).

``wx.login()`` in the mini program yields a one-time ``js_code``; :func:`login`
trades it for the user's ``openid`` (and ``unionid``) and a ``session_key``.

The session_key stays on the server, in the extension's shared cache, and is
never returned to the caller. It is the key WeChat uses to sign (``signature``)
and encrypt (``encryptedData``) the user's open data: anyone holding it can forge
a ``rawData`` that passes :func:`verify_raw_data` or an ``encryptedData`` (phone
number, unionId, ...) that :func:`decrypt_data` accepts. WeChat's rules say it
must not leave the developer's server; a mini program that received it could be
made to sign whatever it likes. So the app keeps only the openid in its own
session, and decrypts or verifies here, by openid.

WeChat does not tell how long a session_key lives: it is extended while the user
keeps using the mini program and replaced whenever ``wx.login()`` runs again (call
:func:`login` then, to store the new one). The cache keeps a key for
:data:`SESSION_KEY_TTL` (three days); after that, or after a cache flush,
:func:`session_key` raises :class:`LookupError` and the user must log in again.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import typing as t

from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad
from flask import current_app

from .errors import DecryptError, InvalidAppId, InvalidSignature, WeChatError

if t.TYPE_CHECKING:
    from .config import Account
    from .state import WeChatState

__all__ = [
    "SESSION_KEY_TTL",
    "MiniProgramSession",
    "decrypt_data",
    "decrypt_with_key",
    "forget_session",
    "login",
    "session_key",
    "session_key_cache_key",
    "verify_raw_data",
]

#: Seconds a session_key is kept in the shared cache after :func:`login` (3 days).
SESSION_KEY_TTL: float = 3 * 24 * 3600

#: AES-128: the session_key and the iv are both 16 bytes; so is the block.
_AES_BYTES = 16


@dataclasses.dataclass(frozen=True)
class MiniProgramSession:
    """Who logged in: what :func:`login` returns. The session_key is not here on
    purpose (it stays in the server-side cache; see :func:`session_key`)."""

    open_id: str
    union_id: str | None
    account: str


def session_key_cache_key(account: str, open_id: str) -> str:
    """The shared-cache key under which the session_key of ``open_id`` is kept."""
    return f"wechat:mp_session:{account}:{open_id}"


def login(
    js_code: str, account: str | None = None, *, ttl: float = SESSION_KEY_TTL
) -> MiniProgramSession:
    """Trade the ``wx.login()`` code for the user's identity (``jscode2session``).

    The session_key WeChat answers is stored in the extension's shared cache for
    ``ttl`` seconds, replacing the one of an earlier login, and is not returned.

    :param js_code: the code from ``wx.login()``; it works once, for five minutes.
    :param account: the Mini Program account (default: the default one).
    :raises APIError: WeChat refused the code (40029 invalid, 40163 already used,
        42003 expired...); nothing is stored then.
    """
    state = _state()
    acct = state.account(account)
    answer = state.client(acct.name).miniprogram.code_to_session(js_code)
    open_id = answer.get("openid")
    key = answer.get("session_key")
    if not isinstance(open_id, str) or not open_id or not isinstance(key, str) or not key:
        raise WeChatError("jscode2session answered without an openid and a session_key")
    union_id = answer.get("unionid")
    state.store.set(session_key_cache_key(acct.name, open_id), key, ttl)
    return MiniProgramSession(
        open_id=open_id,
        union_id=union_id if isinstance(union_id, str) and union_id else None,
        account=acct.name,
    )


def session_key(open_id: str, account: str | None = None) -> str:
    """The session_key stored by the last :func:`login` of ``open_id``.

    :raises LookupError: none is stored (never logged in, expired, evicted):
        the user must log in again (``wx.login()`` then :func:`login`).
    """
    state = _state()
    acct = state.account(account)
    key = state.store.get(session_key_cache_key(acct.name, open_id))
    if not isinstance(key, str) or not key:
        raise LookupError(
            f"no session_key for openid {open_id!r} of account {acct.name!r}: the"
            " session expired or never existed; the user must log in again"
            " (wx.login() in the mini program, then login() here)"
        )
    return key


def forget_session(open_id: str, account: str | None = None) -> None:
    """Drop the stored session_key of ``open_id`` (on logout, say)."""
    state = _state()
    state.store.delete(session_key_cache_key(state.account(account).name, open_id))


def decrypt_data(
    open_id: str, encrypted_data: str, iv: str, account: str | None = None
) -> dict[str, t.Any]:
    """Decrypt a mini program's ``encryptedData`` with the user's stored session_key
    and check its watermark against the account's AppID.

    :raises LookupError: no session_key is stored for ``open_id``.
    :raises DecryptError: see :func:`decrypt_with_key`.
    :raises InvalidAppId: the data was made for another AppID.
    """
    acct = _account(account)
    return decrypt_with_key(session_key(open_id, acct.name), encrypted_data, iv, acct.app_id or "")


def decrypt_with_key(
    session_key: str, encrypted_data: str, iv: str, app_id: str
) -> dict[str, t.Any]:
    """Decrypt ``encryptedData`` with a given base64 ``session_key``; no cache involved.

    AES-128-CBC with key = base64decode(session_key) and iv = base64decode(iv),
    PKCS#7 padding to 16-byte blocks; the plaintext is UTF-8 JSON whose
    ``watermark.appid`` must be ``app_id``.

    :raises DecryptError: bad base64, a key or iv that is not 16 bytes, a
        ciphertext that is not whole blocks, bad padding, or a plaintext that is
        not a UTF-8 JSON object (as when the session_key is not the right one).
    :raises InvalidAppId: no watermark, or one for another AppID.
    """
    key = _b64("session_key", session_key)
    vector = _b64("iv", iv)
    ciphertext = _b64("encryptedData", encrypted_data)
    if len(key) != _AES_BYTES:
        raise DecryptError(f"the session_key must decode to 16 bytes, not {len(key)}")
    if len(vector) != _AES_BYTES:
        raise DecryptError(f"the iv must decode to 16 bytes, not {len(vector)}")
    if not ciphertext or len(ciphertext) % _AES_BYTES:
        raise DecryptError("encryptedData is not a whole number of 16-byte blocks")
    padded = AES.new(key, AES.MODE_CBC, iv=vector).decrypt(ciphertext)
    try:
        plaintext = unpad(padded, _AES_BYTES, style="pkcs7")
    except ValueError:
        raise DecryptError("bad padding (wrong session_key, or tampered data)") from None
    try:
        data = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DecryptError("the decrypted data is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise DecryptError("the decrypted data is not a JSON object")
    watermark = data.get("watermark")
    found = watermark.get("appid") if isinstance(watermark, dict) else None
    if not isinstance(found, str) or not app_id or found != app_id:
        raise InvalidAppId("the data's watermark names another AppID")
    return data


def verify_raw_data(
    open_id: str, raw_data: str, signature: str, account: str | None = None
) -> None:
    """Check the ``signature`` WeChat sent with ``rawData``:
    sha1(rawData + session_key) in hex, compared in constant time.

    :raises LookupError: no session_key is stored for ``open_id``.
    :raises InvalidSignature: the signature does not match.
    """
    key = session_key(open_id, account)
    if not isinstance(raw_data, str) or not isinstance(signature, str) or not signature:
        raise InvalidSignature("missing rawData or signature")
    expected = hashlib.sha1((raw_data + key).encode("utf-8")).hexdigest()  # noqa: S324 - WeChat's algorithm
    if not hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace")):
        raise InvalidSignature("rawData does not match its signature")


def _state() -> WeChatState:
    try:
        state = current_app.extensions["wechat"]
    except KeyError:
        raise RuntimeError(
            "flask_wechat is not initialised on this app. Did you forget to call init_app(app)?"
        ) from None
    return t.cast("WeChatState", state)


def _account(name: str | None) -> Account:
    return _state().account(name)


def _b64(what: str, value: str) -> bytes:
    if not isinstance(value, str):
        raise DecryptError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError(f"{what} is not valid base64") from None
