"""Plan the integrations a new hire chose: direnv or lorri (shell hooks, direnv library,
.envrc, lorri's service) and editor configs.

Editors are configured when asked for (choices.components); the plan names installed
editors that were not asked for, so `--with` can add them. lorri mode falls back to
direnv mode when lorri is not installed, and the plan says so.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.files import WriteFile
from onboard.core.choices import Choices, ChoicesError
from onboard.core.engine.action import Action
from onboard.core.engine.plan import Plan
from onboard.core.integrations import direnv as dv
from onboard.core.integrations import lorri as lr
from onboard.core.integrations.editors import registry as editor_registry
from onboard.core.integrations.actions.plan_note import PlanNote

Which = Callable[[str], Optional[str]]



def installed_editors(which: Which = shutil.which) -> list[str]:
    return [e.id for e in editor_registry.installed(which)]


def suggested_components(which: Which = shutil.which) -> list[str]:
    """What a Choices screen should tick by default: lorri when installed (else direnv)
    and the editors found on PATH."""
    return (["lorri"] if which("lorri") else ["direnv"]) + installed_editors(which)


def choose_mode(components: list[str], which: Which = shutil.which) -> tuple[str, str]:
    """("direnv" | "lorri" | "", note). lorri asked for but not installed: direnv, with a note."""
    if "lorri" in components:
        if which("lorri"):
            return "lorri", ""
        return "direnv", ("lorri is not installed (no `lorri` on PATH), so direnv mode is used: "
                          "the .envrc loads the profile with `use onboard`; install lorri and run "
                          "again to switch to lorri mode")
    if "direnv" in components:
        return "direnv", ""
    return "", ""


def load_profile(name: str, project: str = "") -> tuple[Any, str]:
    """(profile or None, why not). Looked up from the project directory, then from here."""
    if not name:
        return None, ""
    try:
        from onboard.core.profiles.loader import load_profile as _load, profile_dirs

        dirs = profile_dirs(Path(project)) if project else []
        for d in profile_dirs():
            if d not in dirs:
                dirs.append(d)
        return _load(name, dirs), ""
    except Exception as exc:  # a bad profile is reported by the profile checks; here it only
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, first  # means its editor settings are left out


def _init_system(choices: Choices) -> str:
    if choices.init in ("systemd", "none"):
        return choices.init
    from onboard.core import machine

    return machine.init_system()


def plan_integrations(choices: Choices, which: Which = shutil.which,
                      init: Optional[str] = None) -> Plan:
    comps = list(choices.components)
    plan = Plan(name="integrations", title="direnv, lorri and editor integration")
    notes: list[str] = []
    acts: list[Action] = []

    def note(message: str, level: str = "warn") -> None:
        notes.append(message)
        acts.append(PlanNote(message=message, level=level))

    project = ""
    if choices.project_dir:
        p = Path(os.path.expanduser(choices.project_dir)).absolute()
        if not p.is_dir():
            raise ChoicesError(f"project directory {p} does not exist (create it or pass another --project)")
        project = str(p)
    if choices.profile and not dv.PROFILE_NAME.match(choices.profile):
        raise ChoicesError(f"{choices.profile!r} is not a profile name (letters, digits, '.', '_' and '-')")
    profile, why = load_profile(choices.profile, project)
    if choices.profile and profile is None and why:
        note(f"profile {choices.profile} could not be read ({why}): its editor settings are left out",
             level="info")

    mode, fallback = choose_mode(comps, which)
    if fallback:
        note(fallback)
    if mode:
        if not which("direnv"):
            note("direnv is not installed: the hooks and .envrc are set up, but nothing loads until "
                 "direnv is installed (e.g. `apt install direnv` or `nix profile install nixpkgs#direnv`)")
        acts.extend(dv.hook_actions(dv.wanted_shells(which)))
        if mode == "direnv":
            acts.append(dv.library_action())
        else:
            lorri_bin = which("lorri") or "lorri"
            acts.extend(lr.service_actions(os.path.abspath(lorri_bin), init or _init_system(choices), which))
        if project:
            shell_file = lr.shell_file_for(project, choices.profile) if mode == "lorri" else ""
            if mode == "lorri" and shell_file:
                note(f"lorri evaluates onboard's rendered shell.nix of profile {choices.profile} "
                     f"({shell_file}); `onboard shell {choices.profile}` writes it", level="info")
            elif mode == "lorri" and not (Path(project) / "shell.nix").exists():
                note(f"lorri needs a shell.nix in {project}, or a profile to render one", level="info")
            acts.extend(dv.envrc_actions(project, mode, choices.profile, allow=True,
                                         lorri_shell_file=shell_file, which=which))
        else:
            note("no project directory is configured (no --project, and no folder holding profiles/ or onboard.yaml "
             "from here up), so no .envrc was written: run `onboard envrc [PROFILE]` in each project, "
             "or pass --project DIR", level="info")

    from onboard.core.integrations.editors import editorconfig

    for editor in editor_registry.EDITORS:
        if editor.id not in comps:
            continue
        if not editor.installed(which):
            note(f"{editor.label} is not installed (no `{editor.programs[0]}` on PATH); its settings "
                 "are written anyway and apply once it is", level="info")
        acts.extend(editor.plan(project, profile, which))
    if mode:
        unasked = [e for e in editor_registry.installed(which) if e.id not in comps]
        if unasked:
            note("also installed: " + ", ".join(e.label for e in unasked) +
                 f" (add --with {','.join(e.id for e in unasked)} to load direnv environments there "
                 "too)", level="info")

    editors_cfg = getattr(profile, "editors", None) or {}
    if project and isinstance(editors_cfg, dict) and "editorconfig" in editors_cfg:
        try:
            act = editorconfig.editorconfig_action(project, choices.profile, editors_cfg["editorconfig"])
        except editorconfig.EditorconfigError as exc:
            raise ChoicesError(f"profile {choices.profile}: editors.editorconfig: {exc}") from None
        if act is not None:
            acts.append(act)

    plan.add(*acts)
    plan.meta["integration_mode"] = mode
    plan.meta["notes"] = notes
    if mode:
        plan.title = f"{mode} mode: shell hooks, .envrc and editors"
        if fallback:
            plan.title += " (lorri is not installed: direnv mode instead)"
    return plan


@dataclass
class EnvrcPlan:
    """`onboard envrc`: the plan, the loader mode it uses, the notes for the user, and the
    .envrc text it writes (for showing before anything is allowed)."""

    plan: Plan
    project: str
    mode: str
    profile: str
    notes: list[str]
    content: str

    @property
    def envrc(self) -> str:
        return str(Path(self.project) / ".envrc")


def plan_envrc(project_dir: str, profile: str = "", lorri: bool = False,
               which: Which = shutil.which) -> EnvrcPlan:
    """Plan a project's .envrc (and onboard's direnv library in direnv mode). Raises
    ChoicesError for a missing project folder or a malformed profile name."""
    project = Path(os.path.expanduser(project_dir)).absolute()
    if not project.is_dir():
        raise ChoicesError(f"project directory {project} does not exist (pass --project DIR with an "
                           "existing directory)")
    if profile and not dv.PROFILE_NAME.match(profile):
        raise ChoicesError(f"{profile!r} is not a profile name (letters, digits, '.', '_' and '-')")
    notes: list[str] = []
    mode, fallback = choose_mode(["lorri" if lorri else "direnv"], which)
    if fallback:
        notes.append("lorri is not installed (no `lorri` on PATH): writing a direnv-mode .envrc "
                     "(`use onboard`) instead")
    if mode == "direnv":
        if profile:
            from onboard.core.profiles import cache

            if cache.find_profile_file(profile, str(project)) is None:
                notes.append(f"no profile {profile} is found from {project} (profiles/ or "
                             "$ONBOARD_PROFILES_DIR): direnv reports an error there until it is")
        elif not dv.active_profile(project):
            notes.append(f"no profile is active for {project} yet: run `onboard switch NAME` there "
                         "(or give NAME here); until then direnv says so when you cd in")
    shell_file = lr.shell_file_for(str(project), profile) if mode == "lorri" else ""
    acts = dv.envrc_actions(str(project), mode, profile, allow=False, lorri_shell_file=shell_file,
                            which=which)
    plan = Plan(name="envrc", title=f".envrc for {project}")
    if mode == "direnv":
        plan.add(dv.library_action())
    plan.add(*acts)
    writes = [a for a in acts if isinstance(a, (WriteFile, MarkedBlock))]
    envrc = project / ".envrc"
    content = (_resulting_text(writes[0]) if writes else
               envrc.read_text(errors="replace") if envrc.exists() else "")
    return EnvrcPlan(plan=plan, project=str(project), mode=mode, profile=profile, notes=notes,
                     content=content)


def _resulting_text(action: Action) -> str:
    """The file's text once `action` has run (a whole file, or a marked block put in)."""
    from onboard.core.actions.blocks import insert_block
    from onboard.core.engine.fsutil import read_bytes, resolve_target

    if isinstance(action, WriteFile):
        return action.content
    if isinstance(action, MarkedBlock):
        data = read_bytes(resolve_target(action.path)) or b""
        text, _ = insert_block(data.decode("utf-8", "surrogateescape"), action.content, action.marker,
                               action.comment, action.position)
        return text
    return ""


__all__ = ["plan_integrations", "plan_envrc", "EnvrcPlan", "choose_mode", "suggested_components",
           "installed_editors"]
