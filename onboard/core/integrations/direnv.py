"""direnv: shell hooks, onboard's direnv library (`use onboard`) and the project's .envrc.

Everything here only plans actions; the engine applies and reverts them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from onboard.core import paths
from onboard.core.actions.blocks import MarkedBlock, find_block
from onboard.core.engine.action import Action
from onboard.core.engine.fsutil import read_bytes, resolve_target
from onboard.core.integrations.actions.direnv_allow import DirenvAllow
from onboard.core.integrations.actions.generated_file import GeneratedFile
from onboard.core.integrations.actions.plan_note import PlanNote

LIBRARY_NAME = "onboard.sh"
LAUNCHER_SLOT = "# @ONBOARD_LAUNCHER@"
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SHELLS = ("bash", "zsh", "fish")

Which = Callable[[str], Optional[str]]


# -- where things go ---------------------------------------------------------------------------

def direnv_config_dir() -> Path:
    """direnv's own rule: $DIRENV_CONFIG, else $XDG_CONFIG_HOME/direnv."""
    override = os.environ.get("DIRENV_CONFIG")
    return Path(override) if override else paths.config_home() / "direnv"


def library_path() -> Path:
    return direnv_config_dir() / "lib" / LIBRARY_NAME


def rc_file(shell: str) -> Path:
    home = paths.home()
    if shell == "bash":
        return home / ".bashrc"
    if shell == "zsh":
        return Path(os.environ.get("ZDOTDIR") or home) / ".zshrc"
    if shell == "fish":
        return paths.config_home() / "fish" / "conf.d" / "onboard-direnv.fish"
    raise ValueError(f"unknown shell {shell!r}")


def project_key(project: str | os.PathLike) -> str:
    """The key of a project in onboard's state dir (as the direnv library computes it)."""
    return str(project).replace("/", "%")


def active_file(project: str | os.PathLike) -> Path:
    return paths.state_dir() / "projects" / project_key(project) / "active"


def active_profile(project: str | os.PathLike) -> str:
    """The profile `onboard switch` made active for `project` ("" when none)."""
    data = read_bytes(active_file(project))
    if data is None:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[0].strip() if lines else ""


# -- the shell hooks -----------------------------------------------------------------------------

def hook_text(shell: str) -> str:
    if shell == "fish":
        return "if type -q direnv\n    direnv hook fish | source\nend"
    return f'if command -v direnv >/dev/null 2>&1; then\n  eval "$(direnv hook {shell})"\nfi'


def wanted_shells(which: Which = shutil.which) -> list[str]:
    """bash always; zsh and fish where installed or already configured."""
    out = ["bash"]
    if which("zsh") or rc_file("zsh").exists():
        out.append("zsh")
    if which("fish") or (paths.config_home() / "fish").exists():
        out.append("fish")
    return out


def _hooks_direnv_elsewhere(path: Path, shell: str) -> bool:
    """The user's rc file already runs `direnv hook` outside onboard's block."""
    data = read_bytes(resolve_target(path))
    if data is None:
        return False
    text = data.decode("utf-8", "surrogateescape")
    span = find_block(text, "direnv", "#")
    if span:
        text = text[:span[0]] + text[span[1]:]
    return re.search(rf"^[^#\n]*direnv\s+hook\s+{shell}\b", text, re.M) is not None


def hook_actions(shells: list[str]) -> list[Action]:
    acts: list[Action] = []
    for shell in shells:
        path = rc_file(shell)
        if _hooks_direnv_elsewhere(path, shell):
            acts.append(PlanNote(message=f"{path} already hooks direnv into {shell}; left as it is",
                                 level="info"))
            continue
        acts.append(MarkedBlock(path=str(path), marker="direnv", content=hook_text(shell), comment="#",
                                summary=f"hook direnv into {shell} ({path})"))
    return acts


# -- the direnv library --------------------------------------------------------------------------

def _template() -> str:
    return (Path(__file__).resolve().parents[2] / "data" / "direnv" / LIBRARY_NAME).read_text()


@dataclass
class Launcher:
    """How the direnv library runs onboard when a cache is stale."""

    argv: list[str]
    pythonpath: str = ""


def find_launcher(which: Which = shutil.which) -> Launcher:
    """onboard's own launcher when it was installed, else `onboard` on PATH, else this
    Python running the package (from a checkout: with its directory on PYTHONPATH)."""
    try:
        from onboard.core import selfinstall

        info = selfinstall.read_marker()
        path = info.launcher if info else None
        if path and os.access(str(path), os.X_OK):
            return Launcher([str(path)])
    except (ImportError, AttributeError, OSError):
        pass
    found = which("onboard")
    if found:
        return Launcher([os.path.abspath(found)])
    import onboard

    root = str(Path(onboard.__file__).resolve().parent.parent)
    import site

    site_dirs = {os.path.realpath(p) for p in site.getsitepackages() + [site.getusersitepackages()]}
    pythonpath = "" if os.path.realpath(root) in site_dirs else root
    return Launcher([sys.executable, "-m", "onboard"], pythonpath)


def library_text(launcher: Launcher) -> str:
    argv = " ".join(shlex.quote(a) for a in launcher.argv)
    slot = (f"_onboard_launcher=( {argv} )\n"
            f"_onboard_pythonpath={shlex.quote(launcher.pythonpath) if launcher.pythonpath else ''}")
    return _template().replace(LAUNCHER_SLOT, slot, 1)


#: how the library file starts (a later version replaces an earlier one as its own)
LIBRARY_SIGNATURE = "# shellcheck shell=bash\n# onboard's direnv library"


def library_action(launcher: Optional[Launcher] = None) -> GeneratedFile:
    path = library_path()
    return GeneratedFile(path=str(path), content=library_text(launcher or find_launcher()), mode=0o644,
                         signature=LIBRARY_SIGNATURE,
                         summary=f"install onboard's direnv library (`use onboard`) at {path}")


# -- .envrc ----------------------------------------------------------------------------------------

ENVRC_MARKER = "direnv"
#: the first words of every .envrc onboard writes (how a later run knows the file is its own)
ENVRC_SIGNATURE = "# Written by onboard:"


def envrc_body(mode: str, profile: str = "", lorri_shell_file: str = "") -> str:
    if mode == "lorri":
        if lorri_shell_file and profile:
            return f"use onboard --lorri {profile}"
        if lorri_shell_file:
            return f'eval "$(lorri direnv --shell-file {shlex.quote(lorri_shell_file)})"'
        return 'eval "$(lorri direnv)"'
    return f"use onboard {profile}".rstrip()


def envrc_header(mode: str, profile: str = "") -> str:
    if mode == "lorri":
        what = "loads this project's Nix shell through lorri (`lorri daemon` keeps it built)"
    elif profile:
        what = f"loads the team profile {profile} from onboard's cache (rebuilt when it changes)"
    else:
        what = "loads the profile made active here with `onboard switch NAME`"
    return (f"{ENVRC_SIGNATURE} direnv runs this file when you cd here; it "
            f"{what}.\n# `onboard uninstall` removes it. Edit freely: direnv asks again after a change.")


def envrc_text(mode: str, profile: str = "", lorri_shell_file: str = "") -> str:
    return envrc_header(mode, profile) + "\n" + envrc_body(mode, profile, lorri_shell_file) + "\n"


def _loads_environment(text: str) -> bool:
    return re.search(r"^\s*(use[ _]onboard\b|eval\s+\"\$\(lorri direnv)", text, re.M) is not None


def envrc_actions(project: str, mode: str, profile: str = "", allow: bool = True,
                  lorri_shell_file: str = "", which: Which = shutil.which) -> list[Action]:
    """Write (or add a block to) the project's .envrc, then allow it."""
    if profile and not PROFILE_NAME.match(profile):
        raise ValueError(f"{profile!r} is not a profile name (letters, digits, '.', '_' and '-')")
    envrc = Path(project) / ".envrc"
    acts: list[Action] = []
    existing = read_bytes(resolve_target(envrc))
    body = envrc_body(mode, profile, lorri_shell_file)
    if existing is None or existing.startswith(ENVRC_SIGNATURE.encode()):
        acts.append(GeneratedFile(path=str(envrc), content=envrc_text(mode, profile, lorri_shell_file),
                                  signature=ENVRC_SIGNATURE, summary=f"write {envrc} ({body})"))
    else:
        text = existing.decode("utf-8", "surrogateescape")
        span = find_block(text, ENVRC_MARKER, "#")
        outside = text if span is None else text[:span[0]] + text[span[1]:]
        if _loads_environment(outside):
            acts.append(PlanNote(message=f"{envrc} already loads an environment; left as it is",
                                 level="info"))
        else:
            acts.append(MarkedBlock(path=str(envrc), marker=ENVRC_MARKER, content=body, comment="#",
                                    summary=f"add `{body}` to your {envrc} (a marked block)"))
    if mode == "lorri" and lorri_shell_file and profile:
        acts.append(library_action())  # `use onboard --lorri` is onboard's library
    if allow:
        if which("direnv"):
            acts.append(DirenvAllow(project=str(project)))
        else:
            acts.append(PlanNote(message="direnv is not installed: the .envrc is written but not "
                                         "allowed; install direnv, then run `direnv allow` in "
                                         f"{project}"))
    return acts


__all__ = [
    "Launcher", "active_file", "active_profile", "direnv_config_dir", "envrc_actions", "envrc_text",
    "envrc_body", "find_launcher", "hook_actions", "hook_text", "library_action", "library_path",
    "library_text", "project_key", "rc_file", "wanted_shells",
]
