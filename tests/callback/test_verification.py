"""WeChat's GET URL verification on every platform: the echostr answered (WeCom's
decrypted), and the refusals, which never echo what they were sent."""

from __future__ import annotations

import time

import pytest

from flask_wechat.crypto import MessageCrypto, sign
from flask_wechat.testing import Verification

from .conftest import AES_KEY, ENCRYPTED_ECHOSTR, TOKEN, Platform


def verification_query(
    platform: Platform,
    echostr: str,
    *,
    timestamp: int | None = None,
    crypto: MessageCrypto | None = None,
) -> dict[str, str]:
    """The query WeChat sends to verify the URL, as built for the platform."""
    ts = int(time.time()) if timestamp is None else timestamp
    return dict(
        platform.client.envelopes.build_verification(
            Verification(
                echostr, platform.account, crypto or platform.client.crypto, str(ts), "verify-nonce"
            )
        )
    )


@pytest.mark.parametrize("echostr", ["7308961539282573212", "abc-XYZ_09", "a b+c/d=e"])
def test_url_verification_answers_echostr(platform: Platform, echostr: str) -> None:
    response = platform.client.verify_url(echostr)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == echostr
    assert response.mimetype == "text/plain"
    assert platform.rejected.calls == []


@pytest.mark.parametrize("tamper", ["wrong-token", "missing", "zeros"])
def test_url_verification_refuses_a_bad_signature(platform: Platform, tamper: str) -> None:
    query = verification_query(platform, "secret-echo")
    ts, nonce, echostr = query["timestamp"], query["nonce"], query["echostr"]
    for name in ("signature", "msg_signature"):
        if name not in query:
            continue
        if tamper == "missing":
            del query[name]
        elif tamper == "zeros":
            query[name] = "0" * 40
        elif name == "signature":
            query[name] = sign("wrong token", ts, nonce)
        else:
            query[name] = sign("wrong token", ts, nonce, echostr)
    response = platform.app.test_client().get(platform.client.url, query_string=query)
    reason = platform.assert_rejected(response, 403, "signature")
    assert "secret-echo" not in reason
    assert echostr not in reason


@pytest.mark.parametrize("platform", ENCRYPTED_ECHOSTR, indirect=True)
@pytest.mark.parametrize("tamper", ["other-echostr", "without-echostr"])
def test_url_verification_refuses_a_msg_signature_over_other_parts(
    platform: Platform, tamper: str
) -> None:
    query = verification_query(platform, "do-not-leak")
    ts, nonce = query["timestamp"], query["nonce"]
    crypto = platform.client.crypto
    assert crypto is not None
    if tamper == "other-echostr":
        query["msg_signature"] = sign(TOKEN, ts, nonce, crypto.encrypt_raw("do-not-leak"))
    else:  # an Official Account's signature, not WeCom's
        query["msg_signature"] = sign(TOKEN, ts, nonce)
    response = platform.app.test_client().get(platform.client.url, query_string=query)
    reason = platform.assert_rejected(response, 403, "signature")
    assert "do-not-leak" not in reason


@pytest.mark.parametrize("offset", [-301, -3600, 3600], ids=["301s-old", "an-hour-old", "future"])
def test_url_verification_refuses_a_stale_timestamp(platform: Platform, offset: int) -> None:
    query = verification_query(platform, "too-old", timestamp=int(time.time()) + offset)
    response = platform.app.test_client().get(platform.client.url, query_string=query)
    reason = platform.assert_rejected(response, 403, "timestamp")
    assert "too-old" not in reason


@pytest.mark.parametrize("platform", ENCRYPTED_ECHOSTR, indirect=True)
@pytest.mark.parametrize("echostr", [None, ""], ids=["absent", "empty"])
def test_url_verification_without_echostr_is_refused(
    platform: Platform, echostr: str | None
) -> None:
    ts, nonce = str(int(time.time())), "nonce"
    query = {"msg_signature": sign(TOKEN, ts, nonce, ""), "timestamp": ts, "nonce": nonce}
    if echostr is not None:
        query["echostr"] = echostr
    response = platform.app.test_client().get(platform.client.url, query_string=query)
    platform.assert_rejected(response, None, "echostr")


@pytest.mark.parametrize("platform", ENCRYPTED_ECHOSTR, indirect=True)
def test_url_verification_never_echoes_the_ciphertext(platform: Platform) -> None:
    query = verification_query(platform, "the-plaintext")
    response = platform.app.test_client().get(platform.client.url, query_string=query)
    assert response.get_data(as_text=True) == "the-plaintext"
    assert query["echostr"] not in response.get_data(as_text=True)


@pytest.mark.parametrize("platform", ENCRYPTED_ECHOSTR, indirect=True)
def test_url_verification_with_an_echostr_for_another_app_is_refused(platform: Platform) -> None:
    other = MessageCrypto(TOKEN, AES_KEY, "wwANOTHERCORP00001")
    query = verification_query(platform, "secret-echo", crypto=other)
    response = platform.app.test_client().get(platform.client.url, query_string=query)
    reason = platform.assert_rejected(response, 403, "AppID", "CorpID")
    assert "secret-echo" not in reason
