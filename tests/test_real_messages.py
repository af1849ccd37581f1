"""Messages and events as WeChat's current documentation shows them, for every
platform, played through the callback in every mode the platform offers.

Each sample is written here after the examples of developers.weixin.qq.com
(Official Account, Mini Program) and developer.work.weixin.qq.com (WeCom), with
WeChat's own field names and nesting. Each one must verify, decrypt, parse,
reach ``@wechat.on(<event name>)`` and expose its documented fields as
snake_case attributes, with repeatable elements always lists (see
:mod:`flask_wechat.parsing`) — also when the sample has only one of them.
"""

from __future__ import annotations

import json
import time
import typing as t

import pytest
from flask import Flask

from flask_wechat import Message, WeChat
from flask_wechat.parsing import parse_json, parse_xml
from flask_wechat.sandbox import Sandbox
from flask_wechat.tasks import InlineRunner
from flask_wechat.testing import DEFAULT_USER, WeChatTestClient

from .conftest import AES_KEY

Fields = dict[str, t.Any]

WORK_TOKEN = "samples-wecom-token"
WORK_AES_KEY = "abcdefghijABCDEFGHIJ0123456789klmnopqrstuvw"
MINI_TOKEN = "samples-mini-token"


class Sample(t.NamedTuple):
    """One documented message: its platform, body, dispatch name and what it shows."""

    name: str
    kind: str  # "mp", "miniprogram" or "work"
    body: str  # XML, or JSON for Mini Program JSON push; {to}/{user}/{now} filled in
    dispatch: str
    #: attribute → expected value (snake_case names on the Message)
    fields: dict[str, t.Any]
    #: fields named like the message's own attributes, read with ``message.field()``
    own_fields: dict[str, t.Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated


def _xml(event: str, inner: str, msg_type: str = "event") -> str:
    return (
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        "<FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{now}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"{inner}</xml>"
    )


SAMPLES: list[Sample] = [
    # -- Official Account: cards (卡券事件推送) ---------------------------------------
    Sample("card_pass_check", "mp", _xml("card_pass_check",
        "<CardId><![CDATA[pFS7Fjg8kV1IdDz01r4SQwMkuCKc]]></CardId>"
        "<RefuseReason><![CDATA[非法代制]]></RefuseReason>"),
        "card_pass_check",
        {"card_id": "pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "refuse_reason": "非法代制"}),
    Sample("card_not_pass_check", "mp", _xml("card_not_pass_check",
        "<CardId><![CDATA[pFS7Fjg8kV1IdDz01r4SQwMkuCKc]]></CardId>"
        "<RefuseReason><![CDATA[logo模糊]]></RefuseReason>"),
        "card_not_pass_check", {"refuse_reason": "logo模糊"}),
    Sample("user_get_card", "mp", _xml("user_get_card",
        "<CardId><![CDATA[po2VNuCuRo-8sxxxxxxxxxxx]]></CardId><IsGiveByFriend>0</IsGiveByFriend>"
        "<UserCardCode><![CDATA[226009850808]]></UserCardCode>"
        "<FriendUserName><![CDATA[]]></FriendUserName><OuterId>0</OuterId>"
        "<OldUserCardCode><![CDATA[]]></OldUserCardCode><OuterStr><![CDATA[12b]]></OuterStr>"
        "<IsRestoreMemberCard>0</IsRestoreMemberCard><UnionId>o6_bmasdasdsad6_2sgVt7hMZOPfL</UnionId>"),
        "user_get_card",
        {"card_id": "po2VNuCuRo-8sxxxxxxxxxxx", "is_give_by_friend": "0",
         "user_card_code": "226009850808", "outer_str": "12b", "friend_user_name": "",
         "is_restore_member_card": "0", "union_id": "o6_bmasdasdsad6_2sgVt7hMZOPfL"}),
    Sample("user_del_card", "mp", _xml("user_del_card",
        "<CardId><![CDATA[pMBqrjr5oZ7Uxxxxxxxxxxxxxx]]></CardId>"
        "<UserCardCode><![CDATA[12312312]]></UserCardCode>"),
        "user_del_card", {"card_id": "pMBqrjr5oZ7Uxxxxxxxxxxxxxx", "user_card_code": "12312312"}),
    Sample("user_consume_card", "mp", _xml("user_consume_card",
        "<CardId><![CDATA[pMBqrjr5oZ7Uxxxxxxxxxxxxxx]]></CardId>"
        "<UserCardCode><![CDATA[12312312]]></UserCardCode>"
        "<ConsumeSource><![CDATA[FROM_API]]></ConsumeSource>"
        "<LocationName><![CDATA[]]></LocationName><StaffOpenId><![CDATA[oxxxx]]></StaffOpenId>"
        "<VerifyCode><![CDATA[]]></VerifyCode><RemarkAmount><![CDATA[]]></RemarkAmount>"
        "<OuterStr><![CDATA[xxxxx]]></OuterStr>"),
        "user_consume_card",
        {"consume_source": "FROM_API", "staff_open_id": "oxxxx", "outer_str": "xxxxx"}),
    # -- qualification and naming verification (微信认证事件推送) ---------------------
    Sample("qualification_verify_success", "mp", _xml("qualification_verify_success",
        "<ExpiredTime>1442401156</ExpiredTime>"),
        "qualification_verify_success", {"expired_time": "1442401156"}),
    Sample("naming_verify_fail", "mp", _xml("naming_verify_fail",
        "<FailTime>1442401122</FailTime><FailReason><![CDATA[by time]]></FailReason>"),
        "naming_verify_fail", {"fail_time": "1442401122", "fail_reason": "by time"}),
    # -- stores, WiFi, shake -------------------------------------------------------------
    Sample("poi_check_notify", "mp", _xml("poi_check_notify",
        "<UniqId><![CDATA[123adb]]></UniqId><PoiId><![CDATA[123123]]></PoiId>"
        "<Result><![CDATA[fail]]></Result><msg><![CDATA[xxxxxx]]></msg>"),
        "poi_check_notify",
        {"uniq_id": "123adb", "poi_id": "123123", "result": "fail", "msg": "xxxxxx"}),
    Sample("WifiConnected", "mp", _xml("WifiConnected",
        "<ConnectTime>0</ConnectTime><ExpireTime>0</ExpireTime>"
        "<VendorId><![CDATA[3001224419]]></VendorId><ShopId><![CDATA[PlaceId]]></ShopId>"
        "<DeviceNo><![CDATA[DeviceNo]]></DeviceNo>"),
        "wificonnected",
        {"connect_time": "0", "vendor_id": "3001224419", "shop_id": "PlaceId",
         "device_no": "DeviceNo"}),
    Sample("ShakearoundUserShake", "mp", _xml("ShakearoundUserShake",
        "<ChosenBeacon><Uuid><![CDATA[121212121212]]></Uuid><Major>1111</Major>"
        "<Minor>1111</Minor><Distance>0.057</Distance></ChosenBeacon>"
        "<AroundBeacons><AroundBeacon><Uuid><![CDATA[121212121212]]></Uuid><Major>2222</Major>"
        "<Minor>2222</Minor><Distance>166.816</Distance></AroundBeacon></AroundBeacons>"),
        "shakearoundusershake",
        {"chosen_beacon": {"Uuid": "121212121212", "Major": "1111", "Minor": "1111",
                           "Distance": "0.057"},
         "around_beacons": {"AroundBeacon": [{"Uuid": "121212121212", "Major": "2222",
                                              "Minor": "2222", "Distance": "166.816"}]}}),
    # -- subscription messages (订阅通知) -------------------------------------------------
    Sample("subscribe_msg_popup_event", "mp", _xml("subscribe_msg_popup_event",
        "<SubscribeMsgPopupEvent><List>"
        "<TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>"
        "<PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent>"),
        "subscribe_msg_popup_event",
        {"subscribe_msg_popup_event": {"List": [
            {"TemplateId": "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc",
             "SubscribeStatusString": "accept", "PopupScene": "2"}]}}),
    Sample("subscribe_msg_popup_event (two)", "mp", _xml("subscribe_msg_popup_event",
        "<SubscribeMsgPopupEvent>"
        "<List><TemplateId><![CDATA[VRR0]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString>"
        "<PopupScene>2</PopupScene></List>"
        "<List><TemplateId><![CDATA[9nLI]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>"
        "<PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent>"),
        "subscribe_msg_popup_event",
        {"list": [
            {"TemplateId": "VRR0", "SubscribeStatusString": "accept", "PopupScene": "2"},
            {"TemplateId": "9nLI", "SubscribeStatusString": "reject", "PopupScene": "2"}]}),
    Sample("subscribe_msg_change_event", "mp", _xml("subscribe_msg_change_event",
        "<SubscribeMsgChangeEvent><List>"
        "<TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>"
        "</List></SubscribeMsgChangeEvent>"),
        "subscribe_msg_change_event",
        {"list": [{"TemplateId": "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc",
                   "SubscribeStatusString": "reject"}]}),
    Sample("subscribe_msg_sent_event", "mp", _xml("subscribe_msg_sent_event",
        "<SubscribeMsgSentEvent><List>"
        "<TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId>"
        "<MsgID>1700827132819554304</MsgID><ErrorCode>0</ErrorCode>"
        "<ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent>"),
        "subscribe_msg_sent_event",
        {"list": [{"TemplateId": "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc",
                   "MsgID": "1700827132819554304", "ErrorCode": "0",
                   "ErrorStatus": "success"}]}),
    # -- publishing and mass sending ----------------------------------------------------
    Sample("PUBLISHJOBFINISH", "mp", _xml("PUBLISHJOBFINISH",
        "<PublishEventInfo><publish_id>2247503051</publish_id>"
        "<publish_status>0</publish_status>"
        "<article_id><![CDATA[b5O2OUs25HBxRceL7hfReg-U9QGeq9zQjiDvyWP4Hq4]]></article_id>"
        "<article_detail><count>1</count><item><idx>1</idx>"
        "<article_url><![CDATA[ARTICLE_URL]]></article_url></item></article_detail>"
        "</PublishEventInfo>"),
        "publishjobfinish",
        {"publish_id": "2247503051", "publish_status": "0",
         "article_id": "b5O2OUs25HBxRceL7hfReg-U9QGeq9zQjiDvyWP4Hq4",
         "article_detail": {"count": "1", "item": [{"idx": "1", "article_url": "ARTICLE_URL"}]}}),
    Sample("PUBLISHJOBFINISH (failed)", "mp", _xml("PUBLISHJOBFINISH",
        "<PublishEventInfo><publish_id>2247503051</publish_id>"
        "<publish_status>2</publish_status><fail_idx>1</fail_idx></PublishEventInfo>"),
        "publishjobfinish", {"publish_status": "2", "fail_idx": ["1"]}),
    Sample("MASSSENDJOBFINISH", "mp", _xml("MASSSENDJOBFINISH",
        "<MsgID>1000001625</MsgID><Status><![CDATA[err(30003)]]></Status>"
        "<TotalCount>0</TotalCount><FilterCount>0</FilterCount><SentCount>0</SentCount>"
        "<ErrorCount>0</ErrorCount><CopyrightCheckResult><Count>1</Count><ResultList>"
        "<item><ArticleIdx>1</ArticleIdx><UserDeclareState>0</UserDeclareState>"
        "<AuditState>2</AuditState><OriginalArticleUrl><![CDATA[Url_1]]></OriginalArticleUrl>"
        "<OriginalArticleType>1</OriginalArticleType><CanReprint>1</CanReprint>"
        "<NeedReplaceContent>1</NeedReplaceContent><NeedShowReprintSource>1</NeedShowReprintSource>"
        "</item></ResultList><CheckState>2</CheckState></CopyrightCheckResult>"),
        "masssendjobfinish",
        {"msg_id": "1000001625", "status": "err(30003)", "check_state": "2",
         "result_list": [{"ArticleIdx": "1", "UserDeclareState": "0", "AuditState": "2",
                          "OriginalArticleUrl": "Url_1", "OriginalArticleType": "1",
                          "CanReprint": "1", "NeedReplaceContent": "1",
                          "NeedShowReprintSource": "1"}]}),
    Sample("pic_sysphoto", "mp", _xml("pic_sysphoto",
        "<EventKey><![CDATA[6]]></EventKey><SendPicsInfo><Count>1</Count><PicList>"
        "<item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum></item>"
        "</PicList></SendPicsInfo>"),
        "pic_sysphoto",
        {"event_key": "6", "count": "1",
         "pic_list": [{"PicMd5Sum": "1b5f7c23b5bf75682a53e7b6d163e185"}]}),
    # -- invoices (电子发票) --------------------------------------------------------------
    Sample("user_authorize_invoice", "mp", _xml("user_authorize_invoice",
        "<SuccOrderId><![CDATA[1202933957956]]></SuccOrderId>"
        "<FailOrderId><![CDATA[]]></FailOrderId>"
        "<AuthorizeAppId><![CDATA[wxe8bd2e9a3cd52c2d]]></AuthorizeAppId>"
        "<Source><![CDATA[web]]></Source>"),
        "user_authorize_invoice",
        {"succ_order_id": "1202933957956", "fail_order_id": "",
         "authorize_app_id": "wxe8bd2e9a3cd52c2d", "source": DEFAULT_USER},
        {"source": "web"}),
    # -- Mini Program ------------------------------------------------------------------------
    Sample("wxa_media_check (xml)", "miniprogram", _xml("wxa_media_check",
        "<appid><![CDATA[wx8f16a5e5c8a7a6b1]]></appid>"
        "<trace_id><![CDATA[60ae120f-371d5872-7941a05b]]></trace_id><version>2</version>"
        "<detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode>"
        "<suggest><![CDATA[risky]]></suggest><label>20006</label><prob>90</prob></detail>"
        "<errcode>0</errcode><errmsg><![CDATA[ok]]></errmsg>"
        "<result><suggest><![CDATA[risky]]></suggest><label>20006</label></result>"),
        "wxa_media_check",
        {"trace_id": "60ae120f-371d5872-7941a05b", "version": "2",
         "detail": [{"strategy": "content_model", "errcode": "0", "suggest": "risky",
                     "label": "20006", "prob": "90"}],
         "result": {"suggest": "risky", "label": "20006"}}),
    Sample("wxa_media_check (json)", "miniprogram", json.dumps({
        "ToUserName": "{to}", "FromUserName": "{user}", "CreateTime": "{now}",
        "MsgType": "event", "Event": "wxa_media_check", "appid": "wx8f16a5e5c8a7a6b1",
        "trace_id": "60ae120f-371d5872-7941a05b", "version": 2,
        "detail": [{"strategy": "content_model", "errcode": 0, "suggest": "pass",
                    "label": 100, "prob": 90}],
        "errcode": 0, "errmsg": "ok", "result": {"suggest": "pass", "label": 100}}),
        "wxa_media_check",
        {"trace_id": "60ae120f-371d5872-7941a05b", "version": 2,
         "detail": [{"strategy": "content_model", "errcode": 0, "suggest": "pass",
                     "label": 100, "prob": 90}],
         "result": {"suggest": "pass", "label": 100}}),
    Sample("trade_manage_order_settlement", "miniprogram", _xml("trade_manage_order_settlement",
        "<transaction_id><![CDATA[4323400972202104305133344444]]></transaction_id>"
        "<merchant_id><![CDATA[1230000109]]></merchant_id>"
        "<merchant_trade_no><![CDATA[20210430123456]]></merchant_trade_no>"
        "<pay_time>1618473600</pay_time><shipped_time>1618473600</shipped_time>"
        "<estimated_settlement_time>1618473600</estimated_settlement_time>"
        "<settlement_time>1618473600</settlement_time>"),
        "trade_manage_order_settlement",
        {"transaction_id": "4323400972202104305133344444", "merchant_id": "1230000109",
         "merchant_trade_no": "20210430123456", "settlement_time": "1618473600"}),
    Sample("subscribe_msg_popup_event (mini json)", "miniprogram", json.dumps({
        "ToUserName": "{to}", "FromUserName": "{user}", "CreateTime": "{now}",
        "MsgType": "event", "Event": "subscribe_msg_popup_event",
        "List": [{"TemplateId": "hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vzyvQu7O68",
                  "SubscribeStatusString": "accept", "PopupScene": "0"}]}),
        "subscribe_msg_popup_event",
        {"list": [{"TemplateId": "hD-ixGOhYmUfjOnI8MCzQMPshzGVeux_2vzyvQu7O68",
                   "SubscribeStatusString": "accept", "PopupScene": "0"}]}),
    # -- WeCom: customer contact (客户联系) ---------------------------------------------------
    Sample("change_external_contact", "work", _xml("change_external_contact",
        "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
        "<UserID><![CDATA[zhangsan]]></UserID>"
        "<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACH71w]]></ExternalUserID>"
        "<State><![CDATA[teststate]]></State>"
        "<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>"),
        "change_external_contact",
        {"change_type": "add_external_contact", "user_id": "zhangsan",
         "external_user_id": "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w", "state": "teststate",
         "welcome_code": "WELCOMECODE"}),
    Sample("change_external_chat", "work", _xml("change_external_chat",
        "<ChatId><![CDATA[CHAT_ID]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>"
        "<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>1</JoinScene>"
        "<MemChangeCnt>1</MemChangeCnt>"
        "<MemChangeList><Item><![CDATA[Jack]]></Item></MemChangeList>"
        "<LastMemVer><![CDATA[9c3f97c2ada667dfb5f6d03308d963e1]]></LastMemVer>"
        "<CurMemVer><![CDATA[71217227bbd112ecfe3a49c482195cb4]]></CurMemVer>"),
        "change_external_chat",
        {"chat_id": "CHAT_ID", "change_type": "update", "update_detail": "add_member",
         "join_scene": "1", "mem_change_cnt": "1", "mem_change_list": {"Item": ["Jack"]},
         "cur_mem_ver": "71217227bbd112ecfe3a49c482195cb4"}),
    Sample("change_external_tag", "work", _xml("change_external_tag",
        "<Id><![CDATA[TAG_ID]]></Id><TagType><![CDATA[tag]]></TagType>"
        "<ChangeType><![CDATA[create]]></ChangeType>"),
        "change_external_tag", {"id": None, "tag_type": "tag", "change_type": "create"},
        {"id": "TAG_ID"}),
    # -- WeCom: cards and approvals ---------------------------------------------------------
    Sample("template_card_event", "work", _xml("template_card_event",
        "<EventKey><![CDATA[key111]]></EventKey><TaskId><![CDATA[taskid111]]></TaskId>"
        "<CardType><![CDATA[vote_interaction]]></CardType>"
        "<ResponseCode><![CDATA[ResponseCode]]></ResponseCode>"
        "<AgentID>1000002</AgentID><SelectedItems><SelectedItem>"
        "<QuestionKey><![CDATA[QuestionKey1]]></QuestionKey>"
        "<OptionIds><OptionId><![CDATA[OptionId1]]></OptionId></OptionIds>"
        "</SelectedItem></SelectedItems>"),
        "template_card_event",
        {"event_key": "key111", "task_id": "taskid111", "card_type": "vote_interaction",
         "response_code": "ResponseCode",
         "selected_items": {"SelectedItem": [
             {"QuestionKey": "QuestionKey1", "OptionIds": {"OptionId": ["OptionId1"]}}]}}),
    Sample("open_approval_change", "work", _xml("open_approval_change",
        "<AgentID>1000002</AgentID><ApprovalInfo><ThirdNo><![CDATA[201806010001]]></ThirdNo>"
        "<OpenSpName><![CDATA[付款]]></OpenSpName>"
        "<OpenTemplateId><![CDATA[1234567890]]></OpenTemplateId>"
        "<OpenSpStatus>1</OpenSpStatus><ApplyTime>1527837645</ApplyTime>"
        "<ApplyUserName><![CDATA[xiaoming]]></ApplyUserName>"
        "<ApplyUserId><![CDATA[1]]></ApplyUserId>"
        "<ApplyUserParty><![CDATA[产品部]]></ApplyUserParty>"
        "<ApplyUserImage><![CDATA[http://www.qq.com/xxx.png]]></ApplyUserImage>"
        "<ApprovalNodes><ApprovalNode><NodeStatus>1</NodeStatus><NodeAttr>1</NodeAttr>"
        "<NodeType>1</NodeType><Items><Item><ItemName><![CDATA[xiaohong]]></ItemName>"
        "<ItemUserId><![CDATA[2]]></ItemUserId>"
        "<ItemImage><![CDATA[http://www.qq.com/xxx.png]]></ItemImage>"
        "<ItemStatus>1</ItemStatus><ItemSpeech><![CDATA[]]></ItemSpeech>"
        "<ItemOpTime>0</ItemOpTime></Item></Items></ApprovalNode></ApprovalNodes>"
        "<NotifyNodes><NotifyNode><ItemName><![CDATA[xiaogang]]></ItemName>"
        "<ItemUserId><![CDATA[3]]></ItemUserId>"
        "<ItemImage><![CDATA[http://www.qq.com/xxx.png]]></ItemImage></NotifyNode>"
        "</NotifyNodes><approverstep>0</approverstep></ApprovalInfo>"),
        "open_approval_change",
        {"approval_info": {
            "ThirdNo": "201806010001", "OpenSpName": "付款", "OpenTemplateId": "1234567890",
            "OpenSpStatus": "1", "ApplyTime": "1527837645", "ApplyUserName": "xiaoming",
            "ApplyUserId": "1", "ApplyUserParty": "产品部",
            "ApplyUserImage": "http://www.qq.com/xxx.png",
            "ApprovalNodes": {"ApprovalNode": [{
                "NodeStatus": "1", "NodeAttr": "1", "NodeType": "1",
                "Items": {"Item": [{
                    "ItemName": "xiaohong", "ItemUserId": "2",
                    "ItemImage": "http://www.qq.com/xxx.png", "ItemStatus": "1",
                    "ItemSpeech": "", "ItemOpTime": "0"}]}}]},
            "NotifyNodes": {"NotifyNode": [{
                "ItemName": "xiaogang", "ItemUserId": "3",
                "ItemImage": "http://www.qq.com/xxx.png"}]},
            "approverstep": "0"},
         "third_no": "201806010001", "open_sp_status": "1"}),
    Sample("sys_approval_change", "work", _xml("sys_approval_change",
        "<AgentID>3010040</AgentID><ApprovalInfo><SpNo>202006280001</SpNo>"
        "<SpName><![CDATA[请假]]></SpName><SpStatus>1</SpStatus>"
        "<TemplateId><![CDATA[3TkZjxugodbqpEMk9fbY9V8QRhwzsH9a1ygmoz2Z]]></TemplateId>"
        "<ApplyTime>1593328430</ApplyTime>"
        "<Applyer><UserId><![CDATA[WangXiaoMing]]></UserId><Party><![CDATA[1]]></Party></Applyer>"
        "<SpRecord><SpStatus>1</SpStatus><ApproverAttr>1</ApproverAttr>"
        "<Details><Approver><UserId><![CDATA[LiuXiaoGang]]></UserId></Approver>"
        "<Speech><![CDATA[]]></Speech><SpStatus>1</SpStatus><SpTime>0</SpTime></Details>"
        "</SpRecord><Notifyer><UserId><![CDATA[ChenDaLin]]></UserId></Notifyer>"
        "<StatuChangeEvent>1</StatuChangeEvent></ApprovalInfo>"),
        "sys_approval_change",
        {"sp_no": "202006280001", "sp_name": "请假", "sp_status": "1",
         "applyer": {"UserId": "WangXiaoMing", "Party": "1"},
         "sp_record": [{"SpStatus": "1", "ApproverAttr": "1", "Details": [{
             "Approver": {"UserId": "LiuXiaoGang"}, "Speech": "", "SpStatus": "1",
             "SpTime": "0"}]}],
         "notifyer": [{"UserId": "ChenDaLin"}], "statu_change_event": "1"}),
    # -- WeCom: calendar and meeting rooms ------------------------------------------------
    Sample("add_calendar", "work", _xml("add_calendar",
        "<CalId><![CDATA[wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA]]></CalId>"),
        "add_calendar", {"cal_id": "wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA"}),
    Sample("modify_calendar", "work", _xml("modify_calendar",
        "<CalId><![CDATA[wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA]]></CalId>"),
        "modify_calendar", {"cal_id": "wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA"}),
    Sample("add_schedule", "work", _xml("add_schedule",
        "<CalId><![CDATA[wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA]]></CalId>"
        "<ScheduleId><![CDATA[17c7d2bd9f20d652840f72f59e796AAA]]></ScheduleId>"),
        "add_schedule", {"schedule_id": "17c7d2bd9f20d652840f72f59e796AAA"}),
    Sample("book_meeting_room", "work", _xml("book_meeting_room",
        "<MeetingRoomId>1</MeetingRoomId><BookingId><![CDATA[bkebsada6e027c123cbafAAA]]></BookingId>"),
        "book_meeting_room", {"meeting_room_id": "1", "booking_id": "bkebsada6e027c123cbafAAA"}),
    Sample("cancel_meeting_room", "work", _xml("cancel_meeting_room",
        "<MeetingRoomId>1</MeetingRoomId><BookingId><![CDATA[bkebsada6e027c123cbafAAA]]></BookingId>"),
        "cancel_meeting_room", {"meeting_room_id": "1"}),
    # -- WeCom: 微信客服 (no FromUserName) ------------------------------------------------
    Sample("kf_msg_or_event", "work",
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><CreateTime>{now}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        "<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
        "<OpenKfId><![CDATA[wkxxxxxxxxxxxxxxxxxx]]></OpenKfId></xml>",
        "kf_msg_or_event",
        {"source": None, "token": "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
         "open_kf_id": "wkxxxxxxxxxxxxxxxxxx"}),
]  # fmt: skip


def _app(kind: str, mode: str, fmt: str, sandbox: Sandbox) -> tuple[Flask, WeChat]:
    app = Flask(f"samples_{kind}")
    app.config.update(sandbox.flask_config(kind))
    app.config.update(TESTING=True)
    if kind == "work":
        app.config.update(
            WECHAT_TOKEN=WORK_TOKEN, WECHAT_ENCODING_AES_KEY=WORK_AES_KEY, WECHAT_AGENT_ID=1000002
        )
    else:
        app.config.update(
            WECHAT_TOKEN=MINI_TOKEN,
            WECHAT_ENCODING_AES_KEY=None if mode == "plain" else AES_KEY,
        )
    if kind == "miniprogram":
        app.config["WECHAT_FORMAT"] = fmt
    # Late work (a 微信客服 event's pull) runs within the test, not after it.
    return app, WeChat(app, task_runner=InlineRunner(attempts=1))


def _cases() -> list[t.Any]:
    cases = []
    for sample in SAMPLES:
        is_json = sample.body.startswith("{")
        fmt = "json" if is_json else "xml"
        modes = ("safe",) if sample.kind == "work" else ("plain", "compatible", "safe")
        for mode in modes:
            cases.append(pytest.param(sample, mode, fmt, id=f"{sample.name}-{fmt}-{mode}"))
    return cases


@pytest.mark.parametrize(("sample", "mode", "fmt"), _cases())
def test_documented_samples_dispatch_and_expose_their_fields(
    sandbox: Sandbox, sample: Sample, mode: str, fmt: str
) -> None:
    app, wechat = _app(sample.kind, mode, fmt, sandbox)
    client = WeChatTestClient(app, mode=mode)
    seen: list[Message] = []

    @wechat.on(sample.dispatch)
    def record(message: Message) -> None:
        seen.append(message)

    filled = (
        sample.body.replace("{to}", client.original_id)
        .replace("{user}", DEFAULT_USER)
        .replace("{now}", str(int(time.time())))
    )
    raw = filled.encode("utf-8")
    fields = parse_json(raw) if fmt == "json" else parse_xml(raw)
    body, query = client.encode(fields, body=raw)
    response = client.post(body, query)

    assert response.status_code == 200, response.get_data(as_text=True)
    [message] = seen
    assert message.dispatch_name == sample.dispatch
    for name, expected in sample.fields.items():
        assert getattr(message, name) == expected, name
    for name, expected in sample.own_fields.items():
        assert message.field(name) == expected, name
    # A retry of the same sample is recognised and not handled again.
    assert client.post(body, query).status_code == 200
    assert len(seen) == 1


def test_every_sample_family_is_covered() -> None:
    kinds = {sample.kind for sample in SAMPLES}
    assert kinds == {"mp", "miniprogram", "work"}
    assert len({sample.dispatch for sample in SAMPLES}) >= 30
