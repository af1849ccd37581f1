"""Official Account (公众号) callbacks: plaintext, compatible and safe mode.

* GET (URL verification): ``signature`` = sha1(sort(token, timestamp, nonce));
  answer ``echostr`` as is.
* POST plaintext: the same ``signature``; the body is the message XML.
* POST compatible mode: ``encrypt_type=aes`` and ``msg_signature``; the body holds
  the plaintext fields *and* ``<Encrypt>``. The encrypted copy is the one trusted.
* POST safe mode: as compatible, but the body is only ``ToUserName`` + ``Encrypt``.

Encrypted requests get encrypted replies, plaintext requests plaintext ones.
"""

from __future__ import annotations

import typing as t

from ..callback import Callback, Inbound
from ..crypto import check_signature
from ..errors import DecryptError
from ..parsing import parse_xml

if t.TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from ..parsing import Fields


class OfficialAccountCallback(Callback):
    """The callback endpoint of an Official Account."""

    def verify_url(self, args: MultiDict[str, str]) -> str:
        check_signature(
            args.get("signature"),
            self.account.token or "",
            args.get("timestamp", ""),
            args.get("nonce", ""),
        )
        return args.get("echostr", "")

    def open(self, body: bytes, args: MultiDict[str, str]) -> Inbound:
        return self.open_fields(self.parse(body), args)

    def parse(self, body: bytes) -> Fields:
        """Parse the body; XML for Official Accounts."""
        return parse_xml(body)

    def open_fields(self, fields: Fields, args: MultiDict[str, str]) -> Inbound:
        """Verify the parsed envelope and decrypt it when encrypted."""
        token = self.account.token or ""
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        encrypted = args.get("encrypt_type", "").lower() == "aes" or (
            "msg_signature" in args and "Encrypt" in fields
        )
        if not encrypted:
            check_signature(args.get("signature"), token, timestamp, nonce)
            return Inbound(fields, encrypted=False)
        if self.crypto is None:
            raise DecryptError("encrypted message, but no EncodingAESKey is configured")
        if "signature" in args:  # WeChat sends it in every mode; when present it must hold
            check_signature(args.get("signature"), token, timestamp, nonce)
        encrypt = fields.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise DecryptError("encrypted message without an Encrypt field")
        plaintext = self.crypto.open(encrypt, args.get("msg_signature"), timestamp, nonce)
        return Inbound(self.parse(plaintext), encrypted=True)
