"""WeCom 微信客服: reading and answering through the client, and the puller that
turns a ``kf_msg_or_event`` callback into handled messages, against the sandbox."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from flask_wechat import Message, WeChat
from flask_wechat.errors import APIError
from flask_wechat.kf import CursorStore, Puller, message_from_kf
from flask_wechat.sandbox import SANDBOX_CORP_ID, SANDBOX_CORP_SECRET
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import WeChatTestClient

from .conftest import WORK_AES_KEY, WORK_AGENT_ID, WORK_TOKEN, posted

if t.TYPE_CHECKING:
    from flask_wechat.api import Client
    from flask_wechat.sandbox import Sandbox

KF = "wkSANDBOXKF0001"
CUSTOMER = "wmCUSTOMER0000000001"


def test_sync_and_send(work_client: Client, sandbox: Sandbox) -> None:
    event = sandbox.kf_customer_writes(KF, CUSTOMER, "在吗")
    page = work_client.kf.sync_msg(KF, token=event["Token"])
    (item,) = page["msg_list"]
    assert item["text"]["content"] == "在吗"
    assert item["external_userid"] == CUSTOMER
    assert page["has_more"] == 0
    assert posted(sandbox, "/cgi-bin/kf/sync_msg") == [
        {"open_kfid": KF, "limit": 1000, "token": event["Token"]}
    ]
    again = work_client.kf.sync_msg(KF, cursor=page["next_cursor"])
    assert again["msg_list"] == []

    msgid = work_client.kf.send_msg(CUSTOMER, KF, "text", {"content": "在的"})
    (sent,) = sandbox.sent
    assert sent["kind"] == "kf"
    assert sent["msgid"] == msgid
    assert sent["text"] == {"content": "在的"}
    assert sent["app_id"] == SANDBOX_CORP_ID


def test_send_window_allows_five_answers(work_client: Client, sandbox: Sandbox) -> None:
    with pytest.raises(APIError) as info:
        work_client.kf.send_msg(CUSTOMER, KF, "text", {"content": "hello"})
    assert info.value.errcode == 95004  # nobody ever wrote to that 客服账号
    sandbox.kf_customer_writes(KF, CUSTOMER, "hi")
    for n in range(5):
        work_client.kf.send_msg(CUSTOMER, KF, "text", {"content": f"answer {n}"})
    with pytest.raises(APIError) as info:
        work_client.kf.send_msg(CUSTOMER, KF, "text", {"content": "one too many"})
    assert info.value.errcode == 95001
    with pytest.raises(APIError) as info:
        work_client.kf.send_msg("wmSOMEONEELSE", KF, "text", {"content": "hi"})
    assert info.value.errcode == 95002
    with pytest.raises(APIError) as info:
        work_client.kf.send_msg(CUSTOMER, KF, "news", {"articles": []})
    assert info.value.errcode == 40008


def test_message_from_kf_uses_wechat_names() -> None:
    message = message_from_kf(
        {
            "msgid": "from_msgid_1",
            "open_kfid": KF,
            "external_userid": CUSTOMER,
            "send_time": 1700000000,
            "origin": 3,
            "msgtype": "location",
            "location": {
                "latitude": 23.1,
                "longitude": 113.3,
                "name": "广州塔",
                "address": "阅江西路",
            },
        },
        "default",
        SANDBOX_CORP_ID,
    )
    assert message.type == "location"
    assert message.source == CUSTOMER
    assert message.create_time == 1700000000
    assert message.raw["Location_X"] == 23.1
    assert message.raw["Label"] == "广州塔"
    assert message.raw["OpenKfId"] == KF
    event = message_from_kf(
        {
            "msgid": "m2",
            "origin": 4,
            "msgtype": "event",
            "event": {
                "event_type": "enter_session",
                "open_kfid": KF,
                "external_userid": CUSTOMER,
                "scene_param": "a=1",
            },
        },
        "default",
    )
    assert event.event == "enter_session"
    assert event.source == CUSTOMER
    assert event.raw["SceneParam"] == "a=1"


def _kf_app(sandbox: Sandbox, instance: Path, **extra: t.Any) -> tuple[Flask, WeChat]:
    app = Flask("kf_app", instance_path=str(instance))
    app.config.update(
        TESTING=True,
        WECHAT_KIND="work",
        WECHAT_APP_ID=SANDBOX_CORP_ID,
        WECHAT_APP_SECRET=SANDBOX_CORP_SECRET,
        WECHAT_AGENT_ID=WORK_AGENT_ID,
        WECHAT_TOKEN=WORK_TOKEN,
        WECHAT_ENCODING_AES_KEY=WORK_AES_KEY,
        WECHAT_API_BASE_URL=sandbox.url,
        **extra,
    )
    return app, WeChat(app, task_runner=InlineRunner(attempts=1))


def test_callback_pulls_dispatches_and_answers_by_kf(tmp_path: Path, sandbox: Sandbox) -> None:
    app, wechat = _kf_app(sandbox, tmp_path)
    seen: list[Message] = []

    @wechat.on("text")
    def echo(message: Message) -> str:
        seen.append(message)
        return "echo: " + str(message.content)

    announced: list[str] = []

    @wechat.on("kf_msg_or_event")
    def announcement(message: Message) -> None:
        announced.append(message.raw["OpenKfId"])

    callback = WeChatTestClient(app)
    sandbox.kf_customer_writes(KF, CUSTOMER, "one")
    event = sandbox.kf_customer_writes(KF, CUSTOMER, "two")
    assert callback.send(callback.event_message("kf_msg_or_event", **event)).is_success
    assert [m.content for m in seen] == ["one", "two"]
    assert seen[0].source == CUSTOMER
    assert seen[0].raw["OpenKfId"] == KF
    assert announced == [KF]  # the event itself still reaches its handlers
    assert [
        (s["kind"], s["touser"], s["open_kfid"], s["text"]["content"]) for s in sandbox.sent
    ] == [
        ("kf", CUSTOMER, KF, "echo: one"),
        ("kf", CUSTOMER, KF, "echo: two"),
    ]
    assert sandbox.count("/cgi-bin/message/send") == 0  # not as an app message

    # The cursor is kept: the next announcement reads only what is new.
    event = sandbox.kf_customer_writes(KF, CUSTOMER, "three")
    callback.send(callback.event_message("kf_msg_or_event", **event))
    assert [m.content for m in seen] == ["one", "two", "three"]
    with app.app_context():
        state = wechat.state()
        assert CursorStore(state.durable, "default").get(KF)
    first, second = posted(sandbox, "/cgi-bin/kf/sync_msg")
    assert "cursor" not in first
    assert second["cursor"]
    assert second["token"] == event["Token"]
    assert len(sandbox.sent) == 3


def test_only_one_puller_at_a_time(tmp_path: Path, sandbox: Sandbox) -> None:
    app, wechat = _kf_app(sandbox, tmp_path)
    handled: list[str] = []

    @wechat.on("text")
    def record(message: Message) -> None:
        handled.append(message.content or "")

    event = sandbox.kf_customer_writes(KF, CUSTOMER, "hello")
    with app.app_context():
        state = wechat.state()
        other = Puller(app, state, "default", KF)
        assert state.store.add(other.lock_key, "another-process", 60)
        # An announcement while another process pulls: it is left to that one.
        WeChatTestClient(app).send(WeChatTestClient(app).event_message("kf_msg_or_event", **event))
        assert sandbox.count("/cgi-bin/kf/sync_msg") == 0
        assert handled == []
        assert state.store.get(other.pending_key) == event["Token"]
        # That process lets go and looks for announcements, as Puller.run does.
        assert state.store.delete_if_equal(other.lock_key, "another-process")
        other.owner = "another-process"
        other.run(None)
        assert handled == ["hello"]
        assert state.store.get(other.lock_key) is None
        assert state.store.get(other.pending_key) is None


def test_a_message_read_twice_is_handled_once(tmp_path: Path, sandbox: Sandbox) -> None:
    app, wechat = _kf_app(sandbox, tmp_path)
    handled: list[str] = []

    @wechat.on("text")
    def record(message: Message) -> None:
        handled.append(message.content or "")

    sandbox.kf_customer_writes(KF, CUSTOMER, "once")
    with app.app_context():
        state = wechat.state()
        Puller(app, state, "default", KF).run(None)
        cursors = CursorStore(state.durable, "default")
        cursors.durable.delete(cursors.key(KF))
        Puller(app, state, "default", KF).run(None)  # reads from the start again
    assert handled == ["once"]
    assert sandbox.count("/cgi-bin/kf/sync_msg") == 2


def test_the_lock_is_shared_through_redis(tmp_path: Path, sandbox: Sandbox, redis_db: str) -> None:
    first, first_wechat = _kf_app(sandbox, tmp_path, WECHAT_REDIS_URL=redis_db)
    second, second_wechat = _kf_app(sandbox, tmp_path, WECHAT_REDIS_URL=redis_db)
    handled: list[str] = []
    second_wechat.on("text")(lambda message: handled.append(message.content))
    event = sandbox.kf_customer_writes(KF, CUSTOMER, "hello")
    with first.app_context():
        holder = Puller(first, first_wechat.state(), "default", KF)
        assert holder.store.add(holder.lock_key, holder.owner, 60)
    callback = WeChatTestClient(second)
    callback.send(callback.event_message("kf_msg_or_event", **event))
    assert sandbox.count("/cgi-bin/kf/sync_msg") == 0  # the other app holds the lock
    with first.app_context():
        assert holder.store.delete_if_equal(holder.lock_key, holder.owner)
    callback.send(
        callback.event_message(
            "kf_msg_or_event", **sandbox.kf_customer_writes(KF, CUSTOMER, "again")
        )
    )
    assert handled == ["hello", "again"]


def test_an_entry_without_msgtype_is_skipped(tmp_path: Path, sandbox: Sandbox) -> None:
    app, wechat = _kf_app(sandbox, tmp_path)
    handled: list[str] = []

    @wechat.on("text")
    def record(message: Message) -> None:
        handled.append(message.content or "")

    sandbox.kf_customer_writes(KF, CUSTOMER, "before")
    sandbox.app_data(SANDBOX_CORP_ID, WORK_AGENT_ID).kf_messages[KF].append(
        {"msgid": "odd", "origin": 3, "open_kfid": KF, "external_userid": CUSTOMER}
    )
    sandbox.kf_customer_writes(KF, CUSTOMER, "after")
    with app.app_context():
        Puller(app, wechat.state(), "default", KF).run(None)
    assert handled == ["before", "after"]


def test_the_cursor_survives_a_restart_on_the_default_configuration(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """A new process (here: a new app on the same instance folder, with a new
    in-process store) reads on from the saved cursor: nobody is answered twice."""
    answered: list[str] = []

    def start() -> Flask:
        app, wechat = _kf_app(sandbox, tmp_path)

        @wechat.on("text")
        def answer(message: Message) -> None:
            answered.append(message.content or "")

        return app

    before = start()
    event = sandbox.kf_customer_writes(KF, CUSTOMER, "before the restart")
    WeChatTestClient(before).send(
        WeChatTestClient(before).event_message("kf_msg_or_event", **event)
    )
    assert answered == ["before the restart"]
    assert (tmp_path / "flask_wechat.json").exists()

    after = start()  # a restart: nothing of the first app's memory is left
    event = sandbox.kf_customer_writes(KF, CUSTOMER, "after the restart")
    WeChatTestClient(after).send(WeChatTestClient(after).event_message("kf_msg_or_event", **event))
    assert answered == ["before the restart", "after the restart"]
