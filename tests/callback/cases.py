"""Every message and event type each platform pushes, as WeChat spells it, and what a
handler reads from it: the tables the round trips in test_round_trips.py play."""

from __future__ import annotations

import typing as t

from flask_wechat import (
    Article,
    ImageReply,
    MusicReply,
    NewsReply,
    Reply,
    TextReply,
    TransferCustomerServiceReply,
    VideoReply,
    VoiceReply,
)

from ..helpers import stringify

Fields = dict[str, t.Any]


# == Official Account (公众号) ============================================================

MP_MESSAGE_CASES: list[tuple[str, Fields, Fields]] = [
    # (MsgType, fields WeChat sends, attributes the handler sees)
    ("text", {"Content": "你好, world"}, {"content": "你好, world"}),
    (
        "image",
        {"PicUrl": "http://mmbiz.qpic.cn/pic.jpg", "MediaId": "media-image"},
        {"pic_url": "http://mmbiz.qpic.cn/pic.jpg", "media_id": "media-image", "content": None},
    ),
    (
        "voice",
        {"MediaId": "media-voice", "Format": "amr", "Recognition": "腾讯微信团队"},
        {"media_id": "media-voice", "format": "amr", "recognition": "腾讯微信团队"},
    ),
    (
        "video",
        {"MediaId": "media-video", "ThumbMediaId": "thumb-video"},
        {"media_id": "media-video", "thumb_media_id": "thumb-video"},
    ),
    (
        "shortvideo",
        {"MediaId": "media-short", "ThumbMediaId": "thumb-short"},
        {"media_id": "media-short", "thumb_media_id": "thumb-short"},
    ),
    (
        "location",
        {"Location_X": "23.134521", "Location_Y": "113.358803", "Scale": "20", "Label": "位置信息"},
        {"location_x": "23.134521", "location_y": "113.358803", "scale": "20", "label": "位置信息"},
    ),
    (
        "link",
        {"Title": "公众平台官网", "Description": "官网链接", "Url": "https://mp.weixin.qq.com/"},
        {"title": "公众平台官网", "description": "官网链接", "url": "https://mp.weixin.qq.com/"},
    ),
]

MP_SCAN_INFO = {"ScanType": "qrcode", "ScanResult": "https://weixin.qq.com/r/abc"}

MP_PICS = {
    "Count": 2,
    "PicList": [{"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}, {"PicMd5Sum": "0f3e1c"}],
}

MP_PICS_EXPECTED = {
    "count": "2",
    "pic_list": [{"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}, {"PicMd5Sum": "0f3e1c"}],
    "send_pics_info": stringify(MP_PICS),
}

MP_ONE_PIC = {"Count": 1, "PicList": [{"PicMd5Sum": "aa11"}]}

MP_SENT_LOCATION = {
    "Location_X": "23",
    "Location_Y": "113",
    "Scale": "15",
    "Label": " 广州市海珠区客村艺苑路 106号",
    "Poiname": "艺苑",
}

MP_EVENT_CASES: list[tuple[str, str, str, Fields, Fields]] = [
    # (id, Event as WeChat spells it, handler name, fields, attributes the handler sees)
    ("subscribe", "subscribe", "subscribe", {}, {"event_key": None, "qr_scene": None}),
    (
        "subscribe-qrscene",
        "subscribe",
        "subscribe",
        {"EventKey": "qrscene_123123", "Ticket": "TICKET"},
        {"event_key": "qrscene_123123", "ticket": "TICKET", "qr_scene": "123123"},
    ),
    ("unsubscribe", "unsubscribe", "unsubscribe", {}, {"event_key": None}),
    (
        "scan",
        "SCAN",
        "scan",
        {"EventKey": "123123", "Ticket": "TICKET"},
        {"event_key": "123123", "ticket": "TICKET", "qr_scene": "123123"},
    ),
    (
        "location-event",
        "LOCATION",
        "location_event",
        {"Latitude": "23.137466", "Longitude": "113.352425", "Precision": "119.385040"},
        {"latitude": "23.137466", "longitude": "113.352425", "precision": "119.385040"},
    ),
    ("click", "CLICK", "click", {"EventKey": "V1001_GOOD"}, {"event_key": "V1001_GOOD"}),
    (
        "view",
        "VIEW",
        "view",
        {"EventKey": "https://www.qq.com/", "MenuId": "208396938"},
        {"event_key": "https://www.qq.com/", "menu_id": "208396938"},
    ),
    (
        "scancode-push",
        "scancode_push",
        "scancode_push",
        {"EventKey": "6", "ScanCodeInfo": MP_SCAN_INFO},
        {"event_key": "6", "scan_type": "qrcode", "scan_result": MP_SCAN_INFO["ScanResult"]},
    ),
    (
        "scancode-waitmsg",
        "scancode_waitmsg",
        "scancode_waitmsg",
        {"EventKey": "6", "ScanCodeInfo": MP_SCAN_INFO},
        {"scan_code_info": MP_SCAN_INFO, "scan_type": "qrcode"},
    ),
    ("pic-sysphoto", "pic_sysphoto", "pic_sysphoto", {"SendPicsInfo": MP_PICS}, MP_PICS_EXPECTED),
    (
        "pic-photo-or-album",
        "pic_photo_or_album",
        "pic_photo_or_album",
        {"EventKey": "6", "SendPicsInfo": MP_PICS},
        MP_PICS_EXPECTED,
    ),
    (
        "pic-weixin-one-picture",
        "pic_weixin",
        "pic_weixin",
        {"EventKey": "6", "SendPicsInfo": MP_ONE_PIC},
        {"count": "1", "pic_list": [{"PicMd5Sum": "aa11"}]},
    ),
    (
        "location-select",
        "location_select",
        "location_select",
        {"EventKey": "6", "SendLocationInfo": MP_SENT_LOCATION},
        {
            "location_x": "23",
            "location_y": "113",
            "scale": "15",
            "label": MP_SENT_LOCATION["Label"],
            "poiname": "艺苑",
            "send_location_info": MP_SENT_LOCATION,
        },
    ),
    (
        "templatesendjobfinish",
        "TEMPLATESENDJOBFINISH",
        "templatesendjobfinish",
        {"MsgID": 200163836, "Status": "success"},
        {"id": 200163836, "msg_id": "200163836", "status": "success"},
    ),
    (
        "masssendjobfinish",
        "MASSSENDJOBFINISH",
        "masssendjobfinish",
        {
            "MsgID": 1988,
            "Status": "sendsuccess",
            "TotalCount": 100,
            "FilterCount": 80,
            "SentCount": 75,
            "ErrorCount": 5,
        },
        {
            "id": 1988,
            "status": "sendsuccess",
            "total_count": "100",
            "filter_count": "80",
            "sent_count": "75",
            "error_count": "5",
        },
    ),
]


# == Mini Program (小程序) ===============================================================

MINI_PAGE: Fields = {
    "Title": "小程序卡片标题",
    "AppId": "wxminiapp000000001",
    "PagePath": "pages/index/index?from=card&id=42",
    "ThumbUrl": "http://mmbiz.qpic.cn/thumb.jpg",
    "ThumbMediaId": "thumb-media-id",
}

MINI_MESSAGE_CASES: list[tuple[str, Fields, Fields]] = [
    # (MsgType, fields WeChat sends, attributes the handler reads)
    ("text", {"Content": "你好 mini ]]> 😀"}, {"content": "你好 mini ]]> 😀", "media_id": None}),
    (
        "image",
        {"PicUrl": "http://mmbiz.qpic.cn/user-photo.jpg", "MediaId": "user-image-media"},
        {
            "pic_url": "http://mmbiz.qpic.cn/user-photo.jpg",
            "media_id": "user-image-media",
            "content": None,
        },
    ),
    (
        "miniprogrampage",
        MINI_PAGE,
        {
            "title": MINI_PAGE["Title"],
            "app_id": MINI_PAGE["AppId"],
            "page_path": MINI_PAGE["PagePath"],
            "thumb_url": MINI_PAGE["ThumbUrl"],
            "thumb_media_id": MINI_PAGE["ThumbMediaId"],
        },
    ),
]

MINI_EVENT_CASES: list[tuple[str, str, str, Fields, Fields]] = [
    (
        "user-enter-tempsession",
        "user_enter_tempsession",
        "user_enter_tempsession",
        {"SessionFrom": "game-level-3"},
        {"session_from": "game-level-3", "id": None},
    ),
]

# == WeCom (企业微信) =====================================================================

WORK_MESSAGE_CASES: list[tuple[str, Fields, Fields]] = [
    # (MsgType, fields WeCom sends, attributes the handler reads)
    ("text", {"Content": "你好，企业微信 ]]> 😀"}, {"content": "你好，企业微信 ]]> 😀"}),
    (
        "image",
        {"PicUrl": "https://wework.qpic.cn/photo.jpg", "MediaId": "wecom-image-media"},
        {"pic_url": "https://wework.qpic.cn/photo.jpg", "media_id": "wecom-image-media"},
    ),
    (
        "voice",
        {"MediaId": "wecom-voice-media", "Format": "amr"},
        {"media_id": "wecom-voice-media", "format": "amr", "content": None},
    ),
    (
        "video",
        {"MediaId": "wecom-video-media", "ThumbMediaId": "wecom-thumb"},
        {"media_id": "wecom-video-media", "thumb_media_id": "wecom-thumb"},
    ),
    (
        "location",
        {
            "Location_X": "23.134",
            "Location_Y": "113.358",
            "Scale": "20",
            "Label": "广州市海珠区",
            "AppType": "wxwork",
        },
        {
            "location_x": "23.134",
            "location_y": "113.358",
            "scale": "20",
            "label": "广州市海珠区",
            "app_type": "wxwork",
        },
    ),
    (
        "link",
        {
            "Title": "企业微信",
            "Description": "链接描述",
            "Url": "https://work.weixin.qq.com/",
            "PicUrl": "https://work.weixin.qq.com/logo.png",
        },
        {
            "title": "企业微信",
            "description": "链接描述",
            "url": "https://work.weixin.qq.com/",
            "pic_url": "https://work.weixin.qq.com/logo.png",
        },
    ),
]

WORK_SCAN_INFO = {"ScanType": "qrcode", "ScanResult": "https://work.weixin.qq.com/scan"}

WORK_PICS = {
    "Count": 2,
    "PicList": [{"PicMd5Sum": "5a75aaca956d97be686719218f275c6b"}, {"PicMd5Sum": "e2"}],
}

WORK_SENT_LOCATION = {
    "Location_X": "23.106",
    "Location_Y": "113.320",
    "Scale": "15",
    "Label": "广州市海珠区客村艺苑路 106号",
    "Poiname": "艺苑",
}

WORK_BATCH_JOB = {"JobId": "S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4", "JobType": "sync_user"}

WORK_EVENT_CASES: list[tuple[str, str, str, Fields, Fields]] = [
    # (id, Event as WeCom spells it, handler name, fields, attributes the handler reads)
    ("subscribe", "subscribe", "subscribe", {}, {"event_key": None}),
    ("enter-agent", "enter_agent", "enter_agent", {"EventKey": ""}, {"event_key": ""}),
    (
        "location-event",
        "LOCATION",
        "location_event",
        {"Latitude": "23.104", "Longitude": "113.320", "Precision": "65.0", "AppType": "wxwork"},
        {"latitude": "23.104", "longitude": "113.320", "precision": "65.0", "app_type": "wxwork"},
    ),
    ("click", "click", "click", {"EventKey": "MENU_KEY_1"}, {"event_key": "MENU_KEY_1"}),
    (
        "view",
        "view",
        "view",
        {"EventKey": "https://work.weixin.qq.com/"},
        {"event_key": "https://work.weixin.qq.com/"},
    ),
    (
        "scancode-push",
        "scancode_push",
        "scancode_push",
        {"EventKey": "scan-1", "ScanCodeInfo": WORK_SCAN_INFO},
        {"event_key": "scan-1", "scan_type": "qrcode", "scan_result": WORK_SCAN_INFO["ScanResult"]},
    ),
    (
        "scancode-waitmsg",
        "scancode_waitmsg",
        "scancode_waitmsg",
        {"EventKey": "scan-2", "ScanCodeInfo": WORK_SCAN_INFO},
        {"scan_code_info": WORK_SCAN_INFO, "scan_result": WORK_SCAN_INFO["ScanResult"]},
    ),
    (
        "pic-sysphoto",
        "pic_sysphoto",
        "pic_sysphoto",
        {"EventKey": "photo", "SendPicsInfo": WORK_PICS},
        {
            "count": "2",
            "pic_list": stringify(WORK_PICS["PicList"]),
            "send_pics_info": stringify(WORK_PICS),
        },
    ),
    (
        "pic-photo-or-album",
        "pic_photo_or_album",
        "pic_photo_or_album",
        {"EventKey": "album", "SendPicsInfo": WORK_PICS},
        {"count": "2", "event_key": "album"},
    ),
    (
        "pic-weixin",
        "pic_weixin",
        "pic_weixin",
        {"EventKey": "wx", "SendPicsInfo": {"Count": 1, "PicList": [{"PicMd5Sum": "aa11"}]}},
        {"count": "1", "pic_list": [{"PicMd5Sum": "aa11"}]},
    ),
    (
        "location-select",
        "location_select",
        "location_select",
        {"EventKey": "where", "SendLocationInfo": WORK_SENT_LOCATION},
        {
            "location_x": "23.106",
            "location_y": "113.320",
            "label": WORK_SENT_LOCATION["Label"],
            "poiname": "艺苑",
            "send_location_info": WORK_SENT_LOCATION,
        },
    ),
    (
        "batch-job-result",
        "batch_job_result",
        "batch_job_result",
        {"BatchJob": {**WORK_BATCH_JOB, "ErrCode": 0, "ErrMsg": "ok"}},
        {
            "job_id": WORK_BATCH_JOB["JobId"],
            "job_type": "sync_user",
            "err_code": "0",
            "err_msg": "ok",
            "batch_job": {**WORK_BATCH_JOB, "ErrCode": "0", "ErrMsg": "ok"},
        },
    ),
    (
        "batch-job-result-failed",
        "batch_job_result",
        "batch_job_result",
        {
            "BatchJob": {
                "JobId": "job-2",
                "JobType": "replace_party",
                "ErrCode": 60001,
                "ErrMsg": "x",
            }
        },
        {"job_id": "job-2", "job_type": "replace_party", "err_code": "60001", "err_msg": "x"},
    ),
]


MESSAGE_CASES: dict[str, list[tuple[str, Fields, Fields]]] = {
    "mp": MP_MESSAGE_CASES,
    "miniprogram": MINI_MESSAGE_CASES,
    "work": WORK_MESSAGE_CASES,
}
EVENT_CASES: dict[str, list[tuple[str, str, str, Fields, Fields]]] = {
    "mp": MP_EVENT_CASES,
    "miniprogram": MINI_EVENT_CASES,
    "work": WORK_EVENT_CASES,
}


# == passive replies =====================================================================

ARTICLES = [
    Article(
        f"标题 {i}", f"描述 {i}", f"https://img.example.com/{i}.jpg", f"https://example.com/{i}"
    )
    for i in range(8)
]

MP_REPLY_CASES: list[tuple[str, Reply | str, Fields]] = [
    # (id, what the handler returns, the reply fields besides the envelope)
    ("text", TextReply("回复 ]]> 😀"), {"MsgType": "text", "Content": "回复 ]]> 😀"}),
    ("str", "just a string", {"MsgType": "text", "Content": "just a string"}),
    ("image", ImageReply("img-media"), {"MsgType": "image", "Image": {"MediaId": "img-media"}}),
    ("voice", VoiceReply("voc-media"), {"MsgType": "voice", "Voice": {"MediaId": "voc-media"}}),
    (
        "video",
        VideoReply("vid-media", title="标题", description="描述"),
        {
            "MsgType": "video",
            "Video": {"MediaId": "vid-media", "Title": "标题", "Description": "描述"},
        },
    ),
    (
        "video-bare",
        VideoReply("vid-media"),
        {"MsgType": "video", "Video": {"MediaId": "vid-media"}},
    ),
    (
        "music",
        MusicReply("Song", "A song", "http://m.example/a.mp3", "http://m.example/a-hq.mp3", "th"),
        {
            "MsgType": "music",
            "Music": {
                "Title": "Song",
                "Description": "A song",
                "MusicUrl": "http://m.example/a.mp3",
                "HQMusicUrl": "http://m.example/a-hq.mp3",
                "ThumbMediaId": "th",
            },
        },
    ),
    (
        "news-8",
        NewsReply(ARTICLES),
        {
            "MsgType": "news",
            "ArticleCount": "8",
            "Articles": [
                {"Title": a.title, "Description": a.description, "PicUrl": a.pic_url, "Url": a.url}
                for a in ARTICLES
            ],
        },
    ),
    (
        "transfer",
        TransferCustomerServiceReply(),
        {"MsgType": "transfer_customer_service"},
    ),
    (
        "transfer-kf-account",
        TransferCustomerServiceReply(kf_account="kf2001@gh_0123456789ab"),
        {
            "MsgType": "transfer_customer_service",
            "TransInfo": {"KfAccount": "kf2001@gh_0123456789ab"},
        },
    ),
]

WORK_REPLY_CASES: list[tuple[str, Reply | str, Fields]] = [
    ("text", TextReply("已收到 ]]> 😀"), {"MsgType": "text", "Content": "已收到 ]]> 😀"}),
    ("str", "a plain string", {"MsgType": "text", "Content": "a plain string"}),
    ("image", ImageReply("wecom-img"), {"MsgType": "image", "Image": {"MediaId": "wecom-img"}}),
    ("voice", VoiceReply("wecom-voc"), {"MsgType": "voice", "Voice": {"MediaId": "wecom-voc"}}),
    (
        "video",
        VideoReply("wecom-vid", title="标题", description="描述"),
        {
            "MsgType": "video",
            "Video": {"MediaId": "wecom-vid", "Title": "标题", "Description": "描述"},
        },
    ),
    (
        "news",
        NewsReply([Article("公告", "内容", "https://img.example/1.png", "https://example/1")]),
        {
            "MsgType": "news",
            "ArticleCount": "1",
            "Articles": [
                {
                    "Title": "公告",
                    "Description": "内容",
                    "PicUrl": "https://img.example/1.png",
                    "Url": "https://example/1",
                }
            ],
        },
    ),
]

# Only the platforms that answer passively: a mini program's replies go through the API.
REPLY_CASES: dict[str, list[tuple[str, Reply | str, Fields]]] = {
    "mp": MP_REPLY_CASES,
    "work": WORK_REPLY_CASES,
}
