"""The callback pipeline shared by every platform.

verify → decrypt → parse → dedup → dispatch → reply → encrypt is written once,
here, in :class:`Callback`. A platform (``flask_wechat/blueprints/*.py``)
subclasses it and fills in only what differs: how URL verification answers, how
a body is opened (signatures, envelope, XML or JSON) and how a reply is
delivered (a passive reply, or the customer-service API).
"""

from __future__ import annotations

import logging
import time
import typing as t

from flask import Response, current_app, request

from . import signals
from .crypto import MessageCrypto
from .dedup import Answer
from .delivery import upload_files
from .errors import BodyTooLarge, MalformedBody, RejectedRequest, StaleRequest
from .messages import Message
from .parsing import MAX_BODY_SIZE
from .replies import ImageReply, TransferCustomerServiceReply
from .state import LATE

if t.TYPE_CHECKING:
    from flask import Flask
    from werkzeug.datastructures import MultiDict

    from .config import Account
    from .parsing import Fields
    from .replies import Reply
    from .state import WeChatState

logger = logging.getLogger("flask_wechat")

SUCCESS = Answer(b"success", "text/plain")
"""What WeChat takes as "received, no reply" (an empty body works too)."""


class Inbound(t.NamedTuple):
    """An opened request: the message's fields and how they arrived."""

    fields: Fields
    encrypted: bool


class Callback:
    """One account's callback endpoint; platforms override the hooks below."""

    #: whether the platform takes a reply in the callback's answer; if not
    #: (Mini Programs), replies are sent through the API and the answer is ``success``.
    passive_replies = True

    def __init__(self, state: WeChatState, account: Account) -> None:
        self.state = state
        self.account = account
        self.crypto: MessageCrypto | None = None
        if account.encoding_aes_key and account.token:
            self.crypto = MessageCrypto(account.token, account.encoding_aes_key, account.receive_id)

    # -- platform hooks -------------------------------------------------------

    def verify_url(self, args: MultiDict[str, str]) -> str:
        """Check a GET (URL verification) request; return the text to answer."""
        raise NotImplementedError

    def open(self, body: bytes, args: MultiDict[str, str]) -> Inbound:
        """Verify and, when encrypted, decrypt a POST body into message fields."""
        raise NotImplementedError

    def deliver(self, message: Message, reply: Reply, inbound: Inbound) -> Answer:
        """Turn a handler's reply into the callback's answer: the passive-reply
        XML, encrypted when the request was."""
        if isinstance(reply, ImageReply) and reply.file is not None:
            app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
            reply = upload_files(self.state.client(app, self.account.name), reply)
        xml = reply.to_xml(to_user=message.source, from_user=message.target)
        if inbound.encrypted and self.crypto is not None:
            return Answer(self.crypto.seal(xml).to_xml().encode(), "application/xml")
        return Answer(xml.encode(), "application/xml")

    # -- the shared pipeline ------------------------------------------------------

    def get(self) -> Response:
        """Answer WeChat's URL verification."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            self.check_timestamp(request.args)
            echostr = self.verify_url(request.args)
        except RejectedRequest as exc:
            return self.reject(app, exc)
        except Exception:  # no input may turn into a 5xx
            logger.exception("unexpected error verifying a callback URL for %r", self.account.name)
            return self.reject(app, MalformedBody("malformed request"))
        return Response(echostr, 200, mimetype="text/plain")

    def post(self) -> Response:
        """Receive one message: verify, decrypt, parse, dedup, dispatch and reply."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            self.check_timestamp(request.args)
            inbound = self.open(read_body(), request.args)
            message = Message(inbound.fields, self.account.name)
        except RejectedRequest as exc:
            return self.reject(app, exc)
        except Exception:  # no input may turn into a 5xx
            logger.exception("unexpected error reading a callback for %r", self.account.name)
            return self.reject(app, MalformedBody("malformed request"))
        return self.answer(app, message, inbound)

    def answer(self, app: Flask, message: Message, inbound: Inbound) -> Response:
        """Dedup, dispatch and reply to a verified message."""
        dedup = self.state.dedup
        ttl = self.account.dedup_ttl
        key = dedup.key(self.account.name, message.dedup_key) if ttl else None
        if key is not None and not dedup.claim(key, ttl):
            if signals.duplicate_ignored.receivers:
                signals.duplicate_ignored.send(app, message=message, account=message.account)
            return to_response(dedup.wait(key, self.account.reply_deadline) or SUCCESS)

        answer = SUCCESS
        try:
            reply = self.state.run_handler_in_time(app, message, self.account.reply_deadline)
            if reply is LATE:  # delivered as a message when the handler finishes
                return to_response(answer)
            if isinstance(reply, Response):
                headers = tuple(
                    (k, v)
                    for k, v in reply.headers.items()
                    if k not in ("Content-Type", "Content-Length")
                )
                answer = Answer(
                    reply.get_data(), reply.mimetype or "text/plain", reply.status_code, headers
                )
                return reply
            if reply is None:
                self.state.relay_unanswered(app, message)
            elif not self.passive_replies and not isinstance(reply, TransferCustomerServiceReply):
                self.state.deliver_later(app, message, reply)
            else:
                answer = self.deliver(message, reply, inbound)
                if signals.reply_sent.receivers:
                    signals.reply_sent.send(
                        app, message=message, reply=reply, account=message.account
                    )
        except Exception as exc:  # a failing reply never loses the request
            self.state.report_failure(app, message, exc)
            answer = SUCCESS
        finally:
            if key is not None:
                dedup.finish(key, answer, ttl)
        return to_response(answer)

    def check_timestamp(self, args: MultiDict[str, str]) -> None:
        """Refuse requests whose ``timestamp`` lies outside the replay window."""
        raw = args.get("timestamp", "")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise StaleRequest("missing or invalid timestamp", 400)
        window = self.account.replay_window
        if window and abs(time.time() - int(raw)) > window:
            raise StaleRequest("stale timestamp")

    def reject(self, app: Flask, exc: RejectedRequest) -> Response:
        """Answer a refused request with a short reason; tell the signal."""
        logger.info("rejected a callback for %r: %s", self.account.name, exc.reason)
        if signals.request_rejected.receivers:
            signals.request_rejected.send(app, reason=exc.reason, account=self.account.name)
        return Response(exc.reason, exc.status, mimetype="text/plain")


def to_response(answer: Answer) -> Response:
    """The HTTP response of a (possibly remembered) answer."""
    return Response(answer.body, answer.status, list(answer.headers), mimetype=answer.mimetype)


def read_body() -> bytes:
    """Read the request body, refusing anything over 1 MiB without reading it all."""
    length = request.content_length
    if length is not None and length > MAX_BODY_SIZE:
        raise BodyTooLarge("body too large")
    body = request.stream.read(MAX_BODY_SIZE + 1)
    if len(body) > MAX_BODY_SIZE:
        raise BodyTooLarge("body too large")
    if not body:
        raise MalformedBody("empty body")
    return body
