"""The customer-service platform relay, speaking the 7moor (七陌) protocol.

Seed ``7moor-customer-service-relay.txt``. Two directions:

* **user → platform.** A user message no handler answered (or one a handler hands
  to ``wechat.relay_forward``) becomes a :data:`RELAY_TO_PLATFORM` task, which POSTs JSON
  to the account's ``WECHAT_RELAY_URL``: ``app_id``, ``open_id``, ``nick_name``,
  ``msgType``, ``content``, ``mediaUrl`` (images, voice, video), ``timestamp``,
  ``nonce`` and ``msg_signature``. Voice and video are offered through a media
  proxy on this app, so the access_token never leaves it.
* **platform → user.** The platform POSTs an agent's message (same signature
  scheme) to ``WECHAT_RELAY_CALLBACK_URL`` (the callback in
  :mod:`flask_wechat.blueprints.relay`); after checking it, a :data:`RELAY_TO_USER`
  task sends it to the user through the customer-service API (media are fetched
  from the platform and uploaded as temporary media first).

The signature is the sha1 of token, timestamp, nonce and open_id, sorted and
concatenated, as for WeChat's own callbacks (:func:`flask_wechat.crypto.sign`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import mimetypes
import posixpath
import socket
import time
import typing as t
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import certifi
import requests
import urllib3
from flask import url_for
from werkzeug.routing import BuildError

from . import signals
from .crypto import check_signature, make_nonce, sign
from .edge import check_timestamp
from .errors import (
    InvalidSignature,
    MalformedBody,
    PermanentFailure,
    RelayError,
    TransportError,
)
from .parsing import parse_json
from .replies import ImageReply, TextReply, VideoReply, VoiceReply
from .tasks import Task, task

if t.TYPE_CHECKING:
    from flask import Flask

    from .config import Account
    from .messages import Message
    from .replies import Reply
    from .state import WeChatState

logger = logging.getLogger("flask_wechat")

#: Seconds to wait for the platform (connecting, then each read).
RELAY_TIMEOUT = 5.0

#: The largest media file an agent may send (WeChat's own limit for images and video).
MAX_MEDIA_SIZE = 10 * 1024 * 1024

#: Timestamps above this are milliseconds (10**11 seconds is the year 5138).
_MILLISECONDS_FROM = 10**11

#: The task that POSTs a user message to the relay platform: payload = the
#: platform's JSON (:func:`forward_payload`), signed afresh on every attempt.
RELAY_TO_PLATFORM = "relay_to_platform"
#: The task that sends an agent's message to the user: payload ``open_id``,
#: ``msgType``, ``content``.
RELAY_TO_USER = "relay_to_user"

_MEDIA_TYPES = ("image", "voice", "video")
_AGENT_TYPES = ("text", "finish", *_MEDIA_TYPES)
_CHUNK = 64 * 1024
_MAX_MEDIA_ID = 256

#: What a media file is called when its URL and content type say nothing useful.
_DEFAULT_FILENAMES = {"image": "image.jpg", "voice": "voice.amr", "video": "video.mp4"}


# -- signatures -----------------------------------------------------------------


def relay_signature(token: str, timestamp: str, nonce: str, open_id: str) -> str:
    """The 7moor ``msg_signature``: sha1 of the four values sorted and concatenated."""
    return sign(token, timestamp, nonce, open_id)


def media_signature(account: Account, media_id: str) -> str:
    """The ``sig`` of a media proxy URL: HMAC-SHA256 keyed with the relay token."""
    key = (account.relay_token or "").encode()
    return hmac.new(key, f"{account.name}:{media_id}".encode(), hashlib.sha256).hexdigest()


def media_url(account: Account, media_id: str, blueprint: str = "wechat") -> str | None:
    """The absolute URL of the media proxy for ``media_id``, or ``None`` if Flask
    cannot build one here (no request context and no ``SERVER_NAME``)."""
    try:
        return url_for(
            f"{blueprint}.relay_media_{account.name}",
            media_id=media_id,
            sig=media_signature(account, media_id),
            _external=True,
        )
    except (RuntimeError, BuildError):
        return None


# -- user → platform ---------------------------------------------------------------


def _text_of(message: Message) -> str:
    """A readable line for a message type the platform has no type for."""
    name = message.dispatch_name
    if name == "location":
        label = f"{message.label} " if message.label else ""
        return f"[位置] {label}({message.location_x}, {message.location_y})"
    if name == "link":
        parts = (str(p) for p in (message.title, message.url) if p)
        return "[链接] " + " ".join(parts)
    if name in ("file", "miniprogrampage") and message.title:
        return f"[{name}] {message.title}"
    return f"[{name}]"


def forward_payload(
    account: Account, message: Message, blueprint: str = "wechat"
) -> dict[str, t.Any] | None:
    """The JSON the platform receives for ``message`` (without timestamp, nonce and
    signature, which are fresh for every attempt); ``None`` for events."""
    if message.is_event:
        return None
    payload: dict[str, t.Any] = {
        "app_id": account.app_id or "",
        "open_id": message.source,
        # The seed allows the open_id when the nickname is unknown; looking it up
        # would cost an API call per message (and WeChat no longer returns it).
        "nick_name": message.source,
    }
    name = message.dispatch_name
    media: str | None = None
    if name == "text":
        payload["msgType"] = "text"
        payload["content"] = str(message.content or "")
    elif name == "image":
        # The PicUrl is WeChat's own public URL of the picture.
        payload["msgType"] = "image"
        payload["content"] = ""
        if message.pic_url:
            payload["mediaUrl"] = str(message.pic_url)
    elif name in ("voice", "video", "shortvideo"):
        # The seed spells the video type "vodeo" in one table and "video" in the
        # other; "video" is what the platform's own messages use.
        payload["msgType"] = "voice" if name == "voice" else "video"
        payload["content"] = str(message.recognition or "") if name == "voice" else ""
        media = str(message.media_id or "")
    else:
        payload["msgType"] = "text"
        payload["content"] = _text_of(message)
    if media:
        # The URL is built from the current request (or SERVER_NAME). A message
        # forwarded where neither exists (a late handler finishing on its own
        # thread, a task queue worker) goes without its mediaUrl rather than not
        # at all; set SERVER_NAME to have it there too.
        url = media_url(account, media, blueprint)
        if url is not None:
            payload["mediaUrl"] = url
        else:
            logger.warning(
                "no request context to build the media URL of a %s message for account %r;"
                " forwarding it without mediaUrl (set SERVER_NAME)",
                name,
                account.name,
            )
    return payload


class Relay:
    """Hands user messages to the customer-service platform relay, as tasks."""

    def forward(self, app: Flask, message: Message) -> None:
        """Forward ``message`` (once) to its account's relay platform.

        Call it with a request context (or ``SERVER_NAME`` set), so that voice and
        video get an absolute media proxy URL. Events are never forwarded.
        """
        state: WeChatState = app.extensions["wechat"]
        account = state.account(message.account)
        if not account.relay_url:
            raise RuntimeError(f"account {account.name!r} has no WECHAT_RELAY_URL")
        payload = forward_payload(account, message, state.blueprint_name)
        if payload is None:
            raise ValueError("only user messages can be forwarded to the relay, not events")
        message.relayed = True
        state.task_runner.submit(app, Task(RELAY_TO_PLATFORM, account.name, payload))


def signed_body(token: str, payload: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``payload`` with a fresh ``timestamp`` (milliseconds), ``nonce`` and
    ``msg_signature``.

    The seed's Node.js and Java examples sign ``Date.getTime()``, milliseconds;
    its PHP example sends the message's ``CreateTime``, seconds. The two contradict
    each other; milliseconds are what the platform's own example message carries.
    """
    timestamp = str(int(time.time() * 1000))
    nonce = make_nonce(16)
    body = dict(payload)
    body["timestamp"] = int(timestamp)
    body["nonce"] = nonce
    body["msg_signature"] = relay_signature(token, timestamp, nonce, str(payload["open_id"]))
    return body


def _raise_for_status(status: int, what: str) -> None:
    if 200 <= status < 300:
        return
    if 400 <= status < 500 and status not in (408, 425, 429):
        # The platform refused this very request (signature, format): retrying
        # the same thing cannot help.
        raise PermanentFailure(f"{what} answered HTTP {status}")
    raise RelayError(status, what)


def _post(url: str, data: bytes) -> requests.Response:
    failure: str | None = None
    try:
        return requests.post(
            url,
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=RELAY_TIMEOUT,
        )
    except requests.RequestException as exc:
        failure, arrived = type(exc).__name__, isinstance(exc, requests.ReadTimeout)
    # The relay's URL is the site's own setting, but keep messages URL-free (and
    # raise outside the ``except``: not even ``__context__`` keeps the original).
    raise TransportError(f"the relay platform did not answer ({failure})", may_have_arrived=arrived)


@task(RELAY_TO_PLATFORM)
def forward_task(app: Flask, state: WeChatState, job: Task) -> None:
    """POST one user message to the relay platform."""
    account = state.account(job.account)
    if not account.relay_url or not account.relay_token:
        raise PermanentFailure(f"account {account.name!r} has no relay configured")
    body = signed_body(account.relay_token, job.payload)
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    response = _post(account.relay_url, data)
    response.close()
    _raise_for_status(response.status_code, "the relay platform")
    logger.debug("forwarded a %s message to the relay of %r", body["msgType"], account.name)
    if signals.relay_forwarded.receivers:
        signals.relay_forwarded.send(app, message=job.payload, account=account.name)


# -- platform → user ---------------------------------------------------------------


def _filename(url: str, media_type: str, content_type: str | None) -> str:
    """A filename with an extension WeChat accepts for ``media_type``."""
    base = posixpath.basename(unquote(urlsplit(url).path))
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"\\/')
    if "." in base.strip("."):
        return base
    extension = mimetypes.guess_extension(content_type) if content_type else None
    if extension:
        return media_type + (".jpg" if extension == ".jpe" else extension)
    return _DEFAULT_FILENAMES[media_type]


#: Redirects followed when fetching an agent's media file, each hop checked anew.
MAX_MEDIA_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 307, 308)
_MEDIA_TIMEOUT = (3.05, 10.0)


def media_hosts(account: Account) -> frozenset[str]:
    """The hosts agent media may be fetched from: the relay platform's own (from
    ``WECHAT_RELAY_URL``) and ``WECHAT_RELAY_MEDIA_HOSTS``."""
    hosts = {host.lower().rstrip(".") for host in account.relay_media_hosts}
    relay_host = urlsplit(account.relay_url or "").hostname
    if relay_host:
        hosts.add(relay_host.lower().rstrip("."))
    return frozenset(hosts)


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:
        raise PermanentFailure("the media URL has an invalid port") from None
    return port or (443 if parts.scheme == "https" else 80)


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _resolve(host: str, port: int, allow_loopback: bool) -> str:
    """The address to connect to for ``host``: every address it resolves to must be
    public (loopback only with ``allow_loopback``), so no answer of a rebinding DNS
    server can point the fetch inside the network."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TransportError("the media host did not resolve", may_have_arrived=False) from None
    addresses = []
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            raise PermanentFailure("the media host resolved to an invalid address") from None
        if allow_loopback and address.is_loopback:
            pass
        elif _refused_address(address):
            raise PermanentFailure("the media host resolves to a non-public address")
        addresses.append(address)
    if not addresses:
        raise TransportError("the media host did not resolve", may_have_arrived=False)
    return str(addresses[0])


def _checked_target(url: str, account: Account) -> tuple[SplitResult, str, int]:
    """``url``'s parts and the checked address and port to connect to.

    :raises PermanentFailure: not http(s), a host outside :func:`media_hosts`, or
        a host resolving to a private, loopback, link-local, multicast or reserved
        address. Loopback is allowed only when the relay platform itself is on
        loopback *and* the media URL names exactly its host and port (a platform
        run on the same machine, as in tests).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise PermanentFailure("the media URL is not an http(s) URL")
    host = parts.hostname.lower().rstrip(".")
    port = _port(parts)
    if host not in media_hosts(account):
        raise PermanentFailure("the media URL's host is not allowed")
    relay = urlsplit(account.relay_url or "")
    local_relay = (
        _is_loopback_name(host)
        and relay.hostname is not None
        and relay.hostname.lower().rstrip(".") == host
        and relay.scheme == parts.scheme
        and _port(relay) == port
    )
    return parts, _resolve(host, port, allow_loopback=local_relay), port


def _is_loopback_name(host: str) -> bool:
    """Whether ``host`` itself names loopback: ``localhost`` or a loopback address
    (a public name resolving to loopback is a rebinding attempt, not a local relay)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open(parts: SplitResult, address: str, port: int) -> urllib3.BaseHTTPResponse:
    """GET ``parts`` from the already checked ``address`` (never resolved again),
    with the URL's own host in ``Host`` and, for https, in SNI and the certificate
    check."""
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    host_header = host if port == default else f"{host}:{port}"
    if ":" in host and port != default:
        host_header = f"[{host}]:{port}"
    timeout = urllib3.Timeout(connect=_MEDIA_TIMEOUT[0], read=_MEDIA_TIMEOUT[1])
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            assert_hostname=host,
            server_hostname=host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        return pool.urlopen(
            "GET",
            path,
            headers={"Host": host_header, "User-Agent": "flask-wechat"},
            redirect=False,
            retries=False,
            preload_content=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        failure = type(exc).__name__
    raise TransportError(f"the media URL did not answer ({failure})", may_have_arrived=False)


def fetch_media(url: str, media_type: str, account: Account) -> tuple[bytes, str, str | None]:
    """Download an agent's media file: ``(content, filename, content_type)``.

    Only from the hosts of :func:`media_hosts`, only from public addresses, checked
    after DNS resolution and connected to as checked (see :func:`_checked_target`);
    redirects are followed by hand, at most :data:`MAX_MEDIA_REDIRECTS`, each hop
    checked the same way. Streamed and cut off past :data:`MAX_MEDIA_SIZE`, so a
    huge file never sits in memory whole.

    :raises PermanentFailure: a refused URL or hop, too many redirects, too large.
    """
    for _ in range(MAX_MEDIA_REDIRECTS + 1):
        parts, address, port = _checked_target(url, account)
        response = _open(parts, address, port)
        try:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location", "")
                if not location:
                    raise PermanentFailure("the media URL redirected nowhere")
                url = urljoin(url, location)
                continue
            return _read_media(response, url, media_type)
        finally:
            response.release_conn()
    raise PermanentFailure("the media URL redirected too many times")


def _read_media(
    response: urllib3.BaseHTTPResponse, url: str, media_type: str
) -> tuple[bytes, str, str | None]:
    _raise_for_status(response.status, "the media URL")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_MEDIA_SIZE:
        raise PermanentFailure(f"the {media_type} is larger than {MAX_MEDIA_SIZE} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.stream(_CHUNK):
            size += len(chunk)
            if size > MAX_MEDIA_SIZE:
                raise PermanentFailure(f"the {media_type} is larger than {MAX_MEDIA_SIZE} bytes")
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as exc:
        failure: str | None = type(exc).__name__
    else:
        failure = None
    if failure is not None:
        raise TransportError(f"the media download broke off ({failure})", may_have_arrived=False)
    raw_type = response.headers.get("Content-Type", "")
    content_type = raw_type.split(";", 1)[0].strip().lower() or None
    if content_type in ("application/octet-stream", "binary/octet-stream"):
        content_type = None  # says nothing; let the filename decide
    return b"".join(chunks), _filename(url, media_type, content_type), content_type


@task(RELAY_TO_USER)
def deliver_task(app: Flask, state: WeChatState, job: Task) -> None:
    """Send one agent message to the user through the API."""
    delivery = state.delivery(job.account)
    open_id = str(job.payload["open_id"])
    msg_type = str(job.payload["msgType"])
    content = str(job.payload["content"])
    reply: Reply
    if msg_type == "text":
        reply = TextReply(content)
    else:
        data, filename, content_type = fetch_media(content, msg_type, delivery.account)
        upload = delivery.client.media.upload(msg_type, data, filename, content_type)
        media_id = str(upload["media_id"])
        if msg_type == "image":
            reply = ImageReply(media_id=media_id)
        elif msg_type == "voice":
            reply = VoiceReply(media_id)
        else:
            reply = VideoReply(media_id)
    # The customer-service API (WeCom: an application message from the AgentID);
    # an agent's message, not a handler's reply: no ``reply_sent``.
    delivery.send(app, open_id, reply, announce=False)


class RelayRequest(t.NamedTuple):
    """A verified message from the platform."""

    fields: dict[str, t.Any]
    open_id: str
    msg_type: str
    content: str
    signature: str
    timestamp: str
    nonce: str


def _required(fields: t.Mapping[str, t.Any], name: str) -> str:
    value = fields.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise MalformedBody(f"missing or invalid {name}")


def open_relay_request(account: Account, body: bytes) -> RelayRequest:
    """Parse and verify a POST from the platform.

    :raises RejectedRequest: malformed, badly signed or stale.
    """
    # The seed's own examples carry keys with stray spaces ("content "): tolerate them.
    fields = {str(k).strip(): v for k, v in parse_json(body).items()}
    open_id = fields.get("open_id")
    if not isinstance(open_id, str) or not open_id.strip():
        raise MalformedBody("missing or invalid open_id")
    msg_type = fields.get("msgType")
    if not isinstance(msg_type, str) or not msg_type:
        raise MalformedBody("missing or invalid msgType")
    timestamp = _required(fields, "timestamp")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        raise MalformedBody("missing or invalid timestamp")
    nonce = _required(fields, "nonce")
    signature = fields.get("msg_signature")
    if not isinstance(signature, str) or not signature:
        raise InvalidSignature("missing msg_signature")
    check_signature(signature, account.relay_token or "", timestamp, nonce, open_id)
    check_timestamp(timestamp, account.replay_window, milliseconds_from=_MILLISECONDS_FROM)

    if msg_type not in _AGENT_TYPES:
        raise MalformedBody("unsupported msgType")
    content = fields.get("content")
    if msg_type == "finish":
        content = content if isinstance(content, str) else ""
    elif not isinstance(content, str) or not content.strip():
        raise MalformedBody("missing content")
    elif msg_type in _MEDIA_TYPES:
        scheme = urlsplit(content.strip()).scheme.lower()
        if scheme not in ("http", "https"):
            raise MalformedBody("content is not a media URL")
        content = content.strip()
    return RelayRequest(
        fields, open_id.strip(), msg_type, content, signature.lower(), timestamp, nonce
    )
