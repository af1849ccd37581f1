"""Keys, published vectors and helpers shared by the crypto tests."""

from __future__ import annotations

import base64
import struct

import pytest
from Crypto.Cipher import AES

from flask_wechat.crypto import (
    MessageCrypto,
)

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
WECOM2_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
JAVA_PREFIX = b"aaaabbbbccccdddd"


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
    # 16 bytes for the ciphertext's prefix; sealing draws 8 more for the nonce
    assert size in (16, 24)
    return (JAVA_PREFIX + b"n" * 8)[:size]


# -- sign / check_signature ---------------------------------------------------------
