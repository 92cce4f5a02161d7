"""Downloads that go wrong: a server that stalls is reported within 2 s ("waiting for the server"),
every network failure is said in plain words (never an exception's text), and the partial download
a message promises to resume is kept by the automatic undo and removed by uninstall. Loopback
servers only (127.0.0.1), each bound in time and shut down by the test."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from onboard.core.engine.plan import Plan, apply_plan, undo_run
from onboard.core.events import ActionProgress
from onboard.core.nixinstall.actions.fetch_tarball import FetchTarball, cleanup_items
from onboard.core.nixinstall.networds import plain_reason
from onboard.core.nixinstall.source import DownloadError, download, part_path
from tests.support.install_server import TarballServer
from tests.support.install_tarball import get_tarball

RAW = re.compile(r"IncompleteRead|Read timed out|timeout=|HTTPConnectionPool|Errno|Max retries|object at 0x|"
                 r"NewConnectionError|Error\(")


@pytest.fixture(scope="module")
def tarball():
    return get_tarball()


class Timed:
    """An emitter that keeps (when, event)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, object]] = []
        self.lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self.lock:
            self.events.append((time.monotonic(), event))

    def waiting(self) -> list[tuple[float, str]]:
        return [(t, e.text) for t, e in self.events
                if isinstance(e, ActionProgress) and e.text.startswith("waiting for the server")]


@pytest.mark.parametrize("mode", ["stall", "stall-headers"])
def test_a_stalled_server_is_reported_within_two_seconds_in_plain_words(tmp_path, tarball, mode):
    dest = tmp_path / tarball.filename
    events = Timed()
    with TarballServer() as srv:
        srv.state.mode = mode
        url = srv.add(tarball.path)
        t0 = time.monotonic()
        with pytest.raises(DownloadError) as info:
            download(url, dest, tarball.sha256, emit=events, attempts=1, timeout=3, backoff=0)
        assert time.monotonic() - t0 < 15
        stall = srv.state.stalls[0]
    waits = events.waiting()
    assert waits, "no progress said the download waits for the server"
    assert waits[0][0] - stall < 2.0 and waits[0][1] == "waiting for the server (1 s)"
    assert any(text == "waiting for the server (2 s)" for _t, text in waits)
    msg = str(info.value)
    assert not RAW.search(msg + info.value.hint), msg
    if mode == "stall":
        assert re.search(r"the server stopped sending after \d+\.\d MB \(nothing for 3 s\)", msg), msg
        assert info.value.resumable and part_path(dest).stat().st_size > 0
        assert "resumes where it stopped" in info.value.hint
    else:
        assert "the server accepted the connection but sent nothing for 3 s" in msg, msg
        assert not info.value.resumable and not part_path(dest).exists()
        assert "resumes" not in info.value.hint


def test_a_refused_connection_and_a_cut_body_are_plain_words(tmp_path, tarball):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(DownloadError) as info:
        download(f"http://127.0.0.1:{port}/x.tar.xz", tmp_path / "x.tar.xz", "0" * 64, attempts=1, backoff=0)
    assert f"the connection to 127.0.0.1:{port} was refused" in str(info.value)
    assert not RAW.search(str(info.value)) and "resumes" not in info.value.hint
    with TarballServer() as srv:
        srv.state.mode = "truncate"
        with pytest.raises(DownloadError) as info:
            download(srv.add(tarball.path), tmp_path / tarball.filename, tarball.sha256, attempts=2, backoff=0)
    assert re.search(r"the connection broke after \d+\.\d MB", str(info.value)), str(info.value)
    assert not RAW.search(str(info.value))


def _wrapped(inner: BaseException, outer_name: str) -> BaseException:
    """An exception like the ones requests raises: `outer_name` (a requests class) caused by `inner`."""
    import requests

    outer = getattr(requests.exceptions, outer_name)("HTTPSConnectionPool(host='x', port=443): Max retries")
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize("inner,outer,want", [
    (socket.gaierror(-2, "Name or service not known"), "ConnectionError",
     "the name releases.example was not found (DNS)"),
    (ConnectionRefusedError(111, "Connection refused"), "ConnectionError",
     "the connection to releases.example was refused"),
    (ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "SSLError",
     "the TLS (https) certificate of releases.example could not be verified"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "SSLError",
     "the TLS (https) connection to releases.example failed"),
    (OSError("Tunnel connection failed: 403 Forbidden"), "ProxyError",
     "the proxy (HTTP(S)_PROXY) could not be reached or refused the connection"),
    (socket.timeout("timed out"), "ConnectTimeout", "could not connect to releases.example within 10 s"),
    (socket.timeout("timed out"), "ReadTimeout", "the server accepted the connection but sent nothing for 30 s"),
    (ConnectionResetError(104, "Connection reset by peer"), "ChunkedEncodingError",
     "the server closed the connection after 2.0 MB"),
])
def test_every_network_failure_in_plain_words(inner, outer, want):
    exc = _wrapped(inner, outer)
    got = plain_reason(exc, "https://releases.example/nix.tar.xz", read_timeout=30, connect_timeout=10,
                       received=2 << 20 if outer == "ChunkedEncodingError" else 0)
    assert got.startswith(want), got
    assert not RAW.search(got)


def test_the_undo_of_a_broken_download_keeps_the_part_and_uninstall_removes_it(tmp_path, tarball, monkeypatch):
    cache = tmp_path / "made" / "cache"
    monkeypatch.setenv("ONBOARD_CACHE_DIR", str(cache))
    dest = cache / "downloads" / tarball.filename
    with TarballServer() as srv:
        srv.state.mode = "truncate"
        plan = Plan("dl", [FetchTarball(url=srv.add(tarball.path), sha256=tarball.sha256, dest=str(dest))])
        outcome = apply_plan(plan)
    assert not outcome.ok and "resumes where it stopped" in outcome.hint
    kept = part_path(dest).read_bytes()
    assert kept and undo_run(outcome).ok
    assert part_path(dest).read_bytes() == kept  # what the hint promised
    # running again resumes it (a Range request from where it stopped) and completes
    with TarballServer() as srv:
        plan = Plan("dl", [FetchTarball(url=srv.add(tarball.path), sha256=tarball.sha256, dest=str(dest))])
        outcome = apply_plan(plan)
        assert outcome.ok and srv.state.requests[0][1] == f"bytes={len(kept)}-"
    assert dest.read_bytes() == tarball.path.read_bytes()
    assert undo_run(outcome).ok
    assert not (tmp_path / "made").exists()  # the dirs the first run made went with it
    # undone again with the part kept, then what uninstall adds removes it and those dirs
    with TarballServer() as srv:
        srv.state.mode = "truncate"
        outcome = apply_plan(Plan("dl", [FetchTarball(url=srv.add(tarball.path), sha256=tarball.sha256,
                                                      dest=str(dest))]))
    assert undo_run(outcome).ok and part_path(dest).exists()
    items = cleanup_items()
    assert [Path(p).name for item in items for p in item.paths] == [part_path(dest).name]
    for item in items:
        item.remove()
    assert not (tmp_path / "made").exists()
    assert cleanup_items() == []
