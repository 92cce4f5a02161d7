"""What a Nix release holds: its Nix, its CA bundle and the store paths its .reginfo lists.

Every store path is checked with unpack.check_store_path, the one place that decides.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from onboard.core.nixinstall.unpack import STORE_DIR, UnpackError, check_store_path


@dataclass
class ReleaseInfo:
    top: Path  # the unpacked nix-VERSION-SYSTEM directory
    nix: str  # the store path of Nix itself
    cacert: str = ""  # the CA bundle's store path, when the release has one
    paths: list[str] = field(default_factory=list)  # every store path in .reginfo
    store_dir: str = STORE_DIR

    def __post_init__(self) -> None:
        # whatever builds one, its paths are store paths Nix accepts
        check_store_path(self.nix, self.store_dir, where="the release (its Nix)")
        if self.cacert:
            check_store_path(self.cacert, self.store_dir, where="the release (its CA bundle)")
        for p in self.paths:
            check_store_path(p, self.store_dir, where=".reginfo")

    @property
    def reginfo(self) -> Path:
        return self.top / ".reginfo"

    @property
    def version(self) -> str:
        m = re.search(r"-nix-(\d[\w.+-]*)$", self.nix)
        return m.group(1) if m else ""

    def tool(self, name: str) -> str:
        """The path of one of Nix's programs (nix-store, nix-env, ...) in the release's Nix."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise UnpackError(f"not a program name: {name!r}")
        return f"{check_store_path(self.nix, self.store_dir, where='the release (its Nix)')}/bin/{name}"


def parse_reginfo(text: str, store_dir: str = STORE_DIR) -> list[str]:
    """The store paths registered by a `nix-store --dump-db` file (.reginfo).

    Each record is: path, NAR hash, NAR size, deriver (may be empty), reference count, then
    that many references. Every path, deriver and reference must pass `check_store_path`.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        out.append(check_store_path(line, store_dir, where=f".reginfo (line {i + 1})"))
        try:
            count = int(lines[i + 4])
        except (IndexError, ValueError):
            raise UnpackError(f".reginfo is malformed after {line}") from None
        if count < 0 or i + 5 + count > len(lines):
            raise UnpackError(f".reginfo is malformed after {line}: {count} references announced")
        deriver = lines[i + 3]
        if deriver:
            check_store_path(deriver, store_dir, where=f".reginfo (line {i + 4}, the deriver of {line})")
        for j in range(i + 5, i + 5 + count):
            check_store_path(lines[j], store_dir, where=f".reginfo (line {j + 1}, a reference of {line})")
        i += 5 + count
    return out


def check_store_dir(top: Path, store_dir: str = STORE_DIR) -> None:
    """The release's store/ as unpacked: a real directory of store paths Nix accepts, none a symlink."""
    store = top / "store"
    try:
        st = os.lstat(store)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UnpackError(f"{top.name}/store is not a directory (a symlink or file): not a Nix release tarball")
    for name in sorted(os.listdir(store)):
        rel = f"{top.name}/store/{name}"
        check_store_path(f"{store_dir}/{name}", store_dir, where=f"the archive entry {rel!r}")
        if os.path.islink(store / name):
            raise UnpackError(f"unsafe archive entry {rel!r}: the store path is a symlink (to "
                              f"{os.readlink(store / name)!r}); nothing was moved into the store",
                              hint="the tarball is not an official Nix release; use the official one")


def _read_plain(path: Path) -> str:
    """A file of the release itself (never through a symlink)."""
    if path.is_symlink():
        raise UnpackError(f"{path.parent.name}/{path.name} is a symlink: not a Nix release tarball")
    return path.read_text(errors="replace")


def release_info(top: os.PathLike | str, store_dir: str = STORE_DIR) -> ReleaseInfo:
    """Read the unpacked release: its store paths and which of them is Nix (and the CA bundle)."""
    top = Path(top)
    try:
        reginfo = _read_plain(top / ".reginfo")
    except FileNotFoundError:
        raise UnpackError(f"{top.name} has no .reginfo: not a Nix release tarball") from None
    paths = parse_reginfo(reginfo, store_dir)
    if not paths:
        raise UnpackError(f"{top.name}/.reginfo lists no store paths")
    check_store_dir(top, store_dir)
    values: dict[str, str] = {}
    try:
        script = _read_plain(top / "install")
    except FileNotFoundError:
        script = ""
    for key in ("nix", "cacert"):
        m = re.search(rf'^{key}="([^"\n]*)"', script, re.M)
        if m:
            values[key] = check_store_path(m.group(1), store_dir,
                                           where=f"the install script's {key}=\"...\" line")
    nix = values.get("nix", "")
    if not nix:
        cands = [p for p in paths if re.search(r"-nix-\d", p)]
        nix = cands[0] if len(cands) == 1 else ""
    if not nix or nix not in paths:
        raise UnpackError(f"{top.name}: cannot tell which store path is Nix (no nix=\"...\" line in "
                          "its install script)")
    cacert = values.get("cacert", "")
    return ReleaseInfo(top=top, nix=nix, cacert=cacert if cacert in paths else "", paths=paths,
                       store_dir=store_dir)
