"""The relay's own endpoints: agent messages from the 7moor platform, the media proxy.

Agent messages arrive at ``WECHAT_RELAY_CALLBACK_URL`` and go through the same
edge as WeChat's callbacks (:mod:`flask_wechat.edge`: read, reject with a short
reason and ``request_rejected``; :meth:`Callback.claim`: replay guard and dedup),
then become :data:`~flask_wechat.relay.RELAY_TO_USER` tasks. The protocol itself
is :mod:`flask_wechat.relay`.
"""

from __future__ import annotations

import hmac
import json
import logging
import typing as t

from flask import Response, current_app, request

from .. import signals
from ..callback import Inbound, Receiver, digest
from ..edge import current_request, read_body, reject
from ..errors import InvalidSignature, MalformedBody, RejectedRequest, TransportError, WeChatError
from ..relay import RELAY_TO_USER, media_signature, open_relay_request
from ..tasks import Task

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Blueprint, Flask

    from ..config import Account
    from ..state import WeChatState

logger = logging.getLogger("flask_wechat")

_CHUNK = 64 * 1024
_MAX_MEDIA_ID = 256


def _ok() -> Response:
    # The seed does not say what the platform expects back; a JSON "ok" it is.
    return Response(json.dumps({"code": 0, "message": "ok"}), 200, mimetype="application/json")


class RelayCallback(Receiver):
    """Agent messages from the relay platform, for one account (signed, never
    encrypted)."""

    def post(self) -> Response:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        account = self.account
        try:
            body = read_body(current_request())
            agent = open_relay_request(account, body)
        except RejectedRequest as exc:
            return reject(app, account.name, exc, "relay request")
        except Exception:  # no input may turn into a 5xx
            logger.exception("unexpected error reading a relay request for %r", account.name)
            return reject(app, account.name, MalformedBody("malformed request"), "relay request")

        inbound = Inbound(agent.fields, False, digest(body), agent.timestamp, agent.nonce)
        key = self.state.dedup.key(account.name, f"relay:{agent.open_id}:{agent.signature}")
        claim = self.claim(app, key, inbound, None)
        if claim.status == "replayed":
            return reject(app, account.name, InvalidSignature("replayed request"), "relay request")
        if claim.status == "duplicate":
            logger.info("ignored a repeated relay message for %r", account.name)
            return _ok()
        try:
            if signals.relay_message_received.receivers:
                signals.relay_message_received.send(app, message=agent.fields, account=account.name)
            if agent.msg_type == "finish":
                if signals.relay_session_finished.receivers:
                    signals.relay_session_finished.send(
                        app, open_id=agent.open_id, message=agent.fields, account=account.name
                    )
                return _ok()
            payload = {
                "open_id": agent.open_id,
                "msgType": agent.msg_type,
                "content": agent.content,
            }
            job = Task(RELAY_TO_USER, account.name, payload)
            try:
                self.state.task_runner.submit(app, job)
            except Exception as exc:  # the runner (a queue) is down: say so, loudly
                logger.exception("could not queue a relay task for %r", account.name)
                if signals.delivery_failed.receivers:
                    signals.delivery_failed.send(app, task=job, exception=exc, account=account.name)
        except Exception:
            # A receiver of a signal raised: the message was accepted all the same.
            logger.exception("unexpected error handling a relay message for %r", account.name)
        return _ok()


def serve_media(state: WeChatState, account: Account, media_id: str) -> Response:
    """Stream WeChat temporary media to the platform, without the access_token."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    given = request.args.get("sig", "")
    expected = media_signature(account, media_id)
    if len(media_id) > _MAX_MEDIA_ID or not hmac.compare_digest(
        expected.encode(), given.encode("utf-8", "replace")
    ):
        return reject(
            app, account.name, InvalidSignature("invalid media signature"), "media request"
        )
    try:
        download = state.client(account.name).media.download(media_id)
    except TransportError:
        logger.warning("the WeChat API did not answer a media download for %r", account.name)
        return Response("the WeChat API did not answer", 502, mimetype="text/plain")
    except WeChatError as exc:
        logger.info("media of %r could not be fetched: %s", account.name, exc)
        return Response("media not found", 404, mimetype="text/plain")

    def body() -> Iterator[bytes]:
        try:
            yield from download.iter_content(_CHUNK)
        finally:
            download.close()

    response = Response(body(), 200, content_type=download.content_type)
    response.call_on_close(download.close)
    if download.content_length is not None:
        response.content_length = download.content_length
    response.headers["X-Content-Type-Options"] = "nosniff"
    # WeChat's bytes under this site's origin: never let a browser run them.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def add_relay_routes(blueprint: Blueprint, account: Account) -> None:
    """Mount ``account``'s relay callback and media proxy on the callback blueprint.

    Endpoints: ``<blueprint>.relay_<account>`` (POST, agent messages) and
    ``<blueprint>.relay_media_<account>`` (GET ``<relay callback>/media/<media_id>``).
    """
    url = account.relay_callback_url
    if not account.relay_url or url is None:
        return
    name = account.name

    def relay() -> Response:
        state: WeChatState = current_app.extensions["wechat"]
        return RelayCallback(state, state.account(name)).post()

    def relay_media(media_id: str) -> Response:
        state: WeChatState = current_app.extensions["wechat"]
        return serve_media(state, state.account(name), media_id)

    relay.__name__ = f"relay_{name}"
    relay_media.__name__ = f"relay_media_{name}"
    blueprint.add_url_rule(
        url, endpoint=f"relay_{name}", view_func=relay, methods=["POST"], strict_slashes=False
    )
    blueprint.add_url_rule(
        url.rstrip("/") + "/media/<media_id>",
        endpoint=f"relay_media_{name}",
        view_func=relay_media,
        methods=["GET"],
    )
