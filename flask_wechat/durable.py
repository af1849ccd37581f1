"""Small data that must outlive a restart: the durable store.

The shared store (:mod:`flask_wechat.store`) is a cache: entries expire, and the
default one lives in the process. Some state is not a cache: the cursor up to
which 微信客服 messages were read (lose it and every customer is answered again
from the oldest message). That goes here, behind a small interface
(:class:`DurableStore`: ``get``/``set``/``delete`` and iteration over keys), with
two back-ends:

* :class:`RedisDurableStore` — keys without expiry in the Redis the shared store
  uses, when it is Redis (every machine sees them);
* :class:`FileDurableStore` — one JSON file in the app's instance folder, the
  place Flask gives a site for files that belong to this deployment and not to
  the code (``app.instance_path``); writes are atomic and, on POSIX, locked
  across the processes of one machine.

A site with its own database passes any object with the same four methods as
``WeChat(app, durable_store=...)``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import typing as t
from pathlib import Path

from .errors import StoreUnavailable
from .store import RedisStore

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Flask

    from .store import Store

try:  # POSIX: a lock that holds across the processes of one machine
    import fcntl
except ImportError:  # pragma: no cover - Windows: a lock of this process only
    fcntl = None  # type: ignore[assignment]

#: The file :class:`FileDurableStore` keeps in the app's instance folder.
FILE_NAME = "flask_wechat.json"


class DurableStore:
    """The interface: JSON-compatible values by string key, kept until deleted."""

    def get(self, key: str) -> t.Any:
        """The value of ``key``, or ``None``."""
        raise NotImplementedError

    def set(self, key: str, value: t.Any) -> None:
        """Keep ``value`` under ``key`` until it is replaced or deleted."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it is not there)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        """Every key."""
        raise NotImplementedError


class FileDurableStore(DurableStore):
    """A JSON object in one file; each write replaces the file atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, t.Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreUnavailable(f"cannot read {self.path.name} ({type(exc).__name__})") from None
        return data if isinstance(data, dict) else {}

    def _update(self, change: t.Callable[[dict[str, t.Any]], None]) -> None:
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path.with_suffix(".lock"), "a+") as lock:
                    if fcntl is not None:
                        fcntl.flock(lock, fcntl.LOCK_EX)
                    data = self._read()
                    change(data)
                    handle, temporary = tempfile.mkstemp(
                        dir=self.path.parent, prefix=self.path.name, suffix=".tmp"
                    )
                    with os.fdopen(handle, "w", encoding="utf-8") as out:
                        json.dump(data, out, ensure_ascii=False, sort_keys=True)
                    os.replace(temporary, self.path)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot write {self.path.name} ({type(exc).__name__})"
                ) from None

    def get(self, key: str) -> t.Any:
        return self._read().get(key)

    def set(self, key: str, value: t.Any) -> None:
        self._update(lambda data: data.__setitem__(key, value))

    def delete(self, key: str) -> None:
        self._update(lambda data: data.pop(key, None))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._read()))


class RedisDurableStore(DurableStore):
    """Keys without expiry in one Redis hash."""

    def __init__(self, client: t.Any, name: str = "wechat:durable") -> None:
        import redis  # noqa: PLC0415 - an optional dependency, needed only here

        self.redis = client
        self.name = name
        self._errors = (redis.RedisError, OSError)

    def _call(self, func: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
        try:
            return func(*args)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None

    def get(self, key: str) -> t.Any:
        raw = self._call(self.redis.hget, self.name, key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: t.Any) -> None:
        self._call(self.redis.hset, self.name, key, json.dumps(value, ensure_ascii=False))

    def delete(self, key: str) -> None:
        self._call(self.redis.hdel, self.name, key)

    def __iter__(self) -> Iterator[str]:
        keys = self._call(self.redis.hkeys, self.name)
        return iter([k.decode() if isinstance(k, bytes) else str(k) for k in keys])


def make_durable_store(app: Flask, store: Store) -> DurableStore:
    """Redis when the shared store is, else a file in ``app``'s instance folder."""
    if isinstance(store, RedisStore):
        return RedisDurableStore(store.redis, store.prefix + "durable")
    return FileDurableStore(Path(app.instance_path) / FILE_NAME)
