"""Native code of a lock, planned at load time: which sdists are built, with which build backend,
and which wheels go through the library fixup.

- an sdist (no wheel fits the target) is built in Nix. uv.lock does not record build systems,
  so the profile names them per package: `python.build_systems: {NAME: [setuptools, wheel]}`.
  Each name is taken from the lock when it holds a package of that name (with its locked
  dependencies, e.g. a `build` dependency group made with `uv add --group build setuptools`),
  else from the package set (`pythonXYPackages.NAME`). An sdist without an entry is a profile
  error that prints the lines to add;
- a wheel with a platform tag (manylinux) goes through the fixup: its ELF files get the lib/ of
  `python.libraries` they need on their RUNPATH (onboard/core/python/nativebuild.py), never a
  shell-wide LD_LIBRARY_PATH.

`plan(lock, sel, ...)` fills `sel.native` (pkg name -> NativeBuild) and returns problems.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from onboard.core.python.markers import normalize_name
from onboard.core.python.select import Chosen, Selection, _Walker, choose_artifact
from onboard.core.python.tags import wheel_tags

if TYPE_CHECKING:
    from onboard.core.python.model import Lock
    from onboard.core.schema import Problem

__all__ = ["NativeBuild", "plan", "is_platform_wheel", "needs_fixup", "profile_lines"]


@dataclass
class NativeBuild:
    """How one sdist is built: the names the profile gave, the lock's wheels of them (with their
    locked dependencies) and the names taken from the package set."""

    names: list[str] = field(default_factory=list)
    wheels: list[Chosen] = field(default_factory=list)
    from_set: list[str] = field(default_factory=list)


def is_platform_wheel(filename: str) -> bool:
    """A wheel with compiled code for a platform (not `any`)."""
    if not filename.endswith(".whl"):
        return False
    return any(not t.endswith("-any") for t in wheel_tags(filename))


def needs_fixup(ch: Chosen) -> bool:
    return not ch.needs_build and is_platform_wheel(ch.artifact.filename)


def profile_lines(entries: dict[str, list[str]]) -> str:
    body = "".join(f"      {k}: [{', '.join(v)}]\n" for k, v in sorted(entries.items()))
    return "  python:\n    build_systems:\n" + body


def plan(lock: "Lock", sel: Selection, build_systems: dict[str, list[str]], from_nix: list[str],
         python_file: str, python_line: int, lines: dict[str, int]) -> list["Problem"]:
    """Resolve the build backends of the selection's sdists; problems at the profile's lines."""
    from onboard.core.schema import Problem

    problems: list[Problem] = []
    given = {normalize_name(k): (k, v) for k, v in build_systems.items()}
    sdists = {ch.name: ch for ch in sel.needs_build}
    for key, (raw, _names) in sorted(given.items()):
        if key in sdists:
            continue
        chosen = next((c for c in sel.chosen if c.name == key), None)
        if chosen is not None:
            why = f"the lock has a wheel of it for this Python ({chosen.artifact.filename}): nothing is built"
        else:
            near = difflib.get_close_matches(key, sorted(sdists) or [c.name for c in sel.chosen], n=1)
            why = "it is not a package of the lock" + (f"; did you mean `{near[0]}`?" if near else "")
        problems.append(Problem(python_file, lines.get(raw, python_line), 0,
                                f"python.build_systems.{raw}: {why}", level="warning"))
    missing = [ch for name, ch in sorted(sdists.items()) if name not in given]
    if missing:
        what = ", ".join(f"{c.name} {c.version} ({c.artifact.filename})" for c in missing)
        problems.append(Problem(
            python_file, python_line, 0,
            f"python: the lock has only a source archive of {what} for CPython {sel.target.python} on "
            f"{sel.target.machine} Linux; onboard builds it with the package set's compiler, but uv.lock does not "
            "record the build backend it needs: name it in the profile (what the sdist's pyproject.toml "
            "[build-system] requires lists):\n" + profile_lines({c.name: ["setuptools", "wheel"] for c in missing})
            + "Each name comes from the lock when it locks a package of that name (`uv add --group build "
            "setuptools wheel`), else from the package set. Or pin a version with a wheel, or take it from "
            "Nix (python.from_nix)"))
    nix = {normalize_name(n) for n in from_nix}
    for name, ch in sorted(sdists.items()):
        if name not in given:
            continue
        raw, names = given[name]
        build = NativeBuild(names=list(names))
        seen: set[tuple[str, str]] = set()
        for n in names:
            key = normalize_name(n)
            locked = lock.by_name(key)
            if not locked or key in nix:
                build.from_set.append(n)
                continue
            walker = _Walker(lock, sel.target, problems)
            walker.visit(locked[0], [], [], walker.env)
            for pkg in walker.order:
                if (pkg.name, pkg.version) in seen or pkg.is_local_project:
                    continue
                seen.add((pkg.name, pkg.version))
                picked = choose_artifact(pkg, sel.target)
                if picked is None or picked[1]:
                    problems.append(Problem(
                        python_file, lines.get(raw, python_line), 0,
                        f"python.build_systems.{raw}: `{pkg.name}` {pkg.version} is in the lock without a wheel "
                        f"for CPython {sel.target.python}; a build backend must be a wheel: lock a version "
                        f"that has one, or take `{pkg.name}` from the package set (python.from_nix)"))
                    continue
                build.wheels.append(Chosen(pkg.name, pkg.version, picked[0], False))
        sel.native[name] = build
    return problems
