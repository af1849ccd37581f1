"""Mini Program login: code → openid, the session_key kept server-side, and
WeChat's open-data checks (decrypting ``encryptedData``, verifying ``rawData``)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import typing as t
from collections.abc import Iterator

import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from flask import Flask

from flask_wechat import WeChat
from flask_wechat.errors import APIError, DecryptError, InvalidAppId, InvalidSignature
from flask_wechat.miniprogram_login import (
    SESSION_KEY_TTL,
    MiniProgramSession,
    decrypt_data,
    decrypt_with_key,
    forget_session,
    login,
    session_key,
    session_key_cache_key,
    verify_raw_data,
)
from flask_wechat.sandbox import SANDBOX_APP_ID, SANDBOX_OPENID, Sandbox

PLAYER = "oMINIPROGRAMPLAYER0000000001"
GAME_APP_ID = "wxminigame00000000002"
GAME_SECRET = "minigame-secret"

# WeChat's published example for 开放数据解密 (the wx.getUserInfo encryptedData of
# the official AES sample, https://developers.weixin.qq.com/miniprogram/dev/demo/aes-sample.zip,
# described at https://developers.weixin.qq.com/miniprogram/dev/api/signature.html).
DEMO_APP_ID = "wx4f4bc4dec97d474b"
DEMO_SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="
DEMO_IV = "r7BXXKkLb8qrSNn05n0qiA=="
DEMO_ENCRYPTED_DATA = (
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS"
    "9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142d"
    "NCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6"
    "/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn"
    "/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4P"
    "C7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns"
    "/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYV"
    "oKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuy"
    "Db/XcxxmK01EpqOyuxINew=="
)
DEMO_PLAINTEXT: dict[str, t.Any] = {
    "openId": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
    "nickName": "Band",
    "gender": 1,
    "language": "zh_CN",
    "city": "Guangzhou",
    "province": "Guangdong",
    "country": "CN",
    "avatarUrl": "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0",
    "unionId": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
    "watermark": {"timestamp": 1477314187, "appid": "wx4f4bc4dec97d474b"},
}

# WeChat's published example for 数据签名校验 (same page): rawData, session_key, signature.
SIGNED_RAW_DATA = (
    '{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou",'
    '"province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/'
    '1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}'
)
SIGNED_SESSION_KEY = "HyVFkGl5F5OQWJZZaNzBBg=="
SIGNED_SIGNATURE = "75e81ceda165f4ffa64f4068af58c64b8f54b88c"


@pytest.fixture(scope="module")
def wechat_sandbox_server() -> Iterator[Sandbox]:
    """The plugin's module sandbox, with a second Mini Game registered."""
    with Sandbox() as server:
        server.register(GAME_APP_ID, GAME_SECRET, kind="miniprogram")
        yield server


@pytest.fixture
def app(sandbox: Sandbox) -> Iterator[Flask]:
    """A Mini Program app on the sandbox (no callbacks), inside its app context;
    a second Mini Game account ``game`` with its own AppID, and ``demo`` with the
    AppID of WeChat's published example."""
    app = Flask("miniprogram_login_test")
    app.config.update(TESTING=True, WECHAT_CALLBACK_URL=None)
    app.config.update(sandbox.flask_config("miniprogram"))
    app.config["WECHAT_ACCOUNTS"] = {
        "game": {
            "kind": "miniprogram",
            "app_id": GAME_APP_ID,
            "app_secret": GAME_SECRET,
            "callback_url": None,
        },
        # decrypts WeChat's published example (never calls the API)
        "demo": {
            "kind": "miniprogram",
            "app_id": DEMO_APP_ID,
            "app_secret": "unused",
            "callback_url": None,
        },
    }
    WeChat(app)
    with app.app_context():
        yield app


def encrypt(key_b64: str, payload: bytes, *, padded: bool = False) -> tuple[str, str]:
    """Encrypt ``payload`` as WeChat does (AES-128-CBC, PKCS#7 to 16 bytes);
    returns ``(encryptedData, iv)``. With ``padded``, ``payload`` is encrypted
    as given (to forge bad padding)."""
    iv = secrets.token_bytes(16)
    data = payload if padded else pad(payload, 16, style="pkcs7")
    cipher = AES.new(base64.b64decode(key_b64), AES.MODE_CBC, iv=iv)
    return base64.b64encode(cipher.encrypt(data)).decode(), base64.b64encode(iv).decode()


def user_data(app_id: str = SANDBOX_APP_ID) -> dict[str, t.Any]:
    return {
        "openId": PLAYER,
        "nickName": "微信用户 小明 😀",
        "city": "广州",
        "phoneNumber": "13800138000",
        "watermark": {"appid": app_id, "timestamp": 1_700_000_000},
    }


def encoded(data: t.Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def logged_in(sandbox: Sandbox, open_id: str = PLAYER) -> str:
    """Log ``open_id`` in through the sandbox; return the session_key WeChat issued."""
    login(sandbox.oauth_code(open_id))
    key = sandbox.session_key_for(open_id)
    assert key is not None
    return key


# -- login ------------------------------------------------------------------------------


def test_login_round_trip(app: Flask, sandbox: Sandbox) -> None:
    session = login(sandbox.oauth_code(PLAYER))
    assert session == MiniProgramSession(open_id=PLAYER, union_id=None, account="default")
    issued = sandbox.session_key_for(PLAYER)
    assert issued is not None
    assert session_key(PLAYER) == issued
    # the key never leaves the server: not a field, not in the repr
    assert [f.name for f in dataclasses.fields(session)] == ["open_id", "union_id", "account"]
    assert issued not in repr(session)
    assert issued not in str(session)
    # it lives in the shared cache under the documented key
    cache = app.extensions["wechat"].store
    assert cache.get(session_key_cache_key("default", PLAYER)) == issued
    assert session_key_cache_key("default", PLAYER) == f"wechat:mp_session:default:{PLAYER}"
    (call,) = [c for c in sandbox.calls if c.path == "/sns/jscode2session"]
    assert call.params["appid"] == SANDBOX_APP_ID


def test_session_is_frozen(app: Flask, sandbox: Sandbox) -> None:
    session = login(sandbox.oauth_code(PLAYER))
    with pytest.raises(AttributeError):
        session.open_id = "someone else"  # type: ignore[misc]


def test_login_carries_the_union_id(app: Flask, sandbox: Sandbox) -> None:
    session = login(sandbox.oauth_code(SANDBOX_OPENID))
    assert session.open_id == SANDBOX_OPENID
    assert session.union_id == "oUNIONID00000000000000000000"


def test_a_new_login_replaces_the_key(app: Flask, sandbox: Sandbox) -> None:
    first = logged_in(sandbox)
    second = logged_in(sandbox)
    assert first != second
    assert session_key(PLAYER) == second


def test_reused_code(app: Flask, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code(PLAYER)
    login(code)
    stored = session_key(PLAYER)
    with pytest.raises(APIError) as info:
        login(code)
    assert info.value.errcode == 40163
    assert session_key(PLAYER) == stored  # a failed login leaves the session alone


def test_invalid_code(app: Flask, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        login("not-a-code")
    assert info.value.errcode == 40029
    with pytest.raises(LookupError):
        session_key(PLAYER)


def test_sessions_are_per_account(app: Flask, sandbox: Sandbox) -> None:
    session = login(sandbox.oauth_code(PLAYER, app_id=GAME_APP_ID), account="game")
    assert session.account == "game"
    assert session_key(PLAYER, account="game") == sandbox.session_key_for(PLAYER)
    with pytest.raises(LookupError):
        session_key(PLAYER)  # the default account never saw this user
    # a code of one app is no good for the other
    with pytest.raises(APIError) as info:
        login(sandbox.oauth_code(PLAYER, app_id=GAME_APP_ID))
    assert info.value.errcode == 40029


def test_no_session(app: Flask) -> None:
    with pytest.raises(LookupError, match="log in again"):
        session_key(PLAYER)


def test_forget_session(app: Flask, sandbox: Sandbox) -> None:
    logged_in(sandbox)
    forget_session(PLAYER)
    with pytest.raises(LookupError):
        session_key(PLAYER)


def test_ttl_is_a_few_days() -> None:
    assert 86400 <= SESSION_KEY_TTL <= 7 * 86400


# -- decrypt_data -----------------------------------------------------------------------


def test_decrypt_data(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    encrypted, iv = encrypt(key, encoded(user_data()))
    data = decrypt_data(PLAYER, encrypted, iv)
    assert data == user_data()
    assert data["nickName"] == "微信用户 小明 😀"
    assert data["city"] == "广州"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32])
def test_decrypt_every_padding_length(app: Flask, sandbox: Sandbox, size: int) -> None:
    key = logged_in(sandbox)
    payload = {**user_data(), "filler": "x" * size}
    encrypted, iv = encrypt(key, encoded(payload))
    assert decrypt_data(PLAYER, encrypted, iv) == payload


def test_decrypt_data_for_another_app(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    encrypted, iv = encrypt(key, encoded(user_data(app_id=GAME_APP_ID)))
    with pytest.raises(InvalidAppId):
        decrypt_data(PLAYER, encrypted, iv)


def test_decrypt_data_without_watermark(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    for payload in ({"openId": PLAYER}, {"openId": PLAYER, "watermark": "wxsandbox"}):
        encrypted, iv = encrypt(key, encoded(payload))
        with pytest.raises(InvalidAppId):
            decrypt_data(PLAYER, encrypted, iv)


def test_tampered_ciphertext(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    encrypted, iv = encrypt(key, encoded(user_data()))
    raw = bytearray(base64.b64decode(encrypted))
    raw[0] ^= 0x80  # garbles the whole first plaintext block
    with pytest.raises(DecryptError):
        decrypt_data(PLAYER, base64.b64encode(bytes(raw)).decode(), iv)
    with pytest.raises(DecryptError):  # not whole blocks
        decrypt_data(PLAYER, base64.b64encode(bytes(raw[:-1])).decode(), iv)
    with pytest.raises(DecryptError):  # nothing at all
        decrypt_data(PLAYER, "", iv)


@pytest.mark.parametrize(
    "tail",
    [
        b"\x00" * 16,  # pad byte 0
        b"\x11" * 16,  # pad byte above the block size
        b"\x04" * 15 + b"\x03",  # says 3 pad bytes, the two before it differ
        b"\x02" * 14 + b"\x01\x03",  # inconsistent pad bytes
    ],
)
def test_bad_padding(app: Flask, sandbox: Sandbox, tail: bytes) -> None:
    key = logged_in(sandbox)
    body = encoded(user_data())
    body += b" " * (-len(body) % 16)  # whole blocks, then a forged last block
    encrypted, iv = encrypt(key, body + tail, padded=True)
    with pytest.raises(DecryptError, match="padding"):
        decrypt_data(PLAYER, encrypted, iv)


@pytest.mark.parametrize(
    "plaintext",
    [b"not json at all", b"\xff\xfe\xfd not utf-8", b'["a", "list"]', b'"a string"'],
)
def test_not_a_json_object(app: Flask, sandbox: Sandbox, plaintext: bytes) -> None:
    key = logged_in(sandbox)
    encrypted, iv = encrypt(key, plaintext)
    with pytest.raises(DecryptError):
        decrypt_data(PLAYER, encrypted, iv)


def test_bad_base64(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    encrypted, iv = encrypt(key, encoded(user_data()))
    for bad_data, bad_iv in [
        ("@@not base64@@", iv),
        (encrypted[:-1], iv),  # bad length
        (encrypted, "r7BXXKkLb8qrSNn05n0qiA"),  # missing padding
        (encrypted, "不是base64"),
    ]:
        with pytest.raises(DecryptError, match="base64"):
            decrypt_data(PLAYER, bad_data, bad_iv)


def test_bad_key_or_iv_length(app: Flask) -> None:
    encrypted, iv = encrypt(DEMO_SESSION_KEY, encoded(user_data()))
    short = base64.b64encode(b"8 bytes!").decode()
    with pytest.raises(DecryptError, match="session_key"):
        decrypt_with_key(short, encrypted, iv, SANDBOX_APP_ID)
    with pytest.raises(DecryptError, match="iv"):
        decrypt_with_key(DEMO_SESSION_KEY, encrypted, short, SANDBOX_APP_ID)
    long_key = base64.b64encode(bytes(32)).decode()  # AES-256 sized: not WeChat's
    with pytest.raises(DecryptError, match="session_key"):
        decrypt_with_key(long_key, encrypted, iv, SANDBOX_APP_ID)


def test_decrypt_without_session(app: Flask) -> None:
    encrypted, iv = encrypt(DEMO_SESSION_KEY, encoded(user_data()))
    with pytest.raises(LookupError):
        decrypt_data(PLAYER, encrypted, iv)


def test_decrypt_with_an_old_key(app: Flask, sandbox: Sandbox) -> None:
    old = logged_in(sandbox)
    encrypted, iv = encrypt(old, encoded(user_data()))
    logged_in(sandbox)  # wx.login() again: the old key no longer fits
    assert decrypt_with_key(old, encrypted, iv, SANDBOX_APP_ID) == user_data()
    with pytest.raises(DecryptError):
        decrypt_data(PLAYER, encrypted, iv)


# -- WeChat's published example -------------------------------------------------------------


def test_published_example() -> None:
    data = decrypt_with_key(DEMO_SESSION_KEY, DEMO_ENCRYPTED_DATA, DEMO_IV, DEMO_APP_ID)
    assert data == DEMO_PLAINTEXT
    assert data["watermark"]["appid"] == DEMO_APP_ID


def test_published_example_for_another_app() -> None:
    with pytest.raises(InvalidAppId):
        decrypt_with_key(DEMO_SESSION_KEY, DEMO_ENCRYPTED_DATA, DEMO_IV, SANDBOX_APP_ID)


def test_published_example_tampered() -> None:
    raw = bytearray(base64.b64decode(DEMO_ENCRYPTED_DATA))
    raw[-17] ^= 0x01  # flips a bit of the pad bytes: 0x07 becomes 0x06 in one of them
    with pytest.raises(DecryptError, match="padding"):
        decrypt_with_key(
            DEMO_SESSION_KEY, base64.b64encode(bytes(raw)).decode(), DEMO_IV, DEMO_APP_ID
        )
    other_key = base64.b64encode(bytes(range(16))).decode()
    with pytest.raises(DecryptError):
        decrypt_with_key(other_key, DEMO_ENCRYPTED_DATA, DEMO_IV, DEMO_APP_ID)


def test_published_example_through_the_cache(app: Flask) -> None:
    """decrypt_data uses the stored key and the account's AppID (the key is put
    in place by hand: the sandbox never issued the demo's session_key)."""
    open_id = DEMO_PLAINTEXT["openId"]
    cache = app.extensions["wechat"].store
    cache.set(session_key_cache_key("demo", open_id), DEMO_SESSION_KEY, 60)
    assert decrypt_data(open_id, DEMO_ENCRYPTED_DATA, DEMO_IV, account="demo") == DEMO_PLAINTEXT
    cache.set(session_key_cache_key("default", open_id), DEMO_SESSION_KEY, 60)
    with pytest.raises(InvalidAppId):  # the default account has another AppID
        decrypt_data(open_id, DEMO_ENCRYPTED_DATA, DEMO_IV)


# -- verify_raw_data --------------------------------------------------------------------


def test_verify_raw_data(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    raw = json.dumps({"nickName": "微信用户 😀", "city": "广州"}, ensure_ascii=False)
    signature = hashlib.sha1((raw + key).encode("utf-8")).hexdigest()
    # no exception: the signature matches (hex digits in either case)
    verify_raw_data(PLAYER, raw, signature)
    verify_raw_data(PLAYER, raw, signature.upper())


def test_verify_raw_data_rejects(app: Flask, sandbox: Sandbox) -> None:
    key = logged_in(sandbox)
    raw = '{"nickName":"Band"}'
    signature = hashlib.sha1((raw + key).encode()).hexdigest()
    for bad_raw, bad_signature in [
        ('{"nickName":"Bond"}', signature),  # tampered data
        (raw, signature[:-1] + ("0" if signature[-1] != "0" else "1")),
        (raw, hashlib.sha1(raw.encode()).hexdigest()),  # signed without the key
        (raw, ""),
        (raw, "签名"),
    ]:
        with pytest.raises(InvalidSignature):
            verify_raw_data(PLAYER, bad_raw, bad_signature)


def test_verify_raw_data_without_session(app: Flask) -> None:
    with pytest.raises(LookupError):
        verify_raw_data(PLAYER, "{}", "0" * 40)


def test_verify_published_signature(app: Flask) -> None:
    open_id = "oSIGNEDEXAMPLE"
    cache = app.extensions["wechat"].store
    cache.set(session_key_cache_key("default", open_id), SIGNED_SESSION_KEY, 60)
    # no exception: WeChat's own example signature matches
    verify_raw_data(open_id, SIGNED_RAW_DATA, SIGNED_SIGNATURE)
    with pytest.raises(InvalidSignature):
        verify_raw_data(open_id, SIGNED_RAW_DATA.replace("Band", "Bond"), SIGNED_SIGNATURE)


def test_needs_the_extension() -> None:
    with Flask("bare").app_context(), pytest.raises(RuntimeError, match="init_app"):
        session_key(PLAYER)
