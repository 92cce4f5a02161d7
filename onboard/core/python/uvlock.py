"""Reading uv.lock (TOML, written by `uv lock`) into a `Lock`.

uv.lock must sit beside the project's pyproject.toml. Every registry or URL artifact must
carry its sha256: that is what makes it a fixed-output fetch. TOML parsers give no
positions, so a small scan of the text maps each package and artifact URL to its line,
for `uv.lock:LINE: message` problems.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from onboard.core.python.markers import normalize_name
from onboard.core.python.model import FIX_INIT, FIX_UV_LOCK, SHA256_RE, Artifact, Dependency, Lock, Package
from onboard.core.schema import Problem

# tomllib from 3.11 on; tomli (the same parser, a dependency on 3.10) before
tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")

__all__ = ["read_uv_lock", "load_toml", "project_name"]

#: the uv.lock format versions this reader knows
FORMAT_VERSIONS = (1,)
_TOML_LINE_RE = re.compile(r"at line (\d+)(?:, column (\d+))?")


def load_toml(path: str, problems: list[Problem], what: str) -> Optional[dict[str, Any]]:
    """A TOML file as a dict, or None after a problem (unreadable, not TOML)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        problems.append(Problem(path, 0, 0, f"cannot read {what}: {exc.strerror or exc}"))
        return None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(path, 0, 0, f"{what} is not UTF-8 text"))
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE_RE.search(str(exc))
        line, col = (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)
        why = _TOML_LINE_RE.sub("", str(exc)).strip(" ()")
        problems.append(Problem(path, line, col, f"{what} is not valid TOML: {why}"))
    return None


def project_name(pyproject: dict[str, Any]) -> str:
    proj = pyproject.get("project")
    name = proj.get("name") if isinstance(proj, dict) else None
    return normalize_name(name) if isinstance(name, str) else ""


class _Lines:
    """Where things are in uv.lock's text: each package's `name =` line, each URL's line."""

    def __init__(self, text: str) -> None:
        self.package: dict[tuple[str, str], int] = {}
        self.url: dict[str, int] = {}
        name, name_line, in_pkg = "", 0, False
        for i, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if s.startswith("["):
                in_pkg = s == "[[package]]"
                name = ""
                continue
            if in_pkg and not name:
                m = re.match(r'name\s*=\s*"([^"]*)"', s)
                if m:
                    name, name_line = normalize_name(m.group(1)), i
                    continue
            if in_pkg and name:
                m = re.match(r'version\s*=\s*"([^"]*)"', s)
                if m and (name, m.group(1)) not in self.package:
                    self.package[(name, m.group(1))] = name_line
            for m in re.finditer(r'\burl\s*=\s*"([^"]*)"', line):
                self.url.setdefault(m.group(1), i)


def _deps(raw: Any) -> list[Dependency]:
    out: list[Dependency] = []
    for d in raw if isinstance(raw, list) else []:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            continue
        extras = d.get("extra") or []
        out.append(Dependency(name=normalize_name(d["name"]), marker=str(d.get("marker") or ""),
                              extras=tuple(sorted(normalize_name(e) for e in extras if isinstance(e, str))),
                              version=str(d.get("version") or "")))
    return out


def _source(raw: Any) -> tuple[str, str]:
    if isinstance(raw, dict):
        for kind in ("registry", "url", "git", "path", "directory", "editable", "virtual"):
            if kind in raw:
                return kind, str(raw[kind])
    return "unknown", ""


def _artifact(raw: Any, pkg: Package, lines: _Lines, lock_path: str, problems: list[Problem]) -> Optional[Artifact]:
    if not isinstance(raw, dict):
        return None
    url = str(raw.get("url") or "")
    ref = url or str(raw.get("path") or "")
    filename = str(raw.get("filename") or unquote(urlsplit(ref).path.rsplit("/", 1)[-1]))
    line = lines.url.get(url, pkg.line) if url else pkg.line
    h = raw.get("hash")
    if not isinstance(h, str) or not h:
        problems.append(Problem(lock_path, line, 0,
                                f"{pkg.name} {pkg.version}: `{filename or ref}` has no hash in uv.lock, so it "
                                f"cannot be pinned; make the lock again with `{FIX_UV_LOCK}`"))
        return None
    algo, _, digest = h.partition(":")
    if algo != "sha256" or not SHA256_RE.match(digest.lower()):
        problems.append(Problem(lock_path, line, 0,
                                f"{pkg.name} {pkg.version}: `{filename}` has the hash `{h}`; onboard needs "
                                f"a sha256 (sha256:<64 hex digits>): make the lock again with `{FIX_UV_LOCK}`"))
        return None
    size = raw.get("size")
    return Artifact(filename=filename, url=url, sha256=digest.lower(),
                    size=size if isinstance(size, int) and not isinstance(size, bool) else None)


def read_uv_lock(path: str, pyproject: Optional[str] = None) -> tuple[Optional[Lock], list[Problem]]:
    """Read uv.lock at `path` (its pyproject.toml: `pyproject`, default the one beside it)."""
    problems: list[Problem] = []
    pyproject = pyproject or os.path.join(os.path.dirname(os.path.abspath(path)), "pyproject.toml")
    if not os.path.isfile(pyproject):
        problems.append(Problem(path, 0, 0, f"no pyproject.toml beside it ({pyproject}): uv.lock is the lock of "
                                            f"a project; make one with `{FIX_INIT}`, add the dependencies "
                                            f"(`uv add NAME`), then `{FIX_UV_LOCK}`"))
        return None, problems
    project = load_toml(pyproject, problems, "pyproject.toml")
    data = load_toml(path, problems, "uv.lock")
    if data is None or project is None:
        return None, problems
    text = Path(path).read_text(encoding="utf-8")
    lines = _Lines(text)
    version = data.get("version")
    if version not in FORMAT_VERSIONS:
        problems.append(Problem(path, 1, 0, f"uv.lock has format version {version!r}; this onboard reads version "
                                            f"{', '.join(map(str, FORMAT_VERSIONS))}: update onboard, or make "
                                            f"the lock with a uv that writes it (`{FIX_UV_LOCK}`)"))
        return None, problems
    raw_packages = data.get("package")
    if not isinstance(raw_packages, list):
        problems.append(Problem(path, 1, 0, f"uv.lock has no [[package]] entries: make it with `{FIX_UV_LOCK}`"))
        return None, problems
    lock = Lock(format="uv.lock", path=os.path.abspath(path), inputs=[os.path.abspath(path), os.path.abspath(pyproject)],
                requires_python=str(data.get("requires-python") or ""))
    for raw in raw_packages:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        kind, where = _source(raw.get("source"))
        name, ver = normalize_name(raw["name"]), str(raw.get("version") or "")
        pkg = Package(name=name, version=ver, source=kind, source_url=where, file=lock.path,
                      line=lines.package.get((name, ver), 0),
                      dependencies=_deps(raw.get("dependencies")),
                      optional={normalize_name(k): _deps(v) for k, v in (raw.get("optional-dependencies") or {}).items()},
                      groups={normalize_name(k): _deps(v) for k, v in (raw.get("dev-dependencies") or {}).items()},
                      resolution_markers=[m for m in raw.get("resolution-markers") or [] if isinstance(m, str)])
        fetched = kind in ("registry", "url")
        for w in raw.get("wheels") or []:
            a = _artifact(w, pkg, lines, lock.path, problems) if fetched else None
            if a is not None:
                pkg.wheels.append(a)
        if fetched and raw.get("sdist") is not None:
            pkg.sdist = _artifact(raw.get("sdist"), pkg, lines, lock.path, problems)
        if fetched and not raw.get("wheels") and raw.get("sdist") is None:
            problems.append(Problem(lock.path, pkg.line, 0, f"{name} {ver}: uv.lock lists no file to download "
                                                            f"for it; make the lock again with `{FIX_UV_LOCK}`"))
        lock.packages.append(pkg)
    manifest = data.get("manifest")
    members = manifest.get("members") if isinstance(manifest, dict) else None
    if isinstance(members, list) and members:
        lock.roots = sorted(normalize_name(m) for m in members if isinstance(m, str))
    else:
        lock.roots = sorted({p.name for p in lock.packages if p.source in ("virtual", "editable")
                             and p.source_url in (".", "")})
    own = project_name(project)
    if own and own not in lock.roots and not any(p.name == own for p in lock.packages):
        problems.append(Problem(lock.path, 1, 0, f"uv.lock is not the lock of `{own}` (its pyproject.toml): "
                                                 f"make it again with `{FIX_UV_LOCK}`"))
    elif own and own not in lock.roots:
        lock.roots.append(own)
    if not lock.roots:
        problems.append(Problem(lock.path, 1, 0, "uv.lock names no project (no package with source "
                                                 f"`virtual` or `editable`); make it again with `{FIX_UV_LOCK}`"))
    return lock, problems
