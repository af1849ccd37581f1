"""Signatures and WXBizMsgCrypt-compatible encryption (flask_wechat.crypto)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import struct
from collections.abc import Callable

import pytest
from Crypto.Cipher import AES

from flask_wechat.crypto import (
    MessageCrypto,
    Sealed,
    check_signature,
    decode_aes_key,
    jsapi_signature,
    make_nonce,
    sign,
)
from flask_wechat.errors import (
    APIError,
    ConfigError,
    DecryptError,
    InvalidAppId,
    InvalidSignature,
    MalformedBody,
    RejectedRequest,
    WeChatError,
)
from flask_wechat.parsing import parse_json, parse_xml

TOKEN = "crypto-test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"

# -- WeChat's published test vectors (data only; see the module docstring) -------

# WeCom key set used by the official WXBizMsgCrypt samples (vectors 1 and 2).
WECOM_TOKEN = "QDG6eK"
WECOM_CORP_ID = "wx5823bf96d3bd56c7"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

V1_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
V1_TIMESTAMP = "1409659589"
V1_NONCE = "263014780"
V1_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
V1_PLAIN = "1616140317555161061"

V2_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
V2_TIMESTAMP = "1409659813"
V2_NONCE = "1372623149"
V2_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj9"
    "11L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DO"
    "dnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03"
    "v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpN"
    "elZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
V2_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    f"<Encrypt><![CDATA[{V2_ENCRYPT}]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>"
)
V2_PLAIN = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)

# Second WeCom key set (vector 2d).
WECOM2_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
WECOM2_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
WECOM2_CORP_ID = "ww1436e0e65a779aee"
V2D_ECHO_SIGNATURE = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
V2D_ECHO_TIMESTAMP = "1476416373"
V2D_ECHO_NONCE = "47744683"
V2D_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
V2D_ECHO_PLAIN = "1288432023552776189"
V2D_SIGNATURE = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
V2D_TIMESTAMP = "1476422779"
V2D_NONCE = "1597212914"
V2D_BODY = (
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n"
    "<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AI"
    "jeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sq"
    "fde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7M"
    "hmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwa"
    "WbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
    "<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)
V2D_PLAIN = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)

# Official Account Python sample (vector 3a): a compatible-mode body.
MP_TOKEN = "spamtest"
MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_APP_ID = "wx2c2769f8efd9abc2"
V3A_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
V3A_TIMESTAMP = "1409735669"
V3A_NONCE = "1320562132"
V3A_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    "<Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1Q"
    "LvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXw"
    "on8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
    "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4u"
    "Bl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>"
)
V3A_PLAIN = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)

# Official Account Java test (vector 3b): fixed random prefix, byte-exact ciphertexts.
JAVA_TOKEN = "pamtest"
JAVA_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JAVA_APP_ID = "wxb11529c136998cb6"
JAVA_TIMESTAMP = "1409304348"
JAVA_NONCE = "xxxxxx"
JAVA_PREFIX = b"aaaabbbbccccdddd"
JAVA_PLAIN_1 = "我是中文abcd123"
JAVA_CIPHER_1 = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)
JAVA_SIGNATURE_1 = "82c962d39941aa48552f90ef55aa323dc620cc10"
JAVA_PLAIN_2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName>"
    "<FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime>"
    "<MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s"
    "79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title>"
    "<Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
JAVA_CIPHER_2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEc"
    "W7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAl"
    "HF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQ"
    "NSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkw"
    "WTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6"
    "YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP"
    "5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)
JAVA_SIGNATURE_2 = "ea88b765074e41eb8c7a75b449db34fa2fd560d5"

# JS-SDK appendix 1 (附录1-JS-SDK使用权限签名算法).
JSAPI_TICKET = (
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
)
JSAPI_NONCE = "Wm3WZYTPz0wzccnW"
JSAPI_TIMESTAMP = 1414587457
JSAPI_URL = "http://mp.weixin.qq.com?params=value"
JSAPI_SIGNATURE = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


# -- helpers ----------------------------------------------------------------------


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _aes_key(encoding_aes_key: str = AES_KEY) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def _cbc_encrypt(plain: bytes, encoding_aes_key: str = AES_KEY) -> str:
    """Encrypt already-padded ``plain`` the way WeChat does, with no checks at all."""
    assert len(plain) % 32 == 0
    key = _aes_key(encoding_aes_key)
    return base64.b64encode(AES.new(key, AES.MODE_CBC, key[:16]).encrypt(plain)).decode()


def _craft(
    msg: bytes,
    padding: bytes | None = None,
    *,
    receive_id: bytes = APP_ID.encode(),
    length: int | None = None,
) -> str:
    """Build a ciphertext by hand: random prefix + length + msg + receive id + ``padding``.

    With ``padding=None`` the padding is correct PKCS#7 to 32 bytes; otherwise ``msg``
    is lengthened with ``x`` bytes so that the body with ``padding`` fills whole blocks.
    """
    size = len(msg) if length is None else length
    if padding is None:
        body = b"R" * 16 + struct.pack(">I", size) + msg + receive_id
        pad = 32 - len(body) % 32
        return _cbc_encrypt(body + bytes((pad,)) * pad)
    filler = (-(20 + len(msg) + len(receive_id) + len(padding))) % 32
    msg += b"x" * filler
    size = len(msg) if length is None else length
    body = b"R" * 16 + struct.pack(">I", size) + msg + receive_id + padding
    return _cbc_encrypt(body)


@pytest.fixture
def mc() -> MessageCrypto:
    return MessageCrypto(TOKEN, AES_KEY, APP_ID)


def _fixed_prefix(size: int) -> bytes:
    assert size == 16
    return JAVA_PREFIX


# -- sign / check_signature ---------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [
        ("token", "1409659589", "263014780"),
        ("b", "a", "c"),
        ("same", "same"),
        ("only",),
        ("中文", "abc", "123"),
    ],
)
def test_sign_is_sha1_of_sorted_concatenation(parts: tuple[str, ...]) -> None:
    expected = _sha1("".join(sorted(parts)))
    assert sign(*parts) == expected
    assert sign(*reversed(parts)) == expected
    assert len(expected) == 40
    assert expected == expected.lower()


def test_sign_matches_wecom_published_msg_signature() -> None:
    # WeCom doc 90968 publishes this signature for (token, timestamp, nonce, Encrypt).
    assert sign(WECOM_TOKEN, V2_TIMESTAMP, V2_NONCE, V2_ENCRYPT) == V2_SIGNATURE
    assert sign(V2_NONCE, V2_ENCRYPT, WECOM_TOKEN, V2_TIMESTAMP) == V2_SIGNATURE
    assert sign(WECOM_TOKEN, V1_TIMESTAMP, V1_NONCE, V1_ECHOSTR) == V1_SIGNATURE


def test_sign_differs_when_any_part_changes() -> None:
    base = sign("token", "1", "nonce")
    assert sign("token", "2", "nonce") != base
    assert sign("token", "1", "nonce", "") == base  # an empty part adds nothing
    assert sign("tokenx", "1", "nonce") != base


def test_check_signature_accepts_the_right_signature() -> None:
    signature = sign(TOKEN, "1700000000", "nonce")
    check_signature(signature, TOKEN, "1700000000", "nonce")
    check_signature(signature, "nonce", TOKEN, "1700000000")  # order of parts is irrelevant


def test_check_signature_accepts_upper_case_hex() -> None:
    # A sha1 hex digest is case-insensitive; an upper-cased one names the same digest.
    signature = sign(TOKEN, "1700000000", "nonce")
    check_signature(signature.upper(), TOKEN, "1700000000", "nonce")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "0" * 40,
        "not-a-signature",
        "签名",
        "\ud800",  # a lone surrogate must not crash the comparison
    ],
)
def test_check_signature_rejects_missing_or_wrong(signature: str | None) -> None:
    with pytest.raises(InvalidSignature):
        check_signature(signature, TOKEN, "1700000000", "nonce")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1],  # truncated
        lambda s: s + "0",  # one character too many
        lambda s: " " + s,  # whitespace
        lambda s: s + "\n",
        lambda s: ("1" if s[0] != "1" else "2") + s[1:],  # first character changed
        lambda s: s[:-1] + ("1" if s[-1] != "1" else "2"),  # last character changed
    ],
)
def test_check_signature_rejects_near_misses(mangle: Callable[[str], str]) -> None:
    good = sign(TOKEN, "1700000000", "nonce")
    bad = mangle(good)
    assert bad != good
    with pytest.raises(InvalidSignature):
        check_signature(bad, TOKEN, "1700000000", "nonce")


def test_check_signature_rejects_signature_over_other_parts() -> None:
    signature = sign(TOKEN, "1700000000", "nonce")
    with pytest.raises(InvalidSignature):
        check_signature(signature, TOKEN, "1700000001", "nonce")
    with pytest.raises(InvalidSignature):
        check_signature(signature, "other-token", "1700000000", "nonce")


def test_check_signature_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes | str, bytes | str]] = []
    original = hmac.compare_digest

    def spy(a: bytes | str, b: bytes | str) -> bool:
        calls.append((a, b))
        return original(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr("flask_wechat.crypto.hmac.compare_digest", spy)
    signature = sign(TOKEN, "1", "n")
    check_signature(signature, TOKEN, "1", "n")
    with pytest.raises(InvalidSignature):
        check_signature("f" * 40, TOKEN, "1", "n")
    assert len(calls) == 2
    assert calls[0][0] == calls[0][1] == signature.encode()


# -- jsapi_signature ----------------------------------------------------------------


def test_jsapi_signature_matches_wechat_published_example() -> None:
    assert jsapi_signature(JSAPI_TICKET, JSAPI_NONCE, JSAPI_TIMESTAMP, JSAPI_URL) == JSAPI_SIGNATURE
    assert (
        jsapi_signature(JSAPI_TICKET, JSAPI_NONCE, str(JSAPI_TIMESTAMP), JSAPI_URL)
        == JSAPI_SIGNATURE
    )


@pytest.mark.parametrize("fragment", ["#", "#wechat_redirect", "#/page?x=1#y"])
def test_jsapi_signature_drops_the_fragment(fragment: str) -> None:
    signed = jsapi_signature(JSAPI_TICKET, JSAPI_NONCE, JSAPI_TIMESTAMP, JSAPI_URL + fragment)
    assert signed == JSAPI_SIGNATURE


def test_jsapi_signature_signs_the_url_unescaped() -> None:
    url = "https://example.com/页面?q=a b&x=%2F"
    plain = f"jsapi_ticket=T&noncestr=N&timestamp=1&url={url}"
    assert jsapi_signature("T", "N", 1, url) == _sha1(plain)
    assert jsapi_signature("T", "N", 1, "https://example.com/") != jsapi_signature(
        "T", "N", 1, "https://example.com"
    )


@pytest.mark.parametrize("length", [1, 16, 32])
def test_make_nonce_is_alphanumeric(length: int) -> None:
    nonce = make_nonce(length)
    assert len(nonce) == length
    assert set(nonce) <= set(string.ascii_letters + string.digits)


# -- MessageCrypto: configuration ---------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        AES_KEY[:42],
        AES_KEY + "H",
        AES_KEY + "=",
        "!" * 43,  # right length, not base64
        AES_KEY[:42] + "=",  # padding inside the 43 characters
    ],
)
def test_bad_aes_key_is_config_error_naming_the_key(key: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        MessageCrypto(TOKEN, key, APP_ID)
    assert excinfo.value.key == "WECHAT_ENCODING_AES_KEY"
    assert "WECHAT_ENCODING_AES_KEY" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_decode_aes_key_names_the_given_key() -> None:
    with pytest.raises(ConfigError) as excinfo:
        decode_aes_key("too-short", key_name="WECHAT_ACCOUNTS.shop.encoding_aes_key")
    assert excinfo.value.key == "WECHAT_ACCOUNTS.shop.encoding_aes_key"
    assert "WECHAT_ACCOUNTS.shop.encoding_aes_key" in str(excinfo.value)


def test_decode_aes_key_gives_32_bytes() -> None:
    assert decode_aes_key(AES_KEY) == _aes_key(AES_KEY)
    assert len(decode_aes_key(AES_KEY)) == 32


# -- MessageCrypto: round trips -----------------------------------------------------

# With the 18-character APP_ID the padded body is 16 + 4 + len(msg) + 18 bytes, so
# messages of 26 and 58 bytes fill whole 32-byte blocks and get a full block of padding.
ROUND_TRIP_TEXTS = [
    "",
    "a",
    "hello",
    "中文消息，你好",
    "emoji 😀🎉👍🏽",
    "<xml><Content><![CDATA[x]]></Content></xml>",
    "\x00\x01\x1f control",
    *("x" * n for n in (11, 12, 13, 25, 26, 27, 31, 32, 33, 57, 58, 59, 63, 64, 65)),
    "长" * 700,
    "k" * 4096,
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS, ids=lambda s: f"{len(s)}chars")
def test_raw_round_trip(mc: MessageCrypto, text: str) -> None:
    ciphertext = mc.encrypt_raw(text)
    raw = base64.b64decode(ciphertext, validate=True)
    assert len(raw) % 32 == 0
    body_len = 20 + len(text.encode()) + len(APP_ID)
    assert len(raw) == body_len + (32 - body_len % 32)  # always 1..32 bytes of padding
    assert mc.decrypt_raw(ciphertext) == text.encode()


@pytest.mark.parametrize("size", [0, 1, 26, 58, 100, 4000])
def test_raw_round_trip_bytes(mc: MessageCrypto, size: int) -> None:
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    assert mc.decrypt_raw(mc.encrypt_raw(payload)) == payload


def test_encryption_uses_a_fresh_random_prefix(mc: MessageCrypto) -> None:
    first, second = mc.encrypt_raw("same"), mc.encrypt_raw("same")
    assert first != second
    assert mc.decrypt_raw(first) == mc.decrypt_raw(second) == b"same"


def test_full_block_of_padding_is_accepted(mc: MessageCrypto) -> None:
    msg = b"x" * (64 - 20 - len(APP_ID))
    ciphertext = _craft(msg)
    assert len(base64.b64decode(ciphertext)) == 96
    assert mc.decrypt_raw(ciphertext) == msg


@pytest.mark.parametrize("text", ["", "hi", "中文 😀 ]]> \x08", "y" * 3000])
def test_decrypt_xml_envelope_round_trip(mc: MessageCrypto, text: str) -> None:
    envelope = mc.encrypt(text, timestamp=1700000000, nonce="abc123")
    fields = parse_xml(envelope.encode())
    assert set(fields) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert fields["TimeStamp"] == "1700000000"
    assert fields["Nonce"] == "abc123"
    assert fields["MsgSignature"] == sign(TOKEN, "1700000000", "abc123", fields["Encrypt"])
    assert mc.decrypt(envelope, fields["MsgSignature"], "1700000000", "abc123") == text
    assert mc.decrypt(envelope.encode(), fields["MsgSignature"], "1700000000", "abc123") == text


def test_decrypt_json_envelope(mc: MessageCrypto) -> None:
    inner = json.dumps({"ToUserName": "gh_x", "MsgType": "text", "Content": "你好"})
    sealed = mc.seal(inner, timestamp="1700000000", nonce="n0nce")
    body = json.dumps({"ToUserName": "gh_x", "Encrypt": sealed.encrypt})
    assert mc.decrypt(body, sealed.msg_signature, "1700000000", "n0nce") == inner
    assert mc.decrypt(sealed.to_json(), sealed.msg_signature, "1700000000", "n0nce") == inner
    # leading whitespace before the JSON object is fine
    assert mc.decrypt("\n  " + body, sealed.msg_signature, "1700000000", "n0nce") == inner


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName><![CDATA[gh_x]]></ToUserName></xml>",
        "<xml><Encrypt></Encrypt></xml>",
        '{"ToUserName": "gh_x"}',
        '{"Encrypt": 123}',
        '{"Encrypt": ""}',
        "not xml at all",
        "",
    ],
)
def test_decrypt_body_without_encrypt_is_malformed(mc: MessageCrypto, body: str) -> None:
    with pytest.raises(MalformedBody):
        mc.decrypt(body, "0" * 40, "1", "n")


def test_seal_signs_and_encrypts(mc: MessageCrypto) -> None:
    sealed = mc.seal("reply", timestamp=1700000000, nonce="fixednonce")
    assert isinstance(sealed, Sealed)
    assert sealed.timestamp == "1700000000"
    assert sealed.nonce == "fixednonce"
    assert sealed.msg_signature == sign(TOKEN, "1700000000", "fixednonce", sealed.encrypt)
    assert mc.open(sealed.encrypt, sealed.msg_signature, "1700000000", "fixednonce") == b"reply"
    as_json = parse_json(sealed.to_json().encode())
    assert as_json == {
        "Encrypt": sealed.encrypt,
        "MsgSignature": sealed.msg_signature,
        "TimeStamp": "1700000000",
        "Nonce": "fixednonce",
    }
    assert parse_xml(sealed.to_xml().encode()) == as_json


def test_seal_defaults_timestamp_and_nonce(
    mc: MessageCrypto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flask_wechat.crypto.time.time", lambda: 1712345678.9)
    sealed = mc.seal("x")
    assert sealed.timestamp == "1712345678"
    assert len(sealed.nonce) == 16
    assert sealed.nonce.isalnum()
    assert sealed.msg_signature == sign(TOKEN, sealed.timestamp, sealed.nonce, sealed.encrypt)


def test_encrypt_is_the_sealed_xml_envelope(
    mc: MessageCrypto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flask_wechat.crypto.secrets.token_bytes", _fixed_prefix)
    envelope = mc.encrypt("hello", timestamp="1700000000", nonce="abc")
    sealed = mc.seal("hello", timestamp="1700000000", nonce="abc")
    assert envelope == sealed.to_xml()
    assert envelope.startswith("<xml><Encrypt><![CDATA[")
    assert "<TimeStamp>1700000000</TimeStamp>" in envelope


def test_decrypt_echostr_round_trip(mc: MessageCrypto) -> None:
    echostr = mc.encrypt_raw("8532948423740279")
    signature = sign(TOKEN, "1700000000", "nonce", echostr)
    assert mc.decrypt_echostr(signature, "1700000000", "nonce", echostr) == "8532948423740279"


# -- WeChat's published vectors -----------------------------------------------------


def test_vector_wecom_url_verification_echostr() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    assert wecom.decrypt_echostr(V1_SIGNATURE, V1_TIMESTAMP, V1_NONCE, V1_ECHOSTR) == V1_PLAIN


def test_vector_wecom_post_message_decrypts_byte_for_byte() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    plain = wecom.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE)
    assert plain == V2_PLAIN
    fields = parse_xml(plain.encode())
    assert fields["Content"] == "hello"
    assert fields["AgentID"] == "218"


def test_vector_wecom_ciphertext_in_a_json_envelope() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    body = json.dumps({"ToUserName": WECOM_CORP_ID, "Encrypt": V2_ENCRYPT, "AgentID": 218})
    assert wecom.decrypt(body, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE) == V2_PLAIN


def test_vector_wecom_second_key_set() -> None:
    wecom = MessageCrypto(WECOM2_TOKEN, WECOM2_AES_KEY, WECOM2_CORP_ID)
    echoed = wecom.decrypt_echostr(
        V2D_ECHO_SIGNATURE, V2D_ECHO_TIMESTAMP, V2D_ECHO_NONCE, V2D_ECHOSTR
    )
    assert echoed == V2D_ECHO_PLAIN
    plain = wecom.decrypt(V2D_BODY, V2D_SIGNATURE, V2D_TIMESTAMP, V2D_NONCE)
    assert plain == V2D_PLAIN
    assert parse_xml(plain.encode())["Content"] == "你好"


def test_vector_official_account_compatible_mode() -> None:
    mp = MessageCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    assert mp.decrypt(V3A_BODY, V3A_SIGNATURE, V3A_TIMESTAMP, V3A_NONCE) == V3A_PLAIN


@pytest.mark.parametrize(
    ("plaintext", "ciphertext", "signature"),
    [
        (JAVA_PLAIN_1, JAVA_CIPHER_1, JAVA_SIGNATURE_1),
        (JAVA_PLAIN_2, JAVA_CIPHER_2, JAVA_SIGNATURE_2),
    ],
    ids=["chinese", "video-reply"],
)
def test_vector_official_account_java_encrypts_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, plaintext: str, ciphertext: str, signature: str
) -> None:
    monkeypatch.setattr("flask_wechat.crypto.secrets.token_bytes", _fixed_prefix)
    mp = MessageCrypto(JAVA_TOKEN, JAVA_AES_KEY, JAVA_APP_ID)
    assert mp.encrypt_raw(plaintext) == ciphertext
    sealed = mp.seal(plaintext, timestamp=JAVA_TIMESTAMP, nonce=JAVA_NONCE)
    assert sealed == Sealed(ciphertext, signature, JAVA_TIMESTAMP, JAVA_NONCE)
    assert mp.decrypt(sealed.to_xml(), signature, JAVA_TIMESTAMP, JAVA_NONCE) == plaintext


def test_vector_with_wrong_receive_id_is_invalid_app_id() -> None:
    # the right token and key, but the CorpID one character off
    wrong = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, "wx5823bf96d3bd56c8")
    with pytest.raises(InvalidAppId):
        wrong.decrypt_echostr(V1_SIGNATURE, V1_TIMESTAMP, V1_NONCE, V1_ECHOSTR)
    with pytest.raises(InvalidAppId):
        wrong.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE)
    # the second key set's message, checked against the first CorpID
    other = MessageCrypto(WECOM2_TOKEN, WECOM2_AES_KEY, WECOM_CORP_ID)
    with pytest.raises(InvalidAppId):
        other.decrypt(V2D_BODY, V2D_SIGNATURE, V2D_TIMESTAMP, V2D_NONCE)


# -- negative cases -----------------------------------------------------------------


@pytest.mark.parametrize(
    "other_id", ["wx0000000000000000", "wx1234567890abcde", "", "wx1234567890abcdeff"]
)
def test_message_for_another_receive_id_is_invalid_app_id(mc: MessageCrypto, other_id: str) -> None:
    other = MessageCrypto(TOKEN, AES_KEY, other_id)
    with pytest.raises(InvalidAppId):
        mc.decrypt_raw(other.encrypt_raw("hello"))
    sealed = other.seal("hello", timestamp="1", nonce="n")
    with pytest.raises(InvalidAppId):
        mc.decrypt(sealed.to_xml(), sealed.msg_signature, "1", "n")


def test_crafted_ciphertext_helper_is_sound(mc: MessageCrypto) -> None:
    # the negative tests below rely on _craft; a correct one must decrypt
    assert mc.decrypt_raw(_craft(b"hello")) == b"hello"
    assert mc.decrypt_raw(_craft(b"hello", b"\x03\x03\x03")).startswith(b"hello")


@pytest.mark.parametrize(
    "padding",
    [
        b"\x00",  # zero is never a padding length
        bytes((33,)) * 33,  # consistent, but longer than the 32-byte block
        bytes((255,)) * 32,
        b"\x04\x04\x09\x04",  # last byte says 4, the others disagree
        b"\x01\x02\x03\x04",
        b"\x20" * 30 + b"\x1f\x20",  # claims 32 but one of them is 31
    ],
    ids=["zero", "thirty-three", "255", "inconsistent", "ascending", "almost-full"],
)
def test_bad_padding_is_decrypt_error(mc: MessageCrypto, padding: bytes) -> None:
    ciphertext = _craft(b"hello", padding)
    with pytest.raises(DecryptError):
        mc.decrypt_raw(ciphertext)
    signature = sign(TOKEN, "1", "n", ciphertext)
    with pytest.raises(DecryptError):
        mc.decrypt(f"<xml><Encrypt>{ciphertext}</Encrypt></xml>", signature, "1", "n")


@pytest.mark.parametrize("extra", [len(APP_ID) + 1, 100, 2**32 - 1 - 5])
def test_length_field_beyond_the_payload_is_decrypt_error(mc: MessageCrypto, extra: int) -> None:
    # the length runs past message + receive id: past the end of the plaintext
    with pytest.raises(DecryptError):
        mc.decrypt_raw(_craft(b"hello", length=5 + extra))


@pytest.mark.parametrize("length", [0, 4, 6, 5 + len(APP_ID)])
def test_wrong_length_within_the_payload_leaves_receive_id_mismatched(
    mc: MessageCrypto, length: int
) -> None:
    # a length that still fits moves bytes between the message and the receive id
    with pytest.raises(InvalidAppId):
        mc.decrypt_raw(_craft(b"hello", length=length))


def test_too_short_plaintext_is_decrypt_error(mc: MessageCrypto) -> None:
    # 16 bytes of prefix and nothing else: no room for the length field
    with pytest.raises(DecryptError):
        mc.decrypt_raw(_cbc_encrypt(b"R" * 16 + bytes((16,)) * 16))


def test_tampered_ciphertext_is_rejected(mc: MessageCrypto) -> None:
    raw = bytearray(base64.b64decode(mc.encrypt_raw("hello")))
    raw[0] ^= 0x80  # CBC: flips the top bit of the length field in the next block
    with pytest.raises(DecryptError):
        mc.decrypt_raw(base64.b64encode(bytes(raw)).decode())


@pytest.mark.parametrize(
    "ciphertext",
    [
        "",
        "not base64!",
        "abc",  # bad base64 padding
        "密文",
        "QUJD\nREVG",  # characters outside the alphabet
        base64.b64encode(b"\x00" * 16).decode(),
        base64.b64encode(b"\x00" * 31).decode(),
        base64.b64encode(b"\x00" * 33).decode(),
        base64.b64encode(b"\x00" * 48).decode(),
    ],
    ids=["empty", "punctuation", "bad-padding", "non-ascii", "newline", "16", "31", "33", "48"],
)
def test_undecodable_ciphertext_is_decrypt_error(mc: MessageCrypto, ciphertext: str) -> None:
    with pytest.raises(DecryptError):
        mc.decrypt_raw(ciphertext)


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 40, V2_SIGNATURE.upper()[:-1], sign(WECOM_TOKEN, V2_TIMESTAMP, V2_NONCE)],
)
def test_bad_msg_signature_is_invalid_signature(signature: str | None) -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    with pytest.raises(InvalidSignature):
        wecom.decrypt(V2_BODY, signature, V2_TIMESTAMP, V2_NONCE)
    with pytest.raises(InvalidSignature):
        wecom.decrypt_echostr(signature, V1_TIMESTAMP, V1_NONCE, V1_ECHOSTR)


def test_signature_is_checked_with_the_request_timestamp_and_nonce() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    with pytest.raises(InvalidSignature):
        wecom.decrypt(V2_BODY, V2_SIGNATURE, V1_TIMESTAMP, V2_NONCE)
    with pytest.raises(InvalidSignature):
        wecom.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V1_NONCE)
    other_token = MessageCrypto("other", WECOM_AES_KEY, WECOM_CORP_ID)
    with pytest.raises(InvalidSignature):
        other_token.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE)


def test_wrong_aes_key_does_not_decrypt() -> None:
    # same token and corp id, another key: the signature passes, the decryption fails
    other_key = MessageCrypto(WECOM_TOKEN, WECOM2_AES_KEY, WECOM_CORP_ID)
    with pytest.raises((DecryptError, InvalidAppId)):
        other_key.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE)


# -- the error hierarchy ------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [InvalidSignature, InvalidAppId, DecryptError, ConfigError, APIError, MalformedBody]
)
def test_errors_derive_from_wechat_error(error: type[Exception]) -> None:
    assert issubclass(error, WeChatError)
    assert issubclass(WeChatError, Exception)


@pytest.mark.parametrize("error", [InvalidSignature, InvalidAppId, DecryptError, MalformedBody])
def test_request_errors_are_rejections_and_value_errors(error: type[RejectedRequest]) -> None:
    assert issubclass(error, RejectedRequest)
    assert issubclass(error, ValueError)
    exc = error("reason text")
    assert exc.reason == "reason text"
    assert 400 <= exc.status < 500


def test_signature_and_app_id_errors_are_forbidden() -> None:
    assert InvalidSignature("x").status == 403
    assert InvalidAppId("x").status == 403
    assert DecryptError("x").status == 400


def test_api_error_carries_errcode_and_errmsg() -> None:
    exc = APIError(40001, "invalid credential")
    assert exc.errcode == 40001
    assert exc.errmsg == "invalid credential"
    assert "40001" in str(exc)
    assert "invalid credential" in str(exc)
    assert isinstance(exc, WeChatError)
