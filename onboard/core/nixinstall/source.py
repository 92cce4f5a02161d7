"""Getting the release tarball: a resumable, streamed download checked against its SHA-256.

The file is written as DEST.part and renamed to DEST only once its hash matches, so a
DEST that exists was the verified tarball when it was written. That check spares a useless
unpack; what guards the install is the hash of the bytes actually unpacked, checked again
while unpacking (unpack.extract_release). A .part left by a killed process is resumed with
an HTTP Range request. `requests` is imported only when downloading.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from onboard.core.engine.action import ActionError
from onboard.core.engine.fsutil import fsync_dir
from onboard.core.events import ActionProgress, Emitter, discard
from onboard.core.nixinstall.networds import plain_reason

CHUNK = 1 << 16
#: progress events at most this often (seconds)
PROGRESS_EVERY = 0.1
#: after this long without a byte, progress says "waiting for the server (N s)" (seconds)
STALL_AFTER = 1.0


class DownloadError(ActionError):
    def __init__(self, message: str, hint: str = "", resumable: bool = False) -> None:
        super().__init__(message, hint=hint)
        #: a partial DEST.part is kept: running again resumes it
        self.resumable = resumable


class ChecksumError(ActionError):
    pass


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def file_sha256(path: os.PathLike | str, progress: Optional[Callable[[int], None]] = None) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return h.hexdigest()


def verify_file(path: os.PathLike | str, sha256: str, what: str = "") -> None:
    """Raise ChecksumError unless the file's SHA-256 is `sha256`.

    Only a check of the file as it is now: what is later opened again by its path may be
    another file. Unpacking a release checks the hash of the bytes it unpacks instead
    (unpack.extract_release).
    """
    try:
        got = file_sha256(path)
    except FileNotFoundError:
        raise ChecksumError(f"{path}: no such file") from None
    if got != sha256.lower():
        raise ChecksumError(
            f"{what or path} does not match its SHA-256: expected {sha256.lower()}, got {got}",
            hint="the file is damaged or not the release you meant; check --sha256 and the source, "
                 "then run again")


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


class _Progress:
    def __init__(self, emit: Emitter, action_id: str, total: Optional[int], label: str) -> None:
        self.emit, self.action_id, self.total, self.label = emit, action_id, total, label
        self.last = 0.0
        self.active = time.monotonic()
        self.done = 0

    def __call__(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        self.active = now
        self.done = done
        if not force and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        of = f" of {human(self.total)}" if self.total else ""
        self.emit(ActionProgress(action_id=self.action_id, done=done, total=self.total, unit="bytes",
                                 text=f"{self.label} {human(done)}{of}"))


class _Watch:
    """While a download waits on the server, say so every second ("waiting for the server (N s)"),
    from a thread of its own: the download itself is blocked in a read."""

    def __init__(self, progress: _Progress) -> None:
        self.progress = progress
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="onboard-download-watch", daemon=True)

    def __enter__(self) -> "_Watch":
        self.progress.active = time.monotonic()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)

    def _run(self) -> None:
        said = 0
        while not self.stop.wait(0.2):
            p = self.progress
            idle = time.monotonic() - p.active
            if idle < STALL_AFTER:
                said = 0
                continue
            if int(idle) > said:
                said = int(idle)
                p.emit(ActionProgress(action_id=p.action_id, done=p.done, total=p.total, unit="bytes",
                                      text=f"waiting for the server ({said} s)", stalled=True))


def download(url: str, dest: Path, sha256: str, *, emit: Emitter = discard, action_id: str = "",
             expected_size: int = 0, attempts: int = 4, timeout: float = 30.0,
             backoff: float = 0.3, connect_timeout: float = 10.0) -> None:
    """Download `url` to `dest`, resuming a .part file, and check its SHA-256 before renaming.

    Errors (HTTP 4xx/5xx, a body that stays short after every retry, a hash mismatch, a full
    disk) raise DownloadError/ChecksumError with what happened, in plain words, and what to do;
    then neither DEST nor DEST.part is left behind, except a .part that running again resumes
    (DownloadError.resumable). While the server sends nothing, progress says so every second.
    """
    import requests

    part = part_path(dest)
    hasher = hashlib.sha256()
    have = 0
    if part.exists():
        with open(part, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                hasher.update(chunk)
                have += len(chunk)
    total: Optional[int] = expected_size or None
    last_problem = ""
    progress = _Progress(emit, action_id, total, "downloaded")
    progress.done = have
    session = requests.Session()
    try:
        with _Watch(progress):
            for attempt in range(1, attempts + 1):
                headers = {"Range": f"bytes={have}-"} if have else {}
                progress(have, force=True)
                try:
                    resp = session.get(url, stream=True, timeout=(connect_timeout, timeout), headers=headers)
                except requests.exceptions.RequestException as exc:
                    last_problem = plain_reason(exc, url, read_timeout=timeout, connect_timeout=connect_timeout)
                    _sleep(backoff, attempt, attempts)
                    continue
                with resp:
                    if resp.status_code == 416 and have:
                        # Nothing left to send: the .part may already be whole.
                        if total is None or have >= total:
                            total = have
                            break
                        have, hasher = 0, hashlib.sha256()
                        _truncate(part)
                        continue
                    if resp.status_code >= 400:
                        msg = f"downloading {url} failed: the server answered {resp.status_code} {resp.reason}"
                        if resp.status_code >= 500 and attempt < attempts:
                            last_problem = msg
                            _sleep(backoff, attempt, attempts)
                            continue
                        _discard(part)
                        hint = ("check the URL (a team mirror must keep the official file names)"
                                if resp.status_code == 404 else "the server has a problem; try again later "
                                "or use a mirror or a local file (--tarball PATH)")
                        raise DownloadError(msg, hint=hint)
                    if resp.status_code == 200 and have:
                        # The server ignored the Range header: start over.
                        have, hasher = 0, hashlib.sha256()
                        _truncate(part)
                    elif resp.status_code == 206:
                        start = _range_start(resp.headers.get("Content-Range", ""))
                        if start != have:
                            have, hasher = 0, hashlib.sha256()
                            _truncate(part)
                            continue
                    length = resp.headers.get("Content-Length")
                    if length and length.isdigit():
                        total = have + int(length)
                    progress.total = total
                    try:
                        with open(part, "ab") as fh:
                            for chunk in resp.iter_content(CHUNK):
                                if not chunk:
                                    continue
                                fh.write(chunk)
                                hasher.update(chunk)
                                have += len(chunk)
                                progress(have)
                            fh.flush()
                            os.fsync(fh.fileno())
                    except requests.exceptions.RequestException as exc:
                        last_problem = plain_reason(exc, url, read_timeout=timeout, received=have)
                        _sleep(backoff, attempt, attempts)
                        continue
                    except OSError as exc:
                        _discard(part)
                        raise _disk_error(exc, part) from exc
                    progress(have, force=True)
                    if total is not None and have < total:
                        last_problem = f"the server sent {human(have)} of {human(total)}"
                        _sleep(backoff, attempt, attempts)
                        continue
                    break
            else:
                resumable = have > 0 and part.exists()
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                raise DownloadError(f"downloading {url} did not complete after {tries}: "
                                    f"{last_problem}",
                                    hint="check the network (and HTTP(S)_PROXY), then run again: "
                                    + (f"the download resumes where it stopped ({human(have)} are kept)"
                                       if resumable else "the download starts again"),
                                    resumable=resumable)
    finally:
        session.close()
    got = hasher.hexdigest()
    if got != sha256.lower():
        _discard(part)
        raise ChecksumError(
            f"{url} does not match its SHA-256: expected {sha256.lower()}, got {got} "
            f"({human(have)}); the file was deleted and nothing was installed",
            hint="check --sha256 (or the known-versions table) and that the mirror serves the "
                 "official file")
    os.replace(part, dest)
    fsync_dir(dest.parent)


def _sleep(backoff: float, attempt: int, attempts: int) -> None:
    if attempt < attempts and backoff:
        time.sleep(backoff * attempt)


def _range_start(content_range: str) -> int:
    # "bytes 100-999/1000"
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return -1


def _truncate(part: Path) -> None:
    with open(part, "wb"):
        pass


def _discard(part: Path) -> None:
    try:
        part.unlink()
    except FileNotFoundError:
        pass


def _disk_error(exc: OSError, where: Path) -> ActionError:
    if exc.errno == errno.ENOSPC:
        return DownloadError(f"no space left on the disk holding {where.parent} while downloading",
                             hint="free some space there (or set ONBOARD_CACHE_DIR to a roomier "
                                  "place) and run again")
    return DownloadError(f"cannot write {where}: {exc.strerror or exc}")
