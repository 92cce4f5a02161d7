"""A command of your own: `run` in the profile's environment, by bash, in the foreground;
ready when its probe answers (a TCP port, an HTTP URL, a command), or once it has run a
moment without one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.request
from typing import Any

from onboard.core.services.kinds import no_finish_init, no_init, no_init_argv

PROGRAMS = ("bash",)
STOP = signal.SIGTERM
GRACE = 10.0
UNPRIVILEGED = False


def _var(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.upper())


def variables(spec: Any, port: Any, data_dir: str) -> dict[str, str]:
    out = {f"{_var(spec.name)}_PORT": str(port)} if isinstance(port, int) else {}
    for k, v in spec.env.items():
        out[k] = v.replace("{port}", str(port)) if isinstance(port, int) else v
    return out


needs_init, init_argv, finish_init = no_init, no_init_argv, no_finish_init


def clear_stale(svc: dict[str, Any]) -> str:
    return ""


def argv(svc: dict[str, Any]) -> list[str]:
    script = 'if [ -n "${ONBOARD_ENV_SH:-}" ]; then . "$ONBOARD_ENV_SH" >/dev/null; fi\n' + svc["run"]
    return [svc["bins"]["bash"], "--noprofile", "--norc", "-c", script]


def probe(svc: dict[str, Any]) -> bool:
    ready = svc.get("ready") or {}
    port = svc.get("port")
    if "tcp" in ready:
        target = port if ready["tcp"] == "port" else ready["tcp"]
        try:
            with socket.create_connection(("127.0.0.1", int(target or 0)), timeout=0.5):
                return True
        except OSError:
            return False
    if "http" in ready:
        url = ready["http"].replace("{port}", str(port))
        try:
            with urllib.request.urlopen(url, timeout=1.0) as r:  # noqa: S310 (a loopback URL of the profile)
                return 200 <= r.status < 400
        except Exception:
            return False
    if "command" in ready:
        env = dict(os.environ, **svc.get("env", {}))
        try:
            return subprocess.run(["/bin/sh", "-c", ready["command"]], env=env, cwd=svc["cwd"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
    return bool(svc.get("_running_for", 0) >= 0.3)


def after_ready(svc: dict[str, Any]) -> None:
    pass
