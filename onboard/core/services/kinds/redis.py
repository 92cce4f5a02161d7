"""Redis: `redis-server` in the foreground on 127.0.0.1:PORT and a unix socket, its data
(RDB snapshots) in the data directory."""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

from onboard.core.services.kinds import no_finish_init, no_init, no_init_argv

PROGRAMS = ("redis-server",)
STOP = signal.SIGTERM  # saves a snapshot, then exits
GRACE = 10.0
UNPRIVILEGED = False


def variables(spec: Any, port: int, data_dir: str) -> dict[str, str]:
    return {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_URL": f"redis://127.0.0.1:{port}/0"}


needs_init, init_argv, finish_init = no_init, no_init_argv, no_finish_init


def clear_stale(svc: dict[str, Any]) -> str:
    try:
        os.unlink(os.path.join(svc["sock_dir"], "redis.sock"))
    except OSError:
        pass
    return ""


def argv(svc: dict[str, Any]) -> list[str]:
    out = [svc["bins"]["redis-server"], "--port", str(svc["port"]), "--bind", "127.0.0.1",
           "--dir", svc["data_dir"], "--daemonize", "no", "--supervised", "no",
           "--unixsocket", os.path.join(svc["sock_dir"], "redis.sock"), "--unixsocketperm", "700"]
    for k, v in sorted(svc.get("settings", {}).items()):
        out += [f"--{k}", *v.split()]
    return out


def probe(svc: dict[str, Any]) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", svc["port"]), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def after_ready(svc: dict[str, Any]) -> None:
    pass
