"""Choosing what to install from a lock, for one target (render time).

`select(lock, target, extras, groups)` walks uv.lock's graph from the project: its default
dependencies, plus the optional dependencies of the `extras` and the dependency `groups`
asked for (none unless the profile names them), following an edge only when its marker
holds for the target. A requirements file is taken line by line, each line's marker
decided the same way. For every package reached it picks one artifact: the best-fitting
wheel by tags, else the sdist (then `needs_build`). The project itself and local
directories are not fetched: they are listed in `Selection.local`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from onboard.core.python.markers import Environment, MarkerError, evaluate, normalize_name
from onboard.core.python.model import FIX_UV_LOCK, Artifact, Dependency, Lock, Package
from onboard.core.python.tags import Target
from onboard.core.schema import Problem

__all__ = ["Chosen", "Selection", "select", "choose_artifact"]


@dataclass(frozen=True)
class Chosen:
    name: str
    version: str
    artifact: Artifact
    needs_build: bool = False  # an sdist: no wheel fits the target

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.artifact.sha256}"


@dataclass
class Selection:
    target: Target
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    chosen: list[Chosen] = field(default_factory=list)  # sorted by name
    local: list[Package] = field(default_factory=list)  # the project and local directories
    lock_format: str = ""
    inputs: list[str] = field(default_factory=list)
    #: sdists built in Nix: name -> onboard.core.python.native.NativeBuild (filled at load time)
    native: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_build(self) -> list[Chosen]:
        return [c for c in self.chosen if c.needs_build]


def choose_artifact(pkg: Package, target: Target) -> Optional[tuple[Artifact, bool]]:
    """The best wheel for `target`, else the sdist (needs a build), else None."""
    ranked = [(r, w.filename, w) for w in pkg.wheels if (r := target.rank(w.filename)) is not None]
    if ranked:
        return min(ranked, key=lambda x: (x[0], x[1]))[2], False
    if pkg.sdist is not None:
        return pkg.sdist, True
    return None


def _describe(target: Target) -> str:
    libc = f"glibc {target.glibc[0]}.{target.glibc[1]}" if target.libc == "glibc" else "musl"
    return f"CPython {target.python} on {target.machine}-linux ({libc})"


class _Walker:
    def __init__(self, lock: Lock, target: Target, problems: list[Problem]) -> None:
        self.lock, self.target, self.problems = lock, target, problems
        self.env = target.environment()
        self.extras: dict[tuple[str, str], set[str]] = {}  # (name, version) -> extras activated
        self.order: list[Package] = []

    def holds(self, marker: str, env: Environment, pkg: Package) -> bool:
        if not marker:
            return True
        try:
            return evaluate(marker, env)
        except MarkerError as exc:
            self.problems.append(Problem(pkg.file, pkg.line, 0, f"{pkg.name} {pkg.version}: {exc}"))
            return False

    def resolve(self, dep: Dependency, parent: Package) -> Optional[Package]:
        cands = self.lock.by_name(dep.name)
        if dep.version:
            cands = [c for c in cands if c.version == dep.version]
        if len(cands) > 1:
            cands = [c for c in cands if not c.resolution_markers
                     or any(self.holds(m, self.env, c) for m in c.resolution_markers)]
        if len(cands) == 1:
            return cands[0]
        why = "has no entry for it" if not cands else "has several entries for it and none is marked for this target"
        self.problems.append(Problem(parent.file, parent.line, 0,
                                     f"{parent.name} depends on {dep.name}{' ' + dep.version if dep.version else ''}"
                                     f" but uv.lock {why}; make the lock again with `{FIX_UV_LOCK}`"))
        return None

    def visit(self, pkg: Package, extras: Iterable[str], edges: list[Dependency], env: Environment) -> None:
        key = (pkg.name, pkg.version)
        have = self.extras.get(key)
        new = set(extras) - (have or set())
        if have is not None and not new and not edges:
            return
        if have is None:
            self.extras[key] = set()
            self.order.append(pkg)
            edges = list(pkg.dependencies) + edges
        self.extras[key] |= new
        for extra in sorted(new):
            edges = edges + pkg.optional.get(extra, [])
        for dep in edges:
            if self.holds(dep.marker, env, pkg):
                target = self.resolve(dep, pkg)
                if target is not None:
                    self.visit(target, dep.extras, [], self.env)


def _walk_uv(lock: Lock, target: Target, extras: tuple[str, ...], groups: tuple[str, ...],
             problems: list[Problem]) -> list[Package]:
    w = _Walker(lock, target, problems)
    for root_name in lock.roots:
        roots = lock.by_name(root_name)
        if not roots:
            problems.append(Problem(lock.path, 1, 0, f"uv.lock has no entry for the project `{root_name}`; "
                                                     f"make the lock again with `{FIX_UV_LOCK}`"))
            continue
        root = roots[0]
        for e in extras:
            if e not in root.optional:
                problems.append(Problem(lock.path, root.line, 0, f"the project `{root.name}` has no extra `{e}` "
                                        f"(it has: {', '.join(sorted(root.optional)) or 'none'})"))
        edges: list[Dependency] = []
        for g in groups:
            if g not in root.groups:
                problems.append(Problem(lock.path, root.line, 0, f"the project `{root.name}` has no dependency "
                                        f"group `{g}` (it has: {', '.join(sorted(root.groups)) or 'none'})"))
            edges += root.groups.get(g, [])
        n = len(root.name)
        # uv writes markers of conflicting extras and groups as extra-<len>-<project>-<name>
        encoded = {f"extra-{n}-{root.name}-{e}" for e in extras} | {f"group-{n}-{root.name}-{g}" for g in groups}
        env = w.env.with_extras(frozenset(extras) | frozenset(encoded))
        w.visit(root, [e for e in extras if e in root.optional], edges, env)
    return w.order


def select(lock: Lock, target: Target, extras: Iterable[str] = (),
           groups: Iterable[str] = ()) -> tuple[Selection, list[Problem]]:
    """One artifact per package the target needs. Problems name the package and its line."""
    problems: list[Problem] = []
    ex = tuple(sorted({normalize_name(e) for e in extras}))
    gr = tuple(sorted({normalize_name(g) for g in groups}))
    sel = Selection(target=target, extras=ex, groups=gr, lock_format=lock.format, inputs=list(lock.inputs))
    if lock.format == "uv.lock":
        packages = _walk_uv(lock, target, ex, gr, problems)
    else:
        if ex or gr:
            problems.append(Problem(lock.path, 0, 0, "extras and dependency groups are chosen when the requirements "
                                                     "file is made (`uv export --extra NAME`), not in the profile",
                                    level="warning"))
        env = target.environment()
        w = _Walker(lock, target, problems)
        packages = [p for p in lock.packages if w.holds(p.marker, env, p)]
        names: dict[str, Package] = {}
        for p in packages:
            if p.name in names:
                first = names[p.name]
                problems.append(Problem(p.file, p.line, 0, f"{p.name} is required twice for {_describe(target)} "
                                        f"({first.version} at {first.where()} and {p.version}); keep one"))
            names.setdefault(p.name, p)
        packages = list(names.values())
    for pkg in packages:
        if pkg.is_local_project:
            sel.local.append(pkg)
            continue
        if pkg.source in ("git", "path"):
            what = "from git" if pkg.source == "git" else "a local file"
            problems.append(Problem(pkg.file, pkg.line, 0,
                                    f"{pkg.name} {pkg.version} is {what} ({pkg.source_url}): uv.lock has no hash "
                                    "Nix can pin it by; depend on a released version from an index (or a "
                                    f"download URL) and run `{FIX_UV_LOCK}`"))
            continue
        picked = choose_artifact(pkg, target)
        if picked is None:
            files = ", ".join(a.filename for a in pkg.artifacts[:4]) or "no files"
            if pkg.source == "requirements" and not pkg.artifacts:
                why = "the requirements file gives no download URL and no index page lists a file with its hashes"
            else:
                why = f"no file fits {_describe(target)} (it has {files}) and it has no sdist"
            problems.append(Problem(pkg.file, pkg.line, 0, f"{pkg.name} {pkg.version}: {why}; pick a version "
                                                           f"that has one (`uv lock --upgrade-package {pkg.name}`)"))
            continue
        art, build = picked
        sel.chosen.append(Chosen(pkg.name, pkg.version, art, build))
    sel.chosen.sort(key=lambda c: (c.name, c.version))
    sel.local.sort(key=lambda p: p.name)
    return sel, problems
