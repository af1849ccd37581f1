"""The third-party platform's (开放平台) two callback URLs.

* ``auth_url`` (授权事件接收URL): WeChat pushes the ``component_verify_ticket``
  every 10 minutes and the ``authorized`` / ``updateauthorized`` /
  ``unauthorized`` events; the answer is always ``success``. These pushes carry
  ``InfoType`` instead of ``MsgType``: they are not messages and never reach
  handlers.
* ``callback_url`` (消息与事件接收URL, ``/wechat/component/<app_id>``): messages
  to every authorizer, dispatched like any account's with ``message.account``
  the authorizer's AppID.

Both are safe mode only, with the platform's Token and EncodingAESKey, and the
platform's AppID inside every envelope; every inbound rule of the other
callbacks holds (signatures, replay guard, dedup, 4xx on bad input).

With ``release_test`` on, the messages of WeChat's 全网发布 test accounts are
answered here, before any handler, as the release checks expect.
"""

from __future__ import annotations

import logging
import threading
import typing as t

from flask import Blueprint, Response, current_app

from .. import observe, signals
from ..component import RELEASE_TEST_APP_IDS
from ..edge import (
    SUCCESS,
    check_timestamp,
    current_request,
    query_args,
    read_body,
    reject,
)
from ..errors import (
    DecryptError,
    InvalidAppId,
    MalformedBody,
    RejectedRequest,
    ReplayedRequest,
    StoreUnavailable,
)
from ..replies import TextReply
from ..tasks import Task, task
from .mp import OfficialAccountCallback

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask

    from ..callback import Callback, Inbound
    from ..component import Component
    from ..config import Account
    from ..delivery import AccountDelivery
    from ..messages import Message
    from ..state import Endpoint, WeChatState

logger = logging.getLogger("flask_wechat")

#: The task that reads an authorizer's grant after an ``authorized`` or
#: ``updateauthorized`` push: payload ``event`` (no code, no token).
AUTHORIZER_CHANGED = "component_authorizer_changed"

_QUERY_AUTH_CODE = "QUERY_AUTH_CODE:"
_TEST_TEXT = "TESTCOMPONENT_MSG_TYPE_TEXT"
_LONGEST_APP_ID = 32


class EncryptedOnly(OfficialAccountCallback):
    """An Official Account callback that takes safe mode only."""

    def open(self, body: bytes, args: Mapping[str, str]) -> Inbound:
        if args.get("encrypt_type", "").lower() != "aes" or "msg_signature" not in args:
            raise DecryptError("the third-party platform sends only encrypted messages")
        return super().open(body, args)


class ComponentAuthCallback(EncryptedOnly):
    """``auth_url``: the ticket and authorization events."""

    def __init__(self, state: WeChatState, account: Account, component: Component) -> None:
        super().__init__(state, account)
        self.component = component

    def post(self) -> Response:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        name = self.account.name
        try:
            req = current_request()
            args = query_args(req.environ)
            check_timestamp(args.get("timestamp", ""), self.account.replay_window)
            inbound = self.open(read_body(req), args)
            fields = inbound.fields
            info_type = fields.get("InfoType")
            if not isinstance(info_type, str) or not info_type:
                raise MalformedBody("push has no InfoType")
            if fields.get("AppId") not in (None, self.component.app_id):
                raise InvalidAppId("push for another third-party platform")
        except RejectedRequest as exc:
            return reject(app, name, exc)
        except Exception:  # no input may turn into a 5xx
            logger.exception("unexpected error reading a third-party platform push")
            return reject(app, name, MalformedBody("malformed request"))
        key = self._dedup_prefix + "d" + inbound.digest
        claim = self.claim(app, key, inbound, None)
        if claim.status == "replayed":
            return reject(app, name, ReplayedRequest("replayed request"))
        if claim.status == "duplicate":
            observe.settled("duplicate", info_type)
            return SUCCESS.to_response()
        observe.settled("success", info_type)
        try:
            self.receive_push(app, info_type, fields)
        except Exception as exc:  # WeChat pushes again; the site must not answer 5xx
            logger.error("could not process a %s push: %s", info_type, type(exc).__name__)
        finally:
            if self.account.dedup_ttl and claim.value is not StoreUnavailable:
                try:
                    self.state.dedup.finish(key, SUCCESS, self.account.dedup_ttl)
                except StoreUnavailable as exc:
                    logger.warning("could not remember a push: %s", exc)
        return SUCCESS.to_response()

    def receive_push(self, app: Flask, info_type: str, fields: Mapping[str, t.Any]) -> None:
        """Act on one push (``InfoType``)."""
        component = self.component
        if info_type == "component_verify_ticket":
            ticket = fields.get("ComponentVerifyTicket")
            if not isinstance(ticket, str) or not ticket:
                raise MalformedBody("ticket push without a ticket")
            component.receive_ticket(ticket)
            return
        app_id = fields.get("AuthorizerAppid")
        if not isinstance(app_id, str) or not app_id:
            logger.info("ignoring a third-party platform push of type %r", info_type[:40])
            return
        if info_type == "unauthorized":
            component.remove_authorizer(app_id)
            if signals.authorizer_unauthorized.receivers:
                signals.authorizer_unauthorized.send(app, app_id=app_id)
        elif info_type in ("authorized", "updateauthorized"):
            payload = {"event": info_type}
            self.state.task_runner.submit(app, Task(AUTHORIZER_CHANGED, app_id, payload))
        else:
            logger.info("ignoring a third-party platform push of type %r", info_type[:40])


@task(AUTHORIZER_CHANGED)
def authorizer_changed_task(app: Flask, state: WeChatState, task: Task) -> None:
    """Perform :data:`AUTHORIZER_CHANGED`: read and save the grant, then signal."""
    component = state.component
    if component is None:
        raise RuntimeError("this app has no third-party platform (WECHAT_COMPONENT)")
    authorizer = component.refresh_authorizer(task.account)
    signal = (
        signals.authorizer_updated
        if task.payload.get("event") == "updateauthorized"
        else signals.authorizer_authorized
    )
    if signal.receivers:
        signal.send(app, app_id=authorizer.app_id, authorizer=authorizer)


class ComponentMessageCallback(EncryptedOnly):
    """``callback_url``: messages to one authorizer."""

    def receive(self, app: Flask, message: Message, inbound: Inbound) -> Response:
        component = self.state.component
        if (
            component is not None
            and component.settings.release_test
            and message.account in RELEASE_TEST_APP_IDS
        ):
            answer = self.release_test(app, component, message, inbound)
            if answer is not None:
                return answer
        return super().receive(app, message, inbound)

    def release_test(
        self, app: Flask, component: Component, message: Message, inbound: Inbound
    ) -> Response | None:
        """Answer one of WeChat's 全网发布 checks; ``None`` for other messages."""
        content = message.raw.get("Content") if message.type == "text" else None
        code = None
        if content == _TEST_TEXT:
            reply = TextReply(content=_TEST_TEXT + "_callback")
        elif isinstance(content, str) and content.startswith(_QUERY_AUTH_CODE):
            code = content[len(_QUERY_AUTH_CODE) :]
            reply = None
        elif message.type == "event":
            reply = TextReply(content=f"{message.raw.get('Event', '')}from_callback")
        else:
            return None
        claim = self.claim(app, self.key(message, inbound), inbound, message)
        if claim.status == "replayed":
            return reject(app, self.account.name, ReplayedRequest("replayed request"))
        if claim.status == "duplicate":
            observe.decided("duplicate", message)
            return SUCCESS.to_response()
        if reply is not None:
            observe.decided("reply", message)
            return self.delivery.render(message, reply, inbound.encrypted).to_response()
        observe.decided("success", message)
        if code and message.source:
            # The code is an authorization code: it never goes on a queue.
            thread = threading.Thread(
                target=_answer_with_api,
                args=(app, component, self.delivery, message.source, code),
                name="flask_wechat-release-test",
                daemon=True,
            )
            thread.start()
        return SUCCESS.to_response()


def _answer_with_api(
    app: Flask, component: Component, delivery: AccountDelivery, user: str, code: str
) -> None:
    """The release check's second half: ``api_query_auth`` with the code, then a
    customer-service text ``<code>_from_api`` through the authorizer."""
    with app.app_context():
        try:
            component.finish_authorization(code)
            delivery.send(app, user, TextReply(content=f"{code}_from_api"), announce=False)
        except Exception as exc:
            logger.error("the release check's API answer failed: %s", type(exc).__name__)


def authorizer_callback(state: WeChatState, account: Account) -> Callback:
    """The callback of one authorizer (what the state builds on first use), on
    the platform's one crypto (its delivery's)."""
    return ComponentMessageCallback(state, account)


def add_component_routes(blueprint: Blueprint, state: WeChatState) -> None:
    """Mount the platform's ``auth_url`` and ``callback_url`` on ``blueprint``."""
    component = state.component
    if component is None:
        return
    auth = ComponentAuthCallback(state, component.platform_account, component)

    def component_auth() -> Response:
        if current_request().method == "GET":
            return auth.get()
        with observe.callback(auth.account.name):  # callback_handled, the wechat.callback span
            return auth.post()

    def component_callback(app_id: str) -> Response:
        if current_request().method == "GET":
            return authorizer_endpoint(app_id, lambda endpoint: endpoint.get())
        with observe.callback(app_id[:_LONGEST_APP_ID]):  # as every account's callback
            return authorizer_endpoint(app_id, lambda endpoint: endpoint.post())

    def authorizer_endpoint(app_id: str, answer: t.Callable[[Endpoint], Response]) -> Response:
        try:
            if len(app_id) > _LONGEST_APP_ID:  # not worth a look in the store
                raise LookupError(app_id[:_LONGEST_APP_ID])
            endpoint = state.authorizer_callback(app_id)
        except LookupError:
            app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
            unknown = RejectedRequest("unknown account", 404)
            return reject(app, app_id[:_LONGEST_APP_ID], unknown)
        return answer(endpoint)

    blueprint.add_url_rule(
        component.settings.auth_url,
        endpoint="component_auth",
        view_func=component_auth,
        methods=["GET", "POST"],
        strict_slashes=False,
    )
    blueprint.add_url_rule(
        component.settings.callback_url,
        endpoint="component_callback",
        view_func=component_callback,
        methods=["GET", "POST"],
        strict_slashes=False,
    )
