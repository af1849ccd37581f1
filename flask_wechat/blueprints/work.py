"""WeCom (企业微信) applications: callbacks always encrypted, their own API host.

Seed ``wecom-callback-mode-crypto.txt``: the GET verification carries an
*encrypted* ``echostr`` signed into ``msg_signature`` (token, timestamp, nonce,
echostr); the answer is the decrypted echostr, exactly. POSTs carry
``<ToUserName/><AgentID/><Encrypt/>``; the receive id inside is the CorpID.
Passive replies are encrypted XML, as for Official Accounts.

A ``kf_msg_or_event`` (微信客服) sets off the pulling of the messages it
announces (:mod:`flask_wechat.kf`). The API differs too: see
:class:`flask_wechat.api.profiles.WeComProfile`.
"""

from __future__ import annotations

import typing as t

from ..callback import Callback, Inbound, digest
from ..errors import DecryptError
from ..kf import KF_SYNC
from ..parsing import parse_xml

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from ..crypto import MessageCrypto
    from ..messages import Message


class WorkCallback(Callback):
    """The callback endpoint of a WeCom application."""

    def _crypto(self) -> MessageCrypto:
        if self.crypto is None:  # pragma: no cover - config requires the key for WeCom
            raise DecryptError("WeCom callbacks need an EncodingAESKey")
        return self.crypto

    def verify_url(self, args: Mapping[str, str]) -> str:
        # The seed insists on URL-decoding echostr; an unescaped "+" in it has
        # become a space by then, which base64 never contains.
        echostr = args.get("echostr", "").replace(" ", "+")
        if not echostr:
            raise DecryptError("missing echostr")
        return self._crypto().decrypt_echostr(
            args.get("msg_signature"), args.get("timestamp", ""), args.get("nonce", ""), echostr
        )

    def open(self, body: bytes, args: Mapping[str, str]) -> Inbound:
        envelope = parse_xml(body)
        encrypt = envelope.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise DecryptError("WeCom message without an Encrypt field")
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        plaintext = self._crypto().open(encrypt, args.get("msg_signature"), timestamp, nonce)
        return Inbound(parse_xml(plaintext), True, digest(plaintext), timestamp, nonce)

    def follow_ups(self, message: Message) -> list[tuple[str, dict[str, t.Any]]]:
        """A ``kf_msg_or_event`` announces 微信客服 messages: pull them, as a task."""
        open_kfid = message.raw.get("OpenKfId")
        if message.event != "kf_msg_or_event" or not isinstance(open_kfid, str) or not open_kfid:
            return []
        token = message.raw.get("Token")
        return [
            (KF_SYNC, {"open_kfid": open_kfid, "token": token if isinstance(token, str) else ""})
        ]
