"""/nix and Nix's state directories; its revert removes whatever Nix made there since."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core.engine.action import Action, ActionError, Context, owner_ids, register
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.unpack import remove_tree


#: entries under /nix recorded before the install; more means a big existing store
MANIFEST_LIMIT = 50000


def mounts_below(root: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points strictly inside `root` (root itself may be a mount)."""
    root = os.path.realpath(root)
    out = []
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) < 5:
                    continue
                point = fields[4].encode().decode("unicode_escape")  # \040 for a space
                if point.startswith(root.rstrip("/") + "/"):
                    out.append(point)
    except OSError:
        return []
    return sorted(set(out))


def _lstat_entry(path: str) -> list[Any]:
    st = os.lstat(path)
    kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "f"
    return [kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]


def tree_manifest(root: str, limit: int = MANIFEST_LIMIT) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    if not os.path.lexists(root):
        return out
    out["."] = _lstat_entry(root)
    for base, dnames, fnames in os.walk(root):
        for name in dnames + fnames:
            full = os.path.join(base, name)
            out[os.path.relpath(full, root)] = _lstat_entry(full)
            if len(out) > limit:
                raise ActionError(f"{root} already holds more than {limit} entries; onboard will not take "
                                  "it over", hint="uninstall the Nix that is there, or use --mode skip")
    return out


def _as_root(argv: list[str]) -> list[str]:
    return argv if os.geteuid() == 0 else ["sudo", *argv]


@register
@dataclass
class NixTree(Action):
    """/nix and the directories Nix needs, owned by the right user and group.

    Its revert removes everything under /nix that was not there before the install
    (store paths, database, profiles, sockets, logs: whatever Nix made since), restores
    what was, and removes what Nix made in the home directory (~/.nix-profile, ...).
    """

    kind = "nix-tree"
    root: str = layout.NIX_ROOT
    owner: str = ""
    group: str = ""
    store_mode: int = 0o755
    store_group: str = ""
    dirs: list[str] = field(default_factory=list)
    home: str = ""
    home_items: list[str] = field(default_factory=list)
    summary: str = ""

    def __post_init__(self) -> None:
        self.needs_root = bool(self.store_group)  # type: ignore[misc]

    @property
    def store(self) -> str:
        return os.path.join(self.root, "store")

    def target(self) -> str:
        return self.root

    def describe(self) -> str:
        return self.summary or f"create {self.root} with the store and Nix's state directories"

    def paths(self) -> list[str]:
        out = [self.root, self.store, *self.dirs]
        out += [f"{layout.home_path(self.home, h)} (made by Nix)" for h in self.home_items]
        return out

    def _ids(self) -> tuple[Optional[int], Optional[int]]:
        uid, gid = owner_ids(self.owner) if self.owner else (None, None)
        if self.group:
            import grp

            gid = grp.getgrnam(self.group).gr_gid
        return uid, gid

    def check(self, ctx: Context) -> bool:
        try:
            uid, _gid = self._ids()
            sgid = self._store_gid()
        except KeyError:
            return False
        for d in [self.root, self.store, *self.dirs]:
            if not os.path.isdir(d) or os.path.islink(d):
                return False
        st = os.stat(self.store)
        if stat.S_IMODE(st.st_mode) != self.store_mode:
            return False
        if sgid is not None and st.st_gid != sgid:
            return False
        return uid is None or os.stat(self.root).st_uid == uid

    def _store_gid(self) -> Optional[int]:
        if not self.store_group:
            return None
        import grp

        return grp.getgrnam(self.store_group).gr_gid

    def repair_keeps_snapshot(self, ctx: Context, record: dict[str, Any]) -> bool:
        # The record is /nix as it was before the install; a repair must not mistake the
        # installed store for something that was already there.
        return "manifest" in record

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        home_existed = {}
        for item in self.home_items:
            parts = Path(item).parts
            for i in range(1, len(parts) + 1):
                rel = str(Path(*parts[:i]))
                home_existed[rel] = os.path.lexists(layout.home_path(self.home, rel))
        return {"manifest": tree_manifest(self.root), "home_existed": home_existed}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        uid, gid = self._ids()
        if not os.path.isdir(self.root):
            if os.geteuid() == 0 or os.access(os.path.dirname(self.root), os.W_OK):
                os.mkdir(self.root, 0o755)
                if uid is not None and os.geteuid() == 0:
                    os.chown(self.root, uid, -1 if gid is None else gid)
            else:
                ctx.log(f"creating {self.root} needs root once: asking sudo")
                ctx.run(["sudo", "install", "-d", "-m", "0755", "-o", str(os.getuid()),
                         "-g", str(os.getgid()), self.root])
        elif uid is not None and os.geteuid() == 0 and os.stat(self.root).st_uid != uid:
            os.chown(self.root, uid, -1 if gid is None else gid)
        sgid = self._store_gid()
        for d in [self.store, *self.dirs]:
            try:
                os.makedirs(d, mode=0o755, exist_ok=True)
            except PermissionError as exc:
                raise ActionError(f"cannot create {d}: permission denied",
                                  hint=f"{self.root} must be writable by you (or run as root)") from exc
            if os.geteuid() == 0 and uid is not None and os.stat(d).st_uid != uid and \
                    not self._preexisting(record, d):
                os.chown(d, uid, -1 if gid is None else gid)
        if os.geteuid() == 0:
            os.chown(self.store, 0 if uid is None else uid, -1 if sgid is None else sgid)
        os.chmod(self.store, self.store_mode)

    def _preexisting(self, record: dict[str, Any], path: str) -> bool:
        rel = os.path.relpath(path, self.root)
        return rel in record.get("manifest", {})

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "manifest" not in record:
            return
        manifest: dict[str, list[Any]] = record["manifest"]
        problems: list[str] = []
        mounted = mounts_below(self.root)
        if mounted:  # walking bottom-up would empty them before noticing they are mounts
            raise ActionError(f"something is mounted inside {self.root}: {', '.join(mounted[:5])}; "
                              "nothing under it was removed",
                              hint="unmount it (umount PATH) and run `onboard uninstall` again")
        if os.path.lexists(self.root):
            for base, dnames, fnames in os.walk(self.root, topdown=False):
                for name in fnames + dnames:
                    full = os.path.join(base, name)
                    rel = os.path.relpath(full, self.root)
                    prior = manifest.get(rel)
                    if prior is None:
                        _remove_entry(full, problems)
                    elif prior[0] == "d" and os.path.isdir(full) and not os.path.islink(full):
                        _restore_dir(full, prior)
            if "." in manifest:
                if os.path.isdir(self.root):
                    _restore_dir(self.root, manifest["."])
            else:
                try:
                    os.rmdir(self.root)
                except PermissionError:
                    ctx.run(_as_root(["rmdir", self.root]), check=False)
                except OSError as exc:
                    problems.append(f"{self.root}: {exc.strerror}")
        existed: dict[str, bool] = record.get("home_existed", {})
        for rel in sorted(existed, key=lambda r: -len(Path(r).parts)):
            if existed[rel]:
                continue
            full = layout.home_path(self.home, rel)
            if rel in self.home_items:
                _remove_entry(full, problems, recursive=True)
            else:  # a parent directory Nix made: only when empty
                try:
                    os.rmdir(full)
                except OSError:
                    pass
        if problems:
            raise ActionError("some of what Nix put in place could not be removed: " + "; ".join(problems[:5]),
                              hint="remove those by hand (as root), then run `onboard uninstall` again")


def _restore_dir(path: str, prior: list[Any]) -> None:
    try:
        st = os.lstat(path)
        if stat.S_IMODE(st.st_mode) != prior[1]:
            os.chmod(path, prior[1])
        if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (prior[2], prior[3]):
            os.chown(path, prior[2], prior[3], follow_symlinks=False)
    except OSError:
        pass


def _remove_entry(path: str, problems: list[str], recursive: bool = False) -> None:
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            try:
                os.unlink(path)
            except PermissionError:
                os.chmod(os.path.dirname(path), 0o755)
                os.unlink(path)
        elif os.path.ismount(path):
            problems.append(f"{path} is a mount point")
        elif recursive:
            remove_tree(path)
        else:
            try:
                os.rmdir(path)
            except PermissionError:
                os.chmod(os.path.dirname(path), 0o755)
                os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if recursive or not os.path.isdir(path):
            problems.append(f"{path}: {exc.strerror}")
        else:
            try:
                remove_tree(path)
            except OSError as exc2:
                problems.append(f"{path}: {exc2.strerror}")
