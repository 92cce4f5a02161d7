"""The store-built venv of a locked Python: `packages.<system>.python-env` of the rendered flake.

`onboard shell NAME --hermetic` enters with it instead of the project's writable venv: the same
wheels (fetched by hash, sdists built and platform wheels patched in Nix) installed by uv inside
a Nix build, offline, into a store path. The same lock gives the same store path on every
machine; CI, containers and archives use it as it is.

`build(directory, emit)` builds it for the environment cached in `directory` (its rendered
flake, with ONBOARD_NIXPKGS_OVERRIDE applied as for the shell), GC-rooted there as
`python-env`, and returns the store path. The next call with the same environment (the
manifest's key) only reads the link: no Nix.
"""

from __future__ import annotations

import json
import os
from typing import Optional

from onboard.core.events import Emitter, discard
from onboard.core.profiles.nixrun import EnvError

__all__ = ["LINK", "OUTPUT", "build", "current"]

#: the GC root of the store-built venv in an environment's cache directory
LINK = "python-env"
#: the rendered flake's output (packages.<system>.python-env); containers use the same name
OUTPUT = "python-env"
_KEY = "python-env.key"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def current(directory: str, key: str) -> Optional[str]:
    """The store venv built for the environment `key` when it is still there, else None."""
    link = os.path.join(directory, LINK)
    if not key or _read(os.path.join(directory, _KEY)) != key:
        return None
    target = os.path.realpath(link)
    if os.path.islink(link) and target.startswith("/nix/store/") and os.path.isfile(os.path.join(target, "pyvenv.cfg")):
        return target
    return None


def build(directory: str, key: str, backend: str, emit: Emitter = discard, action_id: str = "python-env") -> str:
    """Build (or find) the store venv of the environment in `directory`. Raises EnvError."""
    from onboard.core.profiles import cache
    from onboard.core.profiles.nixrun import _nix_failure, _override_args, _run_nix

    got = current(directory, key)
    if got is not None:
        return got
    if backend != "flake":
        raise EnvError("--hermetic needs the `nix` command with flakes (Nix 2.4 or newer); this environment "
                       f"was built with {backend}",
                       f"unset {cache.BACKEND_VAR}, or upgrade Nix (onboard install)")
    flake = os.path.join(directory, cache.RENDERED)
    if not os.path.isfile(os.path.join(flake, "python.nix")):
        raise EnvError("this environment has no locked Python (python.lock or python.requirements): there is no "
                       "store-built venv to enter", "enter without --hermetic, or give the profile a lock")
    nix = cache.which("nix") or "nix"
    override = os.environ.get(cache.OVERRIDE_VAR, "")
    system = _system()
    link = os.path.join(directory, LINK)
    out = os.path.join(directory, f".python-env.{os.getpid()}.json")
    argv = [nix, "--extra-experimental-features", "nix-command flakes", "build", "--json", "--out-link", link,
            f"path:{flake}#packages.{system}.{OUTPUT}", "--no-write-lock-file", *_override_args(override),
            "--log-format", "internal-json", "-v"]
    try:
        rc, parser = _run_nix(argv, emit, action_id, out)
        if rc != 0:
            raise _nix_failure("building the store venv (python-env)", parser, rc)
        try:
            with open(out, encoding="utf-8") as fh:
                path = str(json.load(fh)[0]["outputs"]["out"])
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise EnvError(f"nix build gave no store path for python-env: {exc}",
                           "run it again; if it persists, rebuild: onboard shell NAME")
    finally:
        try:
            os.unlink(out)
        except OSError:
            pass
    cache.write_atomic(os.path.join(directory, _KEY), key + "\n")
    return path


def _system() -> str:
    from onboard.core.python.profilekeys import nix_system

    return nix_system()
