"""One apply at a time: a lock file that names the process holding it (as apt's does)."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import Optional

from onboard.core import paths


class LockedError(Exception):
    def __init__(self, pid: Optional[int], command: str, path: Path) -> None:
        who = f"pid {pid}" if pid else "another process"
        what = f" ({command})" if command else ""
        super().__init__(
            f"another onboard is changing this machine: {who}{what} holds {path}. "
            "Wait for it to finish, or stop it and run this again."
        )
        self.pid = pid
        self.command = command


class ApplyLock:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path else paths.state_dir() / "apply.lock"
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        paths.make_owned_dir(self.path.parent)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
                finally:
                    os.close(fd)
                pid_s, _, cmd = text.partition(" ")
                raise LockedError(int(pid_s) if pid_s.isdigit() else None, cmd, self.path) from None
            # The holder may have unlinked the file between our open and flock.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {' '.join(['onboard', *sys.argv[1:]])}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        paths.prune_owned_dir(self.path.parent)

    def __enter__(self) -> "ApplyLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
