"""The profile keys of a locked Python, checked with positions, and the lock read at load time.

`check_lock_keys` runs inside the schema's `python:` mapping (lock, editable, from_nix,
extras); `resolve` runs when the extends chain is merged: it reads the lock (uv.lock with
its pyproject.toml, or a hashed requirements file), chooses the artifacts for this machine
and the profile's Python, and reports, at file:line, what cannot be used (an sdist, a
package both locked and taken from Nix, a `pythonXPackages.*` package outside `from_nix`).
The selection is kept on the profile's PythonSpec for the renderer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from onboard.core.profiles.model import Profile
    from onboard.core.schema import Checker, YNode
    from onboard.core.schema.source import Problem

__all__ = ["LOCK_KEYS", "check_lock_keys", "resolve", "project_root_of", "nix_system"]

LOCK_KEYS = ("lock", "editable", "from_nix", "extras", "build_systems")
_NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]*"


def project_root_of(profile_file: str) -> str:
    """The project a profile belongs to: the root found from its directory, else that directory."""
    from onboard.core import project as projects

    here = os.path.dirname(os.path.abspath(profile_file))
    return projects.find_root(here) or here


def check_lock_keys(m: "YNode", file: str, c: "Checker") -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = m.get("lock")
    if node is not None:
        v = c.text(node, "python.lock", nonempty=True)
        if v is not None:
            path = os.path.normpath(os.path.join(project_root_of(file), os.path.expanduser(v)))
            if not os.path.isfile(path):
                c.error(node, f"python.lock: no such file: {path} (the path is relative to the project "
                              "root; make it with `uv lock` there, or `onboard lock`)")
            else:
                out["lock"] = path
                out["lock_line"] = node.mark.line
    if m.get("editable") is not None:
        b = c.boolean(m.get("editable"), "python.editable")
        if b is not None:
            out["editable"] = b
    bs = m.get("build_systems")
    if bs is not None:
        out.update(_check_build_systems(bs, c))
    for key in ("from_nix", "extras"):
        if m.get(key) is not None:
            items = c.text_list(m.get(key), f"python.{key}", pattern=_NAME_RE,
                                pattern_hint="give a Python package name, like numpy") or []
            out[key] = [v for v, _n in items]
            out[key + "_lines"] = {v: n.mark.line for v, n in items}
    return out


def _check_build_systems(node: "YNode", c: "Checker") -> dict[str, Any]:
    """python.build_systems: {PACKAGE: [NAME, ...]}, the build backend of each sdist."""
    import re

    m = c.mapping(node, "python.build_systems")
    if m is None:
        return {}
    systems: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    for pair in m.pairs():
        key = pair.key.value
        if not isinstance(key, str) or not re.fullmatch(_NAME_RE, key):
            c.error(pair.key, f"python.build_systems: `{pair.key.raw}` is not a Python package name (the sdist "
                              "of the lock whose build backend follows, like psycopg2)")
            continue
        what = f"python.build_systems.{key}"
        items = c.text_list(pair.value, what, pattern=_NAME_RE,
                            pattern_hint="give the build backend's package names, like [setuptools, wheel]")
        if items is None:
            continue
        if not items:
            c.error(pair.value, f"{what}: name at least one package, like [setuptools, wheel]")
            continue
        systems[key] = [v for v, _n in items]
        lines[key] = pair.key.mark.line
    return {"build_systems": systems, "build_systems_lines": lines}


def nix_system() -> str:
    """This machine as a Nix system name."""
    machine = os.uname().machine
    return {"arm64": "aarch64"}.get(machine, machine) + "-linux"


def _norm(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(p: "Profile", raw: dict[str, Any], python_file: str, python_line: int,
            package_lines: dict[str, tuple[str, int]]) -> list["Problem"]:
    """Read and select the profile's lock; keep the selection on p.python. Problems at file:line."""
    from onboard.core.python import Target, read_lock, select
    from onboard.core.schema.source import Problem

    py = p.python
    if py is None or not (py.lock or py.requirements):
        return []
    problems: list[Problem] = []
    if py.lock and py.requirements:
        return [Problem(python_file, python_line, 0, "python: give `lock` or `requirements`, not both")]
    kind, path = ("lock", py.lock) if py.lock else ("requirements", py.requirements)
    assert path is not None
    lock, found = read_lock(path, kind=kind)
    problems += found
    if lock is None or any(x.level == "error" for x in found):
        return problems
    if kind == "requirements":
        from onboard.core.python.index import locate_artifacts

        problems += locate_artifacts(lock, [])
    try:
        target = Target.from_system(nix_system(), py.version)
    except ValueError as exc:
        return problems + [Problem(python_file, python_line, 0, f"python: {exc}")]
    sel, found = select(lock, target, extras=py.extras)
    problems += found
    if any(x.level == "error" for x in problems):
        return problems
    locked = {_norm(ch.name): ch for ch in sel.chosen}
    nix_lines = raw.get("from_nix_lines", {})
    for name in py.from_nix:
        ch = locked.get(_norm(name))
        if ch is not None:
            problems.append(Problem(python_file, nix_lines.get(name, python_line), 0,
                                    f"python.from_nix: `{name}` is also in the lock ({path}: {ch.name} "
                                    f"{ch.version}); take it from one place: remove it from the lock's "
                                    "dependencies, or from from_nix"))
    wanted = {_norm(n) for n in py.from_nix}
    for pkg, (file, line) in package_lines.items():
        head, _, rest = pkg.partition(".")
        if head.startswith("python3") and head.endswith("Packages") and rest and _norm(rest) not in wanted:
            problems.append(Problem(file, line, 0,
                                    f"packages: `{pkg}` is a Python package from Nix, but this profile's "
                                    f"Python comes from its lock ({path}): list `{rest}` under "
                                    f"python.from_nix (at {python_file}:{python_line}) instead, or lock it"))
    from onboard.core.python.native import plan

    problems += plan(lock, sel, py.build_systems, py.from_nix, python_file, python_line,
                     raw.get("build_systems_lines", {}))
    if py.editable:
        if kind != "lock":
            problems.append(Problem(python_file, python_line, 0, "python.editable: needs `python.lock` (uv.lock "
                                    "beside the project's pyproject.toml); a requirements file names no project"))
        else:
            from onboard.core.python.editable import check_backend

            problems += check_backend(path, [ch.name for ch in sel.chosen], py.from_nix, python_file, python_line)
    if not any(x.level == "error" for x in problems):
        py.selection = sel
        py.lock_inputs = [os.path.realpath(f) for f in sel.inputs or lock.inputs or [path]]
        if os.path.realpath(path) not in py.lock_inputs:
            py.lock_inputs.insert(0, os.path.realpath(path))
    return problems


def lock_where(p: "Profile", filename: str) -> Optional[tuple[str, str, str]]:
    """(package name, version, file:line of the lock) of the chosen artifact `filename`."""
    py = p.python
    sel = py.selection if py is not None else None
    if sel is None:
        return None
    for ch in sel.chosen:
        if ch.artifact.filename in filename or filename in ch.artifact.filename:
            return ch.name, ch.version, (py.lock or py.requirements or "") if py is not None else ""
    return None
