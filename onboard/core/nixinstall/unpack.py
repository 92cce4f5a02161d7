"""Safe extraction of a Nix release tarball, and what the release holds.

Every entry must stay inside one top-level directory: no absolute names, no `..`, no
device files or FIFOs, no entry written through a symlink, hard links only to files
of the archive, and symbolic links only inside the archive or into the Nix store.
Owners are not restored and setuid/setgid bits are dropped.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import shutil
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Optional

from onboard.core.engine.fsutil import remove_tree  # noqa: F401  (re-exported)
from onboard.core.engine.action import ActionError
from onboard.core.events import ActionProgress, Emitter, discard

STORE_DIR = "/nix/store"


class UnpackError(ActionError):
    pass


class _CountingReader:
    """A file wrapper that reports how many compressed bytes were read."""

    def __init__(self, fh: BinaryIO, report) -> None:  # type: ignore[no-untyped-def]
        self.fh, self.report, self.count = fh, report, 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.count += len(data)
        self.report(self.count)
        return data


class _XzPipe:
    """`xz -dc` fed from a thread (which counts the compressed bytes for progress)."""

    def __init__(self, archive: os.PathLike | str) -> None:
        import subprocess
        import threading

        self.proc = subprocess.Popen(["xz", "-dc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.stdout = self.proc.stdout
        self.fed = 0
        self.error = ""
        self.thread = threading.Thread(target=self._pump, args=(archive,), daemon=True)
        self.thread.start()

    def _pump(self, archive: os.PathLike | str) -> None:
        assert self.proc.stdin is not None
        try:
            with open(archive, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    self.proc.stdin.write(chunk)
                    self.fed += len(chunk)
        except (BrokenPipeError, OSError):
            pass
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def finish(self) -> int:
        assert self.stdout is not None
        while self.stdout.read(1 << 20):  # drain what follows the tar end marker
            pass
        self.thread.join()
        rc = self.proc.wait()
        if self.proc.stderr is not None:
            self.error = self.proc.stderr.read().decode("utf-8", "replace")
        return rc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def _clean_name(name: str) -> str:
    if "\0" in name:
        raise UnpackError(f"unsafe archive entry {name!r}: NUL in its name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnpackError(f"unsafe archive entry {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnpackError(f"unsafe archive entry {name!r}: it climbs out with '..'")
    return "/".join(parts)


def _check_link_target(rel: str, target: str, store_dir: str) -> None:
    if not target or "\0" in target:
        raise UnpackError(f"unsafe symlink {rel!r}: empty target")
    if target.startswith("/"):
        norm = posixpath.normpath(target)
        if norm == store_dir or not norm.startswith(store_dir + "/"):
            raise UnpackError(f"unsafe symlink {rel!r} -> {target!r}: it points outside {store_dir}")
        return
    top = rel.split("/", 1)[0]
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if resolved != top and not resolved.startswith(top + "/"):
        raise UnpackError(f"unsafe symlink {rel!r} -> {target!r}: it points outside the archive")


def safe_extract(archive: os.PathLike | str, dest: os.PathLike | str, *, store_dir: str = STORE_DIR,
                 emit: Emitter = discard, action_id: str = "") -> str:
    """Extract `archive` (.tar.xz, .tar.gz, .tar) into `dest`; return the top directory's name.

    On any error the partly written top directory is removed again.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    total = os.path.getsize(archive)
    last = [0.0]

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1 or done >= total:
            last[0] = now
            emit(ActionProgress(action_id=action_id, done=min(done, total), total=total, unit="bytes",
                                text="unpacking"))

    top: Optional[str] = None
    links: set[str] = set()
    files: set[str] = set()
    dirs: list[tuple[str, int]] = []
    pipe = _XzPipe(archive) if str(archive).endswith(".xz") and shutil.which("xz") else None
    try:
        with open(archive, "rb") as raw:
            reader = _CountingReader(raw, report)
            try:
                if pipe is not None:  # xz in its own process, as tar does: both cores work
                    tf = tarfile.open(fileobj=pipe.stdout, mode="r|", bufsize=1 << 20)
                else:
                    tf = tarfile.open(fileobj=reader, mode="r|*", bufsize=1 << 20)  # type: ignore[call-overload]
            except tarfile.TarError as exc:
                raise UnpackError(f"{archive} is not a readable tar archive ({exc})",
                                  hint="the file is damaged or not a Nix release tarball") from exc
            with tf:
                for member in tf:
                    if pipe is not None:
                        report(pipe.fed)
                    rel = _clean_name(member.name)
                    if not rel:
                        continue
                    first = rel.split("/", 1)[0]
                    if top is None:
                        top = first
                    elif first != top:
                        raise UnpackError(f"unexpected archive layout: entries under both {top!r} and "
                                          f"{first!r} (a release tarball has one top directory)")
                    parts = rel.split("/")
                    for i in range(1, len(parts)):
                        if "/".join(parts[:i]) in links:
                            raise UnpackError(f"unsafe archive entry {rel!r}: written through a symlink")
                    path = dest / rel
                    if os.path.lexists(path) and not path.is_dir():
                        raise UnpackError(f"unsafe archive entry {rel!r}: it appears twice")
                    _ensure_parents(dest, parts)
                    if member.isdir():
                        path.mkdir(mode=0o755, exist_ok=True)
                        dirs.append((rel, int(member.mtime)))
                    elif member.isreg():
                        src = tf.extractfile(member)
                        assert src is not None
                        with open(path, "wb") as out:
                            shutil.copyfileobj(src, out, 1 << 20)
                        os.chmod(path, 0o755 if member.mode & 0o111 else 0o644)
                        os.utime(path, (member.mtime, member.mtime))
                        files.add(rel)
                    elif member.issym():
                        _check_link_target(rel, member.linkname, store_dir)
                        os.symlink(member.linkname, path)
                        links.add(rel)
                    elif member.islnk():
                        target = _clean_name(member.linkname)
                        if target not in files:
                            raise UnpackError(f"unsafe hard link {rel!r} -> {member.linkname!r}: not a "
                                              "file of this archive")
                        os.link(dest / target, path)
                        files.add(rel)
                    else:
                        kind = ("device file" if member.ischr() or member.isblk() else
                                "FIFO" if member.isfifo() else "special entry")
                        raise UnpackError(f"unsafe archive entry {rel!r}: a {kind} (not allowed in a "
                                          "Nix release tarball)")
            if pipe is not None and pipe.finish() != 0:
                raise tarfile.TarError(f"xz could not decompress it: {pipe.error.strip()[:200]}")
            report(total)
        for rel, mtime in reversed(dirs):
            os.utime(dest / rel, (mtime, mtime))
    except OSError as exc:
        _remove_top(dest, top)
        if exc.errno == errno.ENOSPC:
            free = shutil.disk_usage(dest).free
            raise UnpackError(f"no space left on the disk holding {dest} while unpacking "
                              f"({free // (1 << 20)} MB free); nothing was installed",
                              hint="free some space there (a Nix install needs a few hundred MB in /nix) "
                                   "and run again") from exc
        raise UnpackError(f"unpacking {archive} failed: {exc}") from exc
    except (tarfile.TarError, EOFError, ValueError) as exc:
        _remove_top(dest, top)
        raise UnpackError(f"{archive} is damaged: {exc}",
                          hint="download it again (or check the file) and run again") from exc
    except BaseException:
        _remove_top(dest, top)
        raise
    finally:
        if pipe is not None:
            pipe.close()
    if top is None:
        raise UnpackError(f"{archive} is empty")
    return top


def _ensure_parents(dest: Path, parts: list[str]) -> None:
    cur = dest
    for p in parts[:-1]:
        cur = cur / p
        if os.path.islink(cur):
            raise UnpackError(f"unsafe archive entry {'/'.join(parts)!r}: written through a symlink")
        if not cur.is_dir():
            cur.mkdir(mode=0o755)


def _remove_top(dest: Path, top: Optional[str]) -> None:
    if top:
        remove_tree(dest / top)


# -- what a release holds -------------------------------------------------------------------


@dataclass
class ReleaseInfo:
    top: Path  # the unpacked nix-VERSION-SYSTEM directory
    nix: str  # the store path of Nix itself
    cacert: str = ""  # the CA bundle's store path, when the release has one
    paths: list[str] = field(default_factory=list)  # every store path in .reginfo

    @property
    def reginfo(self) -> Path:
        return self.top / ".reginfo"

    @property
    def version(self) -> str:
        m = re.search(r"-nix-(\d[\w.+-]*)$", self.nix)
        return m.group(1) if m else ""


def parse_reginfo(text: str, store_dir: str = STORE_DIR) -> list[str]:
    """The store paths registered by a `nix-store --dump-db` file (.reginfo)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if not line.startswith(store_dir + "/"):
            raise UnpackError(f".reginfo is malformed near line {i + 1}: {line[:80]!r}")
        out.append(line)
        # path, nar hash, nar size, deriver, reference count, references
        try:
            count = int(lines[i + 4])
        except (IndexError, ValueError):
            raise UnpackError(f".reginfo is malformed after {line}") from None
        i += 5 + count
    return out


def release_info(top: os.PathLike | str, store_dir: str = STORE_DIR) -> ReleaseInfo:
    """Read the unpacked release: its store paths and which of them is Nix (and the CA bundle)."""
    top = Path(top)
    try:
        reginfo = (top / ".reginfo").read_text()
    except FileNotFoundError:
        raise UnpackError(f"{top.name} has no .reginfo: not a Nix release tarball") from None
    paths = parse_reginfo(reginfo, store_dir)
    if not paths:
        raise UnpackError(f"{top.name}/.reginfo lists no store paths")
    values: dict[str, str] = {}
    try:
        script = (top / "install").read_text(errors="replace")
    except FileNotFoundError:
        script = ""
    for key in ("nix", "cacert"):
        m = re.search(rf'^{key}="({re.escape(store_dir)}/[^"]+)"', script, re.M)
        if m:
            values[key] = m.group(1)
    nix = values.get("nix", "")
    if not nix:
        cands = [p for p in paths if re.search(r"-nix-\d", p)]
        nix = cands[0] if len(cands) == 1 else ""
    if not nix or nix not in paths:
        raise UnpackError(f"{top.name}: cannot tell which store path is Nix (no nix=\"...\" line in "
                          "its install script)")
    cacert = values.get("cacert", "")
    return ReleaseInfo(top=top, nix=nix, cacert=cacert if cacert in paths else "", paths=paths)
