"""JS-SDK ``wx.config``: the signature, ``wechat.jssdk_config`` against the sandbox,
and the ``wechat_jssdk_config`` Jinja global rendered in a real page."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
import typing as t

import pytest
from flask import Flask, render_template_string
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_wechat import WeChat
from flask_wechat.crypto import jsapi_signature
from flask_wechat.sandbox import SANDBOX_AGENT_ID, SANDBOX_APP_ID, SANDBOX_CORP_ID, Sandbox

if t.TYPE_CHECKING:
    from werkzeug.test import TestResponse

# The example from WeChat's JS-SDK documentation (附录1 签名算法).
DOC_TICKET = (
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
)
DOC_NONCE = "Wm3WZYTPz0wzccnW"
DOC_TIMESTAMP = 1414587457
DOC_URL = "http://mp.weixin.qq.com?params=value"
DOC_SIGNATURE = "0f9de62fce790f9a083d5c99e95740ceb90c27ed"

TICKET_PATH = "/cgi-bin/ticket/getticket"
WORK_TICKET_PATH = "/cgi-bin/get_jsapi_ticket"

#: the helper's script: ``wx.config(...)`` guarded by a check that WeChat's JS loaded.
GUARD = (
    r'\A<script>if \(typeof wx === "undefined" \|\| typeof {fn} !== "function"\) '
    r"\{{ console\.error\((?P<missing>\"[^<>]*?\")\); \}} "
)
SCRIPT_RE = re.compile(
    GUARD.format(fn=r"wx\.config") + r"else \{ wx\.config\((?P<json>.*)\); \}</script>\Z",
    re.DOTALL,
)


# -- fixtures ------------------------------------------------------------------------------


def make_app(sandbox: Sandbox, kind: str = "mp", **config: t.Any) -> tuple[Flask, WeChat]:
    """An app whose only account is the sandbox's account of ``kind`` (no callback)."""
    app = Flask("jssdk_test_app")
    app.config.update(TESTING=True, SECRET_KEY="jssdk-secret", WECHAT_CALLBACK_URL=None)
    app.config.update(sandbox.flask_config(kind))
    app.config.update(config)
    wechat = WeChat(app)
    return app, wechat


def add_page(app: Flask, apis: list[str], rule: str = "/page") -> None:
    """A view at ``rule`` whose whole body is the rendered Jinja global."""

    def page() -> str:
        return render_template_string("{{ wechat_jssdk_config(apis) }}", apis=apis)

    app.add_url_rule(rule, "page", page)


def expected_signature(ticket: str, config: t.Mapping[str, t.Any], url: str) -> str:
    """WeChat's algorithm, written out independently of the package."""
    plain = (
        f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}"
        f"&timestamp={config['timestamp']}&url={url}"
    )
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()


def parse_script(response: TestResponse) -> dict[str, t.Any]:
    """The object passed to ``wx.config`` in a page that is nothing but the script."""
    assert response.status_code == 200
    match = SCRIPT_RE.match(response.get_data(as_text=True))
    assert match is not None, response.get_data(as_text=True)
    config = json.loads(match.group("json"))
    assert isinstance(config, dict)
    return config


def ticket_of(sandbox: Sandbox, app_id: str) -> str:
    ticket = sandbox.ticket_for(app_id)
    assert ticket is not None, "the sandbox handed out no ticket"
    return ticket


def issued_access_tokens(sandbox: Sandbox) -> list[str]:
    return [token.value for token in sandbox.tokens.values() if token.kind != "oauth"]


# -- the signature algorithm -------------------------------------------------------------


def test_documented_example_signature() -> None:
    assert jsapi_signature(DOC_TICKET, DOC_NONCE, DOC_TIMESTAMP, DOC_URL) == DOC_SIGNATURE


def test_documented_example_with_string_timestamp() -> None:
    assert jsapi_signature(DOC_TICKET, DOC_NONCE, str(DOC_TIMESTAMP), DOC_URL) == DOC_SIGNATURE


def test_signature_ignores_the_fragment() -> None:
    with_fragment = DOC_URL + "#/spa/route?x=1"
    assert jsapi_signature(DOC_TICKET, DOC_NONCE, DOC_TIMESTAMP, with_fragment) == DOC_SIGNATURE


def test_signature_depends_on_every_input() -> None:
    base = (DOC_TICKET, DOC_NONCE, DOC_TIMESTAMP, DOC_URL)
    variants = [
        (DOC_TICKET + "x", DOC_NONCE, DOC_TIMESTAMP, DOC_URL),
        (DOC_TICKET, DOC_NONCE + "x", DOC_TIMESTAMP, DOC_URL),
        (DOC_TICKET, DOC_NONCE, DOC_TIMESTAMP + 1, DOC_URL),
        (DOC_TICKET, DOC_NONCE, DOC_TIMESTAMP, DOC_URL + "&x=1"),
    ]
    assert jsapi_signature(*base) == DOC_SIGNATURE
    for variant in variants:
        assert jsapi_signature(*variant) != DOC_SIGNATURE


def test_signature_is_lowercase_sha1_hex() -> None:
    signature = jsapi_signature("ticket", "nonce", 1, "https://example.com/")
    assert re.fullmatch(r"[0-9a-f]{40}", signature)


# -- wechat.jssdk_config -----------------------------------------------------------------


def test_jssdk_config_keys_and_signature(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    url = "https://example.com/shop/item?id=42&from=menu"
    with app.app_context():
        before = int(time.time())
        config = wechat.jssdk_config(url + "#reviews", ["chooseImage", "scanQRCode"])
        after = int(time.time())

    assert set(config) == {"appId", "timestamp", "nonceStr", "signature", "jsApiList"}
    assert config["appId"] == SANDBOX_APP_ID
    assert type(config["timestamp"]) is int
    assert before <= config["timestamp"] <= after  # seconds, not milliseconds
    assert isinstance(config["nonceStr"], str)
    assert re.fullmatch(r"[A-Za-z0-9]+", config["nonceStr"])
    assert config["jsApiList"] == ["chooseImage", "scanQRCode"]

    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    # Signed over the URL without its fragment.
    assert config["signature"] == expected_signature(ticket, config, url)
    assert config["signature"] == jsapi_signature(
        ticket, config["nonceStr"], config["timestamp"], url
    )
    assert config["signature"] != expected_signature(ticket, config, url + "#reviews")


def test_jssdk_config_is_json_serialisable_and_keeps_ticket_private(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        config = wechat.jssdk_config("https://example.com/", ["chooseImage"])
    dumped = json.dumps(config)
    assert ticket_of(sandbox, SANDBOX_APP_ID) not in dumped
    for token in issued_access_tokens(sandbox):
        assert token not in dumped


def test_jssdk_config_accepts_any_iterable_of_apis(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        config = wechat.jssdk_config("https://example.com/", (name for name in ("a", "b")))
    assert config["jsApiList"] == ["a", "b"]


def test_ticket_is_fetched_once_and_cached(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        configs = [
            wechat.jssdk_config(f"https://example.com/page/{n}", ["chooseImage"]) for n in range(5)
        ]
    assert sandbox.count(TICKET_PATH) == 1
    assert sandbox.count("/cgi-bin/token") == 1
    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    for n, config in enumerate(configs):
        assert config["signature"] == expected_signature(
            ticket, config, f"https://example.com/page/{n}"
        )
    # The ticket was asked for the JS-SDK, not a card ticket.
    [call] = [c for c in sandbox.calls if c.path == TICKET_PATH]
    assert call.params.get("type") == "jsapi"


def test_each_config_has_a_fresh_nonce(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        nonces = {wechat.jssdk_config("https://example.com/", [])["nonceStr"] for _ in range(3)}
    assert len(nonces) == 3


def test_debug_flag(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        plain = wechat.jssdk_config("https://example.com/", ["chooseImage"])
        debug = wechat.jssdk_config("https://example.com/", ["chooseImage"], debug=True)
    assert plain.get("debug", False) is False
    assert debug["debug"] is True
    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    assert debug["signature"] == expected_signature(ticket, debug, "https://example.com/")


def test_open_tag_list(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        plain = wechat.jssdk_config("https://example.com/", ["chooseImage"])
        tagged = wechat.jssdk_config(
            "https://example.com/", ["chooseImage"], open_tag_list=["wx-open-launch-weapp"]
        )
    assert "openTagList" not in plain
    assert tagged["openTagList"] == ["wx-open-launch-weapp"]
    assert tagged["jsApiList"] == ["chooseImage"]


def test_official_account_config_has_no_beta(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context():
        config = wechat.jssdk_config("https://example.com/", ["chooseImage"])
    assert "beta" not in config


def test_wecom_account_uses_the_corp_ticket_and_beta(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox, "work")
    url = "https://work.example.com/app?agent=1"
    with app.app_context():
        config = wechat.jssdk_config(url, ["openEnterpriseChat"])
        wechat.jssdk_config(url, ["openEnterpriseChat"])

    assert config["beta"] is True
    assert config["appId"] == SANDBOX_CORP_ID
    assert config["jsApiList"] == ["openEnterpriseChat"]
    assert sandbox.count(WORK_TICKET_PATH) == 1
    assert sandbox.count(TICKET_PATH) == 0
    ticket = ticket_of(sandbox, SANDBOX_CORP_ID)
    assert config["signature"] == expected_signature(ticket, config, url)


# -- the Jinja global in a real page ---------------------------------------------------------


def test_jinja_global_renders_a_script_for_the_page_url(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])
    client = app.test_client()

    response = client.get("/page?q=%E4%B8%AD%E6%96%87", base_url="https://example.com")
    config = parse_script(response)

    assert config["appId"] == SANDBOX_APP_ID
    assert config["jsApiList"] == ["chooseImage"]
    assert type(config["timestamp"]) is int
    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    assert config["signature"] == expected_signature(
        ticket, config, "https://example.com/page?q=%E4%B8%AD%E6%96%87"
    )


@pytest.mark.parametrize(
    ("requested", "browser_url"),
    [
        # What a browser puts on the wire is what it has in location.href.
        (
            "/page?q=%E4%B8%AD%E6%96%87%20%E7%A9%BA%E6%A0%BC&n=1",
            "https://example.com/page?q=%E4%B8%AD%E6%96%87%20%E7%A9%BA%E6%A0%BC&n=1",
        ),
        # A client that sends the characters raw: the browser's form is encoded.
        (
            "/page?q=中文 空格",
            "https://example.com/page?q=%E4%B8%AD%E6%96%87%20%E7%A9%BA%E6%A0%BC",
        ),
        # Form-style encoding (space as "+") is kept as it was sent.
        (
            "/page?q=%E4%B8%AD%E6%96%87+x",
            "https://example.com/page?q=%E4%B8%AD%E6%96%87+x",
        ),
        # A non-ASCII path.
        (
            "/%E5%95%86%E5%93%81?id=7",
            "https://example.com/%E5%95%86%E5%93%81?id=7",
        ),
    ],
)
def test_signed_url_is_the_percent_encoded_browser_url(
    sandbox: Sandbox, requested: str, browser_url: str
) -> None:
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])
    app.add_url_rule(
        "/商品", "goods", lambda: render_template_string("{{ wechat_jssdk_config([]) }}")
    )
    client = app.test_client()

    config = parse_script(client.get(requested, base_url="https://example.com"))

    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    assert config["signature"] == expected_signature(ticket, config, browser_url)


def test_signed_url_keeps_percent_escapes_of_the_query(sandbox: Sandbox) -> None:
    # urllib.parse.urlencode({"q": "it's (x)!"}) == "q=it%27s+%28x%29%21", and browsers
    # also encode "'" in a query as %27 themselves: location.href keeps these escapes.
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])
    client = app.test_client()

    config = parse_script(client.get("/page?q=it%27s+%28x%29%21", base_url="https://example.com"))

    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    assert config["signature"] == expected_signature(
        ticket, config, "https://example.com/page?q=it%27s+%28x%29%21"
    )


def test_jinja_global_uses_the_cached_ticket_across_requests(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])
    client = app.test_client()
    configs = [parse_script(client.get(f"/page?n={n}")) for n in range(3)]
    assert sandbox.count(TICKET_PATH) == 1
    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    for n, config in enumerate(configs):
        assert config["signature"] == expected_signature(
            ticket, config, f"http://localhost/page?n={n}"
        )


def test_jinja_global_options(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)

    def page() -> str:
        return render_template_string(
            "{{ wechat_jssdk_config(['chooseImage'], debug=True,"
            " open_tag_list=['wx-open-launch-app']) }}"
        )

    app.add_url_rule("/page", "page", page)
    config = parse_script(app.test_client().get("/page"))
    assert config["debug"] is True
    assert config["openTagList"] == ["wx-open-launch-app"]
    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    assert config["signature"] == expected_signature(ticket, config, "http://localhost/page")


def test_jinja_global_for_a_wecom_account(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox, "work")
    add_page(app, ["openEnterpriseChat"])
    config = parse_script(app.test_client().get("/page", base_url="https://work.example.com"))
    assert config["beta"] is True
    assert config["appId"] == SANDBOX_CORP_ID
    assert sandbox.count(WORK_TICKET_PATH) == 1
    ticket = ticket_of(sandbox, SANDBOX_CORP_ID)
    assert config["signature"] == expected_signature(
        ticket, config, "https://work.example.com/page"
    )


def test_script_is_escaped_against_injection(sandbox: Sandbox) -> None:
    hostile = "</script><script>alert(1)</script>"
    quote_and_amp = "it's & more"
    separators = "line\u2028para\u2029end"
    apis = [hostile, quote_and_amp, separators, "chooseImage"]
    app, _ = make_app(sandbox)
    add_page(app, apis)

    response = app.test_client().get("/page")
    body = response.get_data(as_text=True)

    # Only the wrapper's own tags; nothing in the data can close or open an element.
    assert SCRIPT_RE.match(body) is not None, body
    assert body.count("<") == 2
    assert body.count(">") == 2
    assert "alert(1)</script>" not in body
    assert "'" not in body
    assert "&" not in body
    assert "\u2028" not in body
    assert "\u2029" not in body
    # The characters are written as JavaScript escapes, not as HTML entities.
    assert "\\u003c/script\\u003e" in body
    assert "\\u0027" in body
    assert "\\u0026" in body
    assert "&lt;" not in body
    assert "&#39;" not in body
    # ... and the data still decodes to exactly what was passed.
    assert parse_script(response)["jsApiList"] == apis


def test_rendered_page_never_contains_ticket_or_access_token(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])
    response = app.test_client().get("/page?x=1")
    parse_script(response)

    body = response.get_data(as_text=True)
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    secrets = [ticket_of(sandbox, SANDBOX_APP_ID), *issued_access_tokens(sandbox)]
    assert len(secrets) >= 2  # the ticket and the access_token used to fetch it
    for secret in secrets:
        assert secret not in body
        assert secret not in headers


def test_behind_a_proxy_the_forwarded_scheme_and_host_are_signed(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    client = app.test_client()

    response = client.get(
        "/page?q=%E4%B8%AD%E6%96%87",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com"},
    )
    config = parse_script(response)

    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    signed = "https://shop.example.com/page?q=%E4%B8%AD%E6%96%87"
    assert config["signature"] == expected_signature(ticket, config, signed)
    assert config["signature"] != expected_signature(
        ticket, config, "http://localhost/page?q=%E4%B8%AD%E6%96%87"
    )


def test_without_proxy_fix_the_forwarded_headers_are_ignored(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox)
    add_page(app, ["chooseImage"])

    response = app.test_client().get(
        "/page",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com"},
    )
    config = parse_script(response)

    ticket = ticket_of(sandbox, SANDBOX_APP_ID)
    assert config["signature"] == expected_signature(ticket, config, "http://localhost/page")


# -- WeCom wx.agentConfig ------------------------------------------------------------------

AGENT_TICKET_PATH = "/cgi-bin/ticket/get"
AGENT_SCRIPT_RE = re.compile(
    GUARD.format(fn=r"wx\.agentConfig") + r"else \{ wx\.agentConfig\((?P<json>.*)\); \}</script>\Z",
    re.DOTALL,
)


def test_agent_config_is_signed_with_the_agent_ticket(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox, "work")
    url = "https://work.example.com/app?x=1#top"
    with app.app_context():
        config = wechat.jssdk_agent_config(url, ["selectExternalContact"])
        wechat.jssdk_agent_config(url, ["selectExternalContact"])
    assert set(config) == {"corpid", "agentid", "timestamp", "nonceStr", "signature", "jsApiList"}
    assert config["corpid"] == SANDBOX_CORP_ID
    assert config["agentid"] == SANDBOX_AGENT_ID
    assert config["jsApiList"] == ["selectExternalContact"]
    assert sandbox.count(AGENT_TICKET_PATH) == 1  # cached like the access_token
    (call,) = [c for c in sandbox.calls if c.path == AGENT_TICKET_PATH]
    assert call.params["type"] == "agent_config"
    ticket = sandbox.ticket_for(SANDBOX_CORP_ID, "agent_config")
    assert ticket is not None
    assert ticket != sandbox.ticket_for(SANDBOX_CORP_ID)
    assert config["signature"] == expected_signature(
        ticket, config, "https://work.example.com/app?x=1"
    )


def test_agent_config_needs_a_wecom_account(sandbox: Sandbox) -> None:
    app, wechat = make_app(sandbox)
    with app.app_context(), pytest.raises(ValueError, match="agent_config"):
        wechat.jssdk_agent_config("https://example.com/", ["chooseImage"])
    assert sandbox.count(AGENT_TICKET_PATH) == 0


def test_agent_config_jinja_global(sandbox: Sandbox) -> None:
    app, _ = make_app(sandbox, "work")
    hostile = "</script><script>alert(1)</script>"

    def page() -> str:
        return render_template_string("{{ wechat_agent_config(apis) }}", apis=[hostile])

    app.add_url_rule("/agent", "agent", page)
    response = app.test_client().get("/agent?a=%27", base_url="https://work.example.com")
    body = response.get_data(as_text=True)
    assert body.count("<") == 2
    match = AGENT_SCRIPT_RE.match(body)
    assert match is not None, body
    config = json.loads(match.group("json"))
    assert config["jsApiList"] == [hostile]
    ticket = sandbox.ticket_for(SANDBOX_CORP_ID, "agent_config")
    assert ticket is not None
    assert config["signature"] == expected_signature(
        ticket, config, "https://work.example.com/agent?a=%27"
    )


# -- the script when WeChat's JS file did not load -------------------------------------------

NODE = shutil.which("node")


def run_in_node(script_html: str, with_wx: bool) -> subprocess.CompletedProcess[str]:
    """Run the helper's ``<script>`` body in node, with or without a fake ``wx``."""
    body = script_html.removeprefix("<script>").removesuffix("</script>")
    prelude = (
        "globalThis.wx = {config: c => console.log('config ' + c.signature),"
        " agentConfig: c => console.log('agentConfig ' + c.signature)};\n"
        if with_wx
        else ""
    )
    return subprocess.run(
        [t.cast(str, NODE), "-e", prelude + body],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(NODE is None, reason="needs node to run the rendered JavaScript")
@pytest.mark.parametrize(
    ("kind", "template", "function"),
    [
        ("mp", "{{ wechat_jssdk_config(['chooseImage']) }}", "wx.config"),
        ("work", "{{ wechat_agent_config(['selectExternalContact']) }}", "wx.agentConfig"),
    ],
)
def test_script_without_the_jssdk_file_logs_why_instead_of_throwing(
    sandbox: Sandbox, kind: str, template: str, function: str
) -> None:
    app, _ = make_app(sandbox, kind)
    with app.test_request_context("/page", base_url="https://example.com"):
        html = render_template_string(template)

    missing = run_in_node(html, with_wx=False)
    assert missing.returncode == 0, missing.stderr  # no ReferenceError
    assert "ReferenceError" not in missing.stderr
    assert "JS-SDK file (jweixin-1.6.0.js) did not load" in missing.stderr
    assert function in missing.stderr
    assert missing.stdout == ""

    loaded = run_in_node(html, with_wx=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stderr == ""
    assert loaded.stdout.startswith(function.removeprefix("wx.") + " ")
