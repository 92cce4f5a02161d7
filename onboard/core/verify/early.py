"""Ask Nix about the environment before the command line is even parsed.

`onboard verify`'s floor is Nix's own two commands (the closure query and the check of its
contents); onboard's start-up (the interpreter, argparse, its modules) can run beside them
instead of before them. `start(words)` reads the words after `verify` just enough to find the
project's environment (a profile name, `--project DIR`), reads its manifest (no YAML) and
spawns Nix's commands; `record.locate` takes them (nixstore.take_early) when they ask exactly
its questions, and starts its own otherwise. Anything unusual (help, no project, no manifest,
a Nix without `nix store verify`) starts nothing.

It imports neither subprocess nor dataclasses (together a quarter of a short command's
start-up): the commands are spawned with os.posix_spawnp, their output going to unlinked
temporary files, so that nothing can block on a full pipe.
"""

from __future__ import annotations

import os
import re
from typing import Optional

from onboard.core import project as projects
from onboard.core.profiles import cache

_VALUED = ("--out", "--against", "--project")
NIX_FLAGS = ["--extra-experimental-features", "nix-command"]

#: (roots, check, override, {"query"|"verify": Spawned}) started, not yet taken
STARTED: list[tuple[list[str], bool, str, dict[str, "Spawned"]]] = []


def _scratch() -> int:
    base = os.environ.get("TMPDIR") or "/tmp"
    try:
        return os.open(base, os.O_TMPFILE | os.O_RDWR, 0o600)
    except (OSError, AttributeError):
        path = os.path.join(base, f".onboard-verify-{os.getpid()}-{id(object())}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
        return fd


class Spawned:
    """A command started with posix_spawnp: what nixstore.Jobs uses of a Popen (poll, kill,
    communicate, returncode), with text output."""

    def __init__(self, argv: list[str]) -> None:
        self.out, self.err = _scratch(), _scratch()
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, self.out, 1), (os.POSIX_SPAWN_DUP2, self.err, 2)]
        self.returncode: int | None = None
        try:
            self.pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        except OSError:
            self._close()
            raise

    def _close(self) -> None:
        for fd in (self.out, self.err):
            try:
                os.close(fd)
            except OSError:
                pass
        self.out = self.err = -1

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, 9)
            except OSError:
                pass

    def communicate(self) -> tuple[str, str]:
        if self.returncode is None:
            _pid, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        if self.out < 0:
            return "", ""
        texts = []
        for fd in (self.out, self.err):
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while True:
                b = os.read(fd, 1 << 16)
                if not b:
                    break
                chunks.append(b)
            texts.append(b"".join(chunks).decode("utf-8", "replace"))
        self._close()
        return texts[0], texts[1]


def _kill_all() -> None:
    for _roots, _check, _override, procs in STARTED:
        for p in procs.values():
            p.kill()
            p.communicate()


def locate(words: list[str], valued: tuple[str, ...]) -> Optional[tuple[list[str], cache.Manifest]]:
    """(the store paths, the manifest) of the environment a command's words name (a profile
    name, `--project DIR`; `valued`: the options that take a value), or None: help asked
    for, no project, no manifest, an environment gone from the store. Reads no YAML."""
    name, project = "", None
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-h", "--help", "--"):
            return None
        if w in valued:
            if i + 1 >= len(words):
                return None
            if w == "--project":
                project = words[i + 1]
            i += 2
            continue
        if w.startswith("--project="):
            project = w.split("=", 1)[1]
        elif not w.startswith("-"):
            if name:
                return None
            name = w
        i += 1
    try:
        root = projects.resolve(project)
        if root is None or not os.path.isdir(root):
            return None
        held = cache.hold_of(root)
        name = name or cache.active_name(root) or (held[1] if held else "")
        if not name or not cache.valid_name(name):
            return None
        if held is not None and held[1] == name:
            directory = cache.generation_dir(root, held[0])
        else:
            directory = cache.env_dir(cache.path_key(root), name)
        m = cache.read_manifest(directory)
        roots = [p for p in (m.store_paths if m else []) if p]
        if m is None or not roots or not all(os.path.exists(p) for p in roots):
            return None
    except OSError:
        return None
    return roots, m


def spawn(roots: list[str], m: cache.Manifest, check: bool) -> None:
    """Start Nix's closure query and, with `check`, its check of the contents; kept for
    nixstore.take_early, and killed when the command ends without taking them."""
    # (an overriding package set's hash was recorded by the build: facts.json)
    procs: dict[str, Spawned] = {}
    try:
        procs["query"] = Spawned(["nix", *NIX_FLAGS, "path-info", "-r", "--json", *roots])
        if check:
            procs["verify"] = Spawned(["nix", *NIX_FLAGS, "store", "verify", "--no-trust", "-r", *roots])
    except OSError:
        for p in procs.values():  # the one that started: the command asks again itself
            p.kill()
            p.communicate()
        return
    if not STARTED:
        import atexit

        atexit.register(_kill_all)  # never left running when the command stopped before taking them
    STARTED.append((roots, check, m.override, procs))


def start(words: list[str]) -> None:
    """`onboard verify`'s words: the closure query and the check of its contents."""
    found = locate(words, _VALUED)
    if found is None:
        return
    roots, m = found
    v = re.search(r"(\d+)\.(\d+)", m.nixversion)
    if v is None or (int(v.group(1)), int(v.group(2))) < (2, 4):
        return  # no `nix store verify`: the check goes path by path, later
    spawn(roots, m, check=True)
