"""Messages to authorizers at ``/wechat/component/<app_id>``."""

from __future__ import annotations

import time
import typing as t

from flask_wechat import TextReply, WeChat, signals
from flask_wechat.crypto import MessageCrypto
from flask_wechat.messages import Message
from flask_wechat.sandbox import Sandbox
from flask_wechat.testing import DEFAULT_USER, WeChatTestClient, recording

from .conftest import AUTHORIZER, COMPONENT_APP_ID, Site, connect, make_site

OTHER = "wxfedcba9876543210"


def test_a_message_reaches_handlers_with_the_authorizer_as_account(site: Site) -> None:
    connect(site)
    seen: list[str] = []

    @site.wechat.on("text")
    def echo(message: Message) -> TextReply:
        seen.append(message.account)
        return TextReply(content="you said " + str(message.content))

    client = WeChatTestClient(site.app, AUTHORIZER)
    assert client.url == f"/wechat/component/{AUTHORIZER}"
    result = client.text("hi")
    assert result.status_code == 200
    assert result.encrypted  # with the platform's key and AppID
    assert result.content == "you said hi"
    assert seen == [AUTHORIZER]
    # The reply decrypts with the component's AppID as receive id, as WeChat checks.
    fields = result.response.get_data(as_text=True)
    encrypt = fields.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    crypto = MessageCrypto(site.component.token, site.component.encoding_aes_key, COMPONENT_APP_ID)
    assert b"you said hi" in crypto.decrypt_raw(encrypt)


def test_handlers_limited_to_one_authorizer(site: Site) -> None:
    connect(site)
    connect(site, OTHER)

    @site.wechat.on("text", account=OTHER)
    def only_other(message: Message) -> str:
        return "other"

    @site.wechat.on("text")
    def anyone(message: Message) -> str:
        return "anyone"

    assert WeChatTestClient(site.app, AUTHORIZER).text("x").content == "anyone"
    assert WeChatTestClient(site.app, OTHER).text("x").content == "other"


def test_the_sandbox_sends_messages_as_wechat_does(site: Site) -> None:
    connect(site)
    site.wechat.on("text")(lambda message: "pong")
    status, answer = site.component.send_message(
        site.app.test_client(),
        AUTHORIZER,
        {
            "ToUserName": "gh_0123456789ab",
            "FromUserName": DEFAULT_USER,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": "ping",
            "MsgId": 1234567,
        },
    )
    assert status == 200
    assert answer is not None
    assert "<Content><![CDATA[pong]]></Content>" in answer


def test_an_unknown_app_id_is_a_clean_404(site: Site) -> None:
    connect(site)
    with recording(signals.request_rejected, site.app) as rejected:
        response = site.app.test_client().post("/wechat/component/wxnotauthorized0000", data=b"x")
    assert response.status_code == 404
    assert rejected.calls[0]["reason"] == "unknown account"
    long = site.app.test_client().post("/wechat/component/wx" + "0" * 5000, data=b"x")
    assert long.status_code == 404
    assert len(rejected.calls[-1]["account"]) <= 32


def test_plaintext_is_refused(site: Site) -> None:
    connect(site)
    client = WeChatTestClient(site.app, AUTHORIZER)
    body, query = client.encode(client.message("text", Content="hi"))
    plain_query = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    with recording(signals.request_rejected, site.app) as rejected:
        response = client.post(body, plain_query)
    assert response.status_code == 400
    assert rejected.calls


def test_bad_input_on_the_message_url_is_4xx(site: Site) -> None:
    connect(site)
    client = WeChatTestClient(site.app, AUTHORIZER)
    body, query = client.encode(client.message("text", Content="hi"))
    bad = [
        (body, {**query, "msg_signature": "0" * 40}),
        (b"<xml><Encrypt>not base64!</Encrypt></xml>", query),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml>&a;</xml>", query),
        (b"\xff\xfe garbage", query),
        (body, {**query, "timestamp": "1"}),
        (b"", query),
    ]
    for data, args in bad:
        response = client.post(data, args)
        assert 400 <= response.status_code < 500, (data[:20], response.status_code)


def test_a_message_for_another_platform_is_refused(site: Site, sandbox: Sandbox) -> None:
    connect(site)
    client = WeChatTestClient(site.app, AUTHORIZER)
    # sealed with the right key but another AppID inside: WeChat's envelope says whose it is
    client.crypto = MessageCrypto(site.component.token, site.component.encoding_aes_key, OTHER)
    result = client.text("hi")
    assert result.status_code == 403  # InvalidAppId


def test_retries_run_the_handler_once(site: Site) -> None:
    connect(site)
    calls: list[int] = []

    @site.wechat.on("text")
    def count(message: Message) -> str:
        calls.append(1)
        return "once"

    client = WeChatTestClient(site.app, AUTHORIZER)
    message = client.message("text", Content="hi")
    first, second = client.send(message), client.send(message)
    assert first.content == second.content == "once"
    assert calls == [1]


def test_late_replies_go_through_the_authorizer_client(site: Site, sandbox: Sandbox) -> None:
    fast = make_site(sandbox, WECHAT_REPLY_DEADLINE=0.05)
    connect(fast)
    sandbox.user_wrote(DEFAULT_USER, app_id=AUTHORIZER)

    @fast.wechat.on("text")
    def slow(message: Message) -> str:
        time.sleep(0.1)
        return "late"

    result = WeChatTestClient(fast.app, AUTHORIZER).text("hi")
    assert result.is_success
    # the late reply goes out from the handler's thread once it is done
    assert fast.app.extensions["wechat"].handler_threads.join(10)
    sent = [entry for entry in sandbox.sent if entry["kind"] == "custom"]
    assert sent[-1]["app_id"] == AUTHORIZER
    assert sent[-1]["text"] == {"content": "late"}


def test_jssdk_config_for_an_authorizer(site: Site, sandbox: Sandbox) -> None:
    connect(site)
    with site.app.test_request_context("/page"):
        config = site.wechat.jssdk_config("https://site.example/page", ["scanQRCode"], AUTHORIZER)
        assert config["appId"] == AUTHORIZER
        helper = t.cast(t.Callable[..., str], site.app.jinja_env.globals["wechat_jssdk_config"])
        script = helper(["scanQRCode"], account=AUTHORIZER)
    assert sandbox.ticket_for(AUTHORIZER) is not None
    assert AUTHORIZER in str(script)


def test_a_mini_program_authorizer_answers_through_the_api(site: Site, sandbox: Sandbox) -> None:
    mini = "wx00000000000000b1"
    connect(site, mini, kind="miniprogram")
    sandbox.user_wrote(DEFAULT_USER, app_id=mini)
    site.wechat.on("text")(lambda message: "from the mini program")
    with site.app.app_context():
        assert site.wechat.account(mini).kind == "miniprogram"
    result = WeChatTestClient(site.app, mini).text("hi")
    assert result.is_success  # Mini Programs have no passive replies
    sent = [entry for entry in sandbox.sent if entry.get("app_id") == mini]
    assert sent[-1]["text"] == {"content": "from the mini program"}


class BrokenStore:
    """An authorizer store whose database is down."""

    def get(self, app_id: str) -> dict[str, t.Any] | None:
        raise ConnectionError("database down")

    def set(self, app_id: str, data: dict[str, t.Any]) -> None:
        raise ConnectionError("database down")

    def delete(self, app_id: str) -> None:
        raise ConnectionError("database down")

    def __iter__(self) -> t.Iterator[str]:
        raise ConnectionError("database down")


def test_messages_are_served_with_the_authorizer_store_down(sandbox: Sandbox) -> None:
    site = make_site(sandbox, wechat=WeChat(authorizer_store=BrokenStore()))
    site.wechat.on("text")(lambda message: f"{message.account} still here")
    result = WeChatTestClient(site.app, AUTHORIZER).text("hi")
    assert result.status_code == 200
    assert result.content == f"{AUTHORIZER} still here"
    # and a forged request is still refused: the signature does not depend on the store
    response = site.app.test_client().post(f"/wechat/component/{AUTHORIZER}", data=b"<xml/>")
    assert 400 <= response.status_code < 500


def test_callback_handled_for_authorizers_and_pushes(site: Site, sandbox: Sandbox) -> None:
    """One ``callback_handled`` per request on both URLs, as for any account."""
    connect(site)
    site.wechat.on("text")(lambda message: "pong")
    with recording(signals.callback_handled, site.app) as handled:
        assert WeChatTestClient(site.app, AUTHORIZER).text("ping").content == "pong"
        site.app.test_client().post("/wechat/component/wxnotauthorized0000", data=b"x")
        site.component.push_ticket(site.app.test_client())
    assert [(c["account"], c["name"], c["outcome"]) for c in handled.calls] == [
        (AUTHORIZER, "text", "reply"),
        ("wxnotauthorized0000", None, "rejected"),
        ("component", "component_verify_ticket", "success"),
    ]
