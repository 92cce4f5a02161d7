"""`python.editable: true`: the project itself (the pyproject.toml beside uv.lock), installed
into the venv in editable mode after the exact sync, offline:

    uv pip install --no-deps --no-index --no-build-isolation -e ROOT

Without build isolation the build backend runs in the venv, so everything
`[build-system] requires` names must already be there: a package of the lock, or one of
`python.from_nix` (`python312Packages.setuptools`), or nothing at all when the backend lives in
the project (`build-backend = "backend"`, `backend-path = ["."]`, `requires = []`).
`check_backend` says at load time what is missing, with the exact profile lines that fix it.
A pyproject.toml without `[build-system]` means setuptools (PEP 517's default).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from onboard.core.schema.source import Problem

__all__ = ["project_of", "check_backend"]

_REQ_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(lock: str) -> str:
    """The project an editable install installs: the directory of uv.lock (its pyproject.toml)."""
    return os.path.dirname(os.path.abspath(lock))


def check_backend(lock: str, locked: Iterable[str], from_nix: list[str], python_file: str,
                  python_line: int) -> list["Problem"]:
    """Problems when the project's build backend cannot run offline in the venv."""
    from onboard.core.python.uvlock import load_toml
    from onboard.core.schema.source import Problem

    pyproject = os.path.join(project_of(lock), "pyproject.toml")
    problems: list[Problem] = []
    doc = load_toml(pyproject, problems, "pyproject.toml")
    if doc is None:
        return problems
    system = doc.get("build-system")
    if not isinstance(system, dict):
        system = {"requires": ["setuptools"], "build-backend": "setuptools.build_meta:__legacy__"}
    requires = system.get("requires", [])
    if not isinstance(requires, list):
        return [Problem(pyproject, 0, 0, "[build-system] requires must be a list of requirements")]
    have = {_norm(n) for n in locked} | {_norm(n) for n in from_nix}
    missing = []
    for req in requires:
        m = _REQ_NAME.match(str(req))
        if m and _norm(m.group(1)) not in have:
            missing.append(m.group(1))
    if not missing:
        return []
    backend = system.get("build-backend", "setuptools.build_meta:__legacy__")
    names = list(from_nix) + [n for n in missing if _norm(n) not in {_norm(x) for x in from_nix}]
    return [Problem(python_file, python_line, 0,
                    f"python.editable: the build backend of {pyproject} ({backend}) needs "
                    f"{', '.join(missing)}, which neither the lock nor python.from_nix gives (the editable "
                    "install runs offline, without build isolation); take it from the package set with "
                    "these lines in the profile:\n  python:\n    from_nix: [" + ", ".join(names) + "]\n"
                    "or add it to the project's dependencies and lock again (uv lock)")]
