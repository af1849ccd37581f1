"""Where one account's answers go: :class:`AccountDelivery`.

Every way a message is answered is here, once, for callbacks, late replies, the
relay and 微信客服 alike:

* :meth:`AccountDelivery.render`: a reply as the callback's passive answer, in the
  account's format (XML or JSON), encrypted when the request was;
* :meth:`AccountDelivery.route`: what a handler's result becomes — that passive answer,
  a :data:`SEND_REPLY` task (platforms without passive replies, replies that came
  too late for one), a forward to the customer-service relay (a user message no
  handler answered) or just ``success``;
* :meth:`AccountDelivery.send`: on a worker, a reply sent through the API (the
  customer-service message, or a WeCom application message).

The state keeps one per configured account (:meth:`WeChatState.delivery
<flask_wechat.state.WeChatState.delivery>`); an authorizer's is built when
needed, on the third-party platform's one crypto.
"""

from __future__ import annotations

import json
import logging
import typing as t

from flask import Response

from . import signals
from .edge import SUCCESS, Answer
from .messages import Message
from .replies import ImageReply, TransferCustomerServiceReply, reply_from_data
from .tasks import Task, task

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask

    from .api import Client
    from .config import Account
    from .crypto import MessageCrypto
    from .observe import CallbackOutcome
    from .replies import Reply
    from .tasks import TaskRunner

logger = logging.getLogger("flask_wechat")

#: The task that sends a reply through the API (customer-service message, WeCom app
#: message): payload ``to_user``, ``reply`` (:meth:`Reply.to_data`), ``message``
#: (the message's raw fields, for the ``reply_sent`` signal).
SEND_REPLY = "send_reply"

#: What a handler may have returned.
Result = t.Union["Reply", Response, None]


class Forwarder(t.Protocol):
    """What hands messages to the customer-service relay
    (:class:`flask_wechat.relay.Relay`)."""

    def forward(self, app: Flask, message: Message) -> None: ...


class Services(t.Protocol):
    """What a delivery uses of the app's state
    (:class:`~flask_wechat.state.WeChatState`)."""

    @property
    def task_runner(self) -> TaskRunner: ...

    @property
    def relay(self) -> Forwarder | None: ...

    def client(self, name: str | None = None) -> Client: ...

    def delivery(self, name: str | None = None) -> AccountDelivery: ...


class Routed(t.NamedTuple):
    """A handler's result as the callback's answer, and how the message ended:
    ``"reply"`` (a passive reply), ``"late"`` (a reply sent through the API) or
    ``"success"`` (nothing for the user)."""

    answer: Answer
    outcome: CallbackOutcome


SUCCEEDED = Routed(SUCCESS, "success")
SENT_LATER = Routed(SUCCESS, "late")


class AccountDelivery:
    """One account's ways of answering a message (see the module docstring).

    :param crypto: the account's message crypto, for encrypted passive replies;
        ``None`` where the account has no EncodingAESKey.
    """

    def __init__(
        self, state: Services, account: Account, crypto: MessageCrypto | None = None
    ) -> None:
        self.state = state
        self.account = account
        self.crypto = crypto

    @property
    def client(self) -> Client:
        """The account's API client."""
        return self.state.client(self.account.name)

    def render(self, message: Message, reply: Reply, encrypted: bool) -> Answer:
        """``reply`` as the passive answer to ``message``, in the account's format;
        sealed with the account's crypto when the request was ``encrypted``."""
        crypto = self.crypto if encrypted else None
        if self.account.format == "json":
            body = json.dumps(
                reply.to_dict(message.source or "", message.target), ensure_ascii=False
            )
            if crypto is not None:
                return Answer(crypto.seal(body).to_json().encode(), "application/json")
            return Answer(body.encode(), "application/json")
        xml = reply.to_xml(to_user=message.source or "", from_user=message.target)
        if crypto is not None:
            return Answer(crypto.seal(xml).to_xml().encode(), "application/xml")
        return Answer(xml.encode(), "application/xml")

    def route(self, app: Flask, message: Message, result: Result, encrypted: bool | None) -> Routed:
        """The answer for a handler's ``result``. ``encrypted`` says how the
        request came, for a passive reply; ``None`` where none is possible any
        more (a late handler) or at all (微信客服). A failing reply never loses the
        request: it is reported and the answer is ``success``."""
        try:
            if result is None:
                self.relay(app, message)
                return SUCCEEDED
            if isinstance(result, Response):
                if encrypted is None:  # too late for the callback's answer, or none
                    logger.error(
                        "a handler for %s returned a Response where no callback answer"
                        " is possible; a Response cannot be sent as a message",
                        message.dispatch_name,
                    )
                    return SUCCEEDED
                return Routed(Answer.of_response(result), "reply")
            if encrypted is not None and (
                self.account.platform.passive_replies
                or isinstance(result, TransferCustomerServiceReply)
            ):
                if isinstance(result, ImageReply) and result.file is not None:
                    result = self.upload(result)
                answer = self.render(message, result, encrypted)
                if signals.reply_sent.receivers:
                    signals.reply_sent.send(
                        app, message=message, reply=result, account=message.account
                    )
                return Routed(answer, "reply")
            return self.send_later(app, message, result)
        except Exception as exc:
            report_failure(app, message, exc)
        return SUCCEEDED

    def send_later(self, app: Flask, message: Message, reply: Reply) -> Routed:
        """Send ``reply`` to the message's sender through the API, as a task."""
        if message.source is None:
            raise ValueError(f"a {message.dispatch_name} message has no sender to reply to")
        payload = {
            "to_user": message.source,
            "reply": reply.to_data(),
            "message": dict(message.raw),
        }
        self.state.task_runner.submit(app, Task(SEND_REPLY, self.account.name, payload))
        return SENT_LATER

    def relay(self, app: Flask, message: Message) -> None:
        """Forward a user message no handler answered to the account's relay, if any."""
        relay = self.state.relay
        if relay is None or message.is_event or message.relayed or not self.account.relay_url:
            return
        relay.forward(app, message)

    def upload(self, reply: ImageReply) -> ImageReply:
        """``reply`` with its local file uploaded as temporary media (``media_id`` set)."""
        content, filename = reply.file_content()
        media_id = str(self.client.media.upload("image", content, filename)["media_id"])
        return ImageReply(media_id=media_id)

    def send(
        self,
        app: Flask,
        to_user: str,
        reply: Reply,
        answered: Mapping[str, t.Any] | None = None,
        *,
        announce: bool = True,
    ) -> None:
        """Send ``reply`` to ``to_user`` through the API now (on a worker).

        :param answered: the raw fields of the message this answers, if any.
        :param announce: send ``signals.reply_sent`` (a handler's reply; not an
            agent's message relayed to the user).
        """
        if isinstance(reply, ImageReply) and reply.file is not None:
            reply = self.upload(reply)
        client = self.client
        client.profile.send_reply(client, to_user, reply, answered)
        if announce and signals.reply_sent.receivers:
            message = Message(dict(answered), self.account.name) if answered else None
            signals.reply_sent.send(app, message=message, reply=reply, account=self.account.name)


def report_failure(app: Flask, message: Message, exc: BaseException) -> None:
    """Log and signal a failure while handling ``message``."""
    logger.error(
        "handler for %s on account %r failed", message.dispatch_name, message.account, exc_info=exc
    )
    if signals.handler_failed.receivers:
        signals.handler_failed.send(app, message=message, exception=exc, account=message.account)


@task(SEND_REPLY)
def send_reply_task(app: Flask, state: Services, job: Task) -> None:
    """Perform a :data:`SEND_REPLY` task."""
    raw = job.payload.get("message")
    answered = raw if isinstance(raw, dict) else None
    reply = reply_from_data(job.payload["reply"])
    state.delivery(job.account).send(app, str(job.payload["to_user"]), reply, answered)
