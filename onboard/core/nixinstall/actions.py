"""The actions of a Nix install: download, /nix tree, unpack, store paths, database, profile,
nix.conf, shell rc blocks, nixpkgs config and the self-test.

Each one records the prior state before it changes anything, so a receipt written at
any point (even by a process killed mid-step) can be resumed or reverted.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.blocks import ENC, ERR, MarkedBlock, find_block, newline_of, remove_block
from onboard.core.actions.files import (file_snapshot, make_parents, missing_parents, remove_created_dirs, revert_file,
                                        write_with_parents)
from onboard.core.engine.action import Action, ActionError, Context, owner_ids, register
from onboard.core.engine.fsutil import atomic_write, fsync_dir, read_bytes, resolve_target, sha256_bytes
from onboard.core.events import ActionProgress
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.source import download, file_sha256, human, part_path
from onboard.core.nixinstall.unpack import (ReleaseInfo, UnpackError, check_store_path, release_info, remove_tree,
                                            safe_extract)

#: entries under /nix recorded before the install; more means a big existing store
MANIFEST_LIMIT = 50000
UNPACKED_MARKER = ".onboard-unpacked"


def nix_env(home: str, daemon: bool = False, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment for running the installed Nix: the right HOME and store."""
    env = {k: v for k, v in os.environ.items() if k not in ("NIX_REMOTE", "NIX_PATH")}
    env["HOME"] = home
    if daemon:
        env["NIX_REMOTE"] = "daemon"
    if extra:
        env.update(extra)
    return env


def run_nix(ctx: Context, argv: list[str], env: dict[str, str], **kw: Any) -> subprocess.CompletedProcess:
    saved = ctx.env
    ctx.env = env
    try:
        return ctx.run(argv, **kw)
    finally:
        ctx.env = saved


def unpacked_release(staging: str, store_dir: str = layout.STORE) -> Optional[ReleaseInfo]:
    """The release unpacked in `staging`, or None when it is not (completely) there."""
    marker = Path(staging) / UNPACKED_MARKER
    try:
        sha, top = marker.read_text().split("\n")[:2]
    except (FileNotFoundError, ValueError):
        return None
    try:
        return release_info(Path(staging) / top, store_dir)
    except (UnpackError, OSError):
        return None


def _need_release(staging: str, store_dir: str = layout.STORE) -> ReleaseInfo:
    info = unpacked_release(staging, store_dir)
    if info is None:
        try:
            top = (Path(staging) / UNPACKED_MARKER).read_text().split("\n")[1]
        except (OSError, IndexError):
            top = ""
        if top:  # unpacked, but not (any more) a release onboard accepts: say why
            try:
                release_info(Path(staging) / top, store_dir)
            except OSError:
                pass
        raise ActionError(f"the unpacked Nix release is missing from {staging}",
                          hint="run the install again: it unpacks the release first")
    return info


# -- download -----------------------------------------------------------------------------


@register
@dataclass
class FetchTarball(Action):
    """Download the release tarball into onboard's cache (kept for offline repair until uninstall)."""

    kind = "nix-download"
    url: str = ""
    sha256: str = ""
    dest: str = ""
    size: int = 0
    summary: str = ""

    def target(self) -> str:
        return self.dest

    def describe(self) -> str:
        size = f", {human(self.size)}" if self.size else ""
        return self.summary or f"download {self.url}{size} (checked against its SHA-256)"

    def paths(self) -> list[str]:
        return [self.dest, self.url]

    def check(self, ctx: Context) -> bool:
        p = Path(self.dest)
        return p.is_file() and file_sha256(p) == self.sha256

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"existed": os.path.exists(self.dest), "created_dirs": missing_parents(self.dest)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        dest = Path(self.dest)
        make_parents(dest)
        try:
            download(self.url, dest, self.sha256, emit=ctx.emit, action_id=ctx.action_id,
                     expected_size=self.size)
        except ActionError:
            if not part_path(dest).exists() and not dest.exists():
                remove_created_dirs(record.get("created_dirs", []))
            raise

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        for p in (Path(self.dest), part_path(Path(self.dest))):
            if p == Path(self.dest) and record.get("existed"):
                continue
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        remove_created_dirs(record.get("created_dirs", []))


# -- the /nix tree ------------------------------------------------------------------------


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


# -- unpack, store paths, database, profile ---------------------------------------------------


@register
@dataclass
class UnpackRelease(Action):
    """Check the tarball's SHA-256, then unpack it safely next to the store."""

    kind = "nix-unpack"
    archive: str = ""
    sha256: str = ""
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    summary: str = ""

    def target(self) -> str:
        return self.staging

    def describe(self) -> str:
        return self.summary or f"check the SHA-256 of {self.archive} and unpack it into {self.staging}"

    def check(self, ctx: Context) -> bool:
        marker = Path(self.staging) / UNPACKED_MARKER
        try:
            sha = marker.read_text().split("\n")[0]
        except FileNotFoundError:
            return False
        return sha == self.sha256 and unpacked_release(self.staging, self.store_dir) is not None

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"existed": os.path.lexists(self.staging)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        # One read of the archive both hashes and unpacks it (a file swapped in by path after a
        # separate check would be unpacked unchecked). It is unpacked beside the staging
        # directory and moved into place only once its hash matched and every store path it
        # names passed: before that, nothing of it is where later actions look.
        staging = Path(self.staging)
        work = _unpacking_dir(self.staging)
        remove_tree(staging)  # a partial unpack from a killed run
        remove_tree(work)
        work.mkdir(parents=True, mode=0o755)
        try:
            top = safe_extract(self.archive, work, sha256=self.sha256, store_dir=self.store_dir,
                               emit=ctx.emit, action_id=ctx.action_id)
            info = release_info(work / top, self.store_dir)
            if not (info.top / "store").is_dir():
                raise UnpackError(f"{self.archive} has no store/ directory: not a Nix release tarball")
            atomic_write(work / UNPACKED_MARKER, f"{self.sha256}\n{top}\n".encode(), mode=0o644)
            os.rename(work, staging)
            fsync_dir(staging.parent)
        except BaseException:
            remove_tree(work)
            raise
        ctx.log(f"unpacked {top}: {len(info.paths)} store paths, Nix at {info.nix}")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if record:
            remove_tree(_unpacking_dir(self.staging))
        if record and not record.get("existed"):
            remove_tree(self.staging)


def _unpacking_dir(staging: str) -> Path:
    """Where the release is unpacked before it is accepted (its hash and store paths checked)."""
    return Path(staging.rstrip("/") + ".unpacking")


def _make_read_only(path: str) -> None:
    for base, dnames, fnames in os.walk(path):
        for name in fnames:
            full = os.path.join(base, name)
            if not os.path.islink(full):
                os.chmod(full, stat.S_IMODE(os.lstat(full).st_mode) & ~0o222)
        for name in dnames:
            full = os.path.join(base, name)
            if not os.path.islink(full):
                os.chmod(full, 0o555)


@register
@dataclass
class StorePaths(Action):
    """Move the release's store paths into /nix/store, read-only (a rename: no copy)."""

    kind = "nix-store-paths"
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    summary: str = ""

    def target(self) -> str:
        return self.store_dir

    def describe(self) -> str:
        return self.summary or f"put the release's store paths into {self.store_dir}"

    def paths(self) -> list[str]:
        return [f"{self.store_dir}/* (the release's store paths)"]

    def check(self, ctx: Context) -> bool:
        info = unpacked_release(self.staging, self.store_dir)
        return info is not None and all(os.path.lexists(p) for p in info.paths)

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        info = unpacked_release(self.staging, self.store_dir)
        there = [p for p in info.paths if os.path.lexists(p)] if info else []
        return {"already_in_store": there}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        info = _need_release(self.staging, self.store_dir)
        src_store = info.top / "store"
        if src_store.is_symlink() or not src_store.is_dir():
            raise UnpackError(f"{src_store} is not a directory: the unpacked release is damaged",
                              hint="run the install again: it unpacks the release first")
        for p in info.paths:  # all of them before the first is moved
            check_store_path(p, self.store_dir, where=".reginfo")
            if (src_store / os.path.basename(p)).is_symlink():
                raise UnpackError(f"unsafe archive entry {info.top.name}/store/{os.path.basename(p)!r}: "
                                  "the store path is a symlink; nothing was moved into the store",
                                  hint="the tarball is not an official Nix release; use the official one")
        total = len(info.paths)
        for i, p in enumerate(info.paths, 1):
            name = os.path.basename(p)
            src = src_store / name
            if os.path.lexists(p):
                if os.path.lexists(src):
                    remove_tree(src)
                continue
            if not os.path.lexists(src):
                raise ActionError(f"the release lists {p} in .reginfo but has no store/{name}",
                                  hint="the tarball is incomplete; use the official one")
            if src.is_dir() and not src.is_symlink():
                _make_read_only(str(src))
                os.chmod(src, 0o755)
            try:
                os.rename(src, p)
            except OSError as exc:
                if exc.errno != 18:  # EXDEV: another file system
                    raise
                remove_tree(p + ".onboard-tmp")  # a copy cut short by an earlier run
                shutil.copytree(src, p + ".onboard-tmp", symlinks=True)
                os.rename(p + ".onboard-tmp", p)
                remove_tree(src)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o555)
            ctx.emit(ActionProgress(action_id=ctx.action_id, done=i, total=total, unit="paths",
                                    text=name))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        keep = set(record.get("already_in_store", []))
        info = unpacked_release(self.staging, self.store_dir)
        for p in (info.paths if info else []):
            if p not in keep and os.path.lexists(check_store_path(p, self.store_dir, where=".reginfo")):
                remove_tree(p)


@register
@dataclass
class LoadDb(Action):
    """Register the store paths in Nix's database: `nix-store --load-db < .reginfo`."""

    kind = "nix-load-db"
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    db: str = layout.STATE + "/db"
    home: str = ""
    summary: str = ""

    def target(self) -> str:
        return self.db

    def describe(self) -> str:
        return self.summary or "register the store paths in Nix's database (nix-store --load-db)"

    def check(self, ctx: Context) -> bool:
        info = unpacked_release(self.staging, self.store_dir)
        if info is None or not os.path.exists(os.path.join(self.db, "db.sqlite")):
            return False
        try:
            proc = subprocess.run([info.tool("nix-store"), "--check-validity", *info.paths],
                                  env=nix_env(self.home), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.returncode == 0

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        info = _need_release(self.staging, self.store_dir)
        run_nix(ctx, [info.tool("nix-store"), "--load-db"], nix_env(self.home),
                stdin_file=str(info.reginfo))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        """The database goes with /nix (the tree's revert); nothing else to undo."""


@register
@dataclass
class NixProfile(Action):
    """Create the profile with Nix (and the CA bundle) in it: `nix-env -p PROFILE -i NIX`."""

    kind = "nix-profile"
    profile: str = ""
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    home: str = ""
    summary: str = ""

    def target(self) -> str:
        return self.profile

    def describe(self) -> str:
        return self.summary or f"create the profile {self.profile} with Nix in it"

    def check(self, ctx: Context) -> bool:
        if not os.path.islink(self.profile):
            return False
        nix = os.path.join(self.profile, "bin", "nix")
        if not os.path.exists(nix):
            return False
        info = unpacked_release(self.staging, self.store_dir)
        return info is None or os.path.realpath(nix).startswith(info.nix + "/")

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"existed": os.path.lexists(self.profile)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        info = _need_release(self.staging, self.store_dir)
        os.makedirs(os.path.dirname(self.profile), exist_ok=True)
        extra = {}
        pkgs = [info.nix]
        if info.cacert:
            pkgs.append(info.cacert)
            extra["NIX_SSL_CERT_FILE"] = f"{info.cacert}/etc/ssl/certs/ca-bundle.crt"
        run_nix(ctx, [f"{info.nix}/bin/nix-env", "-p", self.profile, "-i", *pkgs],
                nix_env(self.home, extra=extra))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record or record.get("existed"):
            return
        d, base = os.path.split(self.profile)
        if not os.path.isdir(d):
            return
        for name in os.listdir(d):
            if name == base or re.fullmatch(re.escape(base) + r"-\d+-link", name):
                full = os.path.join(d, name)
                if os.path.islink(full):
                    os.unlink(full)


# -- configuration files -----------------------------------------------------------------------


def _writable_problem(path: str) -> Optional[str]:
    """Why onboard must not write `path` (read-only file, in the store, read-only fs), or None."""
    target = resolve_target(path)
    if str(target).startswith(layout.STORE + "/"):
        return f"{path} is a link into the Nix store (managed by another tool, e.g. home-manager)"
    if target.exists():
        if not target.is_file():
            return f"{target} is not a regular file"
        st = target.stat()
        if not st.st_mode & stat.S_IWUSR:
            return f"{target} is read-only (mode {stat.S_IMODE(st.st_mode):o})"
        if not os.access(target, os.W_OK):
            return f"{target} is not writable by you"
        parent = target.parent
    else:
        parent = target.parent
        while not parent.exists():
            parent = parent.parent
    if not os.access(parent, os.W_OK):
        return f"{parent} is not writable by you"
    return None


class _Preflight:
    """Refuse, before any change, to edit a file the user protected."""

    path: str

    def _preflight(self) -> None:
        problem = _writable_problem(self.path)
        if problem:
            raise ActionError(f"onboard will not edit {self.path}: {problem}",
                              hint=f"make it writable (chmod u+w {resolve_target(self.path)}) or move it "
                                   "aside, then run again")


@register
@dataclass
class ShellRcBlock(_Preflight, MarkedBlock):
    """A marked block in a shell startup file that puts Nix on PATH."""

    kind = "nix-rc-block"

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        self._preflight()
        record = super().snapshot(ctx)
        record["created_dirs"] = missing_parents(record["path"])
        return record

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        super().revert(ctx, record)


def show_config_problem(nix_bin: str, env: dict[str, str]) -> Optional[str]:
    """Run the installed `nix show-config`; a problem with the configuration, or None."""
    for argv in ([nix_bin, "--extra-experimental-features", "nix-command", "show-config"],
                 [nix_bin, "--extra-experimental-features", "nix-command", "config", "show"]):
        try:
            proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run {nix_bin}: {exc}"
        err = proc.stderr
        if proc.returncode != 0 and re.search(r"show-config.*(not a recogni[sz]ed|unrecognised)", err):
            continue
        bad = [ln for ln in err.splitlines() if "unknown setting" in ln or ln.startswith("error")]
        if proc.returncode != 0 or bad:
            return "\n".join(bad or err.strip().splitlines()[-3:]) or f"exit code {proc.returncode}"
        return None
    return None


@register
@dataclass
class NixConfBlock(_Preflight, MarkedBlock):
    """onboard's settings in nix.conf, accepted by the installed Nix (`nix show-config`)."""

    kind = "nix-conf-block"
    nix_bin: str = ""
    home: str = ""
    config_home: str = ""  # XDG_CONFIG_HOME for a user's nix.conf
    staging: str = ""  # else validate with the Nix of the release unpacked here

    def _nix(self) -> str:
        if self.nix_bin and os.path.exists(self.nix_bin):
            return self.nix_bin
        info = unpacked_release(self.staging) if self.staging else None
        return f"{info.nix}/bin/nix" if info else ""

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        self._preflight()
        record = super().snapshot(ctx)
        record["created_dirs"] = missing_parents(record["path"])
        return record

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        super().execute(ctx, record)
        nix = self._nix()
        if not nix:
            return
        extra = {"XDG_CONFIG_HOME": self.config_home} if self.config_home else {}
        problem = show_config_problem(nix, nix_env(self.home, extra=extra))
        if problem:
            record["post"] = sha256_bytes(read_bytes(record["path"]) or b"")
            super().revert(ctx, record)
            for k in ("post", "added_newline"):
                record.pop(k, None)
            raise ActionError(f"the installed Nix rejects the settings for {self.path}: {problem}; "
                              "the file was left as it was",
                              hint="fix the team's substituters / trusted-public-keys and run again")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        super().revert(ctx, record)


_COMMENT_RE = re.compile(r"/\*.*?\*/|#[^\n]*", re.S)


def strip_nix_comments(text: str) -> str:
    return _COMMENT_RE.sub("", text)


def nixpkgs_config_problem(text: str) -> Optional[str]:
    """Why onboard cannot merge its lines into this config.nix, or None."""
    code = strip_nix_comments(text).strip()
    if not code:
        return None
    if re.search(r"\ballowUnfree(Predicate)?\s*=", code):
        return "it already sets allowUnfree or allowUnfreePredicate"
    if not code.startswith("{") or not code.endswith("}"):
        return "it is not a plain attribute set { ... }"
    if re.match(r"^\{[^{}]*\}\s*:", code):
        return "it is a function ({ pkgs, ... }: ...)"
    return None


def insert_before_last_brace(text: str, block_lines: list[str], marker: str) -> str:
    text = remove_block(text, marker)
    nl = newline_of(text) if text else "\n"
    from onboard.core.actions.blocks import render_block

    block = render_block("\n".join(block_lines), marker, "#", nl)  # unindented: markers start lines
    code = strip_nix_comments(text).strip()
    if not code:
        return text + ("" if not text or text.endswith("\n") else nl) + "{" + nl + block + "}" + nl
    i = text.rfind("}")
    head = text[:i]
    if head and not head.endswith("\n"):
        head += nl
    return head + block + text[i:]


@register
@dataclass
class NixpkgsConfig(_Preflight, Action):
    """Unfree packages in ~/.config/nixpkgs/config.nix: merged into the file, never clobbering it."""

    kind = "nixpkgs-config"
    path: str = ""
    lines: list[str] = field(default_factory=list)
    marker: str = "nix-unfree"
    owner: str = ""
    summary: str = ""

    def id(self) -> str:
        return f"{self.kind}:{self.path}"

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"allow unfree packages in {self.path}"

    def _transform(self, original: bytes) -> bytes:
        return insert_before_last_brace(original.decode(ENC, ERR), self.lines, self.marker).encode(ENC, ERR)

    def check(self, ctx: Context) -> bool:
        data = read_bytes(resolve_target(self.path))
        if data is None:
            return False
        text = data.decode(ENC, ERR)
        span = find_block(text, self.marker)
        if span is None:
            return False
        body = [ln.strip() for ln in text[span[0]:span[1]].splitlines()[2:-1]]
        return body == [ln.strip() for ln in self.lines]

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        self._preflight()
        data = read_bytes(resolve_target(self.path))
        if data is not None:
            text = remove_block(data.decode(ENC, ERR), self.marker)
            problem = nixpkgs_config_problem(text)
            if problem:
                raise ActionError(f"onboard will not change {self.path}: {problem}",
                                  hint="add the unfree settings yourself, or remove them from the file")
        record = file_snapshot(ctx, self.path)
        record["created_dirs"] = missing_parents(record["path"])
        return record

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        target = Path(record["path"])
        new = self._transform(read_bytes(target) or b"")
        write_with_parents(target, new, record, 0o644, self.owner)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        data = read_bytes(record["path"])
        return {"post": sha256_bytes(data) if data is not None else None}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return

        def strip(current: bytes) -> Optional[bytes]:
            return remove_block(current.decode(ENC, ERR), self.marker).encode(ENC, ERR)

        revert_file(ctx, record, expected=self._transform, strip_own=strip)


# -- the self-test ------------------------------------------------------------------------------


SELF_TEST_EXPR = ('derivation {{ name = "onboard-self-test"; system = builtins.currentSystem; '
                  'builder = "/bin/sh"; args = [ "-c" "echo {nonce} > $out" ]; }}')


@register
@dataclass
class SelfTest(Action):
    """Prove the install works: the installed Nix builds a small derivation (through the daemon
    in daemon mode), and the result is deleted again."""

    kind = "nix-self-test"
    bindir: str = ""
    daemon: bool = False
    home: str = ""
    summary: str = ""

    def id(self) -> str:
        return f"{self.kind}:{'daemon' if self.daemon else 'local'}"

    def describe(self) -> str:
        how = "through nix-daemon" if self.daemon else "with the local store"
        return self.summary or f"prove Nix works: build a small derivation {how}"

    def paths(self) -> list[str]:
        return []

    def check(self, ctx: Context) -> bool:
        return False  # the proof is running it

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        nonce = os.urandom(8).hex()
        env = nix_env(self.home, daemon=self.daemon)
        expr = SELF_TEST_EXPR.format(nonce=nonce)
        try:
            drv = run_nix(ctx, [f"{self.bindir}/nix-instantiate", "-E", expr], env).stdout.strip()
            drv = drv.splitlines()[-1] if drv else ""
            out = run_nix(ctx, [f"{self.bindir}/nix-store", "--realise", drv], env).stdout.strip()
        except ActionError as exc:
            raise ActionError(f"the installed Nix could not build a test derivation: {exc}",
                              hint="read the log lines above; in containers without user namespaces "
                                   "set `sandbox = false` in nix.conf") from exc
        out = out.splitlines()[-1] if out else ""
        try:
            got = Path(out).read_text().strip()
        except OSError:
            got = ""
        if got != nonce:
            raise ActionError(f"the test build produced {out or 'nothing'} without the expected content")
        ctx.log(f"self-test ok: built {out}")
        run_nix(ctx, [f"{self.bindir}/nix-store", "--delete", out, drv], env, check=False)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        return {"preexisting": True}  # nothing to undo: the test build was deleted

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        """Nothing to undo."""
