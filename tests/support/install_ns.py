"""Run onboard inside a private mount namespace: an empty directory on /nix, a copy of the
whole /etc on /etc (file bind mounts break useradd's rename), a temporary HOME. The host's
/nix, /etc and HOME are never touched; the bind sources are ordinary directories the test
can snapshot from outside.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent.parent
NIX_CONFIG = "sandbox = false\nsubstituters =\nflake-registry =\nexperimental-features = nix-command flakes"

RUNNER = r"""#!/bin/bash
set -e
if [ -n "${SB_NIX_TMPFS:-}" ]; then
  mount -t tmpfs -o "size=$SB_NIX_TMPFS,mode=0755" tmpfs "$SB_NIX"
fi
mount --bind "$SB_NIX" /nix
mount --bind "$SB_ETC" /etc
cd "$HOME"
set +e
"$@"
"""

#: lines of Debian's own nix-bin (its nixbld group and users) dropped from the /etc copy, so the
#: install sees a machine without them (as the official installer's users do)
DROP_NIXBLD = True


def _copy_etc(dest: Path, drop_nixbld: bool) -> None:
    subprocess.run(["cp", "-a", "/etc", str(dest)], check=True)
    if not drop_nixbld:
        return
    for name in ("passwd", "shadow", "group", "gshadow"):
        p = dest / name
        if not p.exists():
            continue
        lines = p.read_text().splitlines(keepends=True)
        kept = [ln for ln in lines if not ln.startswith("nixbld")]
        if name in ("group", "gshadow"):
            out = []
            for ln in kept:
                parts = ln.rstrip("\n").split(":")
                if len(parts) >= 4 and parts[-1]:
                    parts[-1] = ",".join(m for m in parts[-1].split(",") if not m.startswith("nixbld"))
                out.append(":".join(parts) + "\n")
            kept = out
        st = p.stat()
        p.write_text("".join(kept))
        os.chmod(p, stat.S_IMODE(st.st_mode))


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, content hash or link target); mtimes ignored."""
    out: dict[str, tuple] = {}
    root = Path(root)
    if not root.exists():
        return out
    for base, dnames, fnames in os.walk(root):
        for name in dnames + fnames:
            full = os.path.join(base, name)
            rel = os.path.relpath(full, root)
            if any(rel == s or rel.startswith(s + "/") for s in skip):
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                what = ("l", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                what = ("d", "")
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                try:
                    with open(full, "rb") as fh:
                        h.update(fh.read())
                except OSError:
                    pass
                what = ("f", h.hexdigest())
            else:
                what = ("o", "")
            out[rel] = (what[0], stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what[1])
    return out


def diff(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            out.append(f"{k}: {a.get(k)} -> {b.get(k)}")
    return out


@dataclass
class Sandbox:
    base: Path
    nix_tmpfs: str = ""
    drop_nixbld: bool = DROP_NIXBLD
    nix: Path = field(init=False)
    etc: Path = field(init=False)
    home: Path = field(init=False)
    started: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = Path(self.base)
        if os.access("/dev/shm", os.W_OK):  # tmpfs: copying /etc there is ~20x faster than on disk
            self.base = Path(tempfile.mkdtemp(prefix="onboard-sb-", dir="/dev/shm"))
            self.base.rmdir()
        self.nix = self.base / "nix"
        self.etc = self.base / "etc"
        self.home = self.base / "home"
        self.nix.mkdir(parents=True)
        os.chmod(self.base, 0o755)
        self.home.mkdir()
        _copy_etc(self.etc, self.drop_nixbld)
        (self.base / "runner.sh").write_text(RUNNER)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy") and not k.startswith(("XDG_", "ONBOARD_", "NIX_", "SUDO_"))}
        h = str(self.home)
        env.update(HOME=h, XDG_CONFIG_HOME=f"{h}/.config", XDG_STATE_HOME=f"{h}/.local/state",
                   XDG_CACHE_HOME=f"{h}/.cache", XDG_DATA_HOME=f"{h}/.local/share", NO_COLOR="1",
                   NIX_CONFIG=NIX_CONFIG, PYTHONPATH=str(ROOT), SB_NIX=str(self.nix), SB_ETC=str(self.etc),
                   USER="root", LOGNAME="root")
        if self.nix_tmpfs:
            env["SB_NIX_TMPFS"] = self.nix_tmpfs
        env.update(extra)
        return env

    def argv(self, *cmd: str) -> list[str]:
        return ["unshare", "--mount", "--propagation", "private", "bash", str(self.base / "runner.sh"), *cmd]

    def sh(self, script: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        """Run a bash script inside the namespace."""
        return subprocess.run(self.argv("bash", "-c", script), env=self.env(**extra), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def onboard(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(sys.executable, "-m", "onboard", *args), env=self.env(**extra),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              cwd=str(self.home))

    def popen(self, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(sys.executable, "-m", "onboard", *args), env=self.env(**extra),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(self.home), start_new_session=True)

    def receipt(self) -> Path:
        return self.home / ".local/state/onboard/receipts/onboard.json"

    def snapshots(self) -> dict[str, dict[str, tuple]]:
        return {"nix": snapshot(self.nix), "etc": snapshot(self.etc), "home": snapshot(self.home)}

    def daemons(self) -> list[int]:
        """Every nix-daemon running with this sandbox's /nix (its mount namespace shows the bind source),
        main daemons only (not their per-connection workers)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
                if not cmd.endswith(b"nix-daemon"):
                    continue
                if self._nix_mark() not in _mount_sources(int(entry)):
                    continue
                stat_ = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if stat_[0] in ("Z", "X"):
                continue
            found.append((int(entry), int(stat_[1])))
        pids = {p for p, _ppid in found}
        return sorted(p for p, ppid in found if ppid not in pids)

    def _nix_mark(self) -> bytes:
        """How this sandbox's /nix bind source shows in mountinfo (relative to its filesystem)."""
        tail = self.base.name if self.base.name.startswith("onboard-sb-") \
            else f"{self.base.parent.name}/{self.base.name}"
        return f"{tail}/nix /nix ".encode()

    def kill_daemons(self) -> None:
        """Stop any nix-daemon this sandbox started (by its pid file, then every one with its /nix)."""
        pids = set(self.daemons())
        pidfile = self.nix / "var/onboard/nix-daemon.pid"
        if pidfile.exists():
            try:
                pids.add(int(pidfile.read_text().strip()))
            except ValueError:
                pass
        for pid in pids:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"nix-daemon" in cmd:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                for _ in range(100):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.02)

    def cleanup(self) -> None:
        self.kill_daemons()
        subprocess.run(["chmod", "-R", "u+w", str(self.base)], check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def _mount_sources(pid: int) -> bytes:
    """What /proc/PID/mountinfo says is mounted (bind sources show as their path in the source fs)."""
    try:
        return Path(f"/proc/{pid}/mountinfo").read_bytes()
    except OSError:
        return b""


def daemon_pid(sb: Sandbox) -> Optional[int]:
    p = sb.nix / "var/onboard/nix-daemon.pid"
    try:
        return int(p.read_text().strip())
    except (OSError, ValueError):
        return None
