"""WeChat retries a message it got no answer to in time: each runs its handler once,
and a retry gets the answer the first delivery got."""

from __future__ import annotations

import pytest

from flask_wechat import Message, signals
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import Recorder

from ..conftest import production
from ..helpers import Counter
from .conftest import SEND_PATH, Fields, Platform, make_platform


def test_a_retried_message_runs_once_and_gets_the_same_reply(platform: Platform) -> None:
    ignored = Recorder()
    message = platform.client.message("text", Content="retry me")
    with signals.duplicate_ignored.connected_to(ignored, platform.app):
        first = platform.client.send(message)
        second = platform.client.send(message)
        third = platform.client.send(message)
    assert len(platform.handled) == 1
    assert len(platform.received.calls) == 1
    assert len(ignored.calls) == 2
    assert all(call["message"].id == message["MsgId"] for call in ignored.calls)
    assert platform.reply_of(first) == "a handler ran"
    assert second.reply == first.reply
    assert third.reply == first.reply
    assert second.encrypted is first.encrypted
    if platform.passive:
        assert first.content == second.content == "a handler ran"
        assert second.response.get_data() == first.response.get_data()
        assert second.encrypted is platform.encrypted
    else:
        assert [first.text, second.text, third.text] == ["success"] * 3
        assert platform.sandbox.count(SEND_PATH) == 1


def test_a_new_msgid_runs_again(bare_platform: Platform) -> None:
    platform = bare_platform
    counter = Counter()
    platform.wechat.on("text")(counter)
    first = platform.client.text("same words")
    assert platform.reply_of(first) == "call 1"
    second = platform.client.text("same words")
    assert platform.reply_of(second) == "call 2"
    assert [m.content for m in counter.messages] == ["same words"] * 2
    assert counter.messages[0].id != counter.messages[1].id


def test_duplicate_ignored_fires_for_retries_only(bare_platform: Platform) -> None:
    platform = bare_platform
    platform.wechat.on("text")(Counter())
    ignored = Recorder()
    message = platform.client.message("text", Content="again")
    with signals.duplicate_ignored.connected_to(ignored, platform.app):
        platform.client.send(message)
        assert ignored.calls == []
        platform.client.send(message)
    [call] = ignored.calls
    assert call["sender"] is platform.app
    assert call["message"].id == message["MsgId"]


EVENT_CHANGES: list[tuple[str, Fields]] = [
    ("another user", {"FromUserName": "oAnotherUser000000000000000"}),
    ("another time", {"CreateTime": 1_700_000_001}),
    ("another event", {"Event": "VIEW"}),
    ("another key", {"EventKey": "V1002_OTHER"}),
]


@pytest.mark.parametrize("change", [c[1] for c in EVENT_CHANGES], ids=[c[0] for c in EVENT_CHANGES])
def test_events_dedup_by_user_time_event_and_key(bare_platform: Platform, change: Fields) -> None:
    platform = bare_platform
    counter = Counter()
    platform.wechat.on()(counter)
    client = platform.client
    ignored = Recorder()
    event = client.event_message("CLICK", EventKey="V1001_GOOD", CreateTime=1_700_000_000)
    with signals.duplicate_ignored.connected_to(ignored, platform.app):
        first = client.send(event)
        assert platform.reply_of(first) == "call 1"
        retry = client.send(dict(event))
        assert platform.reply_of(retry) == "call 1"
        other = client.send({**event, **change})
    if platform.passive:
        assert (first.content, retry.content, other.content) == ("call 1", "call 1", "call 2")
    else:
        # The third is another message: a second send (to a user the sandbox may not know).
        assert platform.sandbox.count(SEND_PATH) == 2
    assert len(counter.messages) == 2
    assert len(ignored.calls) == 1


def test_retries_of_silent_or_failing_handlers_do_not_run_them_again(
    bare_platform: Platform,
) -> None:
    platform = bare_platform
    production(platform.app)  # the failing handler is answered, not raised
    runs: list[str] = []

    @platform.wechat.on("text", match="^quiet")
    def quiet(message: Message) -> None:
        runs.append("quiet")

    @platform.wechat.on("text")
    def broken(message: Message) -> str:
        runs.append("broken")
        raise RuntimeError("once is enough")

    client = platform.client
    for content in ("quiet please", "break"):
        message = client.message("text", Content=content)
        assert client.send(message).text == "success"
        assert client.send(message).text == "success"
    assert runs == ["quiet", "broken"]
    assert platform.sandbox.count(SEND_PATH) == 0


def test_dedup_ttl_zero_disables_dedup(sandbox: Sandbox, bare_platform: Platform) -> None:
    platform = make_platform(
        sandbox, bare_platform.kind, bare_platform.fmt, bare_platform.mode, WECHAT_DEDUP_TTL=0
    )
    counter = Counter()
    platform.wechat.on()(counter)
    client = platform.client
    ignored = Recorder()
    message = client.message("text", Content="no memory")
    event = client.event_message("CLICK", EventKey="K", CreateTime=1_700_000_000)
    with signals.duplicate_ignored.connected_to(ignored, platform.app):
        replies = [platform.reply_of(client.send(m)) for m in (message, message, event, event)]
    assert replies == ["call 1", "call 2", "call 3", "call 4"]
    assert ignored.calls == []
