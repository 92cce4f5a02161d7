"""The record of the environment `onboard shell` would load now, and this machine's check of
it. Never builds: the environment is found as the shell finds it (a held generation, else the
project's cache when its identity holds, else its last good one when the last rebuild failed).

A record is JSON with sorted keys. `local` holds what belongs to this machine only (paths,
times, the check's findings) and is never compared; `context` (onboard's and Nix's versions,
the system's release) is compared only when asked to be strict; everything else is the
environment itself.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Optional

from onboard.core import project as projects
from onboard.core.profiles import cache
from onboard.core.verify import nixstore

MAGIC = "onboard-verify-record"
RECORD_VERSION = 1


class VerifyError(Exception):
    """Nothing to record (not built, cannot be loaded), or bad input: `message`, `hint`, `code`."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


class Located:
    """The environment found. (Plain classes here and in nixstore.py: verify's start-up is a
    share of its cost, and dataclasses' imports a quarter of that.)"""

    def __init__(self, name: str, directory: str, manifest: cache.Manifest, root: Optional[str],
                 profile: Any = None, generation: int = 0, fallback: str = "",
                 jobs: Optional[nixstore.Jobs] = None, notes: Optional[list[str]] = None,
                 facts: Optional[dict] = None) -> None:
        self.name, self.directory, self.manifest, self.root = name, directory, manifest, root
        self.profile = profile  # the loaded Profile (None when it cannot be loaded: a fallback)
        self.generation = generation  # held at this generation
        self.fallback = fallback  # why the last good environment stands in ("" when it is the current one)
        self.jobs = jobs  # Nix's questions, asked as soon as the manifest was read
        self.notes: list[str] = notes if notes is not None else []
        self.facts = facts  # what it was built from (profiles/facts.py), when known


def _build_hint(name: str) -> str:
    return f"build it with `onboard shell {name} --print-env` (or `onboard switch {name}`), then verify again"


def _current_key(profile: Any, root: Optional[str], m: cache.Manifest) -> str:
    """The identity the profile has now, computed as the build computes it, writing nothing."""
    from onboard.core.profiles.build import fill_identity

    prog = m.nix_prog or "nix"
    ident = cache.program_identity(prog)
    if ident is None:
        return ""
    now = cache.Manifest()
    fill_identity(now, profile, root, m.backend, prog, ident, known=m)
    return now.key


def locate(name: Optional[str], project: Optional[str], check: bool = True, need_profile: bool = False) -> Located:
    """The environment `onboard shell [NAME]` would load now, with Nix already asked about it
    (while the profile loads). Without `need_profile`, an environment whose identity holds
    (the warm shell's check) is described by the facts its build wrote, and the profile is
    not loaded (`profile` stays None). Raises VerifyError."""
    started: list[nixstore.Jobs] = []
    try:
        loc = _locate(name, project, check, started, need_profile)
    except BaseException:
        for j in started:
            j.kill()
        raise
    loc.jobs = started[0] if started else None
    return loc


def _prestart(m: Optional[cache.Manifest], check: bool, started: list[nixstore.Jobs], hash_override: bool) -> None:
    roots = [p for p in (m.store_paths if m else []) if p]
    if m is not None and roots and all(os.path.exists(p) for p in roots):
        early = nixstore.take_early(roots, check, m.override)
        started.append(early or nixstore.Jobs.start(roots, m.nixversion, m.override, check, hash_override))


def _locate(name: Optional[str], project: Optional[str], check: bool, started: list[nixstore.Jobs],
            need_profile: bool) -> Located:
    from onboard.core.profiles.facts import read_facts

    root = projects.resolve(project)
    if project and (root is None or not os.path.isdir(root)):
        raise VerifyError(f"{project} is not a directory", "give the project directory: --project DIR", code=2)
    if not name:
        name = cache.active_name(root) if root else ""
        held = cache.hold_of(root) if root else None
        name = name or (held[1] if held else "")
        if not name:
            raise VerifyError("no profile given, and this directory has no active profile",
                              "name one (onboard verify NAME)", code=2)
    dirs = projects.profile_dirs(root)
    held = cache.hold_of(root) if root else None
    found = cache.find_in(dirs, name) if cache.valid_name(name) else None
    if root and held is not None and held[1] == name:
        directory = cache.generation_dir(root, held[0])
    else:
        directory = cache.env_dir(cache.owner_key(root, found or ""), name)  # as build.location
    m = cache.read_manifest(directory)
    facts = read_facts(directory, m.rendered) if m is not None else None
    _prestart(m, check, started, hash_override=facts is None or "override_hash" not in facts)
    is_held = bool(root and held is not None and held[1] == name)
    if m is not None and not need_profile:
        if facts is not None and is_held and not cache.entry_reason(m, directory, root="root"):
            assert held is not None
            loc = Located(name, directory, m, root, generation=held[0], facts=facts)
            loc.notes.append(f"the project is held at generation {held[0]} (onboard rollback); "
                             "`onboard switch` ends the hold")
            changed = (cache.lookup_reason(m) if m.dirs else "") or cache.inputs_reason(m.inputs)[0]
            if changed:  # a file changed; the profile may still render the same
                profile, _ = _load(name, dirs)
                if profile is None or _current_key(profile, root, m) != m.key:
                    loc.notes.append(f"the profile changed since generation {held[0]}; this records the generation")
            return loc
        elif facts is not None and not is_held and os.path.isfile(os.path.join(directory, cache.ENV_SH)) \
                and not _read_stale(directory) and not cache.stale_reason(m, directory, refresh=False):
            return Located(name, directory, m, root, facts=facts)
    return _located_by_profile(name, root, dirs, directory, m, held if is_held else None)


def _located_by_profile(name: str, root: Optional[str], dirs: list[str], directory: str,
                        m: Optional[cache.Manifest], held: Optional[tuple[int, str]]) -> Located:
    """`_locate` with the profile loaded: the identity compared by rendering it."""
    from onboard.core.profiles.build import last_good

    profile, load_error = _load(name, dirs)
    if held is not None:
        why = "it was never recorded" if m is None else cache.entry_reason(m, directory, root="root")
        if m is None or why:
            raise VerifyError(f"{root} is held at generation {held[0]} of profile {name}, which cannot be "
                              f"loaded: {why}", f"rebuild it with `onboard switch {name}`")
        loc = Located(name, directory, m, root, profile, generation=held[0])
        loc.notes.append(f"the project is held at generation {held[0]} (onboard rollback); "
                         "`onboard switch` ends the hold")
        if profile is None or _current_key(profile, root, m) != m.key:
            loc.notes.append(f"the profile changed since generation {held[0]}; this records the generation")
        return loc
    if m is None or not os.path.isfile(os.path.join(directory, cache.ENV_SH)):
        if load_error:
            raise VerifyError(f"cannot load profile {name}: {load_error}", "fix the profile (onboard profiles validate)")
        raise VerifyError(f"profile {name} has no environment built in this project yet", _build_hint(name))
    stale = _read_stale(directory)
    current = profile is not None and not cache.entry_reason(m, directory) and _current_key(profile, root, m) == m.key
    if current and not stale:
        return Located(name, directory, m, root, profile)
    if stale or load_error:
        good = last_good(directory)
        if good is None:
            raise VerifyError(f"profile {name} cannot be built and has no last good environment", _build_hint(name))
        why = stale or load_error
        loc = Located(name, directory, good, root, profile, fallback=why)
        loc.notes.append(f"the last rebuild failed; this is the last good environment (ONBOARD_ENV_STALE=1): {why}")
        return loc
    raise VerifyError(f"profile {name} changed since its environment was built, so `onboard shell` would "
                      "build it first", _build_hint(name))


def _load(name: str, dirs: list[str]) -> tuple[Any, str]:
    """(the profile, "") or (None, why it cannot be loaded)."""
    from pathlib import Path

    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    try:
        return load_profile(name, dirs=[Path(d) for d in dirs]), ""
    except SchemaError as exc:
        return None, str(exc.problems[0]) if exc.problems else "the profile cannot be loaded"


def _read_stale(directory: str) -> str:
    try:
        with open(os.path.join(directory, cache.STALE), encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _facts(loc: Located) -> dict[str, Any]:
    """What `loc`'s environment was built from: its build's facts, or the loaded profile's
    (whose rendered files count only when they are the ones this environment was built from)."""
    if loc.facts is not None:
        return loc.facts
    if loc.profile is None:
        return {"profile": {}, "files": {}, "pin": {}}
    from onboard.core.profiles.build import rendered_digest
    from onboard.core.profiles.facts import facts_of
    from onboard.core.profiles.render import render_profile

    files = render_profile(loc.profile)
    facts = facts_of(loc.profile, loc.root, files, rendered_digest(files))
    if facts["rendered"] != loc.manifest.rendered:
        facts["files"] = {}  # the profile moved on since this environment was built
    return facts


class Result:
    def __init__(self, record: dict, store_problems: dict[str, str], venv_problems: list[str],
                 notes: list[str]) -> None:
        self.record, self.store_problems, self.venv_problems, self.notes = record, store_problems, venv_problems, notes

    @property
    def intact(self) -> bool:
        return not self.store_problems and not self.venv_problems


#: why a store path of the closure is machine-local (its NAR hash is recorded, never compared)
DEV_ENV_LOCAL = "the shell's record of its build (nix print-dev-env --profile)"


def is_dev_env(path: str) -> bool:
    """The record `nix print-dev-env --profile` keeps in the store: a JSON file of the shell's
    variables and functions, made by running the shell's builder, so it carries that run's
    EPOCHREALTIME and EPOCHSECONDS. Its path is the same on every machine (the derivation's);
    its bytes are not, when each store builds it."""
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with open(path, "rb") as fh:
            if not fh.read(64).lstrip().startswith(b"{"):
                return False
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "variables" in doc and "bashFunctions" in doc


def make_record(loc: Located, check: bool = True) -> Result:
    """The record of `loc`'s environment; with `check`, Nix verifies the closure's contents
    (in parallel with the closure query) and the venv is checked against the lock."""
    m = loc.manifest
    roots = [p for p in m.store_paths if p]
    missing = [p for p in roots if not os.path.exists(p)]
    if missing or not roots:
        raise VerifyError(f"the environment of profile {loc.name} is gone from the store ({', '.join(missing)})",
                          _build_hint(loc.name))
    jobs = loc.jobs if loc.jobs is not None and loc.jobs.roots == roots else \
        nixstore.Jobs.start(roots, m.nixversion, m.override, check)
    try:
        closure = jobs.closure()
        store_problems = jobs.problems(sorted(closure.paths))
        override = m.override
        facts = _facts(loc)
        pin = dict(facts["pin"])
        pin["override"] = facts["override_hash"] if "override_hash" in facts else jobs.override_hash()
    finally:
        jobs.kill()
    plan = None
    if os.path.isfile(os.path.join(loc.directory, "python-venv")):  # a locked Python's venv plan
        from onboard.core.python import venv as pyvenv

        plan = pyvenv.read_plan(loc.directory)
    python: Optional[dict] = None
    venv_problems: list[str] = []
    if plan is not None:
        from onboard.core.verify.venvcheck import check_venv

        rep = check_venv(plan.venv, plan.wheelhouse, plan.lock, editable=bool(plan.editable))
        python = {"lock": plan.lock, "packages": rep.packages, "files": rep.files}
        venv_problems = rep.problems
    record = {
        "format": MAGIC,
        "version": RECORD_VERSION,
        "context": {"onboard": cache.onboard_version(), "nix": m.nixversion or nixstore.nix_version(),
                    "system_release": os.uname().release},
        "system": cache.system_id(),
        "profile": {"name": loc.name, "resolved": facts["profile"]},
        "rendered": {"digest": m.rendered, "files": facts["files"]},
        "pin": pin,
        "shell": {"backend": m.backend, "outputs": roots, "drv": [closure.derivers.get(r, "") for r in roots]},
        "closure": closure.paths,
        "python": python,
        "environment": {"generation": loc.generation or None, "fallback": bool(loc.fallback),
                        "fallback_reason": loc.fallback},
        "local": {"project": loc.root or "", "directory": loc.directory, "profile_file": m.profile,
                  "override": override, "venv": plan.venv if plan else "", "built": m.built,
                  "recorded": time.time(), "notes": loc.notes,
                  "machine_local": {r: DEV_ENV_LOCAL for r in roots if r in closure.paths and is_dev_env(r)},
                  "check": {"done": check, "store": store_problems, "venv": venv_problems}},
    }
    return Result(record, store_problems, venv_problems, loc.notes)


def dumps(record: dict) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def load_record(path: str) -> dict:
    """A record written by `onboard verify --out`. Raises VerifyError (code 2) for anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise VerifyError(f"cannot read {path}: {exc.strerror or 'unreadable'}", "name a record file", code=2)
    except ValueError:
        raise VerifyError(f"{path} is not JSON, so not a record of onboard verify",
                          "make one with `onboard verify --out FILE`", code=2) from None
    if isinstance(doc, dict) and doc.get("command") == "verify" and isinstance(doc.get("record"), dict):
        doc = doc["record"]  # the --json envelope of a record
    if not isinstance(doc, dict) or doc.get("format") != MAGIC:
        raise VerifyError(f"{path} is not a record of onboard verify", "make one with `onboard verify --out FILE`",
                          code=2)
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise VerifyError(f"{path} has no record version onboard knows", "make it again with `onboard verify --out FILE`",
                          code=2)
    if version > RECORD_VERSION:
        raise VerifyError(f"{path} is a record of version {version}, newer than this onboard reads ({RECORD_VERSION})",
                          "upgrade onboard to compare against it", code=2)
    for key in ("closure", "pin", "profile"):
        if not isinstance(doc.get(key), dict):
            raise VerifyError(f"{path} is not a complete record (no {key})", "make it again with `onboard verify --out FILE`",
                              code=2)
    return doc


def write_record(path: str, record: dict) -> None:
    from onboard.core.engine.fsutil import atomic_write

    atomic_write(path, dumps(record).encode("utf-8"), mode=0o644)
