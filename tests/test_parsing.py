"""Reading and writing WeChat's XML and JSON bodies (flask_wechat.parsing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from flask_wechat import parsing
from flask_wechat.errors import BodyTooLarge, MalformedBody, RejectedRequest
from flask_wechat.parsing import MAX_BODY_SIZE, cdata, parse_json, parse_xml, to_xml

# -- parse_xml: shapes ----------------------------------------------------------------


def test_flat_fields_are_strings() -> None:
    body = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1348831860</CreateTime>"
        b"<Content><![CDATA[this is a test]]></Content><Empty></Empty><Blank/></xml>"
    )
    assert parse_xml(body) == {
        "ToUserName": "gh_1",
        "CreateTime": "1348831860",
        "Content": "this is a test",
        "Empty": "",
        "Blank": "",
    }


def test_nested_elements_become_dicts() -> None:
    body = (
        b"<xml>\n  <Event><![CDATA[scancode_push]]></Event>\n"
        b"  <ScanCodeInfo>\n    <ScanType><![CDATA[qrcode]]></ScanType>\n"
        b"    <ScanResult><![CDATA[1]]></ScanResult>\n"
        b"    <Deeper><Leaf>x</Leaf></Deeper>\n  </ScanCodeInfo>\n</xml>"
    )
    assert parse_xml(body) == {
        "Event": "scancode_push",
        "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "1", "Deeper": {"Leaf": "x"}},
    }


def test_item_children_become_a_list() -> None:
    body = (
        b"<xml><SendPicsInfo><Count>2</Count>\n<PicList>"
        b"<item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum>\n</item>\n"
        b"<item><PicMd5Sum><![CDATA[5a75aaca956d97be686719218f275c6b]]></PicMd5Sum>\n</item>\n"
        b"</PicList>\n</SendPicsInfo></xml>"
    )
    assert parse_xml(body) == {
        "SendPicsInfo": {
            "Count": "2",
            "PicList": [
                {"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"},
                {"PicMd5Sum": "5a75aaca956d97be686719218f275c6b"},
            ],
        }
    }


def test_single_item_is_still_a_list() -> None:
    body = b"<xml><PicList><item><PicMd5Sum>abc</PicMd5Sum></item></PicList></xml>"
    assert parse_xml(body) == {"PicList": [{"PicMd5Sum": "abc"}]}


def test_text_items_become_a_list_of_strings() -> None:
    body = b"<xml><Tags><item>a</item><item><![CDATA[b]]></item><item/></Tags></xml>"
    assert parse_xml(body) == {"Tags": ["a", "b", ""]}


def test_comments_and_processing_instructions_are_ignored() -> None:
    body = b'<?xml version="1.0" encoding="utf-8"?><xml><!-- note --><A>1</A><?pi x?></xml>'
    assert parse_xml(body) == {"A": "1"}


def test_utf8_text_and_declared_encoding() -> None:
    assert parse_xml("<xml><A>中文 😀</A></xml>".encode()) == {"A": "中文 😀"}
    gbk = '<?xml version="1.0" encoding="GBK"?><xml><A>中文</A></xml>'.encode("gbk")
    assert parse_xml(gbk) == {"A": "中文"}


@pytest.mark.parametrize(
    "text",
    ["\x08", "\x1f", "a\x01b\x02c", "\x00", "x\x0bv\x0cf", "\x1b[31mred", "\x7f keep"],
    ids=["backspace", "unit-sep", "mixed", "nul", "vt-ff", "escape", "del"],
)
def test_control_characters_in_cdata_survive(text: str) -> None:
    body = f"<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content></xml>"
    assert parse_xml(body.encode()) == {"MsgType": "text", "Content": text}


def test_control_characters_in_nested_and_list_values_survive() -> None:
    body = "<xml><A><B><![CDATA[\x08]]></B></A><L><item><![CDATA[\x1f]]></item></L></xml>"
    assert parse_xml(body.encode()) == {"A": {"B": "\x08"}, "L": ["\x1f"]}


def test_body_at_the_size_limit_is_accepted() -> None:
    head, tail = b"<xml><Content>", b"</Content></xml>"
    body = head + b"a" * (MAX_BODY_SIZE - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_SIZE
    assert len(parse_xml(body)["Content"]) == MAX_BODY_SIZE - len(head) - len(tail)


@pytest.mark.parametrize("extra", [1, 1000, MAX_BODY_SIZE])
def test_body_over_one_mib_is_too_large(extra: int) -> None:
    body = b"<xml><Content>" + b"a" * (MAX_BODY_SIZE + extra) + b"</Content></xml>"
    with pytest.raises(BodyTooLarge) as excinfo:
        parse_xml(body)
    assert excinfo.value.status == 413
    assert isinstance(excinfo.value, RejectedRequest)


# -- parse_xml: hostile and broken input ------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><Content>&lol9;</Content></xml>"""

XXE_FILE = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><MsgType>text</MsgType><Content>&xxe;</Content></xml>"
)
XXE_PARAMETER = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    b"<xml><Content>x</Content></xml>"
)
XXE_EXTERNAL_DTD = b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><Content>x</Content></xml>'

HOSTILE_BODIES = {
    "doctype": b"<!DOCTYPE xml><xml><A>1</A></xml>",
    "internal-entity": b'<!DOCTYPE xml [<!ENTITY name "value">]><xml><A>&name;</A></xml>',
    "unused-entity": b'<!DOCTYPE xml [<!ENTITY name "value">]><xml><A>1</A></xml>',
    "billion-laughs": BILLION_LAUGHS,
    "xxe-file": XXE_FILE,
    "xxe-parameter-entity": XXE_PARAMETER,
    "xxe-external-dtd": XXE_EXTERNAL_DTD,
    "xxe-network": b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]><xml><A>&e;</A></xml>',
    "doctype-with-control-char": (
        b'<!DOCTYPE x [<!ENTITY a "b">]><xml><A><![CDATA[\x08]]>&a;</A></xml>'
    ),
    "undeclared-entity": b"<xml><A>&undeclared;</A></xml>",
}

BROKEN_BODIES = {
    "empty": b"",
    "whitespace": b"   \n",
    "unclosed": b"<xml><ToUserName>gh</ToUserName>",
    "unclosed-inner": b"<xml><A>1</xml>",
    "mismatched": b"<xml><A>1</B></xml>",
    "two-roots": b"<xml><A>1</A></xml><xml><A>2</A></xml>",
    "not-xml": b"hello world",
    "json": b'{"MsgType": "text"}',
    "latin-1": b"<xml><A>caf\xe9</A></xml>",
    "gbk-undeclared": "<xml><A>中文</A></xml>".encode("gbk"),
    "invalid-utf8-with-control": b"<xml><A><![CDATA[\xff\x08]]></A></xml>",
    "control-char-reference": b"<xml><A>&#8;</A></xml>",
    "text-root": b"<xml>just text</xml>",
    "empty-root": b"<xml/>",
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedBody) as excinfo:
        parse_xml(body)
    assert excinfo.value.status == 400


@pytest.mark.parametrize("body", [XXE_FILE, XXE_PARAMETER, XXE_EXTERNAL_DTD])
def test_xxe_never_reads_the_file(body: bytes) -> None:
    secret = Path("/etc/passwd").read_text(errors="replace").splitlines()[0]
    assert secret
    with pytest.raises(MalformedBody) as excinfo:
        parse_xml(body)
    assert secret not in str(excinfo.value)
    assert secret not in repr(excinfo.value.args)
    # the parser itself never resolves the entity either, DOCTYPE check or not
    root = etree.fromstring(body, parsing._local.parser)
    assert secret not in etree.tostring(root, encoding="unicode")


@pytest.mark.parametrize("body", BROKEN_BODIES.values(), ids=BROKEN_BODIES.keys())
def test_broken_xml_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_xml(body)


# -- to_xml / cdata ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "<![CDATA[plain]]>"),
        ("", "<![CDATA[]]>"),
        ("a]]>b", "<![CDATA[a]]]]><![CDATA[>b]]>"),
        ("]]>]]>", "<![CDATA[]]]]><![CDATA[>]]]]><![CDATA[>]]>"),
    ],
)
def test_cdata_splits_the_terminator(text: str, expected: str) -> None:
    assert cdata(text) == expected


def test_to_xml_writes_wechat_style() -> None:
    fields = {
        "ToUserName": "oUser",
        "CreateTime": 1700000000,
        "Score": 1.5,
        "Flag": True,
        "Off": False,
        "Missing": None,
        "Image": {"MediaId": "m1", "Gone": None},
        "Articles": [{"Title": "t1"}, {"Title": "t2"}],
    }
    assert to_xml(fields) == (
        "<xml><ToUserName><![CDATA[oUser]]></ToUserName><CreateTime>1700000000</CreateTime>"
        "<Score>1.5</Score><Flag>1</Flag><Off>0</Off>"
        "<Image><MediaId><![CDATA[m1]]></MediaId></Image>"
        "<Articles><item><Title><![CDATA[t1]]></Title></item>"
        "<item><Title><![CDATA[t2]]></Title></item></Articles></xml>"
    )
    assert to_xml({"A": "x"}, root="reply") == "<reply><A><![CDATA[x]]></A></reply>"


def test_to_xml_and_parse_xml_round_trip_structures() -> None:
    fields = {
        "MsgType": "news",
        "ArticleCount": 2,
        "Articles": [{"Title": "一", "Url": "http://a/?x=1&y=<2>"}, {"Title": "二"}],
        "Nested": {"Inner": {"Leaf": "v"}},
    }
    assert parse_xml(to_xml(fields).encode()) == {
        "MsgType": "news",
        "ArticleCount": "2",
        "Articles": [{"Title": "一", "Url": "http://a/?x=1&y=<2>"}, {"Title": "二"}],
        "Nested": {"Inner": {"Leaf": "v"}},
    }


ROUND_TRIP_TEXTS = [
    "]]>",
    "a]]>b",
    "]]]]>",
    "<![CDATA[nested]]>",
    "x]]",
    "]]>]]>]]>",
    "😀🎉👨‍👩‍👧",
    "中文，标点。",
    "\x08",
    "\x1f",
    "\x00\x01\x02\x03\x04\x05\x06\x07",
    "tab\tnewline\n",
    "mix ]]> 中文 😀 \x08 & < > \" '",
    "&amp; &lt; &#x41;",
    "   leading and trailing   ",
    "",
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_to_xml_round_trip_of_any_text(text: str) -> None:
    body = to_xml({"MsgType": "text", "Content": text, "Inner": {"Text": text}, "L": [text]})
    assert parse_xml(body.encode()) == {
        "MsgType": "text",
        "Content": text,
        "Inner": {"Text": text},
        "L": [text],
    }


def test_to_xml_round_trip_keeps_carriage_returns() -> None:
    text = "line one\rline two\r\nline three"
    assert parse_xml(to_xml({"Content": text}).encode()) == {"Content": text}


def test_private_use_characters_survive_next_to_control_characters() -> None:
    text = "\ue00e thumbs up \x08"
    assert parse_xml(to_xml({"Content": text}).encode()) == {"Content": text}


def test_private_use_characters_survive_on_their_own() -> None:
    text = "\ue00e\ue001 legacy emoji"
    assert parse_xml(to_xml({"Content": text}).encode()) == {"Content": text}


# -- parse_json ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{}", {}),
        (
            b'{"MsgType": "text", "Content": "\\u4f60\\u597d"}',
            {"MsgType": "text", "Content": "你好"},
        ),
        ('{"Content": "中文 😀"}'.encode(), {"Content": "中文 😀"}),
        (b'{"CreateTime": 1409659813, "Nested": {"L": [1, 2]}}', None),
        (b'  \n{"a": null}\n', {"a": None}),
    ],
)
def test_parse_json_objects(body: bytes, expected: dict[str, object] | None) -> None:
    assert parse_json(body) == (json.loads(body) if expected is None else expected)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"[1, 2]",
        b'"string"',
        b"42",
        b"null",
        b"true",
        b"",
        b"{",
        b'{"a": }',
        b"{'single': 'quotes'}",
        b"<xml></xml>",
        b'{"a": "\xff"}',
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=[
        "empty-array",
        "array",
        "string",
        "number",
        "null",
        "bool",
        "empty",
        "unterminated",
        "missing-value",
        "single-quotes",
        "xml",
        "bad-utf8",
        "deep-open",
        "deep-object",
        "deep-balanced",
    ],
)
def test_parse_json_rejects_non_objects_and_garbage(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_json(body)


def test_parse_json_over_one_mib_is_too_large() -> None:
    body = b'{"a": "' + b"x" * MAX_BODY_SIZE + b'"}'
    with pytest.raises(BodyTooLarge):
        parse_json(body)


# -- the flat fast path reads exactly what lxml reads ---------------------------------------

_FLAT_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"), max_size=20
)


def assert_parses_as_lxml_does(body: bytes) -> None:
    """``parse_xml`` (fast paths included) gives what the lxml tree gives, or
    refuses what lxml refuses."""
    try:
        expected = parsing.parse_xml_tree(body)
    except MalformedBody:
        with pytest.raises(MalformedBody):
            parse_xml(body)
        return
    assert parse_xml(body) == expected


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True),
        st.tuples(st.booleans(), _FLAT_TEXT),
        min_size=1,
        max_size=8,
    )
)
def test_flat_bodies_parse_as_lxml_parses_them(fields: dict[str, tuple[bool, str]]) -> None:
    parts = []
    for tag, (in_cdata, text) in fields.items():
        if in_cdata:
            parts.append(f"<{tag}>{cdata(text)}</{tag}>")
        else:
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f"<{tag}>{escaped}</{tag}>")
    body = ("<xml>" + "\n".join(parts) + "</xml>").encode()
    assert_parses_as_lxml_does(body)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=24),
    st.text(st.sampled_from("ABCxyz019+/= <&>]\x01\r长"), max_size=40),
    st.sampled_from(["", " ", "\n", "\t \n"]),
)
def test_encrypted_envelopes_parse_as_lxml_parses_them(
    to_user: str, encrypt: str, blank: str
) -> None:
    # the safe-mode envelope has a match of its own; whatever it takes, lxml agrees
    body = (
        f"{blank}<xml>{blank}<ToUserName><![CDATA[{to_user}]]></ToUserName>{blank}"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>{blank}</xml>{blank}"
    ).encode()
    assert_parses_as_lxml_does(body)
