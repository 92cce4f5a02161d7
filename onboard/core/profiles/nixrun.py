"""Running Nix to evaluate and build a profile's shell, in the rendered directory.

Two backends:
- "flake" (Nix >= 2.4): `nix print-dev-env --json --profile <gcroot> path:<rendered dir>`;
  the flake inputs (nixpkgs' source) get GC roots too, so re-entering and rolling back
  work offline after a garbage collection.
- "nix-shell" (Nix without the `nix` command): `nix-shell --pure` on the rendered
  shell.nix, with its shellHook held back, dumps the environment from inside; the store
  paths it refers to get GC roots.

Both run with `--log-format internal-json -v`; the lines become progress events
(nixlog.py). ONBOARD_NIXPKGS_OVERRIDE=<path> swaps the package set (flakes:
`--override-input nixpkgs path:<path>`, nix-shell: `nixpkgs = <path>`) while the rendered
files stay exactly what users get. ONBOARD_NIX_BACKEND=flake|nix-shell forces a backend.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Optional

from onboard.core.events import Emitter, Event, LogLine
from onboard.core.profiles import cache
from onboard.core.profiles.envsh import DUMPER, EnvModel, model_from_dump, model_from_json, sh_quote
from onboard.core.profiles.nixlog import NixLogParser

__all__ = ["EnvError", "STORE_DIR", "nix_version", "nix_version_text", "choose_backend", "build_flake", "build_nix_shell"]


STORE_DIR = os.environ.get("NIX_STORE_DIR", "/nix/store")
_STORE_PATH = re.compile(re.escape(STORE_DIR) + r"/[0-9a-z]{32}-[^/:\s'\"$]+")


class EnvError(Exception):
    """The environment could not be built: what happened and what to do."""

    def __init__(self, message: str, hint: str = "", log: Optional[list[str]] = None, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.log = list(log or [])
        self.where = where  # file:line in the profile the failure comes from, when known


def nix_version(nix: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", nix_version_text(nix))
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


#: (real path, mtime, size) of a Nix program -> what its --version said: asked once per run
_VERSIONS: dict[tuple[str, int, int], str] = {}


def nix_version_text(prog: str) -> str:
    """What `PROG --version` says (first line), "" when it cannot run."""
    path = prog if os.sep in prog else (cache.which(prog) or prog)
    try:
        st = os.stat(path)
        key: Optional[tuple[str, int, int]] = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _VERSIONS:
        return _VERSIONS[key]
    try:
        out = subprocess.run([prog, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    text = out.strip().splitlines()[0] if out.strip() else ""
    if key is not None and text:
        _VERSIONS[key] = text
    return text


def choose_backend() -> tuple[str, str]:
    """(backend, program): ("flake", "nix") when the `nix` command can do flakes, else
    ("nix-shell", "nix-shell")."""
    forced = os.environ.get(cache.BACKEND_VAR, "")
    if forced not in ("", "flake", "nix-shell"):
        raise EnvError(f"{cache.BACKEND_VAR}={forced!r} is not a backend",
                       f"use {cache.BACKEND_VAR}=flake or {cache.BACKEND_VAR}=nix-shell, or unset it")
    nix = cache.which("nix")
    if forced == "flake" or (not forced and nix and nix_version(nix) >= (2, 4)):
        if not nix:
            raise EnvError("the `nix` command is not on PATH", "install Nix: onboard install")
        return "flake", "nix"
    if cache.which("nix-shell"):
        return "nix-shell", "nix-shell"
    raise EnvError("Nix is not installed (neither `nix` nor `nix-shell` is on PATH)",
                   "install it with `onboard install`, then open a new terminal")


def _run_nix(argv: list[str], emit: Emitter, action_id: str, stdout_path: str,
             env: Optional[dict[str, str]] = None) -> tuple[int, NixLogParser]:
    """Run Nix with stdout to a file and its internal-json stderr turned into events."""
    parser = NixLogParser(action_id=action_id)
    with open(stdout_path, "wb") as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                                    env=env)
        except OSError as exc:
            raise EnvError(f"cannot run {argv[0]}: {exc}", "check that Nix is installed: onboard doctor")
        assert proc.stderr is not None
        try:
            for raw in proc.stderr:
                for ev in parser.feed(raw.decode("utf-8", "replace")):
                    emit(ev)
            rc = proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        finally:
            proc.stderr.close()
    return rc, parser


def _nix_failure(what: str, parser: NixLogParser, rc: int) -> EnvError:
    text = parser.error_text() or f"exit code {rc}"
    first = text.splitlines()[0] if text else ""
    hint = "fix the profile (check it with `onboard profiles validate`) and try again"
    if "unfree license" in text:
        hint = "allow it in the profile: `allowUnfree: true` with the package under `unfree:`"
    elif "attribute" in text and "missing" in text:
        hint = "check the package names in the profile against the pinned package set"
    elif "unable to download" in text or "Could not resolve" in text or "Couldn't resolve" in text:
        hint = "this needs the network (or a binary cache): connect and try again"
    log = parser.failed_build_log() + text.splitlines()[1:]
    return EnvError(f"{what} failed: {first}", hint, log=log[-20:])


def _override_args(override: str) -> list[str]:
    return ["--override-input", "nixpkgs", f"path:{os.path.abspath(override)}"] if override else []


def _remove_old_profile_links(directory: str) -> None:
    """Keep only the generation of the `gcroot` profile it points to now."""
    root = os.path.join(directory, cache.GCROOT)
    try:
        current = os.readlink(root)
    except OSError:
        current = ""
    for entry in os.listdir(directory):
        if entry.startswith(cache.GCROOT + "-") and entry.endswith("-link") and entry != current:
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


class InputRoots:
    """GC roots for a flake's inputs, made beside the rest of the build (a thread: it is one
    more Nix evaluation, and what follows the build, the venv's sync, does not need it).
    `override_hash`: the NAR hash (SRI) of the package set that replaced nixpkgs, as the store
    recorded it, or "" when unknown."""

    def __init__(self, base: list[str], flake: str, directory: str, override: str, emit: Emitter,
                 action_id: str) -> None:
        import threading

        self.override_hash = ""
        self._args = (base, flake, directory, override, emit, action_id)
        self._thread = threading.Thread(target=self._run, name="onboard-input-roots", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        base, flake, directory, override, emit, action_id = self._args
        inputs = _root_flake_inputs(base, flake, directory, override, emit, action_id)
        if override and inputs.get("nixpkgs"):
            self.override_hash = _nar_hash(base, inputs["nixpkgs"])

    def join(self) -> None:
        self._thread.join()


def _nar_hash(base: list[str], path: str) -> str:
    try:
        r = subprocess.run(base + ["path-info", "--json", path], capture_output=True, text=True, timeout=60)
        doc = json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return ""
    from onboard.core.verify.nixstore import path_infos, sri

    info = path_infos(doc).get(path, {})
    return sri(str(info.get("narHash", ""))) if info.get("narHash") else ""


def build_flake(profile_name: str, directory: str, nix: str, override: str, emit: Emitter,
                 action_id: str, background: Optional[list[InputRoots]] = None) -> tuple[EnvModel, list[str]]:
    """Evaluate and build the flake's dev shell. With `background`, the GC roots of the flake's
    inputs are made in a thread appended to it (join it before the build counts as done);
    without, before returning."""
    flake = os.path.join(directory, cache.RENDERED)
    base = [nix, "--extra-experimental-features", "nix-command flakes"]
    out_path = os.path.join(directory, f".print-dev-env.{os.getpid()}.json")
    argv = base + ["print-dev-env", "--json", "--profile", os.path.join(directory, cache.GCROOT),
                   f"path:{flake}", "--no-write-lock-file", *_override_args(override),
                   "--log-format", "internal-json", "-v"]

    def relay(ev: Event) -> None:
        # with the package set overridden the pinned lock never matches: not news
        if override and isinstance(ev, LogLine) and ev.line.startswith("warning: not writing modified lock file"):
            ev.level = "debug"
        emit(ev)

    try:
        rc, parser = _run_nix(argv, relay, action_id, out_path)
        if rc != 0:
            raise _nix_failure("evaluating and building the shell", parser, rc)
        try:
            with open(out_path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            raise EnvError(f"nix print-dev-env gave no environment: {exc}")
    finally:
        try:
            os.unlink(out_path)
        except OSError:
            pass
    _remove_old_profile_links(directory)
    store = os.path.realpath(os.path.join(directory, cache.GCROOT))
    if background is None:
        _root_flake_inputs(base, flake, directory, override, emit, action_id)
    else:
        background.append(InputRoots(base, flake, directory, override, emit, action_id))
    return model_from_json(doc), [store]


def _root_flake_inputs(base: list[str], flake: str, directory: str, override: str, emit: Emitter,
                       action_id: str) -> dict[str, str]:
    """GC roots for the flake's inputs (the package set's source), so that a later
    evaluation of the same profile works without the network. Returns the top-level
    inputs' store paths by name."""
    inputs_dir = os.path.join(directory, "inputs")
    try:
        r = subprocess.run(base + ["flake", "archive", "--json", "--dry-run", f"path:{flake}",
                                   "--no-write-lock-file", *_override_args(override)],
                           capture_output=True, text=True, timeout=300)
        doc = json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, ValueError, subprocess.SubprocessError):
        doc = None
    paths: list[str] = []

    def walk(node: dict) -> None:
        for sub in (node.get("inputs") or {}).values():
            if isinstance(sub, dict):
                if sub.get("path"):
                    paths.append(str(sub["path"]))
                walk(sub)

    top: dict[str, str] = {}
    if isinstance(doc, dict):
        walk(doc)
        for key, sub in (doc.get("inputs") or {}).items():
            if isinstance(sub, dict) and sub.get("path"):
                top[str(key)] = str(sub["path"])
    _replace_roots(inputs_dir, "source", paths, emit, action_id)
    return top


def _replace_roots(root_dir: str, stem: str, paths: list[str], emit: Emitter, action_id: str) -> bool:
    """Make `root_dir` hold GC roots for exactly `paths` (stem, stem-2, ...)."""
    import shutil

    if os.path.isdir(root_dir):
        shutil.rmtree(root_dir, ignore_errors=True)
    if not paths:
        return True
    os.makedirs(root_dir, exist_ok=True)
    r = subprocess.run(["nix-store", "--realise", "--add-root", os.path.join(root_dir, stem), *paths],
                       capture_output=True, text=True)
    if r.returncode != 0:
        emit(LogLine(action_id=action_id, level="warn",
                     line=f"could not add GC roots in {root_dir}: {r.stderr.strip()}"))
        return False
    return True


def _nix_string(text: str) -> str:
    return json.dumps(text).replace("${", "\\${")


def build_nix_shell(profile_name: str, directory: str, override: str, emit: Emitter,
                     action_id: str) -> tuple[EnvModel, list[str]]:
    shell_nix = os.path.join(directory, cache.RENDERED, "shell.nix")
    args = "{ }" if not override else \
        "{ nixpkgs = /. + " + _nix_string(os.path.abspath(override)) + "; }"
    expr = ("let shell = import (/. + " + _nix_string(shell_nix) + ") " + args + "; "
            "attrs = shell.drvAttrs; in "
            'derivation (attrs // { shellHook = ""; onboardShellHook = attrs.shellHook or ""; })')
    bash = os.path.realpath(cache.which("bash") or "/bin/bash")
    dumper = os.path.join(directory, f".dump-env.{os.getpid()}.sh")
    dump = os.path.join(directory, f".dump-env.{os.getpid()}.out")
    log = os.path.join(directory, f".nix-shell.{os.getpid()}.log")
    env = dict(os.environ, NIX_BUILD_SHELL=bash)
    if override:
        env["NIX_PATH"] = f"nixpkgs={os.path.abspath(override)}"
    try:
        with open(dumper, "w", encoding="utf-8") as fh:
            fh.write(DUMPER)
        argv = ["nix-shell", "--pure", "-E", expr, "--run", f". {sh_quote(dumper)} {sh_quote(dump)}",
                "--log-format", "internal-json", "-v"]
        rc, parser = _run_nix(argv, emit, action_id, log, env=env)
        if rc != 0 or not os.path.exists(dump):
            raise _nix_failure("evaluating and building the shell (nix-shell)", parser, rc)
        with open(dump, "rb") as fh:
            model = model_from_dump(fh.read(), strip_path_prefix=os.path.dirname(bash))
    finally:
        for p in (dumper, dump, log):
            try:
                os.unlink(p)
            except OSError:
                pass
    paths: list[str] = []
    for name in ("stdenv", "nativeBuildInputs", "buildInputs", "propagatedNativeBuildInputs",
                 "propagatedBuildInputs", "PATH", "PYTHONPATH"):
        value = model.variables.get(name, ("", ""))[1]
        text = value if isinstance(value, str) else " ".join(str(v) for v in (value if isinstance(value, list) else []))
        for p in _STORE_PATH.findall(text):
            if p not in paths and os.path.exists(p):
                paths.append(p)
    for entry in os.listdir(directory):
        if entry == cache.GCROOT or entry.startswith(cache.GCROOT + "-"):
            os.unlink(os.path.join(directory, entry))
    if paths:
        r = subprocess.run(["nix-store", "--realise", "--add-root", os.path.join(directory, cache.GCROOT),
                            *paths], capture_output=True, text=True)
        if r.returncode != 0:
            raise EnvError(f"could not add GC roots for the environment: {r.stderr.strip()}")
    return model, paths
