"""The callback pipeline shared by every platform.

verify → decrypt → parse → dedup → dispatch → reply → encrypt is written once,
here, in :class:`Callback`. A platform (``flask_wechat/blueprints/*.py``)
subclasses it and fills in only what differs: how URL verification answers and
how a body is opened (signatures, envelope, XML or JSON). Handling the message
is :mod:`flask_wechat.handling`; reading and answering HTTP is
:mod:`flask_wechat.edge`; recognising retries and replays is
:mod:`flask_wechat.dedup`.
"""

from __future__ import annotations

import hashlib
import logging
import time
import typing as t

from flask import Response, current_app

from . import observe, signals
from .dedup import Deduplicator
from .delivery import SUCCEEDED, Routed, report_failure
from .edge import (
    SUCCESS,
    check_timestamp,
    current_request,
    query_args,
    read_body,
    reject,
)
from .errors import MalformedBody, RejectedRequest, ReplayedRequest, StoreUnavailable
from .handling import handle
from .messages import Message
from .store import Claim
from .tasks import Task

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask

    from .config import Account
    from .crypto import MessageCrypto
    from .parsing import Fields
    from .state import WeChatState

logger = logging.getLogger("flask_wechat")

#: Seconds after which WeChat has given up on a message: three tries of 5 s.
_WECHAT_GIVES_UP = 15.0
#: WeChat waits 5 s for an answer: whatever the deadline, a callback answers
#: within this many seconds of WeChat's ``timestamp`` (a longer deadline is the
#: site's own choice and counts from the timestamp too).
ANSWER_BY = 4.5


class Inbound(t.NamedTuple):
    """An opened request: the message's fields and how they arrived."""

    fields: Fields
    encrypted: bool
    #: sha1 of the message as WeChat serialised it (the plaintext inside an
    #: encrypted body): what identifies a message without an id, and a request.
    digest: str
    timestamp: str
    nonce: str


def digest(data: bytes) -> str:
    """The digest that identifies a message's bytes."""
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - an identity, not a signature


class Receiver:
    """What every endpoint receiving an account's signed requests shares (the
    callbacks, the relay's): the claim in the shared store, which guards against
    replays and recognises retries, and goes on without it when the store fails."""

    def __init__(self, state: WeChatState, account: Account) -> None:
        self.state = state
        self.account = account
        self._dedup_prefix = state.dedup.key(account.name, "")

    def claim(self, app: Flask, key: str, inbound: Inbound, message: Message | None) -> Claim:
        """Claim this delivery in the shared store (see :mod:`flask_wechat.dedup`).

        With the store down the delivery goes ahead: a message handled twice beats
        a message lost. That is logged and signalled (``possible_duplicate``).
        """
        account = self.account
        # What the request carried, and where: the same signature with another
        # body, in another mode or at another account is a forgery.
        seen = ("e" if inbound.encrypted else "p") + inbound.digest + ":" + account.name
        guard = Deduplicator.guard(inbound.timestamp, inbound.nonce, seen, account.replay_window)
        try:
            return self.state.dedup.claim(key, account.dedup_ttl, guard)
        except StoreUnavailable as exc:
            self.without_dedup(app, message, exc)
            return Claim("new", StoreUnavailable)

    def without_dedup(self, app: Flask, message: Message | None, exc: StoreUnavailable) -> None:
        """Log and signal that a delivery goes ahead without dedup (the store failed)."""
        logger.warning(
            "the shared store is unavailable (%s); handling a callback for %r"
            " without dedup or replay checks",
            exc,
            self.account.name,
        )
        if signals.possible_duplicate.receivers:
            signals.possible_duplicate.send(
                app, message=message, error=exc, account=self.account.name
            )


class Callback(Receiver):
    """One account's callback endpoint; platforms override the hooks below."""

    def __init__(self, state: WeChatState, account: Account) -> None:
        super().__init__(state, account)
        #: where the account's answers go (:mod:`flask_wechat.delivery`)
        self.delivery = state.delivery_for(account)
        #: the account's message crypto (the delivery's, which seals the replies)
        self.crypto: MessageCrypto | None = self.delivery.crypto
        self._follows_up = type(self).follow_ups is not Callback.follow_ups

    # -- platform hooks -------------------------------------------------------

    def verify_url(self, args: Mapping[str, str]) -> str:
        """Check a GET (URL verification) request; return the text to answer."""
        raise NotImplementedError

    def open(self, body: bytes, args: Mapping[str, str]) -> Inbound:
        """Verify and, when encrypted, decrypt a POST body into message fields."""
        raise NotImplementedError

    def follow_ups(self, message: Message) -> list[tuple[str, dict[str, t.Any]]]:
        """Tasks (name, payload) a received message sets off besides its handler,
        such as pulling the WeCom 微信客服 messages a ``kf_msg_or_event``
        announces; none by default."""
        return []

    # -- the shared pipeline ------------------------------------------------------

    def get(self) -> Response:
        """Answer WeChat's URL verification."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            args = query_args(current_request().environ)
            check_timestamp(args.get("timestamp", ""), self.account.replay_window)
            echostr = self.verify_url(args)
        except RejectedRequest as exc:
            return reject(app, self.account.name, exc)
        except Exception:  # no input may turn into a 5xx
            logger.exception("unexpected error verifying a callback URL for %r", self.account.name)
            return reject(app, self.account.name, MalformedBody("malformed request"))
        return Response(echostr, 200, mimetype="text/plain")

    def post(self) -> Response:
        """Receive one message: verify, decrypt, parse, dedup, dispatch and reply."""
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            req = current_request()
            args = query_args(req.environ)
            check_timestamp(args.get("timestamp", ""), self.account.replay_window)
            inbound = self.open(read_body(req), args)
            message = Message(inbound.fields, self.account.name)
        except RejectedRequest as exc:
            return reject(app, self.account.name, exc)
        except Exception:  # no input may turn into a 5xx
            logger.exception("unexpected error reading a callback for %r", self.account.name)
            return reject(app, self.account.name, MalformedBody("malformed request"))
        return self.receive(app, message, inbound)

    def key(self, message: Message, inbound: Inbound) -> str:
        """The dedup key of ``message``: its ``MsgId`` with its sender and time
        (ids alone were seen to repeat across users), else the digest of its bytes."""
        if message.id is not None:
            return f"{self._dedup_prefix}m{message.id}:{message.source}:{message.create_time}"
        return f"{self._dedup_prefix}d{inbound.digest}"

    def follow_up(self, app: Flask, message: Message) -> None:
        """Submit the tasks the platform wants for ``message`` (never fails the request)."""
        try:
            for name, payload in self.follow_ups(message):
                self.state.task_runner.submit(app, Task(name, self.account.name, payload))
        except Exception as exc:
            report_failure(app, message, exc)

    def receive(self, app: Flask, message: Message, inbound: Inbound) -> Response:
        """Dedup, dispatch and answer a verified message, by the reply deadline."""
        key = self.key(message, inbound)
        claim = self.claim(app, key, inbound, message)
        if claim.status == "replayed":
            return reject(app, self.account.name, ReplayedRequest("replayed request"))
        answer, outcome = self.answer(app, message, inbound, key, claim)
        observe.decided(outcome, message)
        return answer.to_response()

    def answer(
        self, app: Flask, message: Message, inbound: Inbound, key: str, claim: Claim
    ) -> Routed:
        """The answer to a claimed message: for a retry, the first delivery's (as
        soon as it is known, within the deadline); otherwise its handler's."""
        account = self.account
        ttl = account.dedup_ttl
        dedup = self.state.dedup
        budget = self.budget(inbound.timestamp)
        if claim.status == "duplicate":
            if signals.duplicate_ignored.receivers:
                signals.duplicate_ignored.send(app, message=message, account=account.name)
            try:
                found = dedup.wait(key, claim.value, budget or 0.0) if ttl else None
            except StoreUnavailable as exc:  # the first delivery may be lost with it
                self.without_dedup(app, message, exc)
                claim = Claim("new", StoreUnavailable)
            else:
                return Routed(found or SUCCESS, "duplicate")
        if self._follows_up:
            self.follow_up(app, message)
        routed = SUCCEEDED
        try:
            routed = handle(app, self.state, self.delivery, message, inbound.encrypted, budget)
        finally:
            if ttl and claim.value is not StoreUnavailable:
                try:
                    dedup.finish(key, routed.answer, ttl)
                except StoreUnavailable as exc:
                    logger.warning("could not remember an answer for %r: %s", account.name, exc)
        return routed

    def budget(self, timestamp: str) -> float | None:
        """Seconds left to answer (``None`` when the deadline is off): at most
        ``WECHAT_REPLY_DEADLINE``, and never past :data:`ANSWER_BY` seconds after
        WeChat sent the request (its ``timestamp``), so the time the request
        waited for a free worker counts."""
        deadline = self.account.reply_deadline
        if not deadline:
            return None
        # The timestamp is whole seconds: the request left at most a second later,
        # so this errs on the early side. A wait that looks negative (a server
        # clock behind WeChat's) never lengthens the deadline; one longer than
        # WeChat keeps trying (its three tries take 15 s) is a clock ahead of
        # WeChat's, or a replay window of 0 letting old timestamps in, not a
        # queue: then the deadline alone applies.
        try:
            waited = time.time() - int(timestamp)
        except ValueError:  # pragma: no cover - checked before the body was opened
            return deadline
        if 0 < waited < _WECHAT_GIVES_UP:
            return min(deadline, max(deadline, ANSWER_BY) - waited)
        return deadline
