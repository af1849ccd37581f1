"""MessageCrypto: round trips, envelopes, sealing and echostr."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
from pathlib import Path

import pytest
from Crypto.Cipher import AES

from flask_wechat import crypto
from flask_wechat.crypto import (
    MessageCrypto,
    RandomPool,
    Sealed,
    sign,
)
from flask_wechat.errors import (
    MalformedBody,
)
from flask_wechat.parsing import parse_json, parse_xml

from .conftest import AES_KEY, APP_ID, TOKEN, _craft, _fixed_prefix

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
    monkeypatch.setattr("flask_wechat.crypto.random_bytes", _fixed_prefix)
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


def test_encryption_and_decryption_from_many_threads_at_once(mc: MessageCrypto) -> None:
    texts = [f"message {n} " * (n % 7 + 1) for n in range(400)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ciphertexts = list(pool.map(mc.encrypt_raw, texts))
        decrypted = list(pool.map(mc.decrypt_raw, ciphertexts))
    assert [plain.decode() for plain in decrypted] == texts
    assert len(set(ciphertexts)) == len(texts)


def test_random_bytes_are_never_handed_out_twice() -> None:
    pool = RandomPool()
    taken = [pool.take(24) for _ in range(RandomPool.SIZE // 24 * 3)]
    assert all(len(chunk) == 24 for chunk in taken)
    assert len(set(taken)) == len(taken)
    assert len(pool.take(RandomPool.SIZE + 1)) == RandomPool.SIZE + 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_other_random_bytes() -> None:
    pool = RandomPool()
    pool.take(16)  # the buffer is filled before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, pool.take(16))
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != pool.take(16)


def test_the_chained_cipher_gives_what_a_fresh_cipher_per_message_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one CBC object per direction goes on from message to message; WXBizMsgCrypt
    # starts every message afresh from IV = key[:16]: the bytes must be the same
    monkeypatch.setattr("flask_wechat.crypto.random_bytes", _fixed_prefix)
    chained = MessageCrypto(TOKEN, AES_KEY, APP_ID)
    key = base64.b64decode(AES_KEY + "=")
    for text in ROUND_TRIP_TEXTS:
        ciphertext = chained.encrypt_raw(text)
        data = base64.b64decode(ciphertext)
        fresh = AES.new(key, AES.MODE_CBC, key[:16]).decrypt(data)
        assert fresh[16:20] == len(text.encode()).to_bytes(4, "big")
        assert fresh[20 : 20 + len(text.encode())] == text.encode()
        again = AES.new(key, AES.MODE_CBC, key[:16]).encrypt(fresh)
        assert base64.b64encode(again).decode() == ciphertext
        assert chained.decrypt_raw(ciphertext) == text.encode()


def test_crypto_uses_only_pycryptodomes_public_names() -> None:
    source = (Path(crypto.__file__)).read_text(encoding="utf-8")
    assert "Crypto.Cipher._" not in source
    assert "Crypto.Util._" not in source
    assert "._state" not in source
