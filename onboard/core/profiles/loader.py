"""Find and load team profiles: profiles/NAME.yaml, validated, extends chains merged.

Loading never writes anything anywhere (no cache, no state): validation is read-only.
yaml is imported only when a file is parsed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from onboard.core.profiles.model import Profile
from onboard.core.schema import Mark, Problem, SchemaError

if TYPE_CHECKING:
    from onboard.core.profiles.schema import ProfileDoc

ENV_DIRS = "ONBOARD_PROFILES_DIR"
EXTENSIONS = (".yaml", ".yml")

__all__ = ["ProfileInfo", "profile_dirs", "list_profiles", "load_profile", "check_profile", "find_profile",
           "ENV_DIRS"]


@dataclass
class ProfileInfo:
    name: str
    path: str
    description: str = ""
    problem: str = ""  # set when the file cannot be read as a profile
    shadowed: list[str] = field(default_factory=list)  # same name in later dirs, not used


def profile_dirs(start: Optional[Path] = None) -> list[Path]:
    """Where profiles are looked for, in order: each dir of $ONBOARD_PROFILES_DIR
    (os.pathsep-separated), then the first `profiles/` directory found in `start`
    (default: the current directory) or one of its parents."""
    dirs: list[Path] = []
    for part in os.environ.get(ENV_DIRS, "").split(os.pathsep):
        if part.strip():
            p = Path(os.path.expanduser(part.strip())).absolute()
            if p not in dirs:
                dirs.append(p)
    here = Path(start if start is not None else os.getcwd()).absolute()
    for d in (here, *here.parents):
        cand = d / "profiles"
        if cand.is_dir():
            if cand not in dirs:
                dirs.append(cand)
            break
    return dirs


def _files_in(d: Path) -> list[Path]:
    try:
        entries = sorted(os.listdir(d))
    except OSError:
        return []
    return [d / e for e in entries if e.endswith(EXTENSIONS) and not e.startswith(".") and (d / e).is_file()]


def _stem(p: Path) -> str:
    return p.name.rsplit(".", 1)[0]


def list_profiles(dirs: Optional[list[Path]] = None) -> list[ProfileInfo]:
    """Every profile in the dirs, sorted by name; a name in an earlier dir hides the same
    name in a later one. Descriptions are read from the files; a file that cannot be read
    as YAML is listed with its problem."""
    from onboard.core.schema import read_yaml

    dirs = profile_dirs() if dirs is None else dirs
    found: dict[str, ProfileInfo] = {}
    for d in dirs:
        for f in _files_in(Path(d)):
            name = _stem(f)
            if name in found:
                found[name].shadowed.append(str(f))
                continue
            res = read_yaml(str(f))
            desc, problem = "", ""
            if res.problems:
                problem = str(res.problems[0])
            elif res.root is not None and res.root.kind == "map":
                node = res.root.get("description")
                if node is not None and isinstance(node.value, str):
                    desc = node.value.strip()
            found[name] = ProfileInfo(name=name, path=str(f), description=desc, problem=problem)
    return [found[k] for k in sorted(found)]


def _looks_like_path(s: str) -> bool:
    return os.sep in s or "/" in s or s.endswith(EXTENSIONS)


def find_profile(name: str, dirs: list[Path]) -> Optional[Path]:
    for d in dirs:
        for ext in EXTENSIONS:
            p = Path(d) / f"{name}{ext}"
            if p.is_file():
                return p
    return None


def _not_found(name: str, dirs: list[Path], what: str = "profile") -> str:
    from onboard.core.schema import did_you_mean

    names = sorted({_stem(f) for d in dirs for f in _files_in(Path(d))})
    unique: list[Path] = []
    for d in dirs:  # each folder once, however many ways it was reached
        if all(os.path.realpath(d) != os.path.realpath(u) for u in unique):
            unique.append(Path(d))
    looked = ", ".join(
        f"{d}" + ("" if Path(d).is_dir() else " (does not exist)") for d in unique) or "nowhere"
    msg = f"no {what} named `{name}`"
    guess = did_you_mean(name, names)
    if guess:
        msg += f"; did you mean `{guess}`?"
    msg += f" (looked in: {looked}"
    if not dirs:
        msg += f"; no profiles/ directory here or above, and ${ENV_DIRS} is not set"
    msg += ")"
    msg += f"; available: {', '.join(names)}" if names else "; no profiles there"
    return msg


def load_profile(name_or_path: str, dirs: Optional[list[Path]] = None) -> Profile:
    """The profile, validated and merged with what it extends. Raises SchemaError with
    every problem (file:line:col) when there is any error; warnings are kept in
    `Profile.warnings`."""
    profile, problems = check_profile(name_or_path, dirs)
    if profile is None or any(p.level == "error" for p in problems):
        raise SchemaError(problems)
    return profile


def check_profile(name_or_path: str, dirs: Optional[list[Path]] = None) -> tuple[Optional[Profile], list[Problem]]:
    """Like load_profile, but never raises: (profile or None, every problem and warning)."""
    dirs = profile_dirs() if dirs is None else [Path(d) for d in dirs]
    if _looks_like_path(name_or_path):
        path = Path(os.path.expanduser(name_or_path)).absolute()
        if not path.is_file():
            what = "is a directory, not a profile file" if path.is_dir() else "no such file"
            return None, [Problem(str(path), 0, 0, what)]
    else:
        found = find_profile(name_or_path, dirs)
        if found is None:
            return None, [Problem("", 0, 0, _not_found(name_or_path, dirs))]
        path = found.absolute()
    return _Resolver(dirs).resolve(path)


class _Resolver:
    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self.problems: list[Problem] = []
        self.docs: dict[str, Optional[ProfileDoc]] = {}
        self.complete = True  # the whole extends chain was found and read

    def _doc(self, path: str) -> Optional[ProfileDoc]:
        from onboard.core.profiles.schema import check_profile_document
        from onboard.core.schema import Checker, read_yaml

        if path in self.docs:
            return self.docs[path]
        res = read_yaml(path)
        c = Checker(path)
        c.problems.extend(res.problems)
        if any(p.level == "error" for p in res.problems) and res.root is None:
            doc = None
        else:
            doc = check_profile_document(res.root, path, c)
        self.problems.extend(c.problems)
        self.docs[path] = doc
        return doc

    def resolve(self, path: Path) -> tuple[Optional[Profile], list[Problem]]:
        chain: list[ProfileDoc] = []  # child first
        stack: list[str] = []
        cur: Optional[str] = os.path.realpath(path)
        shown = {os.path.realpath(path): str(path)}
        while cur is not None:
            stack.append(cur)
            doc = self._doc(shown.get(cur, cur))
            if doc is None or not doc.readable:
                self.complete = False
                break
            chain.append(doc)
            if not doc.extends:
                break
            base = doc.extends
            here = Path(doc.file).parent
            found = find_profile(base, [here] + [d for d in self.dirs if d != here])
            mark = doc.extends_node.mark if doc.extends_node is not None else Mark(doc.file, 0, 0)
            if found is None:
                self.problems.append(Problem(doc.file, mark.line, mark.col,
                                             "extends: " + _not_found(base, [here] + self.dirs, "base profile")))
                self.complete = False
                break
            real = os.path.realpath(found)
            if real in stack:
                names = [_stem(Path(shown.get(s, s))) for s in stack[stack.index(real):]] + [_stem(found)]
                self.problems.append(Problem(doc.file, mark.line, mark.col,
                                             f"extends: cycle: {' -> '.join(names)}; a profile cannot "
                                             "extend itself, directly or through others"))
                self.complete = False
                break
            shown[real] = str(found.absolute())
            cur = real
        files = [d.file for d in chain]
        if not chain or not self.complete:
            return None, _ordered(self.problems, files)
        # the checks across the chain run even when a file has problems: every problem at once
        profile, more = _merge(chain)
        problems = _ordered(self.problems + more, files)
        return (None if any(p.level == "error" for p in problems) else profile), problems


def _ordered(problems: list[Problem], files: list[str]) -> list[Problem]:
    rank = {f: i for i, f in enumerate(files)}
    seen: set[tuple] = set()
    out = []
    for p in sorted(problems, key=lambda p: (rank.get(p.file, len(rank)), p.file, p.line, p.col)):
        k = (p.file, p.line, p.col, p.message, p.level)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out


def _merge(chain: list[ProfileDoc]) -> tuple[Profile, list[Problem]]:
    """Base first, child last: the child overrides; packages, env, scripts, unfree, editors
    and services are merged; shellHooks run base first."""
    from onboard.core.profiles.schema import python_spec

    problems: list[Problem] = []
    child = chain[0]
    p = Profile(name=child.name or "", path=child.file, sources=[d.file for d in chain])
    python: dict = {}
    hooks: list[str] = []
    pin_from = None
    for doc in reversed(chain):
        if doc.description:
            p.description = doc.description
        if "nixpkgs" in doc.present:
            pin_from = doc
            if doc.nixpkgs is not None:
                p.nixpkgs = doc.nixpkgs
        for pkg in doc.packages:
            if pkg not in p.packages:
                p.packages.append(pkg)
        python.update(doc.python)
        p.env.update(doc.env)
        if doc.shell_hook.strip():
            hooks.append(doc.shell_hook.rstrip("\n"))
        p.scripts.update(doc.scripts)
        if doc.allow_unfree is not None:
            p.allow_unfree = doc.allow_unfree
        for u in doc.unfree:
            if u not in p.unfree:
                p.unfree.append(u)
        for k, v in doc.editors.items():
            p.editors[k] = v
        for k, v in doc.services.items():
            p.services[k] = v
    p.extends = child.extends
    p.shell_hook = "\n".join(hooks) + ("\n" if hooks else "")
    root = Mark(child.file, 1, 1) if child.root is None else child.root.mark
    if pin_from is None:
        where = " (here or in the profiles it extends)" if len(chain) > 1 else ""
        problems.append(Problem(child.file, root.line, root.col,
                                f"no `nixpkgs` pin{where}: add `nixpkgs: {{rev: <40-hex commit>, "
                                "narHash: sha256-...}` so every machine gets the same packages"))
    python_keys = set().union(*(d.python_keys for d in chain))
    if python_keys and "version" not in python_keys:
        py_node = next((d.python_node for d in chain if d.python_node is not None), None)
        m = py_node.mark if py_node is not None else root
        problems.append(Problem(m.file, m.line, m.col, "python: missing `version` (like 3.12)"))
    p.python = python_spec(python)
    if p.python is not None:
        attr = p.python.attribute()
        if attr not in p.packages:
            p.packages.insert(0, attr)
        for pkg in p.packages:
            head = pkg.split(".")[0]
            if head.startswith("python3") and head.endswith("Packages") and head not in (
                    "python3Packages", f"{attr}Packages"):
                doc = next(d for d in chain if pkg in d.package_nodes)
                n = doc.package_nodes[pkg]
                problems.append(Problem(doc.file, n.mark.line, n.mark.col,
                                        f"packages: `{pkg}` is built for another Python than the "
                                        f"profile's {p.python.version}; use `{attr}Packages."
                                        f"{pkg.split('.', 1)[1] if '.' in pkg else ''}`", level="warning"))
    if p.python is not None and (p.python.lock or p.python.requirements):
        from onboard.core.python.profilekeys import resolve

        py_doc = next((d for d in chain if d.python_node is not None), child)
        py_line = py_doc.python_node.mark.line if py_doc.python_node is not None else 0
        pkg_at = {pkg: (d.file, d.package_nodes[pkg].mark.line) for d in reversed(chain) for pkg in d.package_nodes}
        problems += resolve(p, python, py_doc.file, py_line, pkg_at)
    elif p.python is not None:
        native = [k for k, v in (("libraries", p.python.libraries), ("build_inputs", p.python.build_inputs),
                                 ("build_systems", p.python.build_systems)) if v]
        if native:
            keys = ", ".join(f"python.{k}" for k in native)
            p.warnings.append(f"{keys} {'apply' if len(native) > 1 else 'applies'} to the packages of a lock, and "
                              "this profile has none: ignored (add `python.lock: uv.lock`, or remove "
                              f"{'them' if len(native) > 1 else 'it'})")
    allow_unreadable = any("allowUnfree" in d.present and d.allow_unfree is None for d in chain)
    if p.unfree and not p.allow_unfree and not allow_unreadable:
        doc = next(d for d in chain if d.unfree)
        unfree_node = doc.unfree_node
        m = unfree_node.mark if unfree_node is not None else root
        problems.append(Problem(m.file, m.line, m.col,
                                "unfree lists packages but allowUnfree is not true: add `allowUnfree: true` "
                                "to allow exactly those"))
    if p.allow_unfree and not p.unfree:
        p.warnings.append("allowUnfree: true without an `unfree` list allows every unfree package; "
                          "list them (unfree: [name, ...]) to allow them one by one")
    return p, problems
