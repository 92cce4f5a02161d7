"""`onboard import archive`: the archive's closure copied into this machine's store (offline),
the environment recorded as a new generation of the project that the project is held at (so
`onboard shell` loads it without evaluating or building), then checked against its record."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Optional

from onboard.core.archive.common import CACHE, ENV, RECORD, ArchiveError, nix, read_manifest
from onboard.core.events import Emitter, Notice, discard


@dataclass
class Imported:
    profile: str
    project: str
    generation: int
    paths: int
    same: bool
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _rewrite(text: str, old_root: str, new_root: str) -> str:
    if old_root and new_root and old_root != new_root:
        text = text.replace(old_root + "/", new_root + "/").replace(f" {old_root}\n", f" {new_root}\n")
    return text


def _record_generation(root: str, name: str, directory: str, doc: dict) -> int:
    """A new generation of `root` from the archive's environment, held (onboard rollback's hold)."""
    from onboard.core.profiles import cache, generations as gens_mod
    from onboard.core.python import venv as pyvenv

    old_root = str((doc.get("origin") or {}).get("project") or "")
    roots = list(doc["roots"])
    with gens_mod._Locked(root):
        gens, _cur = gens_mod._load(root)
        number = max((g.number for g in gens), default=0) + 1
        gen = gens_mod.Generation(number=number, profile=name, time=time.time(), project=root,
                                  store_paths=roots, current=True)
        target = gen.roots_dir()
        if os.path.isdir(target):
            gens_mod.drop_roots(target)
        try:
            gens_mod.add_roots(target, roots)
        except gens_mod.GenerationError as exc:
            raise ArchiveError(exc.message, exc.hint) from None
        for f in ("env.sh", "manifest", "inputs.sh", "facts.json"):
            src = os.path.join(directory, ENV, f)
            if os.path.isfile(src):
                with open(src, encoding="utf-8", errors="surrogateescape") as fh:
                    text = fh.read()
                if f != "env.sh":
                    text = _rewrite(text, old_root, root)
                cache.write_atomic(os.path.join(target, f), text)
        m = cache.read_manifest(target)
        if m is None:
            raise ArchiveError(f"the archive's env/manifest is not one this onboard reads", "export it again", code=2)
        if m.bash and not os.access(m.bash, os.X_OK):
            m.bash = shutil.which("bash") or m.bash
            cache.write_atomic(os.path.join(target, cache.MANIFEST), m.dumps())
        gen.profile_file, gen.key = m.profile, m.key
        from onboard.core.profiles.envsh import render_bashrc

        cache.write_atomic(os.path.join(target, cache.BASHRC), render_bashrc(name, os.path.join(target, cache.ENV_SH)))
        plan = pyvenv.read_plan(os.path.join(directory, ENV))
        if plan is not None:
            plan.venv = pyvenv.venv_dir(plan.lock, plan.python)
            plan.link = _rewrite(plan.link + "\n", old_root, root).rstrip("\n") if old_root else plan.link
            pyvenv.write_plan(target, plan)
            gen.venv = plan.venv
        for g in gens:
            g.current = False
        gens.append(gen)
        gens_mod._save(root, gens, number, hold=True)
    return number


def import_archive(directory: str, project: Optional[str] = None, emit: Emitter = discard) -> Imported:
    """Import the archive in `directory` into this machine and the project. Raises ArchiveError
    (code 2 for bad input, before anything changed)."""
    from onboard.core import project as projects
    from onboard.core.profiles import generations as gens_mod
    from onboard.core.verify import record as rec
    from onboard.core.verify.compare import compare

    directory = os.path.abspath(directory)
    doc = read_manifest(directory)
    try:
        there = rec.load_record(os.path.join(directory, RECORD))
    except rec.VerifyError as exc:
        raise ArchiveError(exc.message, exc.hint, code=2) from None
    root = projects.resolve(project)
    if project and (root is None or not os.path.isdir(root)):
        raise ArchiveError(f"{project} is not a directory", "give the project directory: --project DIR", code=2)
    if root is None:
        raise ArchiveError("this directory is not in a project (no profiles/ or onboard.yaml found)",
                           "run it in the project, or name it: --project DIR", code=2)
    name = str(doc["profile"])
    every = list(doc["paths"]) + list(doc.get("sources") or [])
    emit(Notice(level="info", message=f"copying {len(every)} store paths from {directory}/{CACHE}"))
    nix(["nix", "copy", "--from", f"file://{directory}/{CACHE}", "--no-check-sigs", *every],
        "copying the store paths from the archive")
    number = _record_generation(root, name, directory, doc)
    gen = next((g for g in gens_mod.list_generations(root) if g.number == number), None)
    notes = [f"{root} is held at generation {number}: `onboard shell {name}` loads it offline; "
             "`onboard switch` ends the hold"]
    if gen is not None:
        try:
            gens_mod.restore_venv(gen)
        except gens_mod.GenerationError as exc:
            notes.append(f"{exc.message}; {exc.hint}")
    try:
        here = rec.make_record(rec.locate(name, root, check=True), check=True)
    except rec.VerifyError as exc:
        return Imported(name, root, number, len(every), False, [f"cannot record it here: {exc.message}"], notes)
    c = compare(here.record, there)
    diffs = [d.sentence() for d in c.differences]
    diffs += [f"store path {p}: {why}" for p, why in sorted(here.store_problems.items())]
    diffs += [f"venv: {why}" for why in here.venv_problems]
    return Imported(name, root, number, len(every), not diffs, diffs, notes + c.notes)
