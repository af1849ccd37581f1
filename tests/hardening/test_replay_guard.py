"""The replay guard and dedup: captured signatures carry no forgery; replays stay duplicates."""

from __future__ import annotations

import secrets
import time
import typing as t

import pytest

from flask_wechat import signals
from flask_wechat.crypto import make_nonce
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import WeChatTestClient

from ..conftest import AES_KEY, create_app
from ..relay.conftest import platform as platform
from ..relay.conftest import relay as relay
from .conftest import Recorder, counting, work_app

# == the replay guard ===================================================================


def test_a_captured_safe_mode_signature_cannot_carry_a_plaintext_body(
    rejected: Recorder,
) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "text")
    safe = WeChatTestClient(app, mode="safe")
    body, query = safe.encode(safe.message("text", Content="genuine"))
    assert safe.post(body, query).status_code == 200
    assert [m.content for m in seen] == ["genuine"]

    # The attacker keeps signature/timestamp/nonce and posts plaintext of their own.
    forged = WeChatTestClient(app, mode="plain").message("text", Content="forged")
    from flask_wechat.parsing import to_xml

    plain_query = {k: query[k] for k in ("signature", "timestamp", "nonce", "openid")}
    response = safe.post(to_xml(forged).encode(), plain_query)

    assert response.status_code == 403
    assert response.get_data(as_text=True) == "replayed request"
    assert [c["reason"] for c in rejected.calls] == ["replayed request"]
    assert [m.content for m in seen] == ["genuine"]

    # Genuine plaintext and compatible-mode traffic of the same account still flow.
    assert WeChatTestClient(app, mode="plain").text("plain one").status_code == 200
    assert WeChatTestClient(app, mode="compatible").text("compatible one").status_code == 200
    assert [m.content for m in seen] == ["genuine", "plain one", "compatible one"]


def test_the_same_signature_in_another_encrypted_mode_is_refused(rejected: Recorder) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "text")
    safe = WeChatTestClient(app, mode="safe")
    message = safe.message("text", Content="once")
    ts, nonce = int(time.time()), make_nonce(10)
    safe.send(message, timestamp=ts, nonce=nonce)
    plain = WeChatTestClient(app, mode="plain")
    other = dict(message, Content="twice")
    result = plain.send(other, timestamp=ts, nonce=nonce)
    assert result.status_code == 403
    assert [m.content for m in seen] == ["once"]


def _wait_until(condition: t.Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_an_identical_replay_after_the_dedup_ttl_is_still_a_duplicate(mode: str) -> None:
    app, wechat = create_app(
        WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY, WECHAT_DEDUP_TTL=1
    )
    seen = counting(wechat, "text")
    client = WeChatTestClient(app, mode=mode)
    message = client.message("text", Content="pay once")
    body, query = client.encode(message)
    assert client.post(body, query).status_code == 200
    state = app.extensions["wechat"]
    key = state.dedup.key("default", f"m{message['MsgId']}")
    _wait_until(lambda: state.store.get(key) is None)  # the dedup record has expired

    replay = client.post(body, query)

    assert replay.status_code == 200
    assert len(seen) == 1


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_wechat_retries_run_once(mode: str) -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY)
    seen = counting(wechat, "text", "subscribe")
    client = WeChatTestClient(app, mode=mode)
    for message in (client.message("text", Content="hi"), client.event_message("subscribe")):
        body, query = client.encode(message)
        for _ in range(3):  # WeChat retries with the very same request
            assert client.post(body, query).status_code == 200
        # ... and a retry may also come with a fresh timestamp/nonce.
        assert client.send(message).status_code == 200
    assert [m.dispatch_name for m in seen] == ["text", "subscribe"]


def test_different_wecom_sys_events_of_one_second_all_run(sandbox: Sandbox) -> None:
    app, wechat = work_app(sandbox)
    seen = counting(wechat, "change_contact")
    client = WeChatTestClient(app, user="sys")
    now = int(time.time())
    for change, user in (("create_user", "zhangsan"), ("update_user", "zhangsan"),
                         ("create_user", "lisi")):  # fmt: skip
        result = client.event("change_contact", CreateTime=now, ChangeType=change, UserID=user)
        assert result.status_code == 200
    assert [(m.change_type, m.user_id) for m in seen] == [
        ("create_user", "zhangsan"),
        ("update_user", "zhangsan"),
        ("create_user", "lisi"),
    ]


def test_templatesendjobfinish_differing_only_in_msgid_both_run() -> None:
    app, wechat = create_app(WECHAT_ENCODING_AES_KEY=AES_KEY)
    seen = counting(wechat, "templatesendjobfinish")
    client = WeChatTestClient(app)
    now = int(time.time())
    for msg_id in (200163836, 200163840):
        event = client.event_message(
            "TEMPLATESENDJOBFINISH", CreateTime=now, MsgID=msg_id, Status="success"
        )
        assert client.send(event).status_code == 200
    assert [m.id for m in seen] == [200163836, 200163840]


def test_kf_msg_or_event_without_a_sender_dispatches(sandbox: Sandbox) -> None:
    app, wechat = work_app(sandbox)
    seen = counting(wechat, "kf_msg_or_event")
    client = WeChatTestClient(app)
    event = client.event_message(
        "kf_msg_or_event", Token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMz", OpenKfId="wkxxxxxxx"
    )
    del event["FromUserName"]
    result = client.send(event)
    assert result.status_code == 200
    [message] = seen
    assert message.source is None
    assert message.field("open_kf_id") == "wkxxxxxxx"
    # Its retry is recognised by the digest of the whole message.
    assert client.send(event).status_code == 200
    assert len(seen) == 1


def test_unseen_event_names_leave_no_signal_behind() -> None:
    app, _wechat = create_app()
    client = WeChatTestClient(app)
    before = len(signals._type_signals), len(signals._account_signals)
    for i in range(1000):
        assert client.event(f"made_up_event_{i}_{secrets.token_hex(4)}").status_code == 200
    assert (len(signals._type_signals), len(signals._account_signals)) == before


def test_a_signature_seen_at_one_account_is_refused_at_another_sharing_its_token(
    rejected: Recorder,
) -> None:
    """Two accounts with one callback Token: a (timestamp, nonce, signature) from
    one account's access log carries no forged body to the other."""
    shared = {"token": "one-token-for-both", "app_id": "wx0000000000000001"}
    app, wechat = create_app(
        WECHAT_ACCOUNTS={"shop": dict(shared), "news": dict(shared, app_id="wx02")}
    )
    seen = counting(wechat, "text")
    shop = WeChatTestClient(app, "shop", mode="plain")
    news = WeChatTestClient(app, "news", mode="plain")
    body, query = shop.encode(shop.message("text", Content="genuine"))
    assert shop.post(body, query).status_code == 200

    forged = news.message("text", Content="forged")
    from flask_wechat.parsing import to_xml

    response = news.post(to_xml(forged).encode(), query)
    assert response.status_code == 403
    assert response.get_data(as_text=True) == "replayed request"
    # the very same body at the other account is refused too: it was not sent there
    assert news.post(body, query).status_code == 403
    assert [m.content for m in seen] == ["genuine"]
    assert [c["account"] for c in rejected.calls] == ["news", "news"]


def test_a_msg_id_repeated_by_another_user_is_not_a_duplicate() -> None:
    """MsgIds were seen to repeat across users: the key is the id with its sender
    and time, so two users' messages both run."""
    app, wechat = create_app()
    seen = counting(wechat, "text")
    client = WeChatTestClient(app)
    now = int(time.time())
    for user in ("oUserA000000000000000000000", "oUserB000000000000000000000"):
        message = client.message("text", Content=user, MsgId=424242, CreateTime=now)
        message["FromUserName"] = user
        assert client.send(message).status_code == 200
    assert [m.source for m in seen] == [
        "oUserA000000000000000000000",
        "oUserB000000000000000000000",
    ]
