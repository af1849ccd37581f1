"""The sandbox: starting and stopping the sandbox, its WeChat-shaped answers, and fault
injection, delays and recording."""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from flask_wechat.sandbox import (
    SANDBOX_AGENT_ID,
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    SANDBOX_OPENID,
    Call,
    Registration,
    Sandbox,
)
from flask_wechat.sandbox.routes import DOMAINS

from .conftest import JSON, Api, no_rid

# -- lifecycle ---------------------------------------------------------------------------


def test_nothing_runs_until_started_and_stop_frees_the_port() -> None:
    sandbox = Sandbox()
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    sandbox.start()
    try:
        url = sandbox.url
        assert url.startswith("http://127.0.0.1:")
        with pytest.raises(RuntimeError):
            sandbox.start()
        assert requests.get(url + "/cgi-bin/getcallbackip", timeout=5).json()["errcode"] == 41001
    finally:
        sandbox.stop()
    assert not sandbox.running
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/cgi-bin/getcallbackip", timeout=5)
    sandbox.stop()  # stopping twice is harmless


def test_sandboxes_are_independent(session: requests.Session) -> None:
    with Sandbox() as first, Sandbox() as second:
        assert first.url != second.url
        token = Api(first, session).token()
        answer = session.get(
            second.url + "/cgi-bin/getcallbackip", params={"access_token": token}, timeout=5
        ).json()
        assert answer["errcode"] == 40001
        assert first.token_requests == 1
        assert second.token_requests == 0
        first.add_users(3)
        assert len(second.users) == 1


def test_flask_config_points_at_the_sandbox(sandbox: Sandbox) -> None:
    assert sandbox.flask_config() == {
        "WECHAT_KIND": "mp",
        "WECHAT_APP_ID": SANDBOX_APP_ID,
        "WECHAT_APP_SECRET": SANDBOX_APP_SECRET,
        "WECHAT_API_BASE_URL": sandbox.url,
    }
    assert sandbox.flask_config("work")["WECHAT_APP_ID"] == SANDBOX_CORP_ID


def test_register_apps_of_each_kind(sandbox: Sandbox) -> None:
    mini = sandbox.register("wxminiprogram00001", "mini-secret", kind="miniprogram")
    assert mini == Registration("wxminiprogram00001", "mini-secret", "miniprogram")
    assert sandbox.flask_config("miniprogram", "wxminiprogram00001") == {
        "WECHAT_KIND": "miniprogram",
        "WECHAT_APP_ID": "wxminiprogram00001",
        "WECHAT_APP_SECRET": "mini-secret",
        "WECHAT_API_BASE_URL": sandbox.url,
    }
    assert sandbox.followers("wxminiprogram00001") == [SANDBOX_OPENID]
    agent = sandbox.register(SANDBOX_CORP_ID, "second-app-secret", kind="work")
    assert agent.agent_id == SANDBOX_AGENT_ID + 1
    assert sandbox.flask_config("work") == {
        "WECHAT_KIND": "work",
        "WECHAT_APP_ID": SANDBOX_CORP_ID,
        "WECHAT_APP_SECRET": SANDBOX_CORP_SECRET,
        "WECHAT_API_BASE_URL": sandbox.url,
        "WECHAT_AGENT_ID": str(SANDBOX_AGENT_ID),
    }
    second = sandbox.flask_config("work", SANDBOX_CORP_ID, agent_id=agent.agent_id)
    assert second["WECHAT_APP_SECRET"] == "second-app-secret"
    assert second["WECHAT_AGENT_ID"] == str(agent.agent_id)
    chosen = sandbox.register("wwothercorp0000001", "s", kind="work", agent_id=5)
    assert chosen.agent_id == 5
    with pytest.raises(ValueError, match="registered as 'miniprogram'"):
        sandbox.flask_config("mp", "wxminiprogram00001")
    with pytest.raises(KeyError):
        sandbox.flask_config("mp", "wxnotregistered")
    with pytest.raises(ValueError, match="agent_id"):
        sandbox.register("wxapp", "s", kind="mp", agent_id=3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_fixed_port(session: requests.Session) -> None:
    port = _free_port()
    with Sandbox(port=port) as sandbox:
        assert sandbox.url == f"http://127.0.0.1:{port}"
        assert Api(sandbox, session).token()


def test_standalone_mode_prints_what_to_paste(session: requests.Session) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "flask_wechat.sandbox", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--token-ttl", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        printed: dict[str, str] = {}
        while "WECHAT_API_BASE_URL" not in printed:
            line = proc.stdout.readline()
            assert line, f"the sandbox exited: {proc.communicate()[1]}"
            if line.startswith("WECHAT_"):
                key, _, value = line.strip().partition("=")
                printed[key] = value
        assert printed["WECHAT_API_BASE_URL"] == f"http://127.0.0.1:{port}"
        assert printed["WECHAT_KIND"] == "mp"
        answer = session.get(
            printed["WECHAT_API_BASE_URL"] + "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": printed["WECHAT_APP_ID"],
                "secret": printed["WECHAT_APP_SECRET"],
            },
            timeout=5,
        ).json()
        assert answer["expires_in"] == 60
        assert answer["access_token"]
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            watchdog.cancel()
            proc.kill()
            proc.communicate()


# -- answers look like WeChat's ----------------------------------------------------------


def test_json_without_charset_and_real_utf8(api: Api) -> None:
    response = api.raw(
        "GET",
        "/cgi-bin/user/info",
        params={"access_token": api.token(), "openid": SANDBOX_OPENID},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert "沙盒用户".encode() in response.content
    assert b"\\u" not in response.content


def test_unknown_path_and_wrong_method(api: Api) -> None:
    response = api.raw("GET", "/cgi-bin/no/such/api")
    assert response.status_code == 404
    assert response.json()["errcode"] == 40066
    assert api.raw("GET", "/cgi-bin/menu/trymatch").json()["errcode"] == 43002


#: The HTTP method WeChat's documentation gives each endpoint.
DOCUMENTED_METHODS = {
    "/cgi-bin/token": "GET",
    "/cgi-bin/stable_token": "POST",
    "/cgi-bin/gettoken": "GET",
    "/cgi-bin/ticket/getticket": "GET",
    "/cgi-bin/get_jsapi_ticket": "GET",
    "/cgi-bin/ticket/get": "GET",
    "/cgi-bin/getcallbackip": "GET",
    "/cgi-bin/get_api_domain_ip": "GET",
    "/cgi-bin/message/custom/send": "POST",
    "/cgi-bin/message/custom/typing": "POST",
    "/customservice/kfaccount/add": "POST",
    "/customservice/kfaccount/update": "POST",
    "/customservice/kfaccount/del": "GET",
    "/cgi-bin/customservice/getkflist": "GET",
    "/customservice/kfaccount/uploadheadimg": "POST",
    "/cgi-bin/template/api_set_industry": "POST",
    "/cgi-bin/template/get_industry": "GET",
    "/cgi-bin/template/api_add_template": "POST",
    "/cgi-bin/template/get_all_private_template": "GET",
    "/cgi-bin/template/del_private_template": "POST",
    "/cgi-bin/message/template/send": "POST",
    "/cgi-bin/menu/create": "POST",
    "/cgi-bin/menu/get": "GET",
    "/cgi-bin/menu/delete": "GET",
    "/cgi-bin/menu/addconditional": "POST",
    "/cgi-bin/menu/delconditional": "POST",
    "/cgi-bin/menu/trymatch": "POST",
    "/cgi-bin/tags/create": "POST",
    "/cgi-bin/tags/get": "GET",
    "/cgi-bin/tags/update": "POST",
    "/cgi-bin/tags/delete": "POST",
    # documented as GET, but with a JSON body: every client POSTs it, and WeChat takes that
    "/cgi-bin/user/tag/get": "POST",
    "/cgi-bin/tags/members/batchtagging": "POST",
    "/cgi-bin/tags/members/batchuntagging": "POST",
    "/cgi-bin/tags/getidlist": "POST",
    "/cgi-bin/user/info": "GET",
    "/cgi-bin/user/info/batchget": "POST",
    "/cgi-bin/user/get": "GET",
    "/cgi-bin/user/info/updateremark": "POST",
    "/cgi-bin/media/upload": "POST",
    "/cgi-bin/media/get": "GET",
    "/connect/oauth2/authorize": "GET",
    "/sns/oauth2/access_token": "GET",
    "/sns/oauth2/refresh_token": "GET",
    "/sns/userinfo": "GET",
    "/sns/auth": "GET",
    "/sns/jscode2session": "GET",
    "/cgi-bin/user/getuserinfo": "GET",
    "/cgi-bin/auth/getuserinfo": "GET",
    "/cgi-bin/auth/getuserdetail": "POST",
    "/cgi-bin/message/send": "POST",
    "/cgi-bin/message/subscribe/send": "POST",
    "/cgi-bin/message/subscribe/bizsend": "POST",
    "/wxaapi/newtmpl/addtemplate": "POST",
    "/wxaapi/newtmpl/deltemplate": "POST",
    "/wxaapi/newtmpl/gettemplate": "GET",
    "/wxaapi/newtmpl/getcategory": "GET",
    "/wxaapi/newtmpl/getpubtemplatetitles": "GET",
    "/wxaapi/newtmpl/getpubtemplatekeywords": "GET",
    "/wxa/business/getuserphonenumber": "POST",
    "/wxa/getwxacodeunlimit": "POST",
    "/wxa/generate_urllink": "POST",
    "/wxa/generatescheme": "POST",
    "/wxa/msg_sec_check": "POST",
    "/wxa/media_check_async": "POST",
    "/cgi-bin/qrcode/create": "POST",
    "/cgi-bin/showqrcode": "GET",
    "/cgi-bin/kf/sync_msg": "POST",
    "/cgi-bin/kf/send_msg": "POST",
    "/cgi-bin/material/add_material": "POST",
    "/cgi-bin/material/get_material": "POST",
    "/cgi-bin/material/del_material": "POST",
    "/cgi-bin/material/batchget_material": "POST",
    "/cgi-bin/material/get_materialcount": "GET",
    "/cgi-bin/media/uploadimg": "POST",
    "/cgi-bin/draft/add": "POST",
    "/cgi-bin/draft/get": "POST",
    "/cgi-bin/draft/delete": "POST",
    "/cgi-bin/draft/batchget": "POST",
    "/cgi-bin/freepublish/submit": "POST",
    "/cgi-bin/freepublish/get": "POST",
    "/cgi-bin/freepublish/delete": "POST",
    "/cgi-bin/clear_quota": "POST",
    "/cgi-bin/openapi/quota/get": "POST",
    "/cgi-bin/openapi/rid/get": "POST",
    "/cgi-bin/get_current_selfmenu_info": "GET",
    "/cgi-bin/tags/members/getblacklist": "POST",
    "/cgi-bin/tags/members/batchblacklist": "POST",
    "/cgi-bin/tags/members/batchunblacklist": "POST",
    "/cgi-bin/customservice/getonlinekflist": "GET",
    "/cgi-bin/component/api_component_token": "POST",
    "/cgi-bin/component/api_create_preauthcode": "POST",
    "/cgi-bin/component/api_query_auth": "POST",
    "/cgi-bin/component/api_authorizer_token": "POST",
    "/cgi-bin/component/api_get_authorizer_info": "POST",
    "/cgi-bin/component/api_get_authorizer_list": "POST",
    "/cgi-bin/componentloginpage": "GET",  # the 授权页 (mp.weixin.qq.com on WeChat)
    "/wxaopen/safe/bindcomponent": "GET",  # its phone version (open.weixin.qq.com)
}


def test_every_endpoint_takes_the_documented_method_only(api: Api) -> None:
    served = {route.rule: route.methods for table in DOMAINS for route in table}
    served.pop("/sandbox/video/<media_id>")  # the sandbox's own download URL
    assert served == {path: (method,) for path, method in DOCUMENTED_METHODS.items()}
    for path, method in DOCUMENTED_METHODS.items():
        wrong = "POST" if method == "GET" else "GET"
        response = api.raw(wrong, path, params={"access_token": api.token()}, json={})
        # WeChat answers a wrong method with HTTP 200 and the errcode
        assert response.status_code == 200, path
        expected = {"errcode": 43001, "errmsg": "require GET method"}
        if method == "POST":
            expected = {"errcode": 43002, "errmsg": "require POST method"}
        assert no_rid(response.json()) == expected, path


# -- fault injection, delays, recording --------------------------------------------------


def test_fail_once_then_succeed(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/getcallbackip", -1)
    assert no_rid(api.get("/cgi-bin/getcallbackip")) == {"errcode": -1, "errmsg": "system error"}
    assert "ip_list" in api.get("/cgi-bin/getcallbackip")


def test_fail_times_always_and_any_path(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/tags/get", 45009, times=2, errmsg="quota")
    assert api.get("/cgi-bin/tags/get") == {"errcode": 45009, "errmsg": "quota"}
    assert api.get("/cgi-bin/tags/get")["errcode"] == 45009
    assert "tags" in api.get("/cgi-bin/tags/get")

    sandbox.fail("*", 48001, times=None)
    for _ in range(3):
        assert api.get("/cgi-bin/menu/get")["errcode"] == 48001
    sandbox.reset()
    assert api.get("/cgi-bin/menu/get")["errcode"] == 46003
    with pytest.raises(ValueError, match="times"):
        sandbox.fail("/x", 1, times=0)


def test_fail_token_paths(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/token", 45009)
    answer = api.raw(
        "GET",
        "/cgi-bin/token",
        params={
            "grant_type": "client_credential",
            "appid": SANDBOX_APP_ID,
            "secret": SANDBOX_APP_SECRET,
        },
    ).json()
    assert no_rid(answer) == {"errcode": 45009, "errmsg": "reach max api daily quota limit"}
    assert api.token()
    assert sandbox.token_requests == 2
    assert sandbox.count("/cgi-bin/token") == 2


def test_fail_with_an_http_status(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/getcallbackip", -1, status=503)
    response = api.raw("GET", "/cgi-bin/getcallbackip")
    assert response.status_code == 503
    assert response.json()["errcode"] == -1


def test_delay_makes_clients_time_out(api: Api, sandbox: Sandbox) -> None:
    sandbox.delay("/cgi-bin/getcallbackip", 1.5)
    with pytest.raises(requests.ReadTimeout):
        api.raw("GET", "/cgi-bin/getcallbackip", timeout=0.2)
    sandbox.delay("/cgi-bin/getcallbackip", 0)
    assert api.get("/cgi-bin/getcallbackip")["ip_list"]


def test_delay_makes_requests_overlap(api: Api, sandbox: Sandbox) -> None:
    token = api.token()
    sandbox.delay("*", 0.3)
    inside = threading.Barrier(2, timeout=5)
    max_parallel = 0
    lock = threading.Lock()
    active = 0

    def call() -> JSON:
        nonlocal active, max_parallel
        inside.wait()
        with lock:
            active += 1
            max_parallel = max(max_parallel, active)
        try:
            return api.get("/cgi-bin/getcallbackip", access_token=token)
        finally:
            with lock:
                active -= 1

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: call(), range(2)))
    assert all("ip_list" in result for result in results)
    assert max_parallel == 2
    assert sandbox.count("/cgi-bin/getcallbackip") == 2


def test_stop_wakes_delayed_requests() -> None:
    sandbox = Sandbox().start()
    sandbox.delay("*", 30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(sandbox.url + "/cgi-bin/getcallbackip", timeout=10)
        except requests.RequestException as exc:  # pragma: no cover - either way is fine
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while sandbox.count("/cgi-bin/getcallbackip") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sandbox.stop()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert time.monotonic() - started < 10


def test_calls_and_counts_are_recorded(api: Api, sandbox: Sandbox) -> None:
    token = api.token()
    api.post("/cgi-bin/tags/create", {"tag": {"name": "广东"}}, access_token=token)
    api.get("/cgi-bin/user/get", access_token=token, next_openid="")
    calls = sandbox.calls
    assert [call.path for call in calls] == [
        "/cgi-bin/token",
        "/cgi-bin/tags/create",
        "/cgi-bin/user/get",
    ]
    assert calls[1] == Call(
        "POST",
        "/cgi-bin/tags/create",
        {"access_token": token},
        {"tag": {"name": "广东"}},
        app_id=SANDBOX_APP_ID,
    )
    assert calls[0].app_id == SANDBOX_APP_ID  # told by the appid of the token request
    assert calls[2].params == {"access_token": token, "next_openid": ""}
    assert calls[2].json is None
    assert sandbox.count("/cgi-bin/tags/create") == 1
    assert sandbox.count("/cgi-bin/menu/get") == 0


def test_concurrent_calls_are_all_counted(api: Api, sandbox: Sandbox) -> None:
    token = api.token()
    for i in range(40):
        sandbox.user_wrote(f"o{i}")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: api.post(
                    "/cgi-bin/message/custom/send",
                    {"touser": f"o{i}", "msgtype": "text", "text": {"content": str(i)}},
                    access_token=token,
                ),
                range(40),
            )
        )
    assert all(answer["errcode"] == 0 for answer in answers)
    assert sandbox.count("/cgi-bin/message/custom/send") == 40
    assert sorted(int(m["text"]["content"]) for m in sandbox.sent) == list(range(40))


def test_reset_keeps_registrations_and_tokens(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxother", "other-secret")
    token = api.token()
    api.post(
        "/cgi-bin/message/custom/send",
        {"touser": "o1", "msgtype": "text", "text": {"content": "hi"}},
        access_token=token,
    )
    sandbox.fail("/cgi-bin/getcallbackip", -1, times=None)
    sandbox.delay("/cgi-bin/getcallbackip", 5)
    sandbox.add_users(2)
    sandbox.reset()
    assert sandbox.calls == []
    assert sandbox.sent == []
    assert sandbox.token_requests == 0
    assert sandbox.count("/cgi-bin/token") == 0
    assert "ip_list" in api.get("/cgi-bin/getcallbackip", access_token=token)
    assert api.token("wxother", "other-secret")
    assert len(sandbox.users) == 3
    sandbox.reset(data=True)
    assert list(sandbox.users) == [SANDBOX_OPENID]


def test_secrets_and_tokens_are_not_logged(
    api: Api, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        token = api.token()
        api.get("/cgi-bin/user/info", access_token=token, openid=SANDBOX_OPENID)
        api.get("/cgi-bin/no/such", access_token=token)
    assert SANDBOX_APP_SECRET not in caplog.text
    assert token not in caplog.text
