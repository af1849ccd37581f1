"""WeCom 微信客服: pull the messages announced by ``kf_msg_or_event`` and handle
them like pushed ones.

WeCom does not push 微信客服 messages; it pushes a ``kf_msg_or_event`` event
(fields ``Token`` and ``OpenKfId``) and the app reads the messages with
``/cgi-bin/kf/sync_msg``. The WeCom platform answers that event with a
:data:`KF_SYNC` task (see :meth:`flask_wechat.callback.Callback.follow_ups`), so
the pulling runs off the callback, on the extension's task runner:

* the cursor of each ``open_kfid`` lives in the durable store
  (:class:`CursorStore`, :mod:`flask_wechat.durable`), saved after every page,
  so a restart reads on from where it was;
* exactly one puller per ``open_kfid`` runs at a time across processes: a lock
  in the store (``add`` / ``delete_if_equal``). An event arriving while another
  process pulls leaves a "pending" mark that the running puller picks up
  before it lets go, so no announcement is lost;
* each pulled customer message (``origin`` 3) and event (``origin`` 4) becomes
  a :class:`~flask_wechat.messages.Message` with WeChat's usual field names
  (:func:`message_from_kf`) and goes through the handlers; messages already
  handled (by ``msgid``) are skipped, so a page read twice after a crash is not
  answered twice;
* a reply returned by a handler is sent as a task (``send_reply``) whose
  payload carries the message's raw fields; their ``OpenKfId`` makes the WeCom
  platform send it with ``/cgi-bin/kf/send_msg`` rather than as an app message.
"""

from __future__ import annotations

import logging
import re
import secrets
import typing as t

from .errors import MalformedBody
from .handling import run_handler
from .messages import Message
from .tasks import task

if t.TYPE_CHECKING:
    from flask import Flask

    from .durable import DurableStore
    from .state import WeChatState
    from .tasks import Task

logger = logging.getLogger("flask_wechat")

#: The task that pulls one 客服账号's messages: payload ``open_kfid``, ``token``.
KF_SYNC = "kf_sync"
#: How long a puller holds the lock without renewing it (renewed every page).
LOCK_TTL = 120.0
#: Which pulled entries reach the handlers: 3 the customer wrote, 4 an event.
#: (5, what a servicer sent from the WeCom client, is only skipped over.)
DISPATCHED_ORIGINS = frozenset({3, 4})

_FIELDS: dict[str, dict[str, str]] = {
    "text": {"content": "Content", "menu_id": "MenuId"},
    "image": {"media_id": "MediaId"},
    "voice": {"media_id": "MediaId"},
    "video": {"media_id": "MediaId"},
    "file": {"media_id": "MediaId"},
    "location": {
        "latitude": "Location_X",
        "longitude": "Location_Y",
        "name": "Label",
        "address": "Address",
    },
    "link": {"title": "Title", "desc": "Description", "url": "Url", "pic_url": "PicUrl"},
    "event": {"event_type": "Event", "external_userid": "FromUserName", "open_kfid": "OpenKfId"},
}


def _camel(name: str) -> str:
    return re.sub(r"(?:^|_)([a-z0-9])", lambda m: m.group(1).upper(), name)


def message_from_kf(item: t.Mapping[str, t.Any], account: str, corp_id: str = "") -> Message:
    """A pulled ``msg_list`` entry as a :class:`Message`: ``MsgType`` from
    ``msgtype``, ``FromUserName`` the customer's ``external_userid``,
    ``CreateTime`` from ``send_time``, ``OpenKfId``, ``KfMsgId`` (WeCom's string
    ``msgid``), ``Origin``, and the fields of the type's object under WeChat's
    names (``Content``, ``MediaId``, ``Location_X``, ``Event``, …; others in
    CamelCase: ``scene_param`` → ``SceneParam``)."""
    msgtype = str(item.get("msgtype") or "")
    raw: dict[str, t.Any] = {
        "ToUserName": corp_id,
        "FromUserName": item.get("external_userid"),
        "CreateTime": item.get("send_time"),
        "MsgType": msgtype,
        "OpenKfId": item.get("open_kfid"),
        "KfMsgId": item.get("msgid"),
        "Origin": item.get("origin"),
        "ServicerUserId": item.get("servicer_userid"),
    }
    body = item.get(msgtype)
    if isinstance(body, dict):
        names = _FIELDS.get(msgtype, {})
        for key, value in body.items():
            if value is not None and value != "":
                raw[names.get(key) or _camel(key)] = value
    return Message({key: value for key, value in raw.items() if value is not None}, account)


class CursorStore:
    """Where each 客服账号's ``next_cursor`` is kept: the durable store (a restart
    that lost it would answer every customer again from the oldest message)."""

    def __init__(self, durable: DurableStore, account: str) -> None:
        self.durable = durable
        self.account = account

    def key(self, open_kfid: str) -> str:
        return f"kf:cursor:{self.account}:{open_kfid}"

    def get(self, open_kfid: str) -> str | None:
        """The cursor to read on from, or None (read from the oldest message)."""
        value = self.durable.get(self.key(open_kfid))
        return str(value) if value else None

    def set(self, open_kfid: str, cursor: str) -> None:
        self.durable.set(self.key(open_kfid), cursor)


class Puller:
    """Reads one 客服账号's new messages and hands them to the handlers."""

    def __init__(self, app: Flask, state: WeChatState, account: str, open_kfid: str) -> None:
        self.app = app
        self.state = state
        self.account = account
        self.open_kfid = open_kfid
        self.store = state.store
        self.cursors = CursorStore(state.durable, account)
        base = f"{{{account}}}:kf:"
        self.lock_key = f"{base}lock:{open_kfid}"
        self.pending_key = f"{base}pending:{open_kfid}"
        self.owner = secrets.token_hex(8)

    def run(self, token: str | None) -> None:
        """Pull until nothing is announced any more, or leave it to the puller
        that holds the lock."""
        # Announce first: a puller holding the lock checks after it lets go.
        self.store.set(self.pending_key, token or "", LOCK_TTL)
        while self.store.add(self.lock_key, self.owner, LOCK_TTL):
            try:
                while (pending := self.store.get(self.pending_key)) is not None:
                    self.store.delete(self.pending_key)
                    self.pull(str(pending) or None)
            finally:
                self.store.delete_if_equal(self.lock_key, self.owner)
            if self.store.get(self.pending_key) is None:
                return

    def pull(self, token: str | None) -> int:
        """Read every page after the saved cursor; the number of entries read."""
        client = self.state.client(self.account)
        corp_id = client.account.app_id or ""
        cursor = self.cursors.get(self.open_kfid)
        count = 0
        while True:
            page = client.kf.sync_msg(self.open_kfid, cursor, token)
            for item in page.get("msg_list") or ():
                count += 1
                if isinstance(item, dict):
                    self.dispatch(item, corp_id)
            cursor = str(page.get("next_cursor") or cursor or "")
            if cursor:
                self.cursors.set(self.open_kfid, cursor)
            self.store.set(self.lock_key, self.owner, LOCK_TTL)  # still pulling
            if not page.get("has_more"):
                return count

    def dispatch(self, item: t.Mapping[str, t.Any], corp_id: str) -> None:
        if item.get("origin") not in DISPATCHED_ORIGINS:
            return
        msgid = item.get("msgid")
        ttl = self.state.account(self.account).dedup_ttl or 3 * 86400
        if msgid and not self.store.add(f"{{{self.account}}}:kf:seen:{msgid}", 1, ttl):
            return
        try:
            message = message_from_kf(item, self.account, corp_id)
        except MalformedBody as exc:  # one odd entry must not stop the others
            logger.warning("skipping a 微信客服 entry of %r: %s", self.account, exc)
            return
        result = run_handler(self.app, self.state, message)
        self.state.delivery(self.account).route(self.app, message, result, None)


@task(KF_SYNC)
def sync_task(app: Flask, state: WeChatState, task: Task) -> None:
    """Perform a :data:`KF_SYNC` task."""
    token = task.payload.get("token")
    puller = Puller(app, state, task.account, str(task.payload["open_kfid"]))
    puller.run(str(token) if token else None)
