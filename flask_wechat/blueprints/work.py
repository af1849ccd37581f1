"""WeCom (企业微信) application callbacks: always encrypted.

Seed ``wecom-callback-mode-crypto.txt``: the GET verification carries an
*encrypted* ``echostr`` signed into ``msg_signature`` (token, timestamp, nonce,
echostr); the answer is the decrypted echostr, exactly. POSTs carry
``<ToUserName/><AgentID/><Encrypt/>``; the receive id inside is the CorpID.
Passive replies are encrypted XML, as for Official Accounts.
"""

from __future__ import annotations

import typing as t

from ..callback import Callback, Inbound
from ..errors import DecryptError
from ..parsing import parse_xml

if t.TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from ..crypto import MessageCrypto


class WorkCallback(Callback):
    """The callback endpoint of a WeCom application."""

    def _crypto(self) -> MessageCrypto:
        if self.crypto is None:  # pragma: no cover - config requires the key for WeCom
            raise DecryptError("WeCom callbacks need an EncodingAESKey")
        return self.crypto

    def verify_url(self, args: MultiDict[str, str]) -> str:
        # The seed insists on URL-decoding echostr; an unescaped "+" in it has
        # become a space by then, which base64 never contains.
        echostr = args.get("echostr", "").replace(" ", "+")
        if not echostr:
            raise DecryptError("missing echostr")
        return self._crypto().decrypt_echostr(
            args.get("msg_signature"), args.get("timestamp", ""), args.get("nonce", ""), echostr
        )

    def open(self, body: bytes, args: MultiDict[str, str]) -> Inbound:
        envelope = parse_xml(body)
        encrypt = envelope.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise DecryptError("WeCom message without an Encrypt field")
        plaintext = self._crypto().open(
            encrypt, args.get("msg_signature"), args.get("timestamp", ""), args.get("nonce", "")
        )
        return Inbound(parse_xml(plaintext), encrypted=True)
