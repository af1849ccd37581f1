"""The site's extension objects, initialised by the app factory."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from flask_wechat import WeChat

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "login"
# The site has its own blueprint called ``wechat``.
wechat = WeChat(name="weixin")
