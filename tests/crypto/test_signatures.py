"""Signatures (sign, check_signature, the JS-SDK signature), nonces and AES keys."""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Callable

import pytest

from flask_wechat.crypto import (
    MessageCrypto,
    check_signature,
    decode_aes_key,
    jsapi_signature,
    make_nonce,
    sign,
)
from flask_wechat.errors import (
    ConfigError,
    InvalidSignature,
)

from .conftest import (
    AES_KEY,
    APP_ID,
    TOKEN,
    V1_ECHOSTR,
    V1_NONCE,
    V1_SIGNATURE,
    V1_TIMESTAMP,
    V2_ENCRYPT,
    V2_NONCE,
    V2_SIGNATURE,
    V2_TIMESTAMP,
    WECOM_TOKEN,
    _aes_key,
)

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
    assert calls[0][0] == calls[0][1] == signature


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


def test_a_signature_that_is_not_ascii_is_invalid() -> None:
    with pytest.raises(InvalidSignature):
        check_signature("签名" * 20, TOKEN, "1", "n")
