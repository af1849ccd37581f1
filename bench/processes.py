"""The servers the benches start on loopback: redis-server and gunicorn."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
"""The project root, where ``bench`` is importable from."""

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on port {port} within {timeout:g}s")


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisServer:
    """A throw-away ``redis-server`` on a free loopback port, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise SystemExit("redis-server is not installed (make bench installs it)")
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, "redis-server", 10)
        self.client = redis.Redis(host=HOST, port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.exceptions.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def used_memory(self) -> int:
        """``INFO memory`` ``used_memory``, in bytes."""
        info: dict[str, t.Any] = self.client.info("memory")
        return int(info["used_memory"])

    def close(self) -> None:
        self.client.close()
        stop(self.process)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Gunicorn:
    """``gunicorn -w WORKERS -k sync`` serving ``bench.apps:make_app(NAME)`` on loopback."""

    def __init__(self, app_name: str, *, workers: int = 2, env: dict[str, str] | None = None):
        self.name = app_name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        environment = {**os.environ, **(env or {})}
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), environment.get("PYTHONPATH", "")) if p
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(workers),
                "-k",
                "sync",
                "--bind",
                f"{HOST}:{self.port}",
                "--chdir",
                str(ROOT),
                "--log-level",
                "warning",
                f"bench.apps:make_app({app_name!r})",
            ],
            env=environment,
        )
        wait_for_port(self.port, self.process, f"gunicorn ({app_name})", 30)
        self.workers = workers

    def worker_pids(self) -> list[int]:
        """The pids of the master's worker processes."""
        master = self.process.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        if children.exists():
            return [int(pid) for pid in children.read_text().split()]
        pids = []
        for entry in Path("/proc").iterdir():  # pragma: no cover - kernels without children
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                        pids.append(int(entry.name))
        return pids

    def close(self) -> None:
        stop(self.process)


def rss_kib(pid: int) -> int:
    """``VmRSS`` of process ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
