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

from ..callback import Callback, Inbound, digest
from ..crypto import check_signature
from ..errors import DecryptError
from ..parsing import parse_xml

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from ..parsing import Fields


class OfficialAccountCallback(Callback):
    """The callback endpoint of an Official Account."""

    def verify_url(self, args: Mapping[str, str]) -> str:
        check_signature(
            args.get("signature"),
            self.account.token or "",
            args.get("timestamp", ""),
            args.get("nonce", ""),
        )
        return args.get("echostr", "")

    def open(self, body: bytes, args: Mapping[str, str]) -> Inbound:
        token = self.account.token or ""
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        fields = self.parse(body)
        encrypted = args.get("encrypt_type", "").lower() == "aes" or (
            "msg_signature" in args and "Encrypt" in fields
        )
        if not encrypted:
            check_signature(args.get("signature"), token, timestamp, nonce)
            return Inbound(fields, False, digest(body), timestamp, nonce)
        if self.crypto is None:
            raise DecryptError("encrypted message, but no EncodingAESKey is configured")
        if "signature" in args:  # WeChat sends it in every mode; when present it must hold
            check_signature(args.get("signature"), token, timestamp, nonce)
        encrypt = fields.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise DecryptError("encrypted message without an Encrypt field")
        plaintext = self.crypto.open(encrypt, args.get("msg_signature"), timestamp, nonce)
        return Inbound(self.parse(plaintext), True, digest(plaintext), timestamp, nonce)

    def parse(self, body: bytes) -> Fields:
        """Parse the body; XML for Official Accounts."""
        return parse_xml(body)
