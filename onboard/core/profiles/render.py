"""Turn a profile into Nix: flake.nix + flake.lock (pinned) and an equivalent shell.nix.

Deterministic: the same profile gives the same bytes on every machine. Nothing of this
machine goes in (no timestamps, no absolute paths): the requirements file is copied
next to the Nix files, and scripts are rendered as small files in bin/.

Both files build the same `pkgs.mkShell` from the same text:
- nixpkgs is imported with an explicit `config` (unfree packages allowed one by one
  through allowUnfreePredicate, or all with allowUnfree when the profile says so) and
  `overlays = [ ]`, so nothing from ~/.config/nixpkgs changes the result;
- packages are attribute paths of that package set (`pkgs.python312Packages.numpy`);
- env vars are mkShell attributes (mkShell passes unknown attributes on as variables);
- shellHook: the virtualenv (a locked Python's: onboard/core/python/shellnix.py; else made
  from the package set's Python by the hook itself), bin/ with the scripts on PATH, then the
  profile's own shellHook. No LD_LIBRARY_PATH: Python's `libraries` reach native code
  through its RUNPATH (python.nix, onboard/core/python/native.py);
- a locked Python also gives `packages.<system>.python-env`: its venv built in the store.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from onboard.core.profiles.model import Profile
from onboard.core.python.nixexpr import BUILDER_FILE, builder_text, needs_native
from onboard.core.python.shellnix import locked_env, locked_hook, locked_packages, python_nix

SYSTEMS = ("aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux")
MANIFEST = ".onboard-rendered"
SERVICES_FILE = "services"
EXECUTABLE_DIRS = ("bin/",)
NIX_KEYWORDS = {"if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"}
_NIX_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*")


# -- Nix text -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expr:
    """A Nix expression spliced into a string as ${...}."""

    code: str


Segment = Union[str, Expr]


def nix_string(text: str) -> str:
    """A double-quoted Nix string whose value is exactly `text`."""
    return _quoted([text])


def _quoted(segments: list[Segment]) -> str:
    out = ['"']
    for s in segments:
        if isinstance(s, Expr):
            out.append("${" + s.code + "}")
        else:
            out.append(s.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
                       .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    out.append('"')
    return "".join(out)


def _indented_ok(text: str) -> bool:
    """Whether ''...'' (each line indented) gives back exactly `text`."""
    if not text.endswith("\n") or "\r" in text:
        return False
    lines = text[:-1].split("\n")
    if any(line.strip() == "" and line != "" for line in lines):
        return False  # whitespace-only lines: Nix trims them
    nonblank = [line for line in lines if line]
    return bool(nonblank) and any(not line.startswith(" ") for line in nonblank)


def nix_multiline(segments: list[Segment], indent: str) -> str:
    """A Nix string for `segments`: an indented ''...'' string when that is exact, else a
    double-quoted one. The check runs on the literal text with placeholders for the
    spliced expressions (which never start a line with spaces)."""
    flat = "".join(s if isinstance(s, str) else "X" for s in segments)
    if not _indented_ok(flat):
        return _quoted(segments)
    body = []
    for s in segments:
        if isinstance(s, Expr):
            body.append("${" + s.code + "}")
        else:
            body.append(s.replace("''", "'''").replace("${", "''${"))
    text = "".join(body)
    lines = text[:-1].split("\n")
    inner = "\n".join((indent + "  " + line) if line else "" for line in lines)
    return "''\n" + inner + "\n" + indent + "''"


def attr_path(path: str, base: str = "pkgs") -> str:
    """`python312Packages.numpy` -> `pkgs.python312Packages.numpy` (parts quoted when
    they are not plain Nix identifiers)."""
    parts = []
    for part in path.split("."):
        if _NIX_ID.fullmatch(part) and part not in NIX_KEYWORDS:
            parts.append(part)
        else:
            parts.append(nix_string(part))
    return ".".join([base, *parts])


def _attr_name(name: str) -> str:
    return name if _NIX_ID.fullmatch(name) and name not in NIX_KEYWORDS else nix_string(name)


# -- pieces ---------------------------------------------------------------------------------

def requirements_file(profile: Profile) -> str:
    """Where the requirements file goes in the rendered directory."""
    assert profile.python and profile.python.requirements
    base = os.path.basename(profile.python.requirements)
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", base) or "requirements.txt"
    if safe.startswith("."):
        safe = "_" + safe
    return f"python/{safe}"


def nixpkgs_config(profile: Profile, indent: str) -> str:
    policy = profile.unfree_policy()
    if policy == "all":
        return "{ allowUnfree = true; }"
    if policy == "listed":
        names = " ".join(nix_string(n) for n in sorted(profile.unfree))
        return ("{\n"
                f"{indent}  # unfree packages allowed one by one (by name, as lib.getName gives it)\n"
                f"{indent}  allowUnfreePredicate = pkg:\n"
                f"{indent}    builtins.elem (pkg.pname or (builtins.parseDrvName pkg.name).name) [ {names} ];\n"
                f"{indent}}}")
    return "{ allowUnfree = false; }"


def _shell_hook(profile: Profile) -> list[Segment]:
    seg: list[Segment] = []
    py = profile.python
    if py and py.locked:
        seg += locked_hook(py)
    elif py:
        venv = py.venv_dir
        venv_sh = '"${ONBOARD_PROJECT_DIR:-$PWD}"/' + shlex.quote(venv)
        seg += [f"# Python {py.version}: a virtualenv made from the package set's {py.attribute()}\n",
                f"_ob_venv={venv_sh}\n",
                "_ob_python=", Expr(attr_path(py.attribute())), "/bin/python3\n",
                "if [ ! -x \"$_ob_venv/bin/python\" ] || [ \"$(readlink -f \"$_ob_venv/bin/python\")\" != "
                "\"$(readlink -f \"$_ob_python\")\" ]; then\n"
                "  if [ -e \"$_ob_venv\" ] && [ ! -f \"$_ob_venv/.onboard-venv\" ] && "
                "[ -n \"$(ls -A \"$_ob_venv\" 2>/dev/null)\" ]; then\n"
                "    echo \"onboard: $_ob_venv was not made by onboard and its Python is not the "
                "profile's: left alone (move it aside, or set python.venv to another directory)\" >&2\n"
                "  else\n"
                "    echo \"onboard: creating the Python virtualenv $_ob_venv\" >&2\n"
                "    if \"$_ob_python\" -m venv --clear \"$_ob_venv\" >&2; then\n"
                "      : > \"$_ob_venv/.onboard-venv\"\n"
                "    else\n"
                "      echo \"onboard: could not create the virtualenv $_ob_venv\" >&2\n"
                "    fi\n"
                "  fi\n"
                "fi\n"]
        if py.requirements:
            seg += ["_ob_req=", Expr("./" + requirements_file(profile)), "\n",
                    "if [ -x \"$_ob_venv/bin/python\" ] && [ \"$(cat \"$_ob_venv/.onboard-requirements\" "
                    "2>/dev/null)\" != \"$_ob_req\" ]; then\n"
                    "  echo \"onboard: pip install -r " + os.path.basename(requirements_file(profile)) +
                    " into $_ob_venv\" >&2\n"
                    "  if \"$_ob_venv/bin/python\" -m pip install --disable-pip-version-check --quiet -r "
                    "\"$_ob_req\" >&2; then\n"
                    "    printf '%s\\n' \"$_ob_req\" > \"$_ob_venv/.onboard-requirements\"\n"
                    "  else\n"
                    "    echo \"onboard: pip install failed: the virtualenv is incomplete; it is retried "
                    "on the next entry\" >&2\n"
                    "  fi\n"
                    "fi\n"]
        seg += ["if [ -x \"$_ob_venv/bin/python\" ]; then\n"
                "  export VIRTUAL_ENV=\"$_ob_venv\"\n"
                "  export PATH=\"$_ob_venv/bin:$PATH\"\n"
                "fi\n"
                "unset _ob_venv _ob_python" + (" _ob_req" if py.requirements else "") + "\n"]
    if profile.scripts:
        seg += [f"# the profile's scripts: {', '.join(sorted(profile.scripts))}\n",
                "export PATH=\"", Expr("./bin"), ":$PATH\"\n"]
    if profile.shell_hook.strip():
        if seg:
            seg.append("# the profile's shellHook\n")
        hook = profile.shell_hook
        seg.append(hook if hook.endswith("\n") else hook + "\n")
    return seg


def mkshell(profile: Profile, indent: str) -> str:
    """`pkgs.mkShell { ... }` with every line after the first indented by `indent`."""
    i = indent + "  "
    py = profile.python if profile.python is not None and profile.python.locked else None
    lines = ["pkgs.mkShell {", f"{i}name = {nix_string('onboard-' + profile.name)};"]
    if py is not None:
        lines[0] = ("let pyLock = import ./python.nix { inherit (pkgs) bash coreutils; inherit pkgs; "
                    "system = pkgs.stdenv.hostPlatform.system; }; in pkgs.mkShell {")
    packages = [attr_path(p) for p in profile.packages + _service_packages(profile)]
    if py is not None:
        packages += locked_packages(py)
    if packages:
        lines.append(f"{i}packages = [")
        lines += [f"{i}  {p}" for p in packages]
        lines.append(f"{i}];")
    else:
        lines.append(f"{i}packages = [ ];")
    env = dict(profile.env)
    env["ONBOARD_PROFILE"] = profile.name
    for key in sorted(env):
        lines.append(f"{i}{_attr_name(key)} = {nix_string(env[key])};")
    if py is not None:
        lines += [f"{i}{k} = {v};" for k, v in locked_env(py)]
    hook = _shell_hook(profile)
    if hook:
        lines.append(f"{i}shellHook = {nix_multiline(hook, i)};")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def _service_packages(profile: Profile) -> list[str]:
    """The packages of the profile's services that `packages` does not list already."""
    if not profile.services:
        return []
    from onboard.core.services.model import packages

    return [p for p in packages(profile.services) if p not in profile.packages]


def _header(profile: Profile, how: str) -> str:
    lines = [f"# The development shell of the team profile `{profile.name}`, rendered by onboard.",
             "# Do not edit: change the profile and render again (onboard profiles render).",
             f"# Package set: {profile.nixpkgs.describe()}."]
    if profile.unfree_policy() == "all":
        lines.append("# Every unfree package is allowed (allowUnfree: true).")
    elif profile.unfree_policy() == "listed":
        lines.append(f"# Unfree packages allowed: {', '.join(sorted(profile.unfree))}.")
    lines.append(how)
    return "\n".join(lines) + "\n"


def _description(profile: Profile) -> str:
    first = (profile.description or f"Team profile {profile.name}").strip().split("\n")[0]
    return first if len(first) <= 200 else first[:197] + "..."


def render_flake(profile: Profile) -> str:
    pin = profile.nixpkgs
    systems = " ".join(nix_string(s) for s in SYSTEMS)
    return (
        _header(profile, "# Enter it: nix develop")
        + "{\n"
        + f"  description = {nix_string(_description(profile))};\n\n"
        + f"  inputs.nixpkgs.url = {nix_string(pin.flake_url())};\n\n"
        + "  outputs = { self, nixpkgs }:\n"
        + "    let\n"
        + f"      systems = [ {systems} ];\n"
        + "      shellFor = system:\n"
        + "        let\n"
        + "          pkgs = import nixpkgs {\n"
        + "            inherit system;\n"
        + f"            config = {nixpkgs_config(profile, '            ')};\n"
        + "            overlays = [ ];\n"
        + "          };\n"
        + "        in\n"
        + "        " + mkshell(profile, "        ") + ";\n"
        + "    in\n"
        + "    {\n"
        + "      devShells = builtins.listToAttrs (map\n"
        + "        (system: { name = system; value = { default = shellFor system; }; })\n"
        + "        systems);\n"
        + _python_env_output(profile)
        + "    };\n"
        + "}\n"
    )


def _python_env_output(profile: Profile) -> str:
    """A locked Python's venv built in the store: `packages.<system>.python-env`."""
    if not (profile.python and profile.python.locked):
        return ""
    return ("      # the locked Python packages as a venv built in the store (CI, containers, --hermetic)\n"
            "      packages = builtins.listToAttrs (map\n"
            "        (system: {\n"
            "          name = system;\n"
            "          value.python-env = let\n"
            "            pkgs = import nixpkgs {\n"
            "              inherit system;\n"
            f"              config = {nixpkgs_config(profile, '              ')};\n"
            "              overlays = [ ];\n"
            "            };\n"
            "          in (import ./python.nix { inherit (pkgs) bash coreutils; inherit pkgs system; }).env;\n"
            "        })\n"
            "        systems);\n")


def render_lock(profile: Profile) -> str:
    pin = profile.nixpkgs
    if pin.kind == "github":
        locked: dict = {"type": "github", "owner": pin.owner, "repo": pin.repo, "rev": pin.rev,
                        "narHash": pin.nar_hash}
        if pin.last_modified:
            locked["lastModified"] = pin.last_modified
        original = {"type": "github", "owner": pin.owner, "repo": pin.repo, "rev": pin.rev}
    else:
        locked = {"type": "tarball", "url": pin.url, "narHash": pin.nar_hash}
        original = {"type": "tarball", "url": pin.url}
    doc = {
        "nodes": {
            "nixpkgs": {"locked": locked, "original": original},
            "root": {"inputs": {"nixpkgs": "nixpkgs"}},
        },
        "root": "root",
        "version": 7,
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def render_shell_nix(profile: Profile) -> str:
    from onboard.core.profiles.hashes import sri_to_nix32

    pin = profile.nixpkgs
    return (
        _header(profile, "# Enter it: nix-shell   (another copy of the package set: nix-shell --arg nixpkgs PATH)")
        + "{ nixpkgs ? fetchTarball {\n"
        + f"    url = {nix_string(pin.tarball_url())};\n"
        + f"    sha256 = {nix_string(sri_to_nix32(pin.nar_hash))};\n"
        + "  }\n"
        + "}:\n"
        + "let\n"
        + "  pkgs = import nixpkgs {\n"
        + f"    config = {nixpkgs_config(profile, '    ')};\n"
        + "    overlays = [ ];\n"
        + "  };\n"
        + "in\n"
        + mkshell(profile, "") + "\n"
    )


def render_script(profile: Profile, name: str) -> str:
    body = profile.scripts[name]
    return ("#!/usr/bin/env bash\n"
            f"# `{name}` from the team profile `{profile.name}` (rendered by onboard); arguments are in \"$@\"\n"
            + body + ("" if body.endswith("\n") else "\n"))


def render_profile(profile: Profile) -> dict[str, str]:
    """Every file of the rendered shell, by relative path. Files under bin/ are executable."""
    files = {
        "flake.nix": render_flake(profile),
        "flake.lock": render_lock(profile),
        "shell.nix": render_shell_nix(profile),
    }
    for name in sorted(profile.scripts):
        files[f"bin/{name}"] = render_script(profile, name)
    if profile.services:
        from onboard.core.services.model import specs

        # the services' names: the warm entry sees that their variables are due (docs/services.md)
        files[SERVICES_FILE] = "".join(f"{s.name}\n" for s in specs(profile.services))
    if profile.python and profile.python.locked:
        files["python.nix"] = python_nix(profile.python)
        if needs_native(profile.python.selection):
            files[BUILDER_FILE] = builder_text()  # builds sdists, patches wheels (python.nix calls it)
    elif profile.python and profile.python.requirements:
        with open(profile.python.requirements, encoding="utf-8", errors="surrogateescape") as fh:
            files[requirements_file(profile)] = fh.read()
    return dict(sorted(files.items()))


def is_executable(rel: str) -> bool:
    return rel.startswith(EXECUTABLE_DIRS)


def write_rendered(profile: Profile, out_dir: Path) -> list[Path]:
    """Write the rendered files into out_dir (created if needed), each atomically, with fixed
    modes (0644, 0755 for bin/). Files an earlier render wrote there and this one does not
    (a removed script) are deleted; nothing else in out_dir is touched. Returns the paths
    written, sorted."""
    out_dir = Path(out_dir)
    files = render_profile(profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    try:
        previous = [ln for ln in manifest.read_text(encoding="utf-8").splitlines() if ln]
    except OSError:
        previous = []
    written: list[Path] = []
    for rel, text in files.items():
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(dest, text.encode("utf-8", "surrogateescape"), 0o755 if is_executable(rel) else 0o644)
        written.append(dest)
    for rel in previous:
        if rel not in files and not rel.startswith("/") and ".." not in rel.split("/"):
            stale = out_dir / rel
            try:
                stale.unlink()
                if stale.parent != out_dir and not any(stale.parent.iterdir()):
                    stale.parent.rmdir()
            except OSError:
                pass
    _atomic_write(manifest, ("".join(f"{rel}\n" for rel in files)).encode(), 0o644)
    return sorted(written)


def _atomic_write(dest: Path, data: bytes, mode: int) -> None:
    try:
        if dest.is_file() and not dest.is_symlink() and dest.read_bytes() == data \
                and (dest.stat().st_mode & 0o777) == mode:
            return  # unchanged: keep the mtime, so watchers see no change
    except OSError:
        pass
    from onboard.core.engine.fsutil import atomic_write

    atomic_write(dest, data, mode=mode)
