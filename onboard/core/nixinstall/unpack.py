"""Safe extraction of a Nix release tarball (what the release holds: release.py).

The archive is opened once: every byte read from that one file descriptor is hashed by
the reader that feeds the decompressor, so the SHA-256 that is checked is the SHA-256 of
exactly the bytes that were unpacked (a file swapped in by path meanwhile changes nothing).

Every entry must stay inside one top-level directory: no absolute names, no `..`, no
device files or FIFOs, no entry written through a symlink, hard links only to files
of the archive, and symbolic links only inside the archive or into the Nix store.
Owners are not restored and setuid/setgid bits are dropped.

Every store path the release names (its store/ entries, .reginfo, the install script's
nix= and cacert= lines) must be a direct child of the store with a name Nix accepts:
`check_store_path` is the one place that decides.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from onboard.core.engine.fsutil import remove_tree  # noqa: F401  (re-exported)
from onboard.core.engine.action import ActionError
from onboard.core.events import ActionProgress, Emitter, discard
from onboard.core.nixinstall.source import ChecksumError

STORE_DIR = "/nix/store"
#: the characters of Nix's base-32 (no e, o, u, t)
NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"
HASH_LEN = 32
#: the longest name (the part after "<hash>-") Nix accepts
NAME_MAX = 211
_HASH_RE = re.compile(f"[{NIX_BASE32}]{{{HASH_LEN}}}")
_NAME_RE = re.compile(r"[A-Za-z0-9+\-._?=]+")


class UnpackError(ActionError):
    pass


def _store_name_problem(base: str) -> Optional[str]:
    """Why `base` (one store entry's name) is not a name Nix accepts, or None."""
    if len(base) < HASH_LEN + 2 or base[HASH_LEN] != "-":
        return f"its name is not <{HASH_LEN}-character hash>-<name>"
    if not _HASH_RE.fullmatch(base[:HASH_LEN]):
        return "its hash part is not Nix base-32"
    name = base[HASH_LEN + 1:]
    if not _NAME_RE.fullmatch(name):
        return "its name has characters Nix does not allow"
    if name.startswith("."):
        return "its name starts with a period"
    if len(name) > NAME_MAX:
        return f"its name is longer than {NAME_MAX} characters"
    return None


def check_store_path(path: str, store_dir: str = STORE_DIR, where: str = "") -> str:
    """`path` when it is a store path Nix accepts, else UnpackError naming it (and `where`).

    Accepted is exactly STORE_DIR/<32 characters of Nix base-32>-<name>: a direct child of
    the store (no `..`, no other directory, no doubled or trailing slash, no subdirectory),
    the name of the characters Nix allows, not starting with a period, at most 211 long.
    """
    store_dir = store_dir.rstrip("/") or "/"
    prefix = store_dir + "/"
    reason: Optional[str] = None
    if not isinstance(path, str) or not path:
        reason = "it is empty"
        path = str(path)
    elif any(c in path for c in "\0\n\r"):
        reason = "it holds a control character"
    elif not path.startswith(prefix):
        norm = posixpath.normpath(path) if path.startswith("/") else ""
        if ".." in path.split("/"):
            reason = f"it climbs out of {store_dir} with '..'"
        elif norm == store_dir:
            reason = f"it is {store_dir} itself, not a path in it"
        elif norm.startswith(prefix):
            reason = "it is not written as a plain path in the store"
        else:
            reason = f"it is not in {store_dir}"
    else:
        rest = path[len(prefix):]
        parts = rest.split("/")
        if ".." in parts:
            reason = f"it climbs out of {store_dir} with '..'"
        elif "" in parts or "." in parts:
            reason = "it has an extra slash or '.' in it"
        elif len(parts) > 1:
            reason = f"it is not a direct child of {store_dir} (a nested path)"
        else:
            reason = _store_name_problem(rest)
    if reason:
        shown = path if len(path) <= 300 else path[:300] + "..."
        at = f" in {where}" if where else ""
        raise UnpackError(f"unsafe store path {shown!r}{at}: {reason}; nothing was moved into {store_dir}",
                          hint="the tarball is not an official Nix release; use the official one")
    return path


class _HashingReader:
    """The archive's one open file: every byte read through it is hashed and counted.

    Whatever is unpacked was read here first, so the digest is of the unpacked bytes.
    """

    def __init__(self, fh: BinaryIO, report: Optional[Callable[[int], None]] = None) -> None:
        self.fh, self.report, self.count = fh, report, 0
        self.hasher = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.hasher.update(data)
        self.count += len(data)
        if self.report is not None:
            self.report(self.count)
        return data

    def drain(self) -> None:
        """Read (and hash) the rest: bytes after the tar end marker are part of the file too."""
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


class _XzPipe:
    """`xz -dc` fed from a thread by the hashing reader (the only reader of the archive)."""

    def __init__(self, reader: _HashingReader) -> None:
        import subprocess
        import threading

        self.proc = subprocess.Popen(["xz", "-dc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.stdout = self.proc.stdout
        self.reader = reader
        self.error = ""
        self.read_error: Optional[OSError] = None
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    @property
    def fed(self) -> int:
        return self.reader.count

    def _pump(self) -> None:
        assert self.proc.stdin is not None
        try:
            while True:
                try:
                    chunk = self.reader.read(1 << 20)
                except OSError as exc:
                    self.read_error = exc
                    break
                if not chunk:
                    break
                self.proc.stdin.write(chunk)
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
        if self.read_error is not None:
            raise self.read_error
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
    store = top + "/store"
    if rel.startswith(store + "/") and resolved != store and not resolved.startswith(store + "/"):
        # once moved into the store it would point at what is next to the store
        raise UnpackError(f"unsafe symlink {rel!r} -> {target!r}: it points out of the release's store/")


def _check_store_entry(member: tarfile.TarInfo, rel: str, parts: list[str], store_dir: str,
                       checked: set[str]) -> None:
    """An entry under TOP/store: the directory itself, then store paths Nix accepts (never symlinks)."""
    if len(parts) < 2 or parts[1] != "store":
        return
    if len(parts) == 2:
        if not member.isdir():
            raise UnpackError(f"unsafe archive entry {rel!r}: the release's store/ is not a directory")
        return
    name = parts[2]
    if name not in checked:
        check_store_path(f"{store_dir}/{name}", store_dir, where=f"the archive entry {rel!r}")
        checked.add(name)
    if len(parts) == 3 and member.issym():
        raise UnpackError(f"unsafe archive entry {rel!r}: the store path is a symlink (to {member.linkname!r}); "
                          "nothing was moved into the store",
                          hint="the tarball is not an official Nix release; use the official one")


@dataclass(frozen=True)
class Extracted:
    top: str  # the name of the one top directory
    sha256: str  # of every byte read from the archive: exactly the bytes that were unpacked
    size: int  # bytes read


def _open_archive(archive: os.PathLike | str) -> BinaryIO:
    try:
        fd = os.open(archive, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UnpackError(f"{archive}: no such file",
                          hint="give the path of the Nix release tarball with --tarball") from None
    except OSError as exc:
        raise UnpackError(f"cannot read {archive}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnpackError(f"{archive} is not a regular file",
                          hint="give the path of the Nix release tarball with --tarball")
    return os.fdopen(fd, "rb")


def _mismatch(archive: os.PathLike | str, expected: str, got: str) -> ChecksumError:
    return ChecksumError(
        f"{archive} does not match its SHA-256: expected {expected.lower()}, got {got}; what was "
        "unpacked from it was deleted and nothing was installed",
        hint="the file is damaged or not the release you meant; check --sha256 and the source, "
             "then run again")


def safe_extract(archive: os.PathLike | str, dest: os.PathLike | str, *, sha256: str = "",
                 store_dir: str = STORE_DIR, emit: Emitter = discard, action_id: str = "") -> str:
    """Extract `archive` (.tar.xz, .tar.gz, .tar) into `dest`; return the top directory's name.

    See `extract_release`: with `sha256`, the unpacked bytes are checked against it.
    """
    return extract_release(archive, dest, sha256=sha256, store_dir=store_dir, emit=emit,
                           action_id=action_id).top


def extract_release(archive: os.PathLike | str, dest: os.PathLike | str, *, sha256: str = "",
                    store_dir: str = STORE_DIR, emit: Emitter = discard, action_id: str = "") -> Extracted:
    """Open `archive` once and extract it into `dest`, hashing every byte as it is read.

    The one file descriptor is read by one reader that hashes what it reads and feeds the
    decompressor (xz in its own process, or Python's), so the digest returned is of exactly
    the bytes that were unpacked. With `sha256`, a different digest removes what was
    extracted and raises ChecksumError (naming both hashes); so does any unpack error in a
    file that does not match. On any error the partly written top directory is removed.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    want = sha256.lower()
    with _open_archive(archive) as raw:
        total = os.fstat(raw.fileno()).st_size
        last = [0.0]
        text = "unpacking and checking SHA-256" if want else "unpacking"

        def report(done: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1 or done >= total:
                last[0] = now
                emit(ActionProgress(action_id=action_id, done=min(done, total), total=total, unit="bytes",
                                    text=text))

        use_xz = str(archive).endswith(".xz") and shutil.which("xz") is not None
        reader = _HashingReader(raw, None if use_xz else report)
        made: list[Optional[str]] = [None]
        pipe: Optional[_XzPipe] = None
        try:
            pipe = _XzPipe(reader) if use_xz else None  # both cores work, as with tar
            try:
                top = _extract(archive, reader, pipe, dest, store_dir, report, made)
            finally:
                if pipe is not None:
                    pipe.close()
            reader.drain()
        except BaseException as exc:
            _remove_top(dest, made[0])
            if want and isinstance(exc, Exception) and not (pipe is not None and pipe.thread.is_alive()):
                # a wrong file is reported as one, whatever it broke while unpacking
                try:
                    reader.drain()
                except OSError:
                    raise exc from None
                got = reader.hexdigest()
                if got != want:
                    raise _mismatch(archive, want, got) from exc
            raise
        got = reader.hexdigest()
    if want and got != want:
        _remove_top(dest, top)
        raise _mismatch(archive, want, got)
    report(total)
    return Extracted(top=top, sha256=got, size=reader.count)


def _extract(archive: os.PathLike | str, reader: _HashingReader, pipe: Optional[_XzPipe], dest: Path,
             store_dir: str, report: Callable[[int], None], made: list[Optional[str]]) -> str:
    """The tar stream into `dest`, entry by entry; `made[0]` is the top directory once there is one."""
    links: set[str] = set()
    files: set[str] = set()
    store_names: set[str] = set()
    dirs: list[tuple[str, int]] = []
    try:
        try:
            if pipe is not None:
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
                if made[0] is None:
                    made[0] = first
                elif first != made[0]:
                    raise UnpackError(f"unexpected archive layout: entries under both {made[0]!r} and "
                                      f"{first!r} (a release tarball has one top directory)")
                parts = rel.split("/")
                _check_store_entry(member, rel, parts, store_dir, store_names)
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
        for rel, mtime in reversed(dirs):
            os.utime(dest / rel, (mtime, mtime))
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            free = shutil.disk_usage(dest).free
            raise UnpackError(f"no space left on the disk holding {dest} while unpacking "
                              f"({free // (1 << 20)} MB free); nothing was installed",
                              hint="free some space there (a Nix install needs a few hundred MB in /nix) "
                                   "and run again") from exc
        raise UnpackError(f"unpacking {archive} failed: {exc}") from exc
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise UnpackError(f"{archive} is damaged: {exc}",
                          hint="download it again (or check the file) and run again") from exc
    if made[0] is None:
        raise UnpackError(f"{archive} is empty")
    return made[0]


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
