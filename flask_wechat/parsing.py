"""Reading and writing WeChat's XML and JSON bodies, hardened against hostile input.

XML is parsed with lxml configured to never resolve entities, never touch the
network and never build huge trees; any DOCTYPE is refused outright, which
stops XXE and entity expansion ("billion laughs") before they start.

**One shape per field.** XML cannot tell a list of one from a single element, so
each nested collection is given one stable shape, whatever the count:

* an element whose children are all ``<item>`` *is* a list (``PicList``,
  ``ResultList``, ``Articles``): one ``<item>`` is a list of one;
* an element WeChat documents as repeatable is always a list under its parent,
  even when it occurs once: the names in :data:`REPEATED` (``item`` beside other
  fields, as in PUBLISHJOBFINISH's ``article_detail``; ``List`` in the
  subscription-message events;
  ``ApprovalNode``, ``NotifyNode``, ``Item`` in WeCom approvals; ``SpRecord``,
  ``Notifyer``, ``Comments`` in ``sys_approval_change``; ``SelectedItem`` in
  ``template_card_event``; ``AroundBeacon`` in ``ShakearoundUserShake``; the
  Mini Program's ``detail`` in ``wxa_media_check``);
* children repeatable under one parent only, :data:`REPEATED_UNDER`, leaves
  included: ``SpRecord/Details``, ``MemChangeList/Item`` (``change_external_chat``),
  ``OptionIds/OptionId``, ``PublishEventInfo/fail_idx``;
* any other element that happens to repeat becomes a list where it repeats, and
  stays a dict or a string where it does not.

Leaves are read without any per-element check; only nested elements and the
parents named above pay for a set lookup.
"""

from __future__ import annotations

import json
import re
import threading
import typing as t

from lxml import etree

from .errors import BodyTooLarge, MalformedBody

MAX_BODY_SIZE = 1024 * 1024
"""The largest callback body accepted (1 MiB); WeChat's are a few KiB at most."""

Fields = dict[str, t.Any]

#: Nested elements WeChat documents as repeatable: always a list under their parent.
REPEATED = frozenset(
    {
        "item", "Item", "List", "ApprovalNode", "NotifyNode", "SpRecord", "Notifyer",
        "Comments", "detail", "AroundBeacon", "SelectedItem",
    }
)  # fmt: skip

#: Children that are always a list under one parent only (their names mean other
#: things elsewhere), leaves included: parent → child names.
REPEATED_UNDER: dict[str, frozenset[str]] = {
    "SpRecord": frozenset({"Details"}),
    "MemChangeList": frozenset({"Item"}),
    "OptionIds": frozenset({"OptionId"}),
    "PublishEventInfo": frozenset({"fail_idx"}),
}

# WeChat sometimes sends C0 control characters inside CDATA (users can type them),
# which XML 1.0 forbids and libxml2 refuses; a CR inside CDATA would be turned into
# LF by XML's line-end normalisation. Such characters are swapped for a block of
# private-use code points that the body does not already use, and swapped back in
# the parsed values.
_CONTROL = frozenset(c for c in range(32) if c not in (0x09, 0x0A, 0x0D))
_SLOW_PATH_BYTES = bytes(sorted(_CONTROL | {0x0D}))
_CDATA_START = "<![CDATA["
_CDATA_END = "]]>"


class _Hidden(t.NamedTuple):
    """How the control characters of one body were hidden."""

    text: str
    show: dict[int, int]


def _hide_control(text: str) -> _Hidden:
    present = set(text)
    base = next(
        (
            base
            for base in range(0xE000, 0xF8E0, 0x20)
            if not any(chr(base + c) in present for c in range(32))
        ),
        None,
    )
    if base is None:  # pragma: no cover - a body using all 6,400 private-use code points
        raise MalformedBody("body has unsupported control characters")
    hide_everywhere = {c: base + c for c in _CONTROL}
    hide_in_cdata = {**hide_everywhere, 0x0D: base + 0x0D}
    parts = text.translate(hide_everywhere).split(_CDATA_START)
    out = [parts[0]]
    for part in parts[1:]:
        inner, end, rest = part.partition(_CDATA_END)
        out.append(_CDATA_START + inner.translate(hide_in_cdata) + end + rest)
    return _Hidden("".join(out), {base + c: c for c in range(32)})


class _Parser(threading.local):
    """lxml parsers must not be shared between threads; one per thread."""

    def __init__(self) -> None:
        self.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            strip_cdata=True,
        )


_local = _Parser()


# The shape of nearly every body WeChat sends: ``<xml>`` and a run of leaf elements,
# each plain text or one CDATA section, with nothing that XML would transform
# (no ``&``, ``<``, ``]`` or CR inside, no control characters, no attributes, no
# declaration). Such a body means the same to any XML parser, so it is read with
# one regular expression; everything else (nesting, entities, DOCTYPE…) goes to lxml.
_LEAF_TEXT = r"[^\x00-\x08\x0b\x0c\x0d\x0e-\x1f<&\]]*"
# Each leaf takes the blanks after it: a match can only start at a "<", and as
# no value holds a "<", a failed attempt costs at most the text up to the next one.
_LEAVES = re.compile(
    r"(<([A-Za-z][A-Za-z0-9_]{0,63})>(?:<!\[CDATA\[("
    + _LEAF_TEXT
    + r")\]\]>|("
    + _LEAF_TEXT
    + r"))</\2>[ \t\n]*)"
)
_BLANKS = " \t\n"
# The body of every encrypted Official Account and Mini Program callback (safe
# mode): the flat shape again, with these two leaves only; one match reads it.
_ENVELOPE = re.compile(
    rb"[ \t\n]*<xml>[ \t\n]*<ToUserName><!\[CDATA\[([!-;=?-\[^-~]*)\]\]></ToUserName>"
    rb"[ \t\n]*<Encrypt><!\[CDATA\[([^\]]*)\]\]></Encrypt>[ \t\n]*</xml>[ \t\n]*"
)
_MAX_FLAT_LEAVES = 64


def _parse_flat(data: bytes) -> Fields | None:
    """The fields of a flat body (see above), or ``None`` to use lxml.

    ``findall`` finds leaves wherever they are; that they tile the whole inside
    of ``<xml>`` (their lengths add up to its length) is what proves the body flat.
    """
    envelope = _ENVELOPE.fullmatch(data)
    if envelope is not None:
        try:
            return {
                "ToUserName": envelope.group(1).decode("ascii"),  # printable ASCII only
                "Encrypt": envelope.group(2).decode("utf-8"),
            }
        except UnicodeDecodeError:
            return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.strip(_BLANKS)
    if not (text.startswith("<xml>") and text.endswith("</xml>")):
        return None
    inner = text[5:-6].lstrip(_BLANKS)
    leaves = _LEAVES.findall(inner)
    if not leaves or len(leaves) > _MAX_FLAT_LEAVES:
        return None
    if sum([len(leaf[0]) for leaf in leaves]) != len(inner):
        return None
    # one of a leaf's two values is always empty: CDATA or plain text
    fields: Fields = {tag: cdata or plain for _, tag, cdata, plain in leaves}
    if len(fields) != len(leaves):
        return None  # repeated elements: let lxml build the list
    return fields


def parse_xml(data: bytes) -> Fields:
    """Parse a WeChat XML body into a dict of its fields.

    Nested elements become dicts; an element whose children are all ``<item>``
    becomes a list (``PicList``, ``Articles``); repeatable elements are lists
    even when single (see the module docstring). Leaf values are strings.

    :raises MalformedBody: not well-formed, or a DOCTYPE/entity declaration.
    :raises BodyTooLarge: over :data:`MAX_BODY_SIZE`.
    """
    if len(data) > MAX_BODY_SIZE:
        raise BodyTooLarge("body too large")
    flat = _parse_flat(data)
    if flat is not None:
        return flat
    return parse_xml_tree(data)


def parse_xml_tree(data: bytes) -> Fields:
    """:func:`parse_xml` through lxml always (the general path)."""
    show: dict[int, int] | None = None
    if len(data.translate(None, _SLOW_PATH_BYTES)) != len(data):
        try:
            hidden = _hide_control(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise MalformedBody("body is not UTF-8") from None
        data, show = hidden.text.encode("utf-8"), hidden.show
    try:
        root = etree.fromstring(data, _local.parser)
    except (etree.XMLSyntaxError, ValueError):
        raise MalformedBody("body is not well-formed XML") from None
    docinfo: t.Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise MalformedBody("DOCTYPE and entity declarations are not allowed")
    value = _element_value(root, show)
    if not isinstance(value, dict):
        raise MalformedBody("XML body has no fields")
    return value


def _element_value(element: etree._Element, show: dict[int, int] | None) -> t.Any:
    if not len(element):
        text = element.text or ""
        return text if show is None else text.translate(show)
    children = list(element)
    if all(child.tag == "item" for child in children):
        return [_element_value(child, show) for child in children]
    under = REPEATED_UNDER.get(str(element.tag))
    if under is not None:
        return _fields(children, show, REPEATED | under)
    fields: Fields = {}
    grown: set[str] | None = None  # tags made lists here by repeating
    for child in children:
        tag = str(child.tag)
        if len(child):
            value = _element_value(child, show)
            if tag in REPEATED:
                fields.setdefault(tag, []).append(value)
                continue
        else:  # most fields are leaves: read them without a call or a check
            value = child.text or ""
            if show is not None:
                value = value.translate(show)
        if tag in fields:
            if grown is None:
                grown = set()
            if tag in grown:
                fields[tag].append(value)
            else:
                fields[tag] = [fields[tag], value]
                grown.add(tag)
        else:
            fields[tag] = value
    return fields


def _fields(
    children: list[etree._Element], show: dict[int, int] | None, repeated: frozenset[str]
) -> Fields:
    """The fields of an element of :data:`REPEATED_UNDER`: ``repeated`` children,
    leaves included, are always lists."""
    fields: Fields = {}
    grown: set[str] = set()
    for child in children:
        tag = str(child.tag)
        value = _element_value(child, show)
        if tag in repeated:
            fields.setdefault(tag, []).append(value)
        elif tag in grown:
            fields[tag].append(value)
        elif tag in fields:
            fields[tag] = [fields[tag], value]
            grown.add(tag)
        else:
            fields[tag] = value
    return fields


def parse_json(data: bytes) -> Fields:
    """Parse a WeChat JSON body (Mini Program push, 7moor relay) into a dict.

    :raises MalformedBody: not JSON, or not a JSON object.
    """
    if len(data) > MAX_BODY_SIZE:
        raise BodyTooLarge("body too large")
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise MalformedBody("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedBody("JSON body is not an object")
    # JSON may spell a lone surrogate (``"\\ud800"``), which no UTF-8 text can
    # hold: refuse it here rather than fail later when a value is encoded. Only
    # bodies with an escape or a raw surrogate's lead byte take this slow path.
    if b"\\u" in data or b"\xed" in data:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedBody("body has a lone surrogate") from None
    return value


def _no_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN/Infinity; WeChat never sends them


def cdata(text: str) -> str:
    """Wrap ``text`` in CDATA; a ``]]>`` inside is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: t.Mapping[str, t.Any], root: str = "xml") -> str:
    """Serialise ``fields`` the way WeChat writes its XML.

    Strings go in CDATA, numbers bare, dicts nest, lists become ``<item>``
    elements, ``None`` is left out.
    """
    out = [f"<{root}>"]
    _write_fields(out, fields)
    out.append(f"</{root}>")
    return "".join(out)


def _write_fields(out: list[str], fields: t.Mapping[str, t.Any]) -> None:
    for name, value in fields.items():
        if value is None:
            continue
        out.append(f"<{name}>")
        _write_value(out, value)
        out.append(f"</{name}>")


def _write_value(out: list[str], value: t.Any) -> None:
    if isinstance(value, str):
        out.append(cdata(value))
    elif isinstance(value, bool):
        out.append(str(int(value)))
    elif isinstance(value, (int, float)):
        out.append(str(value))
    elif isinstance(value, t.Mapping):
        _write_fields(out, value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            out.append("<item>")
            _write_value(out, item)
            out.append("</item>")
    else:
        out.append(cdata(str(value)))
