"""Network failures in plain words: what a download's exception means, never its text.

`requests` wraps urllib3 which wraps the socket and ssl errors; the cause is found by walking
the exception chain (and urllib3's `reason`), so "connection refused" or "name not found"
is said whatever layer raised it.
"""

from __future__ import annotations

import socket
import ssl
from typing import Iterator, Optional
from urllib.parse import urlsplit


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[Optional[BaseException]] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))


def _names(exc: BaseException) -> set[str]:
    return {base.__name__ for e in _chain(exc) for base in type(e).__mro__}


def where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def plain_reason(exc: BaseException, url: str, *, read_timeout: float = 0, connect_timeout: float = 0,
                 received: int = 0) -> str:
    """What went wrong, in words a user can act on (no exception class names, no exception text)."""
    names = _names(exc)
    host = where(url)
    chain = list(_chain(exc))
    if "ProxyError" in names:
        return "the proxy (HTTP(S)_PROXY) could not be reached or refused the connection"
    if "SSLError" in names or any(isinstance(e, ssl.SSLError) for e in chain):
        if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or \
                any("CERTIFICATE_VERIFY_FAILED" in str(e) for e in chain):
            return f"the TLS (https) certificate of {host} could not be verified"
        return f"the TLS (https) connection to {host} failed"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        return f"the name {urlsplit(url).hostname or host} was not found (DNS)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"the connection to {host} was refused (nothing answers there)"
    # (urllib3's NewConnectionError is a ConnectTimeoutError: refused and DNS are told apart first)
    if "ConnectTimeout" in names or "ConnectTimeoutError" in names:
        secs = f" within {connect_timeout:.0f} s" if connect_timeout else ""
        return f"could not connect to {host}{secs} (no answer)"
    if "ReadTimeout" in names or "ReadTimeoutError" in names or any(isinstance(e, socket.timeout) for e in chain):
        secs = f"{read_timeout:.0f} s" if read_timeout else "too long"
        if received:
            return f"the server stopped sending after {_mb(received)} (nothing for {secs})"
        return f"the server accepted the connection but sent nothing for {secs}"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "the server closed the connection" + (f" after {_mb(received)}" if received else "")
    if names & {"ChunkedEncodingError", "ProtocolError", "IncompleteRead"}:
        return "the connection broke" + (f" after {_mb(received)}" if received else "")
    if any(isinstance(e, OSError) and getattr(e, "errno", None) for e in chain):
        return f"a network error on the way to {host}"
    if "InvalidURL" in names or "MissingSchema" in names or "InvalidSchema" in names:
        return f"{url} is not a URL onboard can download"
    return "a network error" + (f" after {_mb(received)}" if received else "")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB"
