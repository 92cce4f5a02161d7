"""Durable file primitives: atomic writes with fsync, hashing, safe reads."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Optional


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: os.PathLike | str) -> Optional[str]:
    """The hash of a regular file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            return h.hexdigest()
    except FileNotFoundError:
        return None


def read_bytes(path: os.PathLike | str) -> Optional[bytes]:
    """A regular file's bytes; None when there is no file there (missing, or a directory)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def fsync_dir(path: os.PathLike | str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: os.PathLike | str, data: bytes, mode: Optional[int] = None,
                 uid: Optional[int] = None, gid: Optional[int] = None) -> None:
    """Write `data` to `path` through a temporary file, fsync, rename, fsync the dir.

    The file's existing mode and owner are kept unless given. A reader never sees a
    half-written file, and a crash leaves either the old or the new content.
    """
    path = Path(path)
    parent = path.parent
    try:
        st: Optional[os.stat_result] = os.stat(path)
    except FileNotFoundError:
        st = None
    remove_stale_tmps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            os.chmod(tmp, 0o644 & ~_umask())
        want_uid = uid if uid is not None else (st.st_uid if st is not None else -1)
        want_gid = gid if gid is not None else (st.st_gid if st is not None else -1)
        if (want_uid, want_gid) != (-1, -1) and os.geteuid() == 0:
            os.chown(tmp, want_uid, want_gid)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(parent)


TMP_SUFFIX = ".onboard-tmp"


def remove_stale_tmps(path: os.PathLike | str) -> None:
    """Remove temporary files that an atomic write of `path` left when its process was
    killed between creating them and the rename."""
    path = Path(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    prefix = f".{path.name}."
    for name in names:
        if name.startswith(prefix) and name.endswith(TMP_SUFFIX):
            try:
                os.unlink(path.parent / name)
            except OSError:
                pass


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def resolve_target(path: os.PathLike | str) -> Path:
    """Follow a dotfile symlink to the file it points at (we edit the target)."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_symlink():
        return Path(os.path.realpath(p))
    return p


def remove_tree(path: os.PathLike | str) -> None:
    """rm -rf that also works on read-only directories (Nix makes store paths read-only)."""
    import shutil

    p = str(path)
    if not os.path.lexists(p):
        return
    if os.path.islink(p) or not os.path.isdir(p):
        os.unlink(p)
        return
    for root, dnames, _f in os.walk(p):
        for d in dnames:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                try:
                    os.chmod(full, 0o755)
                except OSError:
                    pass
    try:
        os.chmod(p, 0o755)
    except OSError:
        pass
    shutil.rmtree(p)


def tree_size(path: os.PathLike | str) -> int:
    """Bytes in the files below `path` (links counted as themselves, unreadable entries as 0)."""
    total = 0
    for base, _dirs, files in os.walk(os.fspath(path)):
        for f in files:
            try:
                total += os.lstat(os.path.join(base, f)).st_size
            except OSError:
                pass
    return total
