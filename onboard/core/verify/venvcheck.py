"""The locked Python's venv against its lock: every file the lock's wheels install is there
with the hash the wheel's own RECORD gives, and nothing else is (a `pip install` by hand, a
dist-info the lock does not name, an edited file).

The wheels are the wheelhouse's store paths (their NAR hashes are checked with the rest of
the closure), so the RECORD read from them is the lock's word, not the venv's.
"""

from __future__ import annotations

import base64
import csv
import glob
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Optional

from onboard.core.profiles.cache import sha256_file

#: files an installer adds to a dist-info beside what the wheel holds
_INSTALLER_FILES = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json", "uv_cache.json", "uv_build.json"}
#: files `uv venv` and onboard put into site-packages themselves
_VENV_FILES = {"_virtualenv.py", "_virtualenv.pth", "_onboard_from_nix.pth"}


@dataclass
class VenvReport:
    venv: str  # the venv's directory (machine-local)
    lock: str  # the lock identity
    packages: dict[str, str] = field(default_factory=dict)  # name -> version, as the lock says
    files: dict[str, str] = field(default_factory=dict)  # site-packages path -> sha256 (hex) found
    problems: list[str] = field(default_factory=list)  # plain sentences, one per problem




def _record_hash(value: str) -> Optional[str]:
    algo, _, b64 = value.partition("=")
    if algo != "sha256" or not b64:
        return None
    try:
        return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    except ValueError:
        return None


def _installed_path(path: str) -> Optional[str]:
    """Where a wheel's file lands relative to site-packages (None: outside it, e.g. scripts)."""
    first, _, rest = path.partition("/")
    if first.endswith(".data"):
        kind, _, inner = rest.partition("/")
        return inner if kind in ("purelib", "platlib") and inner else None
    return path


def wheel_record(wheel: str) -> dict[str, Optional[str]]:
    """site-packages path -> sha256 (hex; None when RECORD gives none) of every file the wheel installs."""
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
        if not names:
            return {}
        text = z.read(names[0]).decode("utf-8", "replace")
    out: dict[str, Optional[str]] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0]:
            continue
        dest = _installed_path(row[0])
        if dest is not None:
            out[dest] = _record_hash(row[1]) if len(row) > 1 else None
    return out


def lock_packages(wheelhouse: str) -> dict[str, str]:
    """name -> version from the wheelhouse's requirements.txt (exactly what the lock chose)."""
    out: dict[str, str] = {}
    try:
        with open(os.path.join(wheelhouse, "requirements.txt"), encoding="utf-8") as fh:
            for line in fh:
                spec = line.split("--hash", 1)[0].strip().rstrip("\\").strip()
                if "==" in spec and not spec.startswith("#"):
                    name, _, version = spec.partition("==")
                    out[_norm(name.split(";")[0].split("[")[0])] = version.split(";")[0].strip()
    except OSError:
        pass
    return out


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _dist_name(dist_info: str) -> tuple[str, str]:
    stem = dist_info[:-len(".dist-info")]
    name, _, version = stem.partition("-")
    return _norm(name), version


def _site_packages(venv: str) -> Optional[str]:
    found = sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages")))
    return found[0] if found else None


def _is_editable(dist: str) -> bool:
    try:
        with open(os.path.join(dist, "direct_url.json"), encoding="utf-8") as fh:
            return bool(json.load(fh).get("dir_info", {}).get("editable"))
    except (OSError, ValueError, AttributeError):
        return False


def check_venv(venv: str, wheelhouse: str, lock: str, editable: bool = False) -> VenvReport:
    rep = VenvReport(venv=venv, lock=lock, packages=lock_packages(wheelhouse))
    site = _site_packages(venv)
    if site is None:
        rep.problems.append(f"the virtualenv {venv} is missing (`onboard shell` makes it again)")
        return rep
    expected: dict[str, Optional[str]] = {}
    locked_dists: set[str] = set()
    for wheel in sorted(glob.glob(os.path.join(wheelhouse, "wheels", "*.whl"))):
        try:
            rec = wheel_record(wheel)
        except (OSError, zipfile.BadZipFile, KeyError):
            rep.problems.append(f"the wheel {os.path.basename(wheel)} cannot be read")
            continue
        expected.update(rec)
        locked_dists.update(p.split("/", 1)[0] for p in rec if p.split("/", 1)[0].endswith(".dist-info"))
    for rel, want in sorted(expected.items()):
        top, _, base = rel.partition("/")
        if want is None and top.endswith(".dist-info") and base in _INSTALLER_FILES:
            continue  # the installer rewrites its own RECORD (with its cache's file in it): machine-local
        full = os.path.join(site, rel)
        if not os.path.isfile(full):
            if want is not None:
                rep.problems.append(f"{rel} is missing from the virtualenv")
            continue
        got = sha256_file(full)
        rep.files[rel] = got
        if want is not None and got != want:
            rep.problems.append(f"{rel} was changed (its hash is not the one its wheel's RECORD gives)")
    _unexpected(rep, site, expected, locked_dists, editable)
    return rep


def _unexpected(rep: VenvReport, site: str, expected: dict[str, Optional[str]], locked_dists: set[str],
                editable: bool) -> None:
    """Name each dist-info the lock does not have (with the files its RECORD lists) and each
    other file no locked wheel installs."""
    owned: set[str] = set()
    for entry in sorted(os.listdir(site)):
        if not entry.endswith(".dist-info") or entry in locked_dists:
            continue
        dist = os.path.join(site, entry)
        files = _dist_files(dist)
        owned.update(files)
        owned.update(f"{entry}/{f}" for f in os.listdir(dist))
        if editable and _is_editable(dist):
            owned.update(f for f in os.listdir(site) if f.startswith("__editable__") or f.endswith(".pth"))
            continue
        name, version = _dist_name(entry)
        rep.problems.append(f"{name} {version} is installed but not in the lock ({entry})")
    for dirpath, dirnames, filenames in os.walk(site):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), site)
            if rel in expected or rel in owned or rel in _VENV_FILES or f.endswith(".pyc"):
                continue
            top = rel.split("/", 1)[0]
            if top in locked_dists and f in _INSTALLER_FILES:
                continue
            rep.problems.append(f"{rel} is in the virtualenv but no locked wheel installs it")
            rep.files[rel] = sha256_file(os.path.join(dirpath, f))


def _dist_files(dist: str) -> set[str]:
    try:
        with open(os.path.join(dist, "RECORD"), encoding="utf-8") as fh:
            return {row[0] for row in csv.reader(fh) if row and row[0]}
    except OSError:
        return set()
