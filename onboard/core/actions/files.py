"""Files, directories and symlinks, reverted byte for byte unless the user edited them."""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from onboard.core.engine.action import Action, ActionError, Context, owner_ids, register
from onboard.core.engine.fsutil import (atomic_write, fsync_dir, read_bytes, remove_stale_tmps,
                                        remove_tree, resolve_target, sha256_bytes)


def missing_parents(path: os.PathLike | str) -> list[str]:
    """The parent directories of `path` that do not exist yet, outermost first. Recorded in the
    snapshot (write-ahead), so a process killed right after creating them still removes them."""
    missing = []
    p = Path(path).parent
    while not p.exists():
        missing.append(str(p))
        p = p.parent
    return list(reversed(missing))


def make_parents(path: Path, mode: int = 0o755) -> list[str]:
    """Create missing parent directories; return the ones created, outermost first."""
    missing = []
    p = path.parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=mode)
    return [str(d) for d in reversed(missing)]


def remove_created_dirs(dirs: list[str], ctx: Optional[Context] = None) -> None:
    for d in reversed(dirs):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            if ctx:
                ctx.notice(f"kept {d}: it holds files onboard did not put there", level="info")
            return


def backup_file(ctx: Context, path: Path) -> str:
    dest = ctx.backups() / f"{uuid.uuid4().hex[:12]}-{path.name}"
    shutil.copy2(path, dest, follow_symlinks=True)
    with open(dest, "rb") as fh:
        os.fsync(fh.fileno())
    fsync_dir(dest.parent)
    return str(dest)


def file_snapshot(ctx: Context, path: str) -> dict[str, Any]:
    """The state of a file about to be written: existence, bytes (backed up), mode, owner."""
    target = resolve_target(path)
    record: dict[str, Any] = {"path": str(target), "existed": target.exists(),
                              "created_dirs": missing_parents(target)}
    if record["existed"]:
        if not target.is_file():
            raise ActionError(f"{target} exists and is not a regular file",
                              hint="move it aside and run again")
        st = target.stat()
        data = read_bytes(target) or b""
        record.update(prior=sha256_bytes(data), mode=stat.S_IMODE(st.st_mode), uid=st.st_uid,
                      gid=st.st_gid, backup=backup_file(ctx, target))
    return record


def write_with_parents(target: Path, data: bytes, record: dict[str, Any], mode: Optional[int],
                       owner: str = "") -> None:
    made = make_parents(target)
    record.setdefault("created_dirs", made)
    uid, gid = owner_ids(owner)
    if not os.access(target.parent, os.W_OK):
        raise ActionError(f"cannot write {target}: {target.parent} is not writable",
                          hint="run with the rights to change it (root for system files)")
    if target.exists() and not os.access(target, os.W_OK) and os.geteuid() != 0:
        raise ActionError(f"cannot write {target}: the file is read-only",
                          hint=f"make it writable (chmod u+w {target}) and run again")
    atomic_write(target, data, mode=mode if not record.get("existed") else None, uid=uid, gid=gid)


def revert_file(ctx: Context, record: dict[str, Any],
                expected: Callable[[bytes], bytes],
                strip_own: Optional[Callable[[bytes], Optional[bytes]]] = None) -> None:
    """Undo a file change.

    Untouched since onboard wrote it: the prior bytes come back exactly (or the file goes,
    if onboard created it). Edited by the user since: only onboard's own part is removed
    (`strip_own`), or, for whole files, the file is kept and the user is told.
    """
    target = Path(record["path"])
    current = read_bytes(target)
    original = b""
    if record.get("existed"):
        b = read_bytes(record["backup"]) if record.get("backup") else None
        if b is None:
            raise ActionError(f"the backup of {target} is missing; left the file as it is")
        original = b
    if current is not None:
        post = record.get("post")
        untouched = (sha256_bytes(current) == post) if post else (current == expected(original))
        if not (current == original and record.get("existed")):  # else already as it was
            if untouched:
                if record.get("existed"):
                    atomic_write(target, original, mode=record.get("mode"))
                    if os.geteuid() == 0 and "uid" in record:
                        os.chown(target, record["uid"], record["gid"])
                else:
                    target.unlink()
            else:
                stripped = strip_own(current) if strip_own else None
                if stripped is None:
                    ctx.notice(f"kept {target}: it was edited after onboard wrote it")
                elif not record.get("existed") and not stripped.strip():
                    target.unlink()
                else:
                    atomic_write(target, stripped)
                    ctx.notice(f"{target} was edited after onboard changed it: removed only onboard's "
                               "part and kept your edits", level="info")
    remove_stale_tmps(target)
    remove_created_dirs(record.get("created_dirs", []), ctx)


@register
@dataclass
class WriteFile(Action):
    """A whole file onboard owns (a config it generates)."""

    kind = "write-file"
    path: str = ""
    content: str = ""
    mode: Optional[int] = None
    owner: str = ""
    summary: str = ""

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"write {self.path}"

    def check(self, ctx: Context) -> bool:
        target = resolve_target(self.path)
        if read_bytes(target) != self.content.encode():
            return False
        return self.mode is None or stat.S_IMODE(target.stat().st_mode) == self.mode

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return file_snapshot(ctx, self.path)

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        target = Path(record["path"])
        write_with_parents(target, self.content.encode(), record, self.mode, self.owner)
        if self.mode is not None:
            os.chmod(target, self.mode)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        data = read_bytes(record["path"])
        return {"post": sha256_bytes(data) if data is not None else None}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        revert_file(ctx, record, expected=lambda _orig: self.content.encode())


@register
@dataclass
class EnsureDirectory(Action):
    kind = "directory"
    path: str = ""
    mode: Optional[int] = None
    owner: str = ""
    group: str = ""
    #: on revert, remove what is inside too (for trees onboard fills, such as /nix)
    remove_contents: bool = False
    summary: str = ""

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"create directory {self.path}"

    def _ids(self) -> tuple[Optional[int], Optional[int]]:
        uid, gid = owner_ids(self.owner)
        if self.group:
            import grp

            gid = grp.getgrnam(self.group).gr_gid
        return uid, gid

    def check(self, ctx: Context) -> bool:
        p = Path(self.path)
        if not p.is_dir() or p.is_symlink():
            return False
        st = p.stat()
        if self.mode is not None and stat.S_IMODE(st.st_mode) != self.mode:
            return False
        try:
            uid, gid = self._ids()
        except KeyError:
            return False
        return (uid is None or st.st_uid == uid) and (gid is None or st.st_gid == gid)

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        p = Path(self.path)
        if p.exists() and not p.is_dir():
            raise ActionError(f"{p} exists and is not a directory", hint="move it aside and run again")
        rec: dict[str, Any] = {"existed": p.is_dir(), "created_dirs": missing_parents(p)}
        if rec["existed"]:
            st = p.stat()
            rec.update(mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)
        return rec

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        p = Path(self.path)
        if not p.is_dir():
            made = make_parents(p)
            record.setdefault("created_dirs", made)
            try:
                p.mkdir(mode=self.mode if self.mode is not None else 0o755)
            except FileExistsError:
                pass
            except PermissionError as exc:
                raise ActionError(f"cannot create {p}: permission denied",
                                  hint="run as root or with sudo") from exc
        if self.mode is not None:
            os.chmod(p, self.mode)
        uid, gid = self._ids()
        if uid is not None or gid is not None:
            os.chown(p, -1 if uid is None else uid, -1 if gid is None else gid)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        p = Path(self.path)
        if record.get("existed"):
            if p.is_dir() and "mode" in record:
                os.chmod(p, record["mode"])
                if os.geteuid() == 0:
                    os.chown(p, record["uid"], record["gid"])
            return
        if p.is_dir() and not p.is_symlink():
            if self.remove_contents:
                remove_tree(p)
            else:
                try:
                    p.rmdir()
                except OSError:
                    ctx.notice(f"kept {p}: it holds files onboard did not put there")
                    return
        remove_created_dirs(record.get("created_dirs", []), ctx)


@register
@dataclass
class Symlink(Action):
    kind = "symlink"
    path: str = ""
    points_to: str = ""
    summary: str = ""

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"link {self.path} -> {self.points_to}"

    def check(self, ctx: Context) -> bool:
        return os.path.islink(self.path) and os.readlink(self.path) == self.points_to

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        p = Path(self.path)
        rec: dict[str, Any] = {"existed": os.path.lexists(p), "created_dirs": missing_parents(p)}
        if rec["existed"]:
            if p.is_symlink():
                rec["old_link"] = os.readlink(p)
            elif p.is_file():
                rec["backup"] = backup_file(ctx, p)
                rec["mode"] = stat.S_IMODE(p.stat().st_mode)
            else:
                raise ActionError(f"{p} exists and is a directory", hint="move it aside and run again")
        return rec

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        p = Path(self.path)
        made = make_parents(p)
        record.setdefault("created_dirs", made)
        tmp = p.with_name(f".{p.name}.onboard-tmp")
        if os.path.lexists(tmp):
            tmp.unlink()
        os.symlink(self.points_to, tmp)
        os.replace(tmp, p)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        p = Path(self.path)
        tmp = p.with_name(f".{p.name}.onboard-tmp")
        if os.path.islink(tmp):
            tmp.unlink()
        if os.path.islink(p) and os.readlink(p) == self.points_to:
            p.unlink()
        elif os.path.lexists(p):
            ctx.notice(f"kept {p}: it was changed after onboard linked it")
            return
        if "old_link" in record:
            os.symlink(record["old_link"], p)
        elif record.get("backup"):
            shutil.copy2(record["backup"], p)
        remove_created_dirs(record.get("created_dirs", []), ctx)
