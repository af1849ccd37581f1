"""What a user writes reaches the handler intact, and the reply reaches the user intact."""

from __future__ import annotations

import pytest

from flask_wechat import Message, TextReply

from .conftest import Platform

SURVIVING_TEXTS = [
    pytest.param("]]>", id="cdata-end"),
    pytest.param("a]]>b]]>]]>c", id="cdata-ends"),
    pytest.param("emoji 😀👍🏽🇨🇳", id="emoji"),
    pytest.param("中文，标点！", id="chinese"),
    pytest.param("bell\x07 esc\x1b unit\x1f", id="control-chars"),
    pytest.param("nul\x00inside", id="nul"),
    pytest.param("tab\tand\nnewline", id="tab-newline"),
    pytest.param("<xml><Content>&amp;</Content></xml>", id="markup"),
    pytest.param("  padded  ", id="spaces"),
    pytest.param("legacy emoji \ue00e without control characters", id="private-use"),
    pytest.param("carriage\rreturn and\r\nwindows", id="carriage-return"),
    pytest.param("\x01 then legacy emoji \ue00e\ue001", id="control-and-private-use"),
]


@pytest.mark.parametrize("text", SURVIVING_TEXTS)
def test_any_text_survives_the_round_trip(bare_platform: Platform, text: str) -> None:
    platform = bare_platform
    seen: list[str] = []

    @platform.wechat.on("text")
    def echo(message: Message) -> TextReply:
        seen.append(message.content)
        return TextReply(message.content)

    result = platform.client.text(text)
    assert seen == [text]
    assert platform.reply_of(result) == text
