"""Stable collection shapes."""

from __future__ import annotations

import typing as t

import pytest

from ..relay.conftest import platform as platform
from ..relay.conftest import relay as relay

# == stable collection shapes ==============================================================


@pytest.mark.parametrize(
    ("one", "two", "path"),
    [
        (
            "<SubscribeMsgPopupEvent><List><T>a</T></List></SubscribeMsgPopupEvent>",
            "<SubscribeMsgPopupEvent><List><T>a</T></List><List><T>b</T></List>"
            "</SubscribeMsgPopupEvent>",
            ("SubscribeMsgPopupEvent", "List"),
        ),
        (
            "<ApprovalNodes><ApprovalNode><N>1</N></ApprovalNode></ApprovalNodes>",
            "<ApprovalNodes><ApprovalNode><N>1</N></ApprovalNode>"
            "<ApprovalNode><N>2</N></ApprovalNode></ApprovalNodes>",
            ("ApprovalNodes", "ApprovalNode"),
        ),
        (
            "<MemChangeList><Item>a</Item></MemChangeList>",
            "<MemChangeList><Item>a</Item><Item>b</Item></MemChangeList>",
            ("MemChangeList", "Item"),
        ),
        (
            "<article_detail><count>1</count><item><idx>1</idx></item></article_detail>",
            "<article_detail><count>2</count><item><idx>1</idx></item>"
            "<item><idx>2</idx></item></article_detail>",
            ("article_detail", "item"),
        ),
        (
            "<PicList><item><PicMd5Sum>a</PicMd5Sum></item></PicList>",
            "<PicList><item><PicMd5Sum>a</PicMd5Sum></item>"
            "<item><PicMd5Sum>b</PicMd5Sum></item></PicList>",
            ("PicList",),
        ),
    ],
)
def test_repeatable_elements_are_lists_whatever_their_count(
    one: str, two: str, path: tuple[str, ...]
) -> None:
    from flask_wechat.parsing import parse_xml

    def at(xml: str) -> t.Any:
        value: t.Any = parse_xml(f"<xml><MsgType>event</MsgType>{xml}</xml>".encode())
        for name in path:
            value = value[name]
        return value

    assert isinstance(at(one), list)
    assert len(at(one)) == 1
    assert isinstance(at(two), list)
    assert len(at(two)) == 2
    assert at(two)[0] == at(one)[0]


def test_a_repeated_list_valued_field_keeps_each_list_whole() -> None:
    from flask_wechat.parsing import parse_xml

    fields = parse_xml(
        b"<xml><A><PicList><item>1</item></PicList><PicList><item>2</item></PicList></A></xml>"
    )
    assert fields["A"]["PicList"] == [["1"], ["2"]]
