"""Reach of the Nix release host and the binary cache, directly or through the proxy the
environment names (HTTPS_PROXY, ALL_PROXY, NO_PROXY, as curl and Nix read them)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit

from onboard.core.doctor.model import Check, CheckResult, Inputs, check

PORT = 443


@dataclass
class Proxy:
    url: str  # without credentials, safe to show
    scheme: str
    host: str
    port: int
    auth: str  # "user:password" or ""
    variable: str


def proxy_for(host: str, env: dict[str, str]) -> Optional[Proxy]:
    """The proxy curl would use for https://host, or None."""
    no_proxy = env.get("no_proxy", env.get("NO_PROXY", ""))
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        entry = entry.split(":")[0].lstrip(".")
        if host == entry or host.endswith("." + entry):
            return None
    for var in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        value = env.get(var, "").strip()
        if not value:
            continue
        parts = urlsplit(value if "://" in value else "http://" + value)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or (1080 if scheme.startswith("socks") else 443 if scheme == "https" else 80)
        except ValueError:
            port = -1
        auth = ""
        if parts.username:
            auth = unquote(parts.username) + ":" + unquote(parts.password or "")
        shown = f"{scheme}://{parts.hostname or ''}" + (f":{parts.port}" if port != -1 and parts.port else "")
        return Proxy(shown, scheme, parts.hostname or "", port, auth, var)
    return None


def resolve(host: str, port: int, timeout: float) -> list[tuple]:
    """getaddrinfo with a deadline (it cannot be interrupted, so it runs in a daemon thread)."""
    box: dict = {}

    def work() -> None:
        try:
            box["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"no DNS answer for {host} within {timeout:.1f} s")
    if "error" in box:
        raise box["error"]
    return box["addrs"]


def connect(host: str, port: int, deadline: float) -> socket.socket:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("out of time")
    addrs = resolve(host, port, left)
    last: Exception = OSError(f"no address for {host}")
    for family, kind, proto, _, addr in addrs:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no answer from {host}:{port} within the time limit")
        s = socket.socket(family, kind, proto)
        s.settimeout(left)
        try:
            s.connect(addr)
            return s
        except OSError as exc:
            s.close()
            last = exc
    raise last


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "name does not resolve (offline or no DNS)"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return str(exc) if str(exc) and str(exc) != "timed out" else "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def through_proxy(proxy: Proxy, host: str, port: int, deadline: float) -> tuple[bool, str, int]:
    """(reached, what happened, proxy status code). HTTP proxies get a CONNECT request."""
    s = connect(proxy.host, proxy.port, deadline)
    try:
        if proxy.scheme.startswith("socks"):
            return True, f"SOCKS proxy {proxy.url} accepts connections (the host itself was not tried)", 0
        if proxy.scheme == "https":
            return True, f"HTTPS proxy {proxy.url} accepts connections (the host itself was not tried)", 0
        req = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        if proxy.auth:
            import base64

            req += "Proxy-Authorization: Basic " + base64.b64encode(proxy.auth.encode()).decode() + "\r\n"
        s.sendall((req + "\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("proxy did not answer in time")
            s.settimeout(left)
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        status_line = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        words = status_line.split()
        code = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
        if code == 200:
            return True, f"reachable through proxy {proxy.url}", code
        return False, f"proxy {proxy.url} answered {status_line or 'nothing'!r} to CONNECT {host}", code
    finally:
        s.close()


def reach(c: Check, inp: Inputs, target: str, alternative: str) -> CheckResult:
    """Can `target` ("host" or "host:port") be reached? `alternative` says what to do without it."""
    host, _, port_text = target.partition(":")
    port = int(port_text) if port_text.isdigit() else PORT
    fix = f"set HTTPS_PROXY=http://proxy:port, or {alternative}"
    env = inp.environ()
    proxy = proxy_for(host, env)
    start = time.monotonic()
    deadline = start + inp.net_timeout
    details: dict = {"host": host, "port": port, "proxy": proxy.url if proxy else "",
                     "proxy_variable": proxy.variable if proxy else "", "timeout_s": inp.net_timeout}
    if proxy:
        if not proxy.host or proxy.port == -1:
            return c.result("fail", f"{proxy.variable} is not a usable proxy URL",
                            f"set {proxy.variable} to http://HOST:PORT", **details)
        try:
            ok, text, code = through_proxy(proxy, host, port, deadline)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            details["error"] = _reason(exc)
            return c.result("fail", f"proxy {proxy.url} from {proxy.variable}: {_reason(exc)}",
                            f"check {proxy.variable}, or {alternative}", **details)
        details.update(ms=round((time.monotonic() - start) * 1000), proxy_status=code)
        if ok:
            return c.result("ok", f"{host}: {text}", **details)
        hint = f"put user:password in {proxy.variable}" if code == 407 else f"check {proxy.variable}"
        return c.result("fail", f"{host}: {text}", f"{hint}, or {alternative}", **details)
    try:
        connect(host, port, deadline).close()
    except Exception as exc:  # noqa: BLE001
        details["error"] = _reason(exc)
        details["ms"] = round((time.monotonic() - start) * 1000)
        return c.result("warn", f"{host}:{port} not reachable: {_reason(exc)}", fix, **details)
    details["ms"] = round((time.monotonic() - start) * 1000)
    return c.result("ok", f"{host}:{port} reachable ({details['ms']} ms)", **details)


@check("net-releases", "Nix release host")
def check_releases(c: Check, inp: Inputs) -> CheckResult:
    return reach(c, inp, inp.hosts["releases"],
                 "use --tarball with a local Nix release file")


@check("net-cache", "Nix binary cache")
def check_cache(c: Check, inp: Inputs) -> CheckResult:
    return reach(c, inp, inp.hosts["cache"],
                 "set `substituters` in nix.conf to a reachable mirror (without a cache "
                 "everything builds from source)")
