"""blinker signals sent by flask_wechat.

The sender is always the Flask app; payloads are keyword arguments (``message=``
and ``account=`` unless a signal says otherwise). Connect for the life of the app
with ``signal.connect(receiver, app)``, or for a block with
``signal.connected_to(receiver, app)``.

Besides the signals below there is one signal per message and event type
(``signals.text``, ``signals.click``, ``signals.location_event``, ...) and
:func:`signal_for` returns the signal of any type name, including ones WeChat
adds later. ``signal_for(name, account="shop")`` is the same signal sent only
for the account named ``shop``.
"""

from __future__ import annotations

import typing as t
import weakref

from blinker import Namespace, Signal

if t.TYPE_CHECKING:
    from flask import Flask

_signals = Namespace()
_type_signals = Namespace()
_account_signals = Namespace()

#: Every verified inbound message or event, before its handler runs.
message_received = _signals.signal("message-received")

#: A reply was answered or delivered: ``message=``, ``reply=`` (the reply object).
reply_sent = _signals.signal("reply-sent")

#: A callback request was refused: ``reason=`` (the short text answered), ``account=``.
request_rejected = _signals.signal("request-rejected")

#: A handler raised: ``message=``, ``exception=``, ``account=``. The callback still
#: answered ``success``.
handler_failed = _signals.signal("handler-failed")

#: A retry of a message already handled (or being handled) arrived: ``message=``.
duplicate_ignored = _signals.signal("duplicate-ignored")

#: Late work (a reply sent as a message, relay traffic) failed for good after its
#: retries: ``task=`` (a :class:`flask_wechat.tasks.Task`), ``exception=``, ``account=``.
delivery_failed = _signals.signal("delivery-failed")

#: An agent's message arrived from the customer-service platform relay:
#: ``message=`` (the platform's JSON, signature checked), ``account=``.
relay_message_received = _signals.signal("relay-message-received")

#: The relay platform ended a session (``msgType`` ``finish``): ``open_id=``,
#: ``message=``, ``account=``.
relay_session_finished = _signals.signal("relay-session-finished")

#: A user message was delivered to the relay platform: ``message=``, ``account=``.
relay_forwarded = _signals.signal("relay-forwarded")

#: A user signed in through OAuth: ``user=`` (a :class:`flask_wechat.oauth.WeChatUser`),
#: ``account=``. A receiver may return a Flask Response, which is sent instead of
#: the redirect to the page the user came from.
oauth_authorized = _signals.signal("oauth-authorized")

#: An OAuth sign-in failed: ``reason=`` (the short text answered), ``error=`` (the
#: exception, if any), ``account=``.
oauth_error = _signals.signal("oauth-error")

#: The shared store did not answer while claiming a message: the handler runs
#: anyway (a retry landing elsewhere may run it again): ``message=``, ``error=``,
#: ``account=``.
possible_duplicate = _signals.signal("possible-duplicate")

#: A new access_token was fetched from WeChat: ``account=``.
access_token_refreshed = _signals.signal("access-token-refreshed")

# -- the third-party platform (开放平台) --------------------------------------------

#: An account authorized the site's third-party platform: ``app_id=`` (its AppID),
#: ``authorizer=`` (the :class:`~flask_wechat.component.Authorizer`: AppID and
#: permissions, no token).
authorizer_authorized = _signals.signal("authorizer-authorized")

#: An authorizer changed what it granted: ``app_id=``, ``authorizer=``.
authorizer_updated = _signals.signal("authorizer-updated")

#: An authorizer revoked the authorization: ``app_id=``. Its record is gone.
authorizer_unauthorized = _signals.signal("authorizer-unauthorized")

#: WeChat pushed a new ``component_verify_ticket`` (no payload: the ticket is a secret).
component_ticket_received = _signals.signal("component-ticket-received")

#: A WeChat API call (one HTTP request) ended: ``account=``, ``path=`` (the API
#: path, without host or query string), ``errcode=`` (``0`` on success, WeChat's
#: errcode, or ``None`` when no answer came), ``rid=`` (WeChat's request id, or
#: ``None``), ``duration=`` (seconds), ``attempt=`` (1 for the first try).
api_called = _signals.signal("api-called")

#: A callback request was answered: ``account=``, ``name=`` (the message's
#: dispatch name, ``None`` when the request was rejected), ``outcome=``
#: (``"reply"``, ``"success"``, ``"late"``, ``"duplicate"`` or ``"rejected"``),
#: ``duration=`` (seconds).
callback_handled = _signals.signal("callback-handled")


def signal_for(name: str, account: str | None = None) -> Signal:
    """The signal sent for messages or events of type ``name`` (case-insensitive).

    With ``account``, the signal sent only for that account's messages.
    """
    name = name.lower()
    if account is None:
        return _type_signals.signal(name)
    return _account_signals.signal(f"{account}\x1f{name}")


def send_type_signals(sender: object, name: str, account: str, **payload: t.Any) -> None:
    """Send the type signal of ``name``, and its per-account one, when anyone listens.

    Signals are looked up, never created here: a name nobody connected to (an
    attacker can send any ``Event``) leaves nothing behind.
    """
    signal = _type_signals.get(name)
    if signal is not None and signal.receivers:
        signal.send(sender, account=account, **payload)
    if not _account_signals:  # the usual case: no per-account signal at all
        return
    scoped = _account_signals.get(f"{account}\x1f{name}")
    if scoped is not None and scoped.receivers:
        scoped.send(sender, account=account, **payload)


text = signal_for("text")
image = signal_for("image")
voice = signal_for("voice")
video = signal_for("video")
shortvideo = signal_for("shortvideo")
location = signal_for("location")
link = signal_for("link")
file = signal_for("file")
miniprogrampage = signal_for("miniprogrampage")

subscribe = signal_for("subscribe")
unsubscribe = signal_for("unsubscribe")
scan = signal_for("scan")
location_event = signal_for("location_event")
click = signal_for("click")
view = signal_for("view")
view_miniprogram = signal_for("view_miniprogram")
scancode_push = signal_for("scancode_push")
scancode_waitmsg = signal_for("scancode_waitmsg")
pic_sysphoto = signal_for("pic_sysphoto")
pic_photo_or_album = signal_for("pic_photo_or_album")
pic_weixin = signal_for("pic_weixin")
location_select = signal_for("location_select")
templatesendjobfinish = signal_for("templatesendjobfinish")
masssendjobfinish = signal_for("masssendjobfinish")
user_enter_tempsession = signal_for("user_enter_tempsession")
enter_agent = signal_for("enter_agent")
change_contact = signal_for("change_contact")
batch_job_result = signal_for("batch_job_result")
kf_create_session = signal_for("kf_create_session")
kf_close_session = signal_for("kf_close_session")
kf_switch_session = signal_for("kf_switch_session")


def token_refresh_reporter(app: weakref.ref[Flask], account: str) -> t.Callable[[], None]:
    """What a client calls when it fetched a new access_token: sends
    :data:`access_token_refreshed` for ``account`` (``app`` is held weakly)."""

    def refreshed() -> None:
        sender = app()
        if sender is not None and access_token_refreshed.receivers:
            access_token_refreshed.send(sender, account=account)

    return refreshed
