"""The :class:`WeChat` Flask extension."""

from __future__ import annotations

import typing as t
import weakref

from flask import current_app, has_app_context

from . import delivery, kf  # noqa: F401 - they register their tasks
from .blueprints import authorizer_callback, make_blueprint
from .cli import wechat_cli
from .component import Component
from .config import DEFAULTS, load_accounts, load_app_settings, shared_settings
from .dispatch import Handler, Registry, TypedHandler, check_name, compile_match
from .durable import make_durable_store
from .errors import ConfigError
from .handler_threads import HandlerThreads
from .jssdk import (
    agent_config_script,
    build_agent_config,
    build_config,
    config_script,
    page_url,
)
from .oauth import current_wechat_user, make_oauth_blueprint
from .platform import PLATFORMS
from .relay import Relay
from .state import WeChatState
from .store import make_store
from .tasks import TASKS, TaskRegistry, ThreadPoolRunner

if t.TYPE_CHECKING:
    import re
    from collections.abc import Iterable

    from flask import Blueprint, Flask
    from flask_caching import Cache
    from markupsafe import Markup

    from .api import Client
    from .component import AuthorizerStore
    from .config import Account
    from .durable import DurableStore
    from .messages import Message
    from .tasks import TaskRunner

F = t.TypeVar("F", bound=TypedHandler)

#: Handler threads per process unless ``WeChat(handler_threads=...)`` says otherwise.
DEFAULT_HANDLER_THREADS = 32


def exempt_from_csrf(app: Flask, blueprint: Blueprint) -> None:
    """Exempt WeChat's callbacks from Flask-WTF's ``CSRFProtect``: WeChat signs
    its requests and never sends a CSRF token.

    A ``CSRFProtect`` already on the app (it registers as
    ``app.extensions["csrf"]``) is told now; one initialised later is told by a
    ``before_request`` hook registered here, which therefore runs before its
    check, on the first request. Flask refuses set-up after that request, so the
    hook then takes itself out: later requests do not pay for it.
    """

    def exempt() -> bool:
        csrf = app.extensions.get("csrf")
        if csrf is None or not hasattr(csrf, "exempt"):
            return False
        csrf.exempt(blueprint)
        return True

    if exempt():
        return

    def exempt_late() -> None:
        exempt()
        # A new list: Flask goes on through the one it is running this request from.
        hooks = app.before_request_funcs.get(None, [])
        if exempt_late in hooks:
            app.before_request_funcs[None] = [hook for hook in hooks if hook is not exempt_late]

    app.before_request(exempt_late)


class WeChat:
    """Connects Flask apps to WeChat.

    ``WeChat(app)`` or ``wechat = WeChat(); wechat.init_app(app)``. Handlers
    registered with :meth:`on` serve every app the extension is initialised on;
    configuration and state are per app, in ``app.extensions["wechat"]``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        cache: Cache | None = None,
        redis: t.Any = None,
        durable_store: DurableStore | None = None,
        task_runner: TaskRunner | None = None,
        handler_threads: int | None = None,
        name: str = "wechat",
        url_prefix: str | None = None,
        authorizer_store: AuthorizerStore | None = None,
        authorizer_cache_size: int = 10_000,
    ) -> None:
        #: the registered handlers, tried in registration order.
        self.handlers = Registry()
        #: a cache to use instead of ``WECHAT_CACHE``/``CACHE_*`` on every app.
        self.cache = cache
        #: a redis-py client (``Redis``, a Sentinel master, ``RedisCluster``) for
        #: the shared state, instead of ``WECHAT_REDIS_URL``.
        self.redis = redis
        #: where what must outlive a restart is kept (the 微信客服 cursors);
        #: default: Redis when the shared store is, else a JSON file in the app's
        #: instance folder (see :mod:`flask_wechat.durable`).
        self.durable_store = durable_store
        #: where late work goes (see :mod:`flask_wechat.tasks`); default: a thread pool.
        self.task_runner = task_runner
        #: how many threads may run handlers at once in each process (more
        #: messages queue for them): the callback waits for its handler only until
        #: ``WECHAT_REPLY_DEADLINE``, so WeChat always has its answer in time.
        #: ``None``: :data:`DEFAULT_HANDLER_THREADS`. ``0``: handlers run in the
        #: request's own thread and the answer waits for them (no deadline on it).
        self.handler_threads = handler_threads
        #: the callback blueprint's name (endpoints ``<name>.callback_<account>``).
        self.name = name
        #: a URL prefix for every callback URL.
        self.url_prefix = url_prefix
        #: where the third-party platform's authorizers (refresh tokens) live;
        #: default: the shared store, without expiry.
        self.authorizer_store = authorizer_store
        #: how many authorizers' accounts, callbacks and clients a process keeps
        #: built (an LRU); others are built again when they are next needed.
        self.authorizer_cache_size = authorizer_cache_size
        self._states: weakref.WeakSet[WeChatState] = weakref.WeakSet()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read and validate the app's ``WECHAT_*`` config, mount the callbacks,
        register the ``flask wechat`` commands.

        :raises ConfigError: the configuration is wrong; the message names the key.
        """
        if "wechat" in app.extensions:
            raise RuntimeError("flask_wechat is already registered on this Flask app.")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        accounts = load_accounts(app.config, PLATFORMS)
        settings = load_app_settings(app.config)
        threads = self.handler_threads
        if threads is None:
            threads = DEFAULT_HANDLER_THREADS
        if not isinstance(threads, int) or threads < 0:
            raise ConfigError("handler_threads", "must be a whole number, 0 or more")
        tasks = TaskRegistry(TASKS)
        store = make_store(app, settings, self.cache, self.redis)
        component = None
        if settings.component is not None:
            component = Component(
                app,
                settings.component,
                store,
                platforms=PLATFORMS,
                shared=shared_settings(app.config),
                authorizer_store=self.authorizer_store,
                cache_size=self.authorizer_cache_size,
                client_cache_size=max(1, self.authorizer_cache_size // 10),
            )
        state = WeChatState(
            app,
            accounts=accounts,
            settings=settings,
            store=store,
            durable=self.durable_store or make_durable_store(app, store),
            handlers=self.handlers,
            task_runner=self.task_runner or ThreadPoolRunner(),
            tasks=tasks,
            handler_threads=HandlerThreads(threads) if threads else None,
            relay=Relay(),
            blueprint_name=self.name,
            component=component,
            authorizer_callback=authorizer_callback,
        )
        app.extensions["wechat"] = state
        self._states.add(state)
        blueprint = make_blueprint(state, self.name, self.url_prefix)
        if blueprint.deferred_functions:
            app.register_blueprint(blueprint)
            exempt_from_csrf(app, blueprint)
        app.cli.add_command(wechat_cli)
        if settings.oauth_url:
            oauth = make_oauth_blueprint(settings.oauth_url.rstrip("/"), settings.oauth_scope)
            app.register_blueprint(oauth)
        app.add_template_global(self._jssdk_script, "wechat_jssdk_config")
        app.add_template_global(self._agent_config_script, "wechat_agent_config")
        app.jinja_env.globals["current_wechat_user"] = current_wechat_user

    def on(
        self,
        *types: str,
        key: str | None = None,
        match: str | re.Pattern[str] | None = None,
        account: str | None = None,
        agent_id: int | None = None,
    ) -> t.Callable[[F], F]:
        """Register a handler for message or event types.

        ``@wechat.on("text")``, ``@wechat.on("click", key="V1001_GOOD")``,
        ``@wechat.on("text", match=r"^help")``, ``@wechat.on("text", account="shop")``;
        several types at once: ``@wechat.on("image", "voice")``; no type: the
        default handler, for anything no other handler took. Names are
        case-insensitive; the ``LOCATION`` event is ``"location_event"``.

        :param key: the event's ``EventKey`` must equal this.
        :param match: a regex searched in the message's ``Content`` (an event's
            ``EventKey``).
        :param account: only messages to this account.
        :param agent_id: only WeCom messages to this ``AgentID``.
        """
        pattern = compile_match(match)
        for name in types:
            check_name(name.lower())

        def decorator(func: F) -> F:
            for name in types or (None,):
                self.handlers.add(
                    Handler(
                        func,
                        name=None if name is None else name.lower(),
                        key=key,
                        match=pattern,
                        account=account,
                        agent_id=agent_id,
                    )
                )
            return func

        return decorator

    def state(self, app: Flask | None = None) -> WeChatState:
        """The per-app state of ``app`` (default: the current app)."""
        if app is None:
            app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
        try:
            state = app.extensions["wechat"]
        except KeyError:
            raise RuntimeError(
                "flask_wechat is not initialised on this app. Did you forget to call init_app(app)?"
            ) from None
        if state.handlers is not self.handlers:
            raise RuntimeError("this app's flask_wechat belongs to another WeChat() object.")
        return t.cast(WeChatState, state)

    def client(self, account: str | None = None) -> Client:
        """The WeChat API client of ``account`` (default: the default account) of the
        current app. Its access_token lives in the extension's shared cache."""
        app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
        return self.state(app).client(account)

    def jssdk_config(
        self,
        url: str,
        js_api_list: Iterable[str],
        account: str | None = None,
        *,
        debug: bool = False,
        open_tag_list: Iterable[str] | None = None,
    ) -> dict[str, t.Any]:
        """The ``wx.config`` object (``appId``, ``timestamp``, ``nonceStr``,
        ``signature``, ``jsApiList``) for the page at ``url``."""
        return build_config(
            self.client(account), url, js_api_list, debug=debug, open_tag_list=open_tag_list
        )

    def _jssdk_script(
        self,
        js_api_list: Iterable[str],
        debug: bool = False,
        account: str | None = None,
        open_tag_list: Iterable[str] | None = None,
    ) -> Markup:
        """The Jinja global ``wechat_jssdk_config``: a ``<script>`` with ``wx.config``
        for the current page."""
        config = self.jssdk_config(
            page_url(), js_api_list, account, debug=debug, open_tag_list=open_tag_list
        )
        return config_script(config)

    def jssdk_agent_config(
        self, url: str, js_api_list: Iterable[str], account: str | None = None
    ) -> dict[str, t.Any]:
        """The WeCom ``wx.agentConfig`` object (``corpid``, ``agentid``,
        ``timestamp``, ``nonceStr``, ``signature``, ``jsApiList``) for the page at
        ``url``, signed with the app's ``agent_config`` ticket. An account that is
        not a WeCom app raises ValueError."""
        return build_agent_config(self.client(account), url, js_api_list)

    def _agent_config_script(
        self, js_api_list: Iterable[str], account: str | None = None
    ) -> Markup:
        """The Jinja global ``wechat_agent_config``: a ``<script>`` with
        ``wx.agentConfig`` for the current page."""
        return agent_config_script(self.jssdk_agent_config(page_url(), js_api_list, account))

    def relay_forward(self, message: Message) -> None:
        """Forward ``message`` to its account's customer-service platform relay
        (7moor); the agent's answers come back through the relay callback."""
        app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
        state = self.state(app)
        if state.relay is None:  # pragma: no cover - every state has one
            raise RuntimeError("this app has no relay")
        state.relay.forward(app, message)

    @property
    def component(self) -> Component | None:
        """The app's third-party platform (``WECHAT_COMPONENT``), or ``None``.

        Outside an app context it is the one of the only app this extension
        serves.
        """
        if has_app_context():
            return self.state().component
        states = list(self._states)
        if len(states) != 1:
            raise RuntimeError(
                "wechat.component outside an app context: this WeChat() serves "
                f"{len(states)} apps; use it inside one (with app.app_context())"
            )
        return states[0].component

    def account(self, name: str | None = None) -> Account:
        """The configured account ``name`` of the current app (default: the default one)."""
        return self.state().account(name)
