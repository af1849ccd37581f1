"""The sandbox itself, driven over real HTTP on loopback with ``requests``."""

from __future__ import annotations

import base64
import concurrent.futures
import logging
import threading
import time
import typing as t
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from flask_wechat.sandbox import (
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_CORP_ID,
    SANDBOX_CORP_SECRET,
    SANDBOX_OPENID,
    SANDBOX_USERID,
    Call,
    Sandbox,
)

JSON = dict[str, t.Any]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """Calls one sandbox the way the WeChat API is called."""

    def __init__(self, sandbox: Sandbox, session: requests.Session) -> None:
        self.sandbox = sandbox
        self.session = session
        self._tokens: dict[str, str] = {}

    def raw(self, method: str, path: str, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.sandbox.url + path, **kwargs)

    def token(self, app_id: str = SANDBOX_APP_ID, secret: str = SANDBOX_APP_SECRET) -> str:
        data = self.raw(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": app_id, "secret": secret},
        ).json()
        return t.cast(str, data["access_token"])

    def work_token(self) -> str:
        data = self.raw(
            "GET",
            "/cgi-bin/gettoken",
            params={"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_CORP_SECRET},
        ).json()
        return t.cast(str, data["access_token"])

    def _auth(self, params: dict[str, t.Any], work: bool) -> dict[str, t.Any]:
        if "access_token" not in params:
            key = "work" if work else "mp"
            if key not in self._tokens:
                self._tokens[key] = self.work_token() if work else self.token()
            params["access_token"] = self._tokens[key]
        return params

    def get(self, path: str, *, work: bool = False, **params: t.Any) -> JSON:
        response = self.raw("GET", path, params=self._auth(params, work))
        return t.cast(JSON, response.json())

    def post(self, path: str, body: t.Any = None, *, work: bool = False, **params: t.Any) -> JSON:
        response = self.raw("POST", path, params=self._auth(params, work), json=body)
        return t.cast(JSON, response.json())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def api(sandbox: Sandbox, session: requests.Session) -> Api:
    return Api(sandbox, session)


def errcode(answer: JSON) -> int:
    return int(answer.get("errcode", 0))


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


# -- access tokens -----------------------------------------------------------------------


def test_token_is_issued_and_unique(api: Api, sandbox: Sandbox) -> None:
    params = {
        "grant_type": "client_credential",
        "appid": SANDBOX_APP_ID,
        "secret": SANDBOX_APP_SECRET,
    }
    first = api.raw("GET", "/cgi-bin/token", params=params).json()
    second = api.raw("GET", "/cgi-bin/token", params=params).json()
    assert set(first) == {"access_token", "expires_in"}
    assert first["expires_in"] == 7200
    assert first["access_token"] != second["access_token"]
    assert len(first["access_token"]) >= 64
    assert sandbox.token_requests == 2


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"appid": "wxunknown", "secret": SANDBOX_APP_SECRET}, 40013),
        ({"appid": SANDBOX_APP_ID, "secret": "wrong"}, 40125),
        ({"appid": SANDBOX_CORP_ID, "secret": SANDBOX_CORP_SECRET}, 40013),
        ({"appid": SANDBOX_APP_ID}, 41004),
        ({"appid": SANDBOX_APP_ID, "secret": SANDBOX_APP_SECRET, "grant_type": "x"}, 40002),
    ],
)
def test_token_errors_are_counted(
    api: Api, sandbox: Sandbox, params: dict[str, str], expected: int
) -> None:
    answer = api.raw("GET", "/cgi-bin/token", params={"grant_type": "client_credential", **params})
    assert answer.json()["errcode"] == expected
    assert sandbox.token_requests == 1


def test_registered_apps_get_tokens(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxminiprogram00001", "mini-secret", kind="miniprogram")
    token = api.token("wxminiprogram00001", "mini-secret")
    assert errcode(api.get("/cgi-bin/getcallbackip", access_token=token)) == 0
    with pytest.raises(ValueError, match="kind"):
        sandbox.register("wx1", "s", kind="game")


def test_missing_unknown_revoked_and_expired_tokens(api: Api, sandbox: Sandbox) -> None:
    assert api.get("/cgi-bin/getcallbackip", access_token="")["errcode"] == 41001
    assert api.raw("GET", "/cgi-bin/getcallbackip").json()["errcode"] == 41001
    assert api.get("/cgi-bin/getcallbackip", access_token="nope")["errcode"] == 40001

    token = api.token()
    assert api.get("/cgi-bin/getcallbackip", access_token=token)["ip_list"][0] == "127.0.0.1"
    sandbox.expire_tokens()
    assert api.get("/cgi-bin/getcallbackip", access_token=token)["errcode"] == 42001

    fresh = api.token()
    assert "errcode" not in api.get("/cgi-bin/getcallbackip", access_token=fresh)
    sandbox.revoke_tokens()
    assert api.get("/cgi-bin/getcallbackip", access_token=fresh)["errcode"] == 40001
    assert "errcode" not in api.get("/cgi-bin/getcallbackip", access_token=api.token())


def test_tokens_expire_for_real(session: requests.Session) -> None:
    with Sandbox(token_ttl=1) as sandbox:
        api = Api(sandbox, session)
        answer = api.raw(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": SANDBOX_APP_ID,
                "secret": SANDBOX_APP_SECRET,
            },
        ).json()
        assert answer["expires_in"] == 1
        time.sleep(1.3)
        assert api.get("/cgi-bin/getcallbackip", access_token=answer["access_token"])[
            "errcode"
        ] == (42001)


def test_new_token_retires_the_old_one_after_the_overlap(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(overlap=300, clock=clock) as sandbox:
        api = Api(sandbox, session)
        first = api.token()
        second = api.token()
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=first)) == 0
        clock.now += 301
        assert api.get("/cgi-bin/getcallbackip", access_token=first)["errcode"] == 40001
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=second)) == 0
        # only the latest and the one before overlap: a third retires the first at once
        third = api.token()
        fourth = api.token()
        assert api.get("/cgi-bin/getcallbackip", access_token=second)["errcode"] == 40001
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=third)) == 0
        assert errcode(api.get("/cgi-bin/getcallbackip", access_token=fourth)) == 0
        clock.now += 7200
        assert api.get("/cgi-bin/getcallbackip", access_token=fourth)["errcode"] == 42001


def test_no_overlap_means_the_old_token_dies_at_once(session: requests.Session) -> None:
    with Sandbox(overlap=0) as sandbox:
        api = Api(sandbox, session)
        old = api.token()
        api.token()
        assert api.get("/cgi-bin/getcallbackip", access_token=old)["errcode"] == 40001


def test_stable_token(api: Api, sandbox: Sandbox) -> None:
    body = {
        "grant_type": "client_credential",
        "appid": SANDBOX_APP_ID,
        "secret": SANDBOX_APP_SECRET,
    }
    first = api.raw("POST", "/cgi-bin/stable_token", json=body).json()
    again = api.raw("POST", "/cgi-bin/stable_token", json=body).json()
    assert first["access_token"] == again["access_token"]
    assert 7190 <= again["expires_in"] <= 7200
    forced = api.raw("POST", "/cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
    assert forced["access_token"] != first["access_token"]
    # stable tokens are apart from /cgi-bin/token ones
    api.token()
    assert errcode(api.get("/cgi-bin/getcallbackip", access_token=forced["access_token"])) == 0
    sandbox.expire_tokens()
    renewed = api.raw("POST", "/cgi-bin/stable_token", json=body).json()
    assert renewed["access_token"] != forced["access_token"]
    bad = api.raw("POST", "/cgi-bin/stable_token", json={**body, "secret": "x"}).json()
    assert bad["errcode"] == 40125
    assert api.raw("POST", "/cgi-bin/stable_token", data=b"").json()["errcode"] == 44002
    assert api.raw("POST", "/cgi-bin/stable_token", data=b"{nope").json()["errcode"] == 47001
    assert sandbox.token_requests == 8


def test_work_token(api: Api, sandbox: Sandbox) -> None:
    params = {"corpid": SANDBOX_CORP_ID, "corpsecret": SANDBOX_CORP_SECRET}
    first = api.raw("GET", "/cgi-bin/gettoken", params=params).json()
    assert first["errcode"] == 0
    assert first["errmsg"] == "ok"
    assert first["expires_in"] == 7200
    again = api.raw("GET", "/cgi-bin/gettoken", params=params).json()
    assert again["access_token"] == first["access_token"]
    wrong = api.raw("GET", "/cgi-bin/gettoken", params={**params, "corpsecret": "x"}).json()
    assert wrong["errcode"] == 40001
    unknown = api.raw("GET", "/cgi-bin/gettoken", params={**params, "corpid": "ww0"}).json()
    assert unknown["errcode"] == 40013
    assert sandbox.token_requests == 4
    # a WeCom token is no good for Official Account APIs, and the other way round
    assert api.get("/cgi-bin/user/get", access_token=first["access_token"])["errcode"] == 48001
    assert api.get("/cgi-bin/get_jsapi_ticket")["errcode"] == 48001


# -- fault injection, delays, recording --------------------------------------------------


def test_fail_once_then_succeed(api: Api, sandbox: Sandbox) -> None:
    sandbox.fail("/cgi-bin/getcallbackip", -1)
    assert api.get("/cgi-bin/getcallbackip") == {"errcode": -1, "errmsg": "system error"}
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
    assert answer == {"errcode": 45009, "errmsg": "reach max api daily quota limit"}
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
        "POST", "/cgi-bin/tags/create", {"access_token": token}, {"tag": {"name": "广东"}}
    )
    assert calls[2].params == {"access_token": token, "next_openid": ""}
    assert calls[2].json is None
    assert sandbox.count("/cgi-bin/tags/create") == 1
    assert sandbox.count("/cgi-bin/menu/get") == 0


def test_concurrent_calls_are_all_counted(api: Api, sandbox: Sandbox) -> None:
    token = api.token()
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


# -- JS-SDK tickets ----------------------------------------------------------------------


def test_jsapi_ticket(api: Api, sandbox: Sandbox) -> None:
    assert sandbox.ticket_for(SANDBOX_APP_ID) is None
    answer = api.get("/cgi-bin/ticket/getticket", type="jsapi")
    assert answer["errcode"] == 0
    assert answer["expires_in"] == 7200
    assert answer["ticket"] == sandbox.ticket_for(SANDBOX_APP_ID)
    assert api.get("/cgi-bin/ticket/getticket", type="jsapi")["ticket"] == answer["ticket"]
    assert api.get("/cgi-bin/ticket/getticket", type="nope")["errcode"] == 40097

    work = api.get("/cgi-bin/get_jsapi_ticket", work=True)
    assert work["errcode"] == 0
    assert work["ticket"] == sandbox.ticket_for(SANDBOX_CORP_ID) != answer["ticket"]
    agent = api.get("/cgi-bin/ticket/get", work=True, type="agent_config")
    assert agent["ticket"] == sandbox.ticket_for(SANDBOX_CORP_ID, "agent_config")


# -- customer service --------------------------------------------------------------------


def test_custom_messages(api: Api, sandbox: Sandbox) -> None:
    text = {"touser": "oUser", "msgtype": "text", "text": {"content": "你好 ]]> 😀"}}
    assert api.post("/cgi-bin/message/custom/send", text) == {"errcode": 0, "errmsg": "ok"}
    image = {"touser": "oUser", "msgtype": "image", "image": {"media_id": "M"}}
    assert api.post("/cgi-bin/message/custom/send", image)["errcode"] == 0
    assert sandbox.sent == [{**text, "kind": "custom"}, {**image, "kind": "custom"}]

    bad = [
        ({"msgtype": "text", "text": {"content": "x"}}, 40003),
        ({"touser": "o", "msgtype": "fax", "fax": {}}, 40008),
        ({"touser": "o", "msgtype": "image", "text": {"content": "x"}}, 40008),
        ({"touser": "o", "msgtype": "text", "text": {"content": ""}}, 44004),
        ([1, 2], 47001),
    ]
    for body, expected in bad:
        assert api.post("/cgi-bin/message/custom/send", body)["errcode"] == expected
    assert len(sandbox.sent) == 2


def test_typing(api: Api) -> None:
    ok = api.post("/cgi-bin/message/custom/typing", {"touser": "o", "command": "Typing"})
    assert ok["errcode"] == 0
    bad = api.post("/cgi-bin/message/custom/typing", {"touser": "o", "command": "Dance"})
    assert bad["errcode"] == 40097


def test_kf_accounts(api: Api) -> None:
    add = api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "客服一"})
    assert add == {"errcode": 0, "errmsg": "ok"}
    again = api.post("/customservice/kfaccount/add", {"kf_account": "kf1@gh_x", "nickname": "x"})
    assert again["errcode"] == 65406
    invalid = api.post("/customservice/kfaccount/add", {"kf_account": "no-at", "nickname": "x"})
    assert invalid["errcode"] == 65404
    api.post("/customservice/kfaccount/update", {"kf_account": "kf1@gh_x", "nickname": "客服"})
    (kf,) = api.get("/cgi-bin/customservice/getkflist")["kf_list"]
    assert kf["kf_account"] == "kf1@gh_x"
    assert kf["kf_nick"] == "客服"
    assert kf["kf_id"] == "1001"

    upload = api.raw(
        "POST",
        "/customservice/kfaccount/uploadheadimg",
        params={"access_token": api.token(), "kf_account": "kf1@gh_x"},
        files={"media": ("head.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg")},
    ).json()
    assert upload["errcode"] == 0
    assert api.get("/cgi-bin/customservice/getkflist")["kf_list"][0]["kf_headimgurl"]

    assert api.post("/customservice/kfaccount/del", {"kf_account": "kf1@gh_x"})["errcode"] == 0
    assert api.post("/customservice/kfaccount/del", {"kf_account": "kf1@gh_x"})["errcode"] == 65401
    assert api.get("/cgi-bin/customservice/getkflist") == {"kf_list": []}


# -- templates ---------------------------------------------------------------------------


def test_templates(api: Api, sandbox: Sandbox) -> None:
    assert api.post(
        "/cgi-bin/template/api_set_industry", {"industry_id1": "1", "industry_id2": "4"}
    ) == {"errcode": 0, "errmsg": "ok"}
    industry = api.get("/cgi-bin/template/get_industry")
    assert industry["primary_industry"]["first_class"] == "IT科技"
    assert industry["secondary_industry"]["second_class"] == "电子技术"
    bad_industry = {"industry_id1": "0", "industry_id2": "4"}
    assert api.post("/cgi-bin/template/api_set_industry", bad_industry)["errcode"] == 40102

    added = api.post("/cgi-bin/template/api_add_template", {"template_id_short": "TM00015"})
    assert added["errcode"] == 0
    template_id = added["template_id"]
    listed = api.get("/cgi-bin/template/get_all_private_template")["template_list"]
    assert [tpl["template_id"] for tpl in listed] == [template_id]

    message = {
        "touser": SANDBOX_OPENID,
        "template_id": template_id,
        "url": "https://example.com",
        "data": {"first": {"value": "您好", "color": "#173177"}},
    }
    sent = api.post("/cgi-bin/message/template/send", message)
    assert sent["errcode"] == 0
    assert isinstance(sent["msgid"], int)
    assert sandbox.sent == [{**message, "kind": "template"}]
    unknown = api.post("/cgi-bin/message/template/send", {**message, "template_id": "nope"})
    assert unknown["errcode"] == 40037
    sandbox.users[SANDBOX_OPENID]["subscribe"] = 0
    assert api.post("/cgi-bin/message/template/send", message)["errcode"] == 43004

    delete = {"template_id": template_id}
    assert api.post("/cgi-bin/template/del_private_template", delete)["errcode"] == 0
    assert api.post("/cgi-bin/template/del_private_template", delete)["errcode"] == 40037


# -- menus -------------------------------------------------------------------------------

MENU: JSON = {
    "button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {
            "name": "菜单",
            "sub_button": [
                {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"},
            ],
        },
    ]
}


def test_menu_create_get_delete(api: Api, sandbox: Sandbox) -> None:
    assert not sandbox.menu
    assert api.get("/cgi-bin/menu/get") == {"errcode": 46003, "errmsg": "menu no exist"}
    assert api.post("/cgi-bin/menu/create", MENU) == {"errcode": 0, "errmsg": "ok"}
    assert sandbox.menu == MENU
    got = api.get("/cgi-bin/menu/get")
    buttons = got["menu"]["button"]
    assert buttons[0] == {**MENU["button"][0], "sub_button": []}
    assert buttons[1]["sub_button"][1]["key"] == "V1001_GOOD"
    assert got["conditionalmenu"] == []
    assert api.get("/cgi-bin/menu/delete")["errcode"] == 0
    assert not sandbox.menu
    assert api.get("/cgi-bin/menu/get")["errcode"] == 46003


@pytest.mark.parametrize(
    ("buttons", "expected"),
    [
        ([], 40016),
        ([{"type": "click", "name": f"b{i}", "key": "k"} for i in range(4)], 40016),
        (
            [
                {
                    "name": "多",
                    "sub_button": [{"type": "click", "name": "s", "key": "k"}] * 6,
                }
            ],
            40023,
        ),
        ([{"type": "dance", "name": "b"}], 40017),
        ([{"type": "click", "name": "", "key": "k"}], 40018),
        ([{"type": "click", "name": "b"}], 40019),
        ([{"type": "view", "name": "b"}], 40020),
        ([{"name": "m", "sub_button": [{"type": "click", "name": "s"}]}], 40026),
    ],
)
def test_menu_validation(api: Api, sandbox: Sandbox, buttons: list[JSON], expected: int) -> None:
    assert api.post("/cgi-bin/menu/create", {"button": buttons})["errcode"] == expected
    assert sandbox.menu is None


def test_conditional_menus_and_trymatch(api: Api, sandbox: Sandbox) -> None:
    tag_id = api.post("/cgi-bin/tags/create", {"tag": {"name": "VIP"}})["tag"]["id"]
    vip, other = sandbox.add_users(2)
    api.post("/cgi-bin/tags/members/batchtagging", {"openid_list": [vip], "tagid": tag_id})
    special = {
        "button": [{"type": "click", "name": "专属", "key": "VIP"}],
        "matchrule": {"tag_id": str(tag_id)},
    }
    assert api.post("/cgi-bin/menu/addconditional", special)["errcode"] == 65303
    api.post("/cgi-bin/menu/create", MENU)
    assert api.post("/cgi-bin/menu/addconditional", {**special, "matchrule": {}})["errcode"] == (
        65304
    )
    menuid = api.post("/cgi-bin/menu/addconditional", special)["menuid"]
    assert menuid

    matched = api.post("/cgi-bin/menu/trymatch", {"user_id": vip})
    assert matched["button"][0]["key"] == "VIP"
    default = api.post("/cgi-bin/menu/trymatch", {"user_id": other})
    assert default["button"][0]["key"] == "V1001_TODAY_MUSIC"
    assert api.post("/cgi-bin/menu/trymatch", {"user_id": "ghost"})["errcode"] == 65302
    assert api.get("/cgi-bin/menu/get")["conditionalmenu"][0]["matchrule"] == special["matchrule"]

    assert api.post("/cgi-bin/menu/delconditional", {"menuid": menuid})["errcode"] == 0
    assert api.post("/cgi-bin/menu/delconditional", {"menuid": menuid})["errcode"] == 65301
    assert api.post("/cgi-bin/menu/trymatch", {"user_id": vip})["button"][0]["key"] == (
        "V1001_TODAY_MUSIC"
    )


# -- tags --------------------------------------------------------------------------------


def test_tags(api: Api, sandbox: Sandbox) -> None:
    created = api.post("/cgi-bin/tags/create", {"tag": {"name": "广东"}})
    assert created == {"tag": {"id": 100, "name": "广东"}}
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "北京"}})["tag"]["id"] == 101
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "广东"}})["errcode"] == 45157
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "x" * 31}})["errcode"] == 45157

    users = sandbox.add_users(3)
    tagging = {"openid_list": users[:2], "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchtagging", tagging)["errcode"] == 0
    tags = {tag["id"]: tag for tag in api.get("/cgi-bin/tags/get")["tags"]}
    assert tags[100] == {"id": 100, "name": "广东", "count": 2}
    assert tags[2]["name"] == "星标组"
    assert api.post("/cgi-bin/tags/getidlist", {"openid": users[0]}) == {"tagid_list": [100]}
    members = api.post("/cgi-bin/user/tag/get", {"tagid": 100, "next_openid": ""})
    assert members["count"] == 2
    assert members["data"]["openid"] == users[:2]

    bad_user = {"openid_list": ["ghost"], "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchtagging", bad_user)["errcode"] == 40003
    bad_tag = {"openid_list": users, "tagid": 999}
    assert api.post("/cgi-bin/tags/members/batchtagging", bad_tag)["errcode"] == 45159
    too_many = {"openid_list": ["o"] * 51, "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchtagging", too_many)["errcode"] == 40032

    untag = {"openid_list": [users[0]], "tagid": 100}
    assert api.post("/cgi-bin/tags/members/batchuntagging", untag)["errcode"] == 0
    assert api.post("/cgi-bin/tags/getidlist", {"openid": users[0]}) == {"tagid_list": []}

    rename = {"tag": {"id": 100, "name": "广东人"}}
    assert api.post("/cgi-bin/tags/update", rename)["errcode"] == 0
    assert api.post("/cgi-bin/tags/update", {"tag": {"id": 2, "name": "x"}})["errcode"] == 45058
    assert api.post("/cgi-bin/tags/delete", {"tag": {"id": 100}})["errcode"] == 0
    assert sandbox.users[users[1]]["tagid_list"] == []
    assert api.post("/cgi-bin/tags/delete", {"tag": {"id": 100}})["errcode"] == 45159


def test_too_many_tags(api: Api) -> None:
    for i in range(100):
        assert "tag" in api.post("/cgi-bin/tags/create", {"tag": {"name": f"t{i}"}})
    assert api.post("/cgi-bin/tags/create", {"tag": {"name": "one more"}})["errcode"] == 45056


def test_tag_members_are_paged(api: Api, sandbox: Sandbox) -> None:
    sandbox.page_size = 2
    users = sandbox.add_users(5)
    tag_id = api.post("/cgi-bin/tags/create", {"tag": {"name": "all"}})["tag"]["id"]
    api.post("/cgi-bin/tags/members/batchtagging", {"openid_list": users, "tagid": tag_id})
    seen: list[str] = []
    cursor = ""
    while True:
        page = api.post("/cgi-bin/user/tag/get", {"tagid": tag_id, "next_openid": cursor})
        if page["count"] == 0:
            break
        seen += page["data"]["openid"]
        cursor = page["next_openid"]
    assert seen == users


# -- users -------------------------------------------------------------------------------


def test_add_users_is_deterministic(sandbox: Sandbox) -> None:
    assert list(sandbox.users) == [SANDBOX_OPENID]
    added = sandbox.add_users(2)
    assert added == ["oSANDBOX00000000000000000001", "oSANDBOX00000000000000000002"]
    assert all(len(openid) == 28 for openid in added)
    assert Sandbox().add_users(2) == added


def test_user_list_is_paged_like_wechat(api: Api, sandbox: Sandbox) -> None:
    sandbox.page_size = 4
    everyone = [SANDBOX_OPENID, *sandbox.add_users(9)]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = api.get("/cgi-bin/user/get", next_openid=cursor)
        assert page["total"] == 10
        if page["count"] == 0:
            assert "data" not in page
            assert page["next_openid"] == ""
            break
        assert page["count"] == len(page["data"]["openid"]) <= 4
        seen += page["data"]["openid"]
        cursor = page["next_openid"]
        pages += 1
    assert seen == everyone
    assert pages == 3
    assert api.get("/cgi-bin/user/get", next_openid="ghost")["errcode"] == 40003
    sandbox.users[everyone[1]]["subscribe"] = 0
    assert api.get("/cgi-bin/user/get")["total"] == 9


def test_default_page_size_is_wechats(api: Api, sandbox: Sandbox) -> None:
    sandbox.add_users(10)
    assert sandbox.page_size == 10000
    assert api.get("/cgi-bin/user/get")["count"] == 11


def test_user_info_batchget_and_remark(api: Api, sandbox: Sandbox) -> None:
    openid = sandbox.add_users(1)[0]
    info = api.get("/cgi-bin/user/info", openid=openid, lang="zh_CN")
    assert info["subscribe"] == 1
    assert info["openid"] == openid
    assert info["nickname"] == "沙盒用户1"
    assert info["unionid"]
    assert info["tagid_list"] == []
    assert api.get("/cgi-bin/user/info", openid="ghost")["errcode"] == 40003
    assert api.get("/cgi-bin/user/info")["errcode"] == 41009

    remark = {"openid": openid, "remark": "胖子"}
    assert api.post("/cgi-bin/user/info/updateremark", remark)["errcode"] == 0
    assert sandbox.users[openid]["remark"] == "胖子"
    assert api.post("/cgi-bin/user/info/updateremark", {"openid": "x", "remark": ""})[
        "errcode"
    ] == (40003)

    sandbox.users[SANDBOX_OPENID]["subscribe"] = 0
    batch = api.post(
        "/cgi-bin/user/info/batchget",
        {"user_list": [{"openid": openid, "lang": "zh_CN"}, {"openid": SANDBOX_OPENID}]},
    )
    first, second = batch["user_info_list"]
    assert first["remark"] == "胖子"
    assert second["subscribe"] == 0
    assert "nickname" not in second


# -- media -------------------------------------------------------------------------------


def _upload(api: Api, type_: str, name: str, data: bytes, content_type: str) -> JSON:
    response = api.raw(
        "POST",
        "/cgi-bin/media/upload",
        params={"access_token": api.token(), "type": type_},
        files={"media": (name, data, content_type)},
    )
    return t.cast(JSON, response.json())


def test_media_round_trip(api: Api, sandbox: Sandbox) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    uploaded = _upload(api, "image", "图片.png", data, "image/png")
    assert uploaded["type"] == "image"
    assert isinstance(uploaded["created_at"], int)
    response = api.raw(
        "GET",
        "/cgi-bin/media/get",
        params={"access_token": api.token(), "media_id": uploaded["media_id"]},
    )
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "image/png"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "%E5%9B%BE%E7%89%87.png" in disposition

    plain = _upload(api, "voice", "hello.mp3", b"ID3 voice", "application/octet-stream")
    got = api.raw(
        "GET",
        "/cgi-bin/media/get",
        params={"access_token": api.token(), "media_id": plain["media_id"]},
    )
    assert got.headers["Content-Type"] == "audio/mpeg"
    assert 'filename="hello.mp3"' in got.headers["Content-Disposition"]


def test_video_comes_as_a_url(api: Api) -> None:
    uploaded = _upload(api, "video", "clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    answer = api.get("/cgi-bin/media/get", media_id=uploaded["media_id"])
    video = api.session.get(answer["video_url"], timeout=5)
    assert video.content == b"\x00\x00\x00\x18ftypmp42"
    assert video.headers["Content-Type"] == "video/mp4"


def test_thumb_has_thumb_media_id(api: Api) -> None:
    uploaded = _upload(api, "thumb", "t.jpg", b"\xff\xd8\xff", "image/jpeg")
    assert uploaded["thumb_media_id"] == uploaded["media_id"]


def test_media_errors(api: Api) -> None:
    assert _upload(api, "image", "empty.png", b"", "image/png")["errcode"] == 40113
    assert _upload(api, "image", "notes.txt", b"text", "text/plain")["errcode"] == 40113
    assert _upload(api, "sticker", "a.png", b"png", "image/png")["errcode"] == 40004
    too_big = b"\xff" * (64 * 1024 + 1)
    assert _upload(api, "thumb", "big.jpg", too_big, "image/jpeg")["errcode"] == 40006
    missing = api.raw(
        "POST",
        "/cgi-bin/media/upload",
        params={"access_token": api.token(), "type": "image"},
        files={"other": ("a.png", b"png", "image/png")},
    ).json()
    assert missing["errcode"] == 41005
    assert api.get("/cgi-bin/media/get", media_id="nope") == {
        "errcode": 40007,
        "errmsg": "invalid media_id",
    }


# -- web OAuth ---------------------------------------------------------------------------


def _authorize(api: Api, scope: str, state: str = "xyz") -> dict[str, list[str]]:
    response = api.raw(
        "GET",
        "/connect/oauth2/authorize",
        params={
            "appid": SANDBOX_APP_ID,
            "redirect_uri": "https://example.com/callback?next=/home",
            "response_type": "code",
            "scope": scope,
            "state": state,
        },
        allow_redirects=False,
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "example.com",
        "/callback",
    )
    return parse_qs(location.query)


def _exchange(api: Api, code: str) -> JSON:
    response = api.raw(
        "GET",
        "/sns/oauth2/access_token",
        params={
            "appid": SANDBOX_APP_ID,
            "secret": SANDBOX_APP_SECRET,
            "code": code,
            "grant_type": "authorization_code",
        },
    )
    return t.cast(JSON, response.json())


def test_oauth_authorize_redirects_with_a_code(api: Api, sandbox: Sandbox) -> None:
    query = _authorize(api, "snsapi_base")
    assert query["state"] == ["xyz"]
    assert query["next"] == ["/home"]
    token = _exchange(api, query["code"][0])
    assert token["openid"] == SANDBOX_OPENID == sandbox.oauth_user
    assert token["scope"] == "snsapi_base"
    assert token["expires_in"] == 7200
    assert token["refresh_token"]
    assert token["unionid"] == sandbox.users[SANDBOX_OPENID]["unionid"]

    sandbox.oauth_user = "oSomebodyElse"
    assert _exchange(api, _authorize(api, "snsapi_base")["code"][0])["openid"] == "oSomebodyElse"


def test_oauth_authorize_rejects_bad_requests(api: Api) -> None:
    base = {
        "appid": SANDBOX_APP_ID,
        "redirect_uri": "https://example.com/cb",
        "response_type": "code",
        "scope": "snsapi_base",
    }
    for change, expected in [
        ({"appid": "wxnope"}, 40013),
        ({"redirect_uri": ""}, 10003),
        ({"scope": "snsapi_everything"}, 10005),
    ]:
        response = api.raw(
            "GET", "/connect/oauth2/authorize", params={**base, **change}, allow_redirects=False
        )
        assert response.json()["errcode"] == expected


def test_oauth_codes_are_one_time(api: Api, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code(SANDBOX_OPENID)
    assert "access_token" in _exchange(api, code)
    assert _exchange(api, code) == {"errcode": 40163, "errmsg": "code been used"}
    assert _exchange(api, "made-up")["errcode"] == 40029
    other_app = sandbox.oauth_code(SANDBOX_OPENID, app_id=SANDBOX_CORP_ID)
    assert _exchange(api, other_app)["errcode"] == 40029
    with pytest.raises(ValueError, match="scope"):
        sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_all")
    with pytest.raises(KeyError):
        sandbox.oauth_code(SANDBOX_OPENID, app_id="wxnope")


def test_oauth_codes_expire(session: requests.Session) -> None:
    clock = Clock()
    with Sandbox(clock=clock) as sandbox:
        code = sandbox.oauth_code(SANDBOX_OPENID)
        clock.now += 301
        assert _exchange(Api(sandbox, session), code)["errcode"] == 42003


def test_oauth_userinfo_needs_the_userinfo_scope(api: Api, sandbox: Sandbox) -> None:
    base = _exchange(api, sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_base"))
    params = {"access_token": base["access_token"], "openid": SANDBOX_OPENID, "lang": "zh_CN"}
    assert api.raw("GET", "/sns/userinfo", params=params).json()["errcode"] == 48001

    full = _exchange(api, sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_userinfo"))
    params["access_token"] = full["access_token"]
    info = api.raw("GET", "/sns/userinfo", params=params).json()
    assert info["openid"] == SANDBOX_OPENID
    assert info["nickname"] == "沙盒用户0"
    assert info["privilege"] == []
    wrong_user = api.raw("GET", "/sns/userinfo", params={**params, "openid": "oOther"}).json()
    assert wrong_user["errcode"] == 40003
    # an OAuth token is not an API access_token, nor the other way round
    assert api.get("/cgi-bin/getcallbackip", access_token=full["access_token"])["errcode"] == 40001
    as_oauth = api.raw("GET", "/sns/userinfo", params={**params, "access_token": api.token()})
    assert as_oauth.json()["errcode"] == 40001


def test_oauth_refresh_and_auth(api: Api, sandbox: Sandbox) -> None:
    first = _exchange(api, sandbox.oauth_code(SANDBOX_OPENID, scope="snsapi_userinfo"))
    refreshed = api.raw(
        "GET",
        "/sns/oauth2/refresh_token",
        params={
            "appid": SANDBOX_APP_ID,
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
        },
    ).json()
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] == first["refresh_token"]
    assert refreshed["scope"] == "snsapi_userinfo"
    bad = api.raw(
        "GET",
        "/sns/oauth2/refresh_token",
        params={"appid": SANDBOX_APP_ID, "grant_type": "refresh_token", "refresh_token": "x"},
    ).json()
    assert bad["errcode"] == 40030

    check = {"access_token": refreshed["access_token"], "openid": SANDBOX_OPENID}
    assert api.raw("GET", "/sns/auth", params=check).json() == {"errcode": 0, "errmsg": "ok"}
    sandbox.expire_tokens()
    assert api.raw("GET", "/sns/auth", params=check).json()["errcode"] == 42001


# -- mini program login ------------------------------------------------------------------


def test_jscode2session(api: Api, sandbox: Sandbox) -> None:
    sandbox.register("wxminiprogram00001", "mini-secret", kind="miniprogram")
    code = sandbox.oauth_code(SANDBOX_OPENID, app_id="wxminiprogram00001")
    params = {
        "appid": "wxminiprogram00001",
        "secret": "mini-secret",
        "js_code": code,
        "grant_type": "authorization_code",
    }
    session = api.raw("GET", "/sns/jscode2session", params=params).json()
    assert session["openid"] == SANDBOX_OPENID
    assert len(base64.b64decode(session["session_key"])) == 16
    assert session["session_key"] == sandbox.session_key_for(SANDBOX_OPENID)
    assert session["unionid"] == sandbox.users[SANDBOX_OPENID]["unionid"]
    assert "errcode" not in session
    assert api.raw("GET", "/sns/jscode2session", params=params).json()["errcode"] == 40163
    wrong = api.raw("GET", "/sns/jscode2session", params={**params, "secret": "x"}).json()
    assert wrong["errcode"] == 40125
    assert sandbox.session_key_for("oNobody") is None


# -- WeCom -------------------------------------------------------------------------------


def test_work_oauth(api: Api, sandbox: Sandbox) -> None:
    code = sandbox.oauth_code("zhangsan", app_id=SANDBOX_CORP_ID)
    answer = api.get("/cgi-bin/user/getuserinfo", work=True, code=code)
    assert answer == {"errcode": 0, "errmsg": "ok", "UserId": "zhangsan", "DeviceId": ""}
    assert api.get("/cgi-bin/user/getuserinfo", work=True, code=code)["errcode"] == 40163
    assert api.get("/cgi-bin/user/getuserinfo", work=True, code="nope")["errcode"] == 40029

    response = api.raw(
        "GET",
        "/connect/oauth2/authorize",
        params={
            "appid": SANDBOX_CORP_ID,
            "redirect_uri": "https://example.com/cb",
            "response_type": "code",
            "scope": "snsapi_base",
        },
        allow_redirects=False,
    )
    new_code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    newer = api.get("/cgi-bin/auth/getuserinfo", work=True, code=new_code)
    assert newer["userid"] == SANDBOX_USERID


def test_work_messages(api: Api, sandbox: Sandbox) -> None:
    message = {
        "touser": "zhangsan|lisi",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": "你的快递已到"},
    }
    answer = api.post("/cgi-bin/message/send", message, work=True)
    assert answer["errcode"] == 0
    assert answer["invaliduser"] == ""
    assert sandbox.sent == [{**message, "kind": "work"}]
    cases: list[tuple[JSON, int]] = [
        ({"agentid": None}, 41011),
        ({"agentid": "abc"}, 40056),
        ({"msgtype": "fax"}, 40008),
        ({"touser": ""}, 81013),
        ({"text": {"content": ""}}, 44004),
    ]
    for change, expected in cases:
        assert api.post("/cgi-bin/message/send", {**message, **change}, work=True)["errcode"] == (
            expected
        )
    assert len(sandbox.sent) == 1
    # an Official Account token may not send WeCom messages
    assert api.post("/cgi-bin/message/send", message)["errcode"] == 48001
