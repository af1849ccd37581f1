"""WeChat's published vectors, played byte for byte."""

from __future__ import annotations

import json

import pytest

from flask_wechat.crypto import (
    MessageCrypto,
    Sealed,
)
from flask_wechat.errors import (
    InvalidAppId,
)
from flask_wechat.parsing import parse_xml

from .conftest import (
    V1_ECHOSTR,
    V1_NONCE,
    V1_SIGNATURE,
    V1_TIMESTAMP,
    V2_BODY,
    V2_ENCRYPT,
    V2_NONCE,
    V2_SIGNATURE,
    V2_TIMESTAMP,
    WECOM2_AES_KEY,
    WECOM_AES_KEY,
    WECOM_CORP_ID,
    WECOM_TOKEN,
    _fixed_prefix,
)

V1_PLAIN = "1616140317555161061"

V2_PLAIN = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)

# Second WeCom key set (vector 2d).
WECOM2_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
WECOM2_CORP_ID = "ww1436e0e65a779aee"
V2D_ECHO_SIGNATURE = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
V2D_ECHO_TIMESTAMP = "1476416373"
V2D_ECHO_NONCE = "47744683"
V2D_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
V2D_ECHO_PLAIN = "1288432023552776189"
V2D_SIGNATURE = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
V2D_TIMESTAMP = "1476422779"
V2D_NONCE = "1597212914"
V2D_BODY = (
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n"
    "<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AI"
    "jeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sq"
    "fde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7M"
    "hmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwa"
    "WbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
    "<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)
V2D_PLAIN = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)

# Official Account Python sample (vector 3a): a compatible-mode body.
MP_TOKEN = "spamtest"
MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_APP_ID = "wx2c2769f8efd9abc2"
V3A_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
V3A_TIMESTAMP = "1409735669"
V3A_NONCE = "1320562132"
V3A_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    "<Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1Q"
    "LvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXw"
    "on8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
    "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4u"
    "Bl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>"
)
V3A_PLAIN = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)

# Official Account Java test (vector 3b): fixed random prefix, byte-exact ciphertexts.
JAVA_TOKEN = "pamtest"
JAVA_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JAVA_APP_ID = "wxb11529c136998cb6"
JAVA_TIMESTAMP = "1409304348"
JAVA_NONCE = "xxxxxx"
JAVA_PLAIN_1 = "我是中文abcd123"
JAVA_CIPHER_1 = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)
JAVA_SIGNATURE_1 = "82c962d39941aa48552f90ef55aa323dc620cc10"
JAVA_PLAIN_2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName>"
    "<FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime>"
    "<MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s"
    "79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title>"
    "<Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
JAVA_CIPHER_2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEc"
    "W7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAl"
    "HF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQ"
    "NSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkw"
    "WTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6"
    "YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP"
    "5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)
JAVA_SIGNATURE_2 = "ea88b765074e41eb8c7a75b449db34fa2fd560d5"


def test_vector_wecom_url_verification_echostr() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    assert wecom.decrypt_echostr(V1_SIGNATURE, V1_TIMESTAMP, V1_NONCE, V1_ECHOSTR) == V1_PLAIN


def test_vector_wecom_post_message_decrypts_byte_for_byte() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    plain = wecom.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE)
    assert plain == V2_PLAIN
    fields = parse_xml(plain.encode())
    assert fields["Content"] == "hello"
    assert fields["AgentID"] == "218"


def test_vector_wecom_ciphertext_in_a_json_envelope() -> None:
    wecom = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)
    body = json.dumps({"ToUserName": WECOM_CORP_ID, "Encrypt": V2_ENCRYPT, "AgentID": 218})
    assert wecom.decrypt(body, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE) == V2_PLAIN


def test_vector_wecom_second_key_set() -> None:
    wecom = MessageCrypto(WECOM2_TOKEN, WECOM2_AES_KEY, WECOM2_CORP_ID)
    echoed = wecom.decrypt_echostr(
        V2D_ECHO_SIGNATURE, V2D_ECHO_TIMESTAMP, V2D_ECHO_NONCE, V2D_ECHOSTR
    )
    assert echoed == V2D_ECHO_PLAIN
    plain = wecom.decrypt(V2D_BODY, V2D_SIGNATURE, V2D_TIMESTAMP, V2D_NONCE)
    assert plain == V2D_PLAIN
    assert parse_xml(plain.encode())["Content"] == "你好"


def test_vector_official_account_compatible_mode() -> None:
    mp = MessageCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    assert mp.decrypt(V3A_BODY, V3A_SIGNATURE, V3A_TIMESTAMP, V3A_NONCE) == V3A_PLAIN


@pytest.mark.parametrize(
    ("plaintext", "ciphertext", "signature"),
    [
        (JAVA_PLAIN_1, JAVA_CIPHER_1, JAVA_SIGNATURE_1),
        (JAVA_PLAIN_2, JAVA_CIPHER_2, JAVA_SIGNATURE_2),
    ],
    ids=["chinese", "video-reply"],
)
def test_vector_official_account_java_encrypts_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, plaintext: str, ciphertext: str, signature: str
) -> None:
    monkeypatch.setattr("flask_wechat.crypto.random_bytes", _fixed_prefix)
    mp = MessageCrypto(JAVA_TOKEN, JAVA_AES_KEY, JAVA_APP_ID)
    assert mp.encrypt_raw(plaintext) == ciphertext
    sealed = mp.seal(plaintext, timestamp=JAVA_TIMESTAMP, nonce=JAVA_NONCE)
    assert sealed == Sealed(ciphertext, signature, JAVA_TIMESTAMP, JAVA_NONCE)
    assert mp.decrypt(sealed.to_xml(), signature, JAVA_TIMESTAMP, JAVA_NONCE) == plaintext


def test_vector_with_wrong_receive_id_is_invalid_app_id() -> None:
    # the right token and key, but the CorpID one character off
    wrong = MessageCrypto(WECOM_TOKEN, WECOM_AES_KEY, "wx5823bf96d3bd56c8")
    with pytest.raises(InvalidAppId):
        wrong.decrypt_echostr(V1_SIGNATURE, V1_TIMESTAMP, V1_NONCE, V1_ECHOSTR)
    with pytest.raises(InvalidAppId):
        wrong.decrypt(V2_BODY, V2_SIGNATURE, V2_TIMESTAMP, V2_NONCE)
    # the second key set's message, checked against the first CorpID
    other = MessageCrypto(WECOM2_TOKEN, WECOM2_AES_KEY, WECOM_CORP_ID)
    with pytest.raises(InvalidAppId):
        other.decrypt(V2D_BODY, V2D_SIGNATURE, V2D_TIMESTAMP, V2D_NONCE)


# -- negative cases -----------------------------------------------------------------


def test_vectors_stay_byte_exact_one_after_another_on_one_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # encryption goes on one CBC chain per instance; every message must still be
    # exactly what a fresh WXBizMsgCrypt gives, whatever was encrypted before it
    monkeypatch.setattr("flask_wechat.crypto.random_bytes", _fixed_prefix)
    mp = MessageCrypto(JAVA_TOKEN, JAVA_AES_KEY, JAVA_APP_ID)
    for _ in range(3):
        assert mp.encrypt_raw(JAVA_PLAIN_2) == JAVA_CIPHER_2
        assert mp.encrypt_raw(JAVA_PLAIN_1) == JAVA_CIPHER_1
        mp.encrypt_raw("x" * 77)  # any length in between
