"""Loopback ports: whether one is free, a free one to keep, and who holds a taken one."""

from __future__ import annotations

import random
import socket
from typing import Iterable

#: where `auto` ports are chosen: below Linux's ephemeral range (32768-60999), so that no
#: outgoing connection takes a kept port, and above the usual fixed ports
AUTO_RANGE = (20000, 32000)


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (as servers do, with SO_REUSEADDR)."""
    for family, addr in ((socket.AF_INET, host), (socket.AF_INET, "0.0.0.0")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick(taken: Iterable[int] = (), rng: random.Random | None = None) -> int:
    """A free loopback port in AUTO_RANGE that is not in `taken`."""
    rng = rng or random.Random()
    avoid = set(taken)
    for _ in range(500):
        port = rng.randint(*AUTO_RANGE)
        if port not in avoid and is_free(port):
            return port
    raise OSError("no free loopback port found between %d and %d" % AUTO_RANGE)


def holder(port: int) -> str:
    """Who listens on `port`, in words: "redis-server (pid 123)"; the pid is only known when
    this user may see that process."""
    try:
        import psutil

        conns = psutil.net_connections("inet")
    except Exception:
        conns = []
    for c in conns:
        if c.status == "LISTEN" and c.laddr and c.laddr.port == port:
            if c.pid:
                try:
                    p = psutil.Process(c.pid)
                    name = p.name()
                    try:
                        user = p.username()
                    except Exception:
                        user = ""
                    return f"{name} (pid {c.pid}{', user ' + user if user else ''})"
                except Exception:
                    return f"pid {c.pid}"
            return "a program this user cannot see (another user's)"
    return "another program"


__all__ = ["is_free", "pick", "holder", "AUTO_RANGE"]
