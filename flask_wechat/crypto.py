"""Signatures and message encryption, byte-compatible with WeChat's WXBizMsgCrypt.

The scheme (seed ``wecom-callback-mode-crypto.txt``, used unchanged by Official
Accounts, Mini Programs and WeCom):

* AES-256-CBC, key = base64(EncodingAESKey + "="), IV = the key's first 16 bytes;
* PKCS#7 padding to **32-byte** blocks (not AES's 16);
* plaintext = 16 random bytes + 4-byte big-endian length + message + receive id
  (the AppID, or the CorpID for WeCom);
* ``msg_signature`` = sha1 of the sorted, concatenated token, timestamp, nonce and
  ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import threading
import time
import typing as t

from Crypto.Cipher import AES

from .errors import ConfigError, DecryptError, InvalidAppId, InvalidSignature, MalformedBody
from .parsing import parse_json, parse_xml

BLOCK_SIZE = 32
"""WXBizMsgCrypt pads to 32 bytes, twice AES's block size."""

#: PKCS#7 padding of every length WXBizMsgCrypt uses (1 to 32 bytes).
_PADDING = [bytes((n,)) * n for n in range(BLOCK_SIZE + 1)]

_NONCE_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def sign(*parts: str) -> str:
    """Return the sha1 hex digest of ``parts`` sorted and concatenated.

    This is WeChat's ``signature`` (token, timestamp, nonce), its ``msg_signature``
    (plus the ciphertext) and the 7moor relay's signature (plus the open_id).
    """
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's algorithm


def check_signature(signature: str | None, *parts: str) -> None:
    """Raise :class:`InvalidSignature` unless ``signature`` signs ``parts``.

    The comparison takes constant time.
    """
    if not signature:
        raise InvalidSignature("missing signature")
    expected = sign(*parts)
    try:
        valid = hmac.compare_digest(expected, signature.lower())
    except TypeError:  # not ASCII, so not a hex digest
        valid = False
    if not valid:
        raise InvalidSignature("invalid signature")


def jsapi_signature(ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """Return the JS-SDK ``wx.config`` signature for a page ``url``.

    ``url`` must be the page's full URL without its ``#`` fragment; it is signed
    as is, never URL-escaped.
    """
    url = url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm


def make_nonce(length: int = 16) -> str:
    """Return a random alphanumeric nonce (unpredictable, not a secret)."""
    if length % 2 == 0:
        return random_bytes(length // 2).hex()  # hex digits are alphanumeric, and quick
    return "".join([_NONCE_ALPHABET[b % 62] for b in random_bytes(length)])


def decode_aes_key(encoding_aes_key: str, key_name: str = "WECHAT_ENCODING_AES_KEY") -> bytes:
    """Turn a 43-character EncodingAESKey into the 32-byte AES key."""
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
        raise ConfigError(key_name, "the EncodingAESKey must be exactly 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(key_name, "the EncodingAESKey is not valid base64") from None
    if len(key) != 32:  # pragma: no cover - 43 base64 chars always make 32 bytes
        raise ConfigError(key_name, "the EncodingAESKey does not decode to 32 bytes")
    return key


class RandomPool:
    """Cryptographically secure random bytes, read from the OS 4 KiB at a time.

    Every reply needs 24 random bytes (the ciphertext's prefix and the nonce);
    one ``os.urandom`` call per 170 replies instead of two per reply. The pool is
    emptied in a forked child, so two processes never hand out the same bytes.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._position = 0
        os.register_at_fork(after_in_child=self.clear)

    def clear(self) -> None:
        """Forget the buffered bytes (a fork duplicated them)."""
        self._lock = threading.Lock()
        self._buffer = b""
        self._position = 0

    def take(self, count: int) -> bytes:
        """``count`` random bytes, never handed out before."""
        if count > self.SIZE:
            return os.urandom(count)
        with self._lock:
            start = self._position
            if start + count > len(self._buffer):
                self._buffer = os.urandom(self.SIZE)
                start = 0
            self._position = start + count
            return self._buffer[start : start + count]


_random = RandomPool()


def random_bytes(count: int) -> bytes:
    """``count`` cryptographically secure random bytes."""
    return _random.take(count)


BlockOperation = t.Callable[[bytes, bytearray], None]
"""Encrypt or decrypt whole blocks of the first argument into the second."""


def _block_operation(cipher: t.Any, method: str) -> BlockOperation:
    """``cipher.encrypt`` or ``cipher.decrypt`` (a CBC cipher) as a block operation,
    writing into a buffer of ours through pycryptodome's public ``output=``."""
    run = getattr(cipher, method)

    def operate(data: bytes, out: bytearray) -> None:
        run(data, output=out)

    return operate


class Sealed(t.NamedTuple):
    """An encrypted message with its signature, ready to wrap in XML or JSON."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str

    def to_xml(self) -> str:
        """The passive-reply envelope WeChat expects."""
        return (
            f"<xml><Encrypt><![CDATA[{self.encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{self.msg_signature}]]></MsgSignature>"
            f"<TimeStamp>{self.timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{self.nonce}]]></Nonce></xml>"
        )

    def to_json(self) -> str:
        """The JSON envelope used by Mini Programs configured for JSON."""
        return json.dumps(
            {
                "Encrypt": self.encrypt,
                "MsgSignature": self.msg_signature,
                "TimeStamp": self.timestamp,
                "Nonce": self.nonce,
            }
        )


class MessageCrypto:
    """Encrypt and decrypt callback messages for one account.

    :param token: the callback Token.
    :param encoding_aes_key: the 43-character EncodingAESKey.
    :param receive_id: the AppID (Official Account, Mini Program) or the CorpID
        (WeCom) that every decrypted message must carry.
    """

    __slots__ = (
        "_cbc",
        "_cbc_in",
        "_chain",
        "_decrypt_blocks",
        "_decrypt_lock",
        "_encrypt_blocks",
        "_iv",
        "_iv_number",
        "_key",
        "_lock",
        "_receive_id",
        "receive_id",
        "token",
    )

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._iv = self._key[:16]
        # Both directions go on one long CBC chain each, under a lock: creating a
        # cipher per message costs more than the AES work on it. Encrypting, the
        # first block is adjusted to the chain (see _encrypt). Decrypting, only the
        # first 16 bytes, the random prefix, come out wrong, and they are skipped.
        self._cbc_in = AES.new(self._key, AES.MODE_CBC, self._iv)
        self._decrypt_blocks = _block_operation(self._cbc_in, "decrypt")
        # ``_chain`` is the IV XOR the last block of the encryption chain.
        self._cbc = AES.new(self._key, AES.MODE_CBC, self._iv)
        self._encrypt_blocks = _block_operation(self._cbc, "encrypt")
        self._chain = 0
        self._iv_number = int.from_bytes(self._iv, "big")
        self._lock = threading.Lock()
        self._decrypt_lock = threading.Lock()
        self.receive_id = receive_id
        self._receive_id = receive_id.encode()

    # -- the raw cipher -----------------------------------------------------

    def encrypt_raw(self, plaintext: str | bytes) -> str:
        """Encrypt ``plaintext`` into WeChat's base64 ciphertext (no signature)."""
        return self._encrypt(plaintext, random_bytes(16))

    def _encrypt(self, plaintext: str | bytes, prefix: bytes) -> str:
        msg = plaintext.encode() if isinstance(plaintext, str) else plaintext
        size = 20 + len(msg) + len(self._receive_id)
        padding = _PADDING[BLOCK_SIZE - size % BLOCK_SIZE]
        ciphertext = bytearray(size + len(padding))
        random_block = int.from_bytes(prefix, "big")
        # WXBizMsgCrypt encrypts every message afresh from IV = key[:16]. Here one
        # CBC object goes on from the previous message's last block L; feeding it
        # prefix XOR IV XOR L as the first block makes that block's ciphertext
        # AES(prefix XOR IV): byte for byte what a fresh start gives, and the rest
        # of the chain follows from it. Saves creating a cipher per message.
        with self._lock:
            first = (random_block ^ self._chain).to_bytes(16, "big")
            plain = b"".join((first, len(msg).to_bytes(4, "big"), msg, self._receive_id, padding))
            self._encrypt_blocks(plain, ciphertext)
            self._chain = self._iv_number ^ int.from_bytes(ciphertext[-16:], "big")
        return binascii.b2a_base64(ciphertext, newline=False).decode("ascii")

    def decrypt_raw(self, ciphertext: str) -> bytes:
        """Decrypt WeChat's base64 ``ciphertext`` and return the message bytes.

        Padding, length and receive id are all checked: a message for another
        account raises :class:`InvalidAppId`, anything malformed :class:`DecryptError`.
        """
        try:
            data = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("ciphertext is not valid base64") from None
        if not data or len(data) % BLOCK_SIZE:
            raise DecryptError("ciphertext length is not a multiple of 32 bytes")
        plain = bytearray(len(data))
        with self._decrypt_lock:
            self._decrypt_blocks(data, plain)
        pad = plain[-1]
        if not 1 <= pad <= BLOCK_SIZE or not plain.endswith(_PADDING[pad]):
            raise DecryptError("bad padding")
        end = len(plain) - pad
        if end < 20:
            raise DecryptError("decrypted message is too short")
        (length,) = struct.unpack_from(">I", plain, 16)
        if 20 + length > end:
            raise DecryptError("bad message length")
        if plain[20 + length : end] != self._receive_id:
            raise InvalidAppId("message is for another AppID")
        return bytes(plain[20 : 20 + length])

    # -- the WXBizMsgCrypt operations -------------------------------------------

    def seal(
        self, plaintext: str | bytes, timestamp: str | int | None = None, nonce: str | None = None
    ) -> Sealed:
        """Encrypt and sign ``plaintext``; timestamp and nonce default to now/random."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        randomness = random_bytes(24)  # the ciphertext's prefix, and the nonce
        nonce = nonce or randomness[16:].hex()
        encrypt = self._encrypt(plaintext, randomness[:16])
        return Sealed(encrypt, sign(self.token, ts, nonce, encrypt), ts, nonce)

    def encrypt(
        self, plaintext: str | bytes, timestamp: str | int | None = None, nonce: str | None = None
    ) -> str:
        """Return the ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`` envelope."""
        return self.seal(plaintext, timestamp, nonce).to_xml()

    def open(self, encrypt: str, msg_signature: str | None, timestamp: str, nonce: str) -> bytes:
        """Check ``msg_signature`` over ``encrypt`` and decrypt it."""
        check_signature(msg_signature, self.token, timestamp, nonce, encrypt)
        return self.decrypt_raw(encrypt)

    def decrypt(
        self, body: str | bytes, msg_signature: str | None, timestamp: str, nonce: str
    ) -> str:
        """Verify and decrypt a POST ``body`` (XML or JSON envelope); return the inner text."""
        return _text(self.open(extract_encrypt(body), msg_signature, timestamp, nonce))

    def decrypt_echostr(
        self, msg_signature: str | None, timestamp: str, nonce: str, echostr: str
    ) -> str:
        """Verify and decrypt WeCom's encrypted URL-verification ``echostr``."""
        return _text(self.open(echostr, msg_signature, timestamp, nonce))


def extract_encrypt(body: str | bytes) -> str:
    """Return the ``Encrypt`` value of an XML or JSON envelope."""
    raw = body.encode() if isinstance(body, str) else body
    fields = parse_json(raw) if raw.lstrip()[:1] == b"{" else parse_xml(raw)
    # WeCom's JSON callbacks spell the keys in lower case.
    encrypt = fields.get("Encrypt", fields.get("encrypt"))
    if not isinstance(encrypt, str) or not encrypt:
        raise MalformedBody("no Encrypt element in the body")
    return encrypt


def _text(plaintext: bytes) -> str:
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptError("decrypted message is not UTF-8") from None
