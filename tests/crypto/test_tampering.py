"""Tampered, crafted and mis-addressed ciphertexts, and the error classes they raise."""

from __future__ import annotations

import base64

import pytest

from flask_wechat.crypto import (
    MessageCrypto,
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

from .conftest import (
    AES_KEY,
    APP_ID,
    TOKEN,
    V1_ECHOSTR,
    V1_NONCE,
    V1_TIMESTAMP,
    V2_BODY,
    V2_NONCE,
    V2_SIGNATURE,
    V2_TIMESTAMP,
    WECOM2_AES_KEY,
    WECOM_AES_KEY,
    WECOM_CORP_ID,
    WECOM_TOKEN,
    _cbc_encrypt,
    _craft,
)


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
