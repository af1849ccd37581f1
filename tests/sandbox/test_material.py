"""The sandbox's permanent material and draft endpoints, over raw HTTP."""

from __future__ import annotations

import typing as t

from .conftest import errcode

if t.TYPE_CHECKING:
    from .conftest import Api

ADD = "/cgi-bin/material/add_material"


def _upload(api: Api, type_: str, name: str, data: bytes, **form: str) -> dict[str, t.Any]:
    params = {"access_token": api.token(), "type": type_}
    response = api.raw("POST", ADD, params=params, files={"media": (name, data)}, data=form)
    return t.cast(dict[str, t.Any], response.json())


def test_video_needs_a_description_with_a_title(api: Api) -> None:
    assert errcode(_upload(api, "video", "a.mp4", b"v")) == 40097
    assert errcode(_upload(api, "video", "a.mp4", b"v", description='{"title": ""}')) == 40097
    assert "media_id" in _upload(api, "video", "a.mp4", b"v", description='{"title": "t"}')


def test_upload_needs_a_file(api: Api) -> None:
    response = api.raw("POST", ADD, params={"access_token": api.token(), "type": "image"}, data={})
    assert errcode(response.json()) == 41005


def test_published_articles_are_news_material(api: Api) -> None:
    cover = _upload(api, "image", "c.jpg", b"\xff\xd8\xff")["media_id"]
    article = {"title": "t", "content": "<p>c</p>", "thumb_media_id": cover}
    draft = api.post("/cgi-bin/draft/add", {"articles": [article] * 9})
    assert errcode(draft) == 45008  # at most 8 articles
    media_id = api.post("/cgi-bin/draft/add", {"articles": [article, article]})["media_id"]
    publish_id = api.post("/cgi-bin/freepublish/submit", {"media_id": media_id})["publish_id"]
    news = api.post("/cgi-bin/material/batchget_material", {"type": "news", "count": 5})
    assert news["total_count"] == 1
    assert len(news["item"][0]["content"]["news_item"]) == 2
    assert api.get("/cgi-bin/material/get_materialcount")["news_count"] == 1
    article_id = api.post("/cgi-bin/freepublish/get", {"publish_id": publish_id})["article_id"]
    gone = {"article_id": article_id, "index": 3}
    assert errcode(api.post("/cgi-bin/freepublish/delete", gone)) == 40097
    assert errcode(api.post("/cgi-bin/freepublish/delete", {**gone, "index": 2})) == 0
    news = api.post("/cgi-bin/material/batchget_material", {"type": "news", "count": 5})
    assert len(news["item"][0]["content"]["news_item"]) == 1
