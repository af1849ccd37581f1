"""Official Account scene QR codes (带参数二维码).

A scan of one sends the account a ``subscribe`` event (the user did not follow
yet; ``EventKey`` ``qrscene_<scene>``) or a ``SCAN`` event (``EventKey`` the
scene); :attr:`flask_wechat.messages.Message.qr_scene` gives the scene of both.

https://developers.weixin.qq.com/doc/offiaccount/Account_Management/Generating_a_Parametric_QR_Code.html
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from .base import APIModule

if t.TYPE_CHECKING:
    from .base import JSON

#: The longest a temporary QR code lives (30 days).
MAX_EXPIRE_SECONDS = 2_592_000
#: The largest ``scene_id`` of a permanent QR code.
MAX_PERMANENT_SCENE_ID = 100_000
#: Where WeChat serves QR code images (not the API host).
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"


def qrcode_body(scene: int | str, expire_seconds: int | None) -> dict[str, t.Any]:
    """The ``qrcode/create`` body for ``scene``; ValueError for what WeChat refuses."""
    temporary = expire_seconds is not None
    if temporary and not 1 <= t.cast(int, expire_seconds) <= MAX_EXPIRE_SECONDS:
        raise ValueError(f"expire_seconds must be 1..{MAX_EXPIRE_SECONDS}")
    if isinstance(scene, bool) or not isinstance(scene, (int, str)):
        raise TypeError("scene must be an int (scene_id) or a str (scene_str)")
    if isinstance(scene, int):
        top = 2**32 - 1 if temporary else MAX_PERMANENT_SCENE_ID
        if not 1 <= scene <= top:
            raise ValueError(f"scene_id must be 1..{top} for a {_kind(temporary)} QR code")
        action = "QR_SCENE" if temporary else "QR_LIMIT_SCENE"
        info: dict[str, t.Any] = {"scene_id": scene}
    else:
        if not 1 <= len(scene) <= 64:
            raise ValueError("scene_str must be 1 to 64 characters")
        action = "QR_STR_SCENE" if temporary else "QR_LIMIT_STR_SCENE"
        info = {"scene_str": scene}
    body: dict[str, t.Any] = {"action_name": action, "action_info": {"scene": info}}
    if temporary:
        body = {"expire_seconds": expire_seconds, **body}
    return body


def _kind(temporary: bool) -> str:
    return "temporary" if temporary else "permanent"


class QRCodeAPI(APIModule):
    """Create scene QR codes and build their image URLs."""

    def create(self, scene: int | str, expire_seconds: int | None = None) -> JSON:
        """Create a QR code carrying ``scene``: ``ticket``, ``url`` (what the code
        encodes) and, for a temporary one, ``expire_seconds``.

        With ``expire_seconds`` (at most 2592000, 30 days) the code is temporary
        (``QR_SCENE`` / ``QR_STR_SCENE``), else permanent (``QR_LIMIT_SCENE`` /
        ``QR_LIMIT_STR_SCENE``, at most 100000 of them). An ``int`` scene is a
        ``scene_id`` (1..100000 permanent, 32-bit temporary), a ``str`` a
        ``scene_str`` (1..64 characters).
        """
        return self.client.post("/cgi-bin/qrcode/create", qrcode_body(scene, expire_seconds))

    def url(self, ticket: str) -> str:
        """The image URL of the QR code of ``ticket``: ``showqrcode`` on WeChat's own
        host, needing no access_token, whatever ``WECHAT_API_BASE_URL`` says (a
        site's API proxy serves no images; the sandbox serves the same path)."""
        return f"{SHOWQRCODE_URL}?ticket={quote(ticket, safe='')}"
