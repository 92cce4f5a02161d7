"""Ask Nix for the closure before `onboard export container`'s command line is parsed.

An export's floor is Nix's closure query (`nix path-info -r --json`) and the bytes of the
closure; onboard's start-up (the interpreter, argparse, its modules) can run beside the query
instead of before it. `start(words)` reads the words after `export` just enough to find the
project's environment (`container`, a profile name, `--project DIR`), reads its manifest (no
YAML) and spawns the query the way verify's early checks do (verify/early.py: the same
`Spawned`, the same list, so `record.locate` takes it when it asks exactly that question, and
starts its own otherwise). Anything unusual (help, no project, no manifest) starts nothing;
a query not taken is killed when the command ends.
"""

from __future__ import annotations

import os

from onboard.core import project as projects
from onboard.core.profiles import cache
from onboard.core.verify import early

_VALUED = ("--out", "--project", "--cmd", "--tag")
_MINE: list[early.Spawned] = []


def _kill_mine() -> None:
    for item in list(early.STARTED):
        query = item[3].get("query")
        if query in _MINE:
            early.STARTED.remove(item)
    for p in _MINE:
        p.kill()
        p.communicate()


def start(words: list[str]) -> None:
    if words[:1] != ["container"]:
        return
    name, project = "", None
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("-h", "--help", "--"):
            return
        if w in _VALUED:
            if i + 1 >= len(words):
                return
            if w == "--project":
                project = words[i + 1]
            i += 2
            continue
        if w.startswith("--project="):
            project = w.split("=", 1)[1]
        elif not w.startswith("-"):
            if name:
                return
            name = w
        i += 1
    try:
        root = projects.resolve(project)
        if root is None or not os.path.isdir(root):
            return
        held = cache.hold_of(root)
        name = name or cache.active_name(root) or (held[1] if held else "")
        if not name or not cache.valid_name(name):
            return
        if held is not None and held[1] == name:
            directory = cache.generation_dir(root, held[0])
        else:
            directory = cache.env_dir(cache.path_key(root), name)
        m = cache.read_manifest(directory)
        roots = [p for p in (m.store_paths if m else []) if p]
        if m is None or not roots or not all(os.path.exists(p) for p in roots):
            return
        query = early.Spawned(["nix", *early.NIX_FLAGS, "path-info", "-r", "--json", *roots])
    except OSError:
        return
    if not _MINE:
        import atexit

        atexit.register(_kill_mine)
    _MINE.append(query)
    early.STARTED.append((roots, False, m.override, {"query": query, "verify": None}))  # type: ignore[dict-item]
