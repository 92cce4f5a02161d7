"""VS Code: the direnv extension (recommended in the project, set up in user settings) and
the project's Python interpreter. Every file is JSON with comments and is edited key by
key (see jsonc.py): the user's comments and formatting stay as they were.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from onboard.core import paths

if TYPE_CHECKING:  # the profile schema loads this module to check settings: no engine for that
    from onboard.core.engine.action import Action
    from onboard.core.schema import Checker, YNode

Which = Callable[[str], Optional[str]]

DIRENV_EXTENSION = "mkhl.direnv"
_STANDARD_BIN = ("/usr/bin", "/bin", "/usr/local/bin", "/opt/homebrew/bin")


def user_settings_path() -> Path:
    if sys.platform == "darwin":
        return paths.home() / "Library" / "Application Support" / "Code" / "User" / "settings.json"
    return paths.config_home() / "Code" / "User" / "settings.json"


def interpreter_path(profile: Any) -> str:
    """The profile's Python for the project, as VS Code should see it.

    A profile with `python:` gets a virtualenv made inside the shell, at a path relative to
    the project (default .venv): `${workspaceFolder}/.venv/bin/python` stays right across
    rebuilds, where a /nix/store path would go stale after the next profile change.
    Without `python:` there is nothing stable to point at: the direnv extension puts the
    shell's python first on PATH, which the Python extension finds by itself.
    """
    spec = getattr(profile, "python", None)
    if spec is None:
        return ""
    venv = getattr(spec, "venv_dir", ".venv") or ".venv"
    if os.path.isabs(venv):
        return os.path.join(venv, "bin", "python")
    return "${workspaceFolder}/" + venv.strip("/").removeprefix("./") + "/bin/python"


def user_values(which: Which = shutil.which) -> dict[str, Any]:
    values: dict[str, Any] = {
        # restart the other extensions once direnv has loaded, so they see the environment
        "direnv.restart.automatic": True,
    }
    direnv = which("direnv")
    if direnv and os.path.dirname(direnv) not in _STANDARD_BIN:
        # VS Code started from a desktop menu may not have ~/.nix-profile/bin on PATH
        values["direnv.path.executable"] = direnv
    return values


def keep_users_values(path: Path, wanted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what onboard sets, what the user already set otherwise and keeps) for the keys of
    `wanted` in a settings file. A key the user gave another value stays theirs; a file that
    cannot be read keeps nothing here (the edit itself reports it)."""
    from onboard.core.engine.fsutil import read_bytes, resolve_target
    from onboard.core.integrations.editors import jsonc

    data = read_bytes(resolve_target(str(path)))
    if not data:
        return dict(wanted), {}
    text = data.decode("utf-8", "surrogateescape")
    try:
        root = jsonc.parse(text)
        if root is None:
            return dict(wanted), {}
        have = {k: jsonc.value_of(text, m) for k in wanted if (m := root.member(k)) is not None}
    except jsonc.JsoncError:
        return dict(wanted), {}
    kept = {k: v for k, v in have.items() if v != wanted[k]}
    return {k: v for k, v in wanted.items() if k not in kept}, kept


def _kept_notes(path: Path, kept: dict[str, Any]) -> list[Action]:
    import json

    from onboard.core.integrations.actions.plan_note import PlanNote

    return [PlanNote(message=f"kept your value of {k} ({json.dumps(v)}) in {path}; onboard would set "
                             "it otherwise", level="info") for k, v in kept.items()]


def vscode_actions(project: str, profile: Any = None, which: Which = shutil.which) -> list[Action]:
    from onboard.core.integrations.actions.jsonc_edit import JsoncEdit

    settings = user_settings_path()
    values, kept = keep_users_values(settings, user_values(which))
    acts: list[Action] = _kept_notes(settings, kept)
    if values:
        acts.append(JsoncEdit(path=str(settings), values=values,
                              summary=f"set up the direnv extension in VS Code's user settings ({settings})"))
    if not project:
        return acts
    team = {}
    editors = getattr(profile, "editors", None) or {}
    if isinstance(editors.get("vscode"), dict):
        team = editors["vscode"]
    recommendations = [DIRENV_EXTENSION] + [e for e in team.get("extensions", []) or []
                                            if isinstance(e, str) and e != DIRENV_EXTENSION]
    ext = Path(project) / ".vscode" / "extensions.json"
    acts.append(JsoncEdit(path=str(ext), items={"recommendations": recommendations},
                          summary=f"recommend {', '.join(recommendations)} in {ext}"))
    values = {}
    interp = interpreter_path(profile)
    if interp:
        values["python.defaultInterpreterPath"] = interp
    if isinstance(team.get("settings"), dict):
        values.update(team["settings"])
    ws = Path(project) / ".vscode" / "settings.json"
    values, kept = keep_users_values(ws, values)
    acts.extend(_kept_notes(ws, kept))
    if values:
        acts.append(JsoncEdit(path=str(ws), values=values,
                              summary=f"set {', '.join(values)} in {ws}"))
    return acts


#: what a profile's `editors.vscode` mapping may hold (and how the schema reference says it)
PROFILE_KEYS = ("extensions", "settings")
PROFILE_REFERENCE = "{extensions: [publisher.name], settings: {...}}"


def check_profile_settings(node: YNode, c: Checker) -> Optional[dict[str, Any]]:
    """A profile's `editors.vscode` mapping: {extensions: [publisher.name], settings: {...}}.
    Problems go to `c`; None when it is not a mapping at all."""
    vm = c.mapping(node, "editors.vscode")
    if vm is None:
        return None
    c.keys(vm, PROFILE_KEYS, "editors.vscode")
    conf: dict[str, Any] = {}
    if vm.get("extensions") is not None:
        conf["extensions"] = [v for v, _ in c.text_list(
            vm.get("extensions"), "editors.vscode.extensions", pattern=r"[\w-]+\.[\w.-]+",
            pattern_hint="an extension id is publisher.name, like mkhl.direnv") or []]
    if vm.get("settings") is not None:
        sm = c.mapping(vm.get("settings"), "editors.vscode.settings")
        if sm is not None:
            conf["settings"] = sm.to_python()
    return conf


__all__ = ["vscode_actions", "user_settings_path", "interpreter_path", "check_profile_settings", "DIRENV_EXTENSION"]


def plan(project: str, profile: Any, which: Which) -> list[Action]:
    return vscode_actions(project, profile, which)
