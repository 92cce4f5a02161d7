"""Evaluate a profile's shell once and cache the environment (see cache.py for the layout).

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

The environment is written as env.sh, cleaned of print-dev-env's quirks: no SHELL/BASH of
the build user, no `mktemp -d` for NIX_BUILD_TOP on every load (no temp dir residue), no
bash internals (OLDPWD, LINENO, ...). The outer PATH is appended unless ONBOARD_PURE is set.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Optional

from onboard.core.events import (ActionFailed, ActionFinished, ActionStarted, Emitter, LogLine, Notice,
                                 discard)
from onboard.core.profiles import cache
from onboard.core.profiles.nixlog import NixLogParser

STORE_DIR = os.environ.get("NIX_STORE_DIR", "/nix/store")
_STORE_PATH = re.compile(re.escape(STORE_DIR) + r"/[0-9a-z]{32}-[^/:\s'\"$]+")

#: Variables print-dev-env (or the nix-shell dump) reports that must not reach the user's
#: shell: bash internals, the build user's SHELL/BASH, per-build temp dirs, user settings.
DROP_VARS = frozenset({
    "BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0", "BASH_CMDS",
    "BASH_COMMAND", "BASH_LINENO", "BASH_LOADABLES_PATH", "BASH_REMATCH", "BASH_SOURCE", "BASH_SUBSHELL",
    "BASH_VERSINFO", "BASH_VERSION", "BASH_EXECUTION_STRING", "COLUMNS", "COMP_WORDBREAKS", "DIRSTACK",
    "EPOCHREALTIME", "EPOCHSECONDS", "EUID", "FUNCNAME", "GROUPS", "HISTCMD", "HISTFILE", "HISTFILESIZE",
    "HISTSIZE", "HOME", "HOSTNAME", "HOSTTYPE", "IFS", "LINENO", "LINES", "MACHTYPE", "MAILCHECK",
    "NIX_BUILD_TOP", "NIX_ENFORCE_PURITY", "NIX_LOG_FD", "NIX_REMOTE", "OLDPWD", "OPTARG", "OPTERR",
    "OPTIND", "OSTYPE", "PIPESTATUS", "PPID", "PS1", "PS2", "PS4", "PWD", "RANDOM", "SECONDS", "SHELL",
    "SHELLOPTS", "SHLVL", "SRANDOM", "SSL_CERT_FILE", "TEMP", "TEMPDIR", "TERM", "TMP", "TMPDIR", "TZ",
    "UID", "_",
})
#: What `nix-shell --pure` keeps from the caller's environment (dropped from its dump).
NIX_SHELL_KEPT = frozenset({
    "USER", "LOGNAME", "DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "XDG_RUNTIME_DIR", "PAGER",
    "NIX_BUILD_SHELL", "NIX_SHELL_PRESERVE_PROMPT", "NIX_PATH", "NIX_CONFIG", "LANG", "LC_ALL",
    "http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
    "FTP_PROXY", "ALL_PROXY", "NO_PROXY", "TERMINFO", "TERMINFO_DIRS",
})


class EnvError(Exception):
    """The environment could not be built: what happened and what to do."""

    def __init__(self, message: str, hint: str = "", log: Optional[list[str]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.log = list(log or [])


@dataclass
class EnvResult:
    name: str
    directory: str
    env_sh: str
    manifest: cache.Manifest
    rebuilt: bool = False  # built now (else the cache was fresh)
    reason: str = ""  # why it was (re)built, or why the fallback was needed
    fallback: bool = False  # the rebuild failed: this is the last good environment
    error: Optional[EnvError] = None


@dataclass
class EnvModel:
    """Variables (name -> (type, value)) and bash functions (name -> full definition)."""

    variables: dict[str, tuple[str, object]] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)


# -- choosing how to run Nix ----------------------------------------------------------------

def nix_version(nix: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([nix, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


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


# -- env.sh ----------------------------------------------------------------------------------

def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def model_from_json(doc: dict) -> EnvModel:
    """`nix print-dev-env --json` -> EnvModel."""
    model = EnvModel()
    for name, spec in (doc.get("variables") or {}).items():
        if isinstance(spec, dict):
            model.variables[name] = (str(spec.get("type", "var")), spec.get("value"))
    for name, body in (doc.get("bashFunctions") or {}).items():
        model.functions[name] = f"{name} ()\n{{\n{body}}}"
    return model


def model_from_dump(data: bytes, strip_path_prefix: str = "") -> EnvModel:
    """The NUL-separated records DUMPER writes -> EnvModel."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    model = EnvModel()
    i = 0
    while i < len(fields) - 1:
        tag = fields[i]
        if tag == "v":
            name, kind, value = fields[i + 1:i + 4]
            model.variables[name] = (kind, value)
            i += 4
        elif tag == "a":
            name, count = fields[i + 1], int(fields[i + 2])
            model.variables[name] = ("array", fields[i + 3:i + 3 + count])
            i += 3 + count
        elif tag == "A":
            name, count = fields[i + 1], int(fields[i + 2])
            flat = fields[i + 3:i + 3 + 2 * count]
            model.variables[name] = ("associative", dict(zip(flat[0::2], flat[1::2])))
            i += 3 + 2 * count
        elif tag == "f":
            model.functions[fields[i + 1]] = fields[i + 2].rstrip("\n")
            i += 3
        else:
            break
    for name in NIX_SHELL_KEPT:
        model.variables.pop(name, None)
    if "IN_NIX_SHELL" in model.variables:
        model.variables["IN_NIX_SHELL"] = ("exported", "impure")
    # the shellHook was held back while dumping; it is run by env.sh
    hook = model.variables.pop("onboardShellHook", None)
    model.variables["shellHook"] = ("exported" if hook and hook[0] == "exported" else "var",
                                    hook[1] if hook else "")
    if strip_path_prefix and "PATH" in model.variables:
        kind, value = model.variables["PATH"]
        if isinstance(value, str) and value.startswith(strip_path_prefix + ":"):
            model.variables["PATH"] = (kind, value[len(strip_path_prefix) + 1:])
        elif value == strip_path_prefix:
            model.variables["PATH"] = (kind, "")
    return model


def render_env_script(model: EnvModel, profile_name: str) -> str:
    """The bash text of env.sh. Safe to source inside a function (direnv): scalars and
    indexed arrays are plain assignments (global), associative arrays use declare -gA."""
    out = [f"# onboard: the environment of profile {profile_name} (generated; do not edit)",
           'if [ -n "${ONBOARD_PURE:-}" ]; then onboard_saved_PATH=; else onboard_saved_PATH="${PATH:-}"; fi']
    for name in sorted(model.variables):
        if name in DROP_VARS or name.startswith("BASH_") or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        kind, value = model.variables[name]
        if kind in ("exported", "var"):
            out.append(f"{name}={sh_quote(str(value))}")
            if kind == "exported":
                out.append(f"export {name}")
        elif kind == "array" and isinstance(value, list):
            out.append(f"{name}=(" + " ".join(sh_quote(str(v)) for v in value) + ")")
        elif kind == "associative" and isinstance(value, dict):
            out.append(f"declare -gA {name}=(" + " ".join(
                f"[{sh_quote(str(k))}]={sh_quote(str(v))}" for k, v in sorted(value.items())) + ")")
    for name in sorted(model.functions):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_:.-]*", name):
            out.append(model.functions[name])
    out += [
        'PATH="${PATH:-}${onboard_saved_PATH:+${PATH:+:}$onboard_saved_PATH}"',
        "export PATH",
        "unset onboard_saved_PATH",
        'if [ -n "${ONBOARD_PURE:-}" ]; then export IN_NIX_SHELL=pure; fi',
        "unset ONBOARD_PURE",
        f"export ONBOARD_PROFILE={sh_quote(profile_name)}",
        'eval "${shellHook:-}"',
    ]
    return "\n".join(out) + "\n"


def render_inputs_script(paths: list[str]) -> str:
    return ("# onboard: every file whose change must rebuild the environment (generated)\n"
            "ONBOARD_INPUTS=(\n" + "".join(f"  {sh_quote(p)}\n" for p in paths) + ")\n")


def render_bashrc(profile_name: str, env_sh: str) -> str:
    """rcfile of the interactive shell: the user's ~/.bashrc, then the environment."""
    label = re.sub(r"[^A-Za-z0-9._+-]", "_", profile_name)
    return ("# onboard: interactive shell of profile " + profile_name + " (generated)\n"
            'if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'
            f". {sh_quote(env_sh)}\n"
            f'PS1="({label}) ${{PS1-\\\\s-\\\\v\\\\$ }}"\n')


# -- running Nix -----------------------------------------------------------------------------

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
    hint = "fix the profile (onboard profiles check) and try again"
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


def _build_flake(profile_name: str, directory: str, nix: str, override: str, emit: Emitter,
                 action_id: str) -> tuple[EnvModel, list[str]]:
    flake = os.path.join(directory, cache.RENDERED)
    base = [nix, "--extra-experimental-features", "nix-command flakes"]
    out_path = os.path.join(directory, f".print-dev-env.{os.getpid()}.json")
    argv = base + ["print-dev-env", "--json", "--profile", os.path.join(directory, cache.GCROOT),
                   f"path:{flake}", "--no-write-lock-file", *_override_args(override),
                   "--log-format", "internal-json", "-v"]
    def relay(ev) -> None:  # type: ignore[no-untyped-def]
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
    _root_flake_inputs(base, flake, directory, override, emit, action_id)
    return model_from_json(doc), [store]


def _root_flake_inputs(base: list[str], flake: str, directory: str, override: str, emit: Emitter,
                       action_id: str) -> None:
    """GC roots for the flake's inputs (the package set's source), so that a later
    evaluation of the same profile works without the network."""
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

    if isinstance(doc, dict):
        walk(doc)
    _replace_roots(inputs_dir, "source", paths, emit, action_id)


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


DUMPER = r"""
__ob_out=$1
{
for __ob_n in $(compgen -v); do
    case $__ob_n in __ob_*|BASH_*|FUNCNAME|PIPESTATUS|GROUPS|DIRSTACK) continue ;; esac
    __ob_d=$(declare -p "$__ob_n" 2>/dev/null) || continue
    __ob_f=${__ob_d#declare -}; __ob_f=${__ob_f%% *}
    case $__ob_f in
        *A*) eval "__ob_k=(\"\${!$__ob_n[@]}\")"
             printf 'A\0%s\0%s\0' "$__ob_n" "${#__ob_k[@]}"
             for __ob_key in "${__ob_k[@]}"; do eval "printf '%s\0%s\0' \"\$__ob_key\" \"\${$__ob_n[\$__ob_key]}\""; done ;;
        *a*) eval "__ob_v=(\"\${$__ob_n[@]}\")"
             printf 'a\0%s\0%s\0' "$__ob_n" "${#__ob_v[@]}"
             if [ "${#__ob_v[@]}" -gt 0 ]; then printf '%s\0' "${__ob_v[@]}"; fi ;;
        *x*) printf 'v\0%s\0exported\0%s\0' "$__ob_n" "${!__ob_n}" ;;
        *) printf 'v\0%s\0var\0%s\0' "$__ob_n" "${!__ob_n}" ;;
    esac
done
for __ob_n in $(compgen -A function); do
    printf 'f\0%s\0%s\0' "$__ob_n" "$(declare -f "$__ob_n")"
done
} > "$__ob_out"
"""


def _nix_string(text: str) -> str:
    return json.dumps(text).replace("${", "\\${")


def _build_nix_shell(profile_name: str, directory: str, override: str, emit: Emitter,
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
        for p in _STORE_PATH.findall(value if isinstance(value, str) else " ".join(map(str, value or []))):
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


# -- the cache -------------------------------------------------------------------------------

def _lock(directory: str):  # type: ignore[no-untyped-def]
    import fcntl

    fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int) -> None:
    os.close(fd)


def key_of(m: cache.Manifest) -> str:
    import hashlib

    h = hashlib.sha256()
    for part in (m.format, m.name, m.profile, m.version, m.system, m.override, m.backend, m.nix_path,
                 str(m.nix_mtime_ns), str(m.nix_size)):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for i in m.inputs:
        h.update(f"{i.path}\0{i.sha256}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def watched_paths(profile, directory: str) -> list[str]:  # type: ignore[no-untyped-def]
    files = [os.path.realpath(f) for f in profile.watched_files()]
    lock = os.path.join(directory, cache.RENDERED, "flake.lock")
    if os.path.exists(lock):
        files.append(lock)
    seen: set[str] = set()
    return [f for f in files if not (f in seen or seen.add(f))]


def build_env(profile, emit: Emitter = discard, reason: str = "") -> EnvResult:  # type: ignore[no-untyped-def]
    """Render, evaluate and build the profile's shell; write the cache. Raises EnvError."""
    name = profile.name
    if not cache.valid_name(name):
        raise EnvError(f"profile name {name!r} cannot name a cache directory", "rename the profile")
    directory = cache.env_dir(name)
    action_id = f"env:{name}"
    os.makedirs(directory, exist_ok=True)
    fd = _lock(directory)
    try:
        if reason != "forced":
            # another process may have built it while this one waited for the lock
            m = cache.read_manifest(directory)
            if m is not None and not cache.stale_reason(m, directory, profile_file=profile.path or None):
                return EnvResult(name=name, directory=directory, env_sh=os.path.join(directory, cache.ENV_SH),
                                 manifest=m)
        return _build_locked(profile, directory, action_id, emit, reason)
    finally:
        _unlock(fd)


def _build_locked(profile, directory: str, action_id: str, emit: Emitter, reason: str) -> EnvResult:  # type: ignore[no-untyped-def]
    from onboard.core.profiles.render import write_rendered

    name = profile.name
    emit(ActionStarted(index=0, total=1, action_id=action_id,
                       description=f"evaluate and build the shell of profile {name}"
                       + (f" ({reason})" if reason else "")))
    started = time.time()
    try:
        backend, prog = choose_backend()
        ident = cache.program_identity(prog)
        if ident is None:
            raise EnvError(f"`{prog}` is not on PATH", "install Nix: onboard install")
        # snapshot the inputs before Nix reads them: an edit during the build then
        # shows up as a change on the next entry
        write_rendered(profile, os.path.join(directory, cache.RENDERED))
        snapshot_ns = time.time_ns()
        inputs = []
        for path in watched_paths(profile, directory):
            try:
                inputs.append(cache.Input.of(path))
            except OSError as exc:
                raise EnvError(f"cannot read {path}: {exc.strerror}", "restore the file or fix the profile")
        override = os.environ.get(cache.OVERRIDE_VAR, "")
        if override and not os.path.isdir(override):
            raise EnvError(f"{cache.OVERRIDE_VAR}={override} is not a directory",
                           "point it at a nixpkgs checkout, or unset it")
        if backend == "flake":
            model, store_paths = _build_flake(name, directory, cache.which("nix") or "nix", override,
                                              emit, action_id)
        else:
            model, store_paths = _build_nix_shell(name, directory, override, emit, action_id)

        m = cache.Manifest()
        m.name = name
        m.profile = os.path.realpath(profile.path) if profile.path else ""
        m.version = cache.onboard_version()
        m.system = cache.system_id()
        m.override = override
        m.backend, m.nix_prog = backend, prog
        m.nix_path, m.nix_mtime_ns, m.nix_size = ident
        m.bash = os.path.realpath(cache.which("bash") or "/bin/bash")
        m.inputs = inputs
        m.store_paths = store_paths
        m.built = time.time()
        m.key = key_of(m)
        env_sh = os.path.join(directory, cache.ENV_SH)
        cache.write_atomic(env_sh, render_env_script(model, name))
        cache.write_atomic(os.path.join(directory, cache.INPUTS_SH),
                           render_inputs_script([i.path for i in inputs] + [m.nix_path]))
        cache.write_atomic(os.path.join(directory, cache.BASHRC), render_bashrc(name, env_sh))
        # env.sh dates from the input snapshot, not the end of the build: the direnv loader's
        # `input -nt env.sh` then sees an edit made while Nix was building
        os.utime(env_sh, ns=(snapshot_ns, snapshot_ns))
        cache.write_atomic(os.path.join(directory, cache.MANIFEST), m.dumps())  # the commit point
    except EnvError as exc:
        emit(ActionFailed(action_id=action_id, error=exc.message, hint=exc.hint))
        raise
    emit(ActionFinished(action_id=action_id, status="done",
                        message=f"built in {time.time() - started:.1f} s"))
    return EnvResult(name=name, directory=directory, env_sh=env_sh, manifest=m, rebuilt=True, reason=reason)


def last_good(directory: str) -> Optional[cache.Manifest]:
    """The manifest of the environment in `directory` if it can still be entered (env.sh
    present, every store path it needs still in the store)."""
    m = cache.read_manifest(directory)
    if m is None or not os.path.isfile(os.path.join(directory, cache.ENV_SH)):
        return None
    if not m.store_paths or not all(os.path.exists(p) for p in m.store_paths):
        return None
    return m


def ensure_env(profile, emit: Emitter = discard, force: bool = False) -> EnvResult:  # type: ignore[no-untyped-def]
    """A fresh environment for `profile`: the cache when it is fresh, else a rebuild. When
    the rebuild fails and a last good environment exists, that one is returned with
    fallback=True and a Notice says so; otherwise EnvError."""
    directory = cache.env_dir(profile.name)
    m = cache.read_manifest(directory)
    reason = "forced" if force else ("not built yet" if m is None else
                                     cache.stale_reason(m, directory, profile_file=profile.path or None))
    if m is not None and not reason:
        return EnvResult(name=profile.name, directory=directory,
                         env_sh=os.path.join(directory, cache.ENV_SH), manifest=m)
    try:
        return build_env(profile, emit, reason)
    except EnvError as exc:
        good = last_good(directory)
        if good is None:
            raise
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(good.built))
        emit(Notice(level="warn", action_id=f"env:{profile.name}",
                    message=f"could not rebuild profile {profile.name}: {exc.message}. "
                            f"Using the last good environment, built {when}, which is out of date "
                            f"({reason})."))
        return EnvResult(name=profile.name, directory=directory, env_sh=os.path.join(directory, cache.ENV_SH),
                         manifest=good, reason=reason, fallback=True, error=exc)
