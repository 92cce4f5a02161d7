"""A loopback HTTP server for release tarballs: Range requests, and failure modes
(404, 500, a body cut short, a server that ignores Range, a server that stalls)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    #: ok | 404 | 500 | truncate | truncate-once | no-range | stall (half the body, then silence)
    #: | stall-headers (accepts, sends nothing)
    mode: str = "ok"
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Range header)
    served: int = 0
    #: when a stall began (time.monotonic()), one per stalled request
    stalls: list[float] = field(default_factory=list)
    #: set when the server shuts down: a stalled handler ends at once
    closing: threading.Event = field(default_factory=threading.Event)
    stall_seconds: float = 60.0


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        st = self.state
        rng = self.headers.get("Range", "")
        st.requests.append((self.path, rng))
        data = st.files.get(self.path)
        if st.mode == "stall-headers":
            self._stall()
            return
        if st.mode == "404" or data is None:
            self._plain(404, b"not found\n")
            return
        if st.mode == "500":
            self._plain(500, b"internal error\n")
            return
        start = 0
        if rng.startswith("bytes=") and st.mode != "no-range":
            start = int(rng[6:].split("-")[0] or 0)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/x-xz")
        self.end_headers()
        cut = st.mode == "truncate" or (st.mode == "truncate-once" and st.served == 0)
        st.served += 1
        try:
            if st.mode == "stall":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self._stall()
                return
            if cut:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _stall(self) -> None:
        self.state.stalls.append(time.monotonic())
        self.state.closing.wait(self.state.stall_seconds)
        self.close_connection = True

    def _plain(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class TarballServer:
    def __init__(self) -> None:
        self.state = ServerState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "TarballServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, path: Path, url_path: str = "") -> str:
        url_path = url_path or f"/nix/{path.name}"
        self.state.files[url_path] = Path(path).read_bytes()
        return self.url(url_path)

    def url(self, url_path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{url_path}"
