"""Choices: the whole answer set for a run (what the TUI's Choices screen produces,
what `--yes` runs headless, what is saved after every run and can be replayed)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Optional

from onboard.core.integrations.editors.registry import IDS as EDITOR_IDS
from onboard.core.modes import INIT_IDS, MODE_IDS

#: the loaders that hook environments into shells
LOADERS = ("direnv", "lorri")
COMPONENTS = LOADERS + EDITOR_IDS
MODES = MODE_IDS


class ChoicesError(ValueError):
    pass


@dataclass
class Choices:
    mode: str = "single"  # single | daemon | skip (leave Nix as it is)
    init: str = "auto"  # auto | systemd | none (daemon without an init system)
    tarball: str = ""  # URL or local path of the Nix release tarball
    sha256: str = ""
    nix_version: str = ""
    components: list[str] = field(default_factory=list)  # from COMPONENTS
    profile: str = ""
    project_dir: str = ""
    allow_unfree: list[str] = field(default_factory=list)  # unfree packages allowed one by one
    demo_dir: str = ""  # plan only harmless demo changes inside this directory
    build_users: int = 32  # daemon mode: how many nixbld build users (the official default is 32)
    skip_readonly: bool = False  # leave read-only files alone (the plan says which) instead of stopping
    #: build the profile's environment as the plan's last step (--no-profile: no)
    build_env: bool = True
    #: what the team config filled in ({field: value}); a field named here was not asked for by
    #: the user, so the planner may keep a Nix that is already here instead of replacing it
    team_applied: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ChoicesError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.init not in INIT_IDS:
            raise ChoicesError(f"init must be one of {', '.join(INIT_IDS)}, not {self.init!r}")
        unknown = [c for c in self.components if c not in COMPONENTS]
        if unknown:
            raise ChoicesError(f"unknown component(s) {', '.join(unknown)}; choose from "
                               f"{', '.join(COMPONENTS)}")
        if "direnv" in self.components and "lorri" in self.components:
            raise ChoicesError("choose direnv or lorri, not both (lorri mode uses direnv itself)")
        if self.sha256 and (len(self.sha256) != 64 or any(c not in "0123456789abcdef"
                                                          for c in self.sha256.lower())):
            raise ChoicesError("--sha256 takes the 64 hex digits of the tarball's SHA-256")
        if not isinstance(self.build_users, int) or not 1 <= self.build_users <= 256:
            raise ChoicesError("build_users must be a whole number from 1 to 256")
        if not isinstance(self.team_applied, dict) or any(k not in _FIELDS for k in self.team_applied):
            raise ChoicesError("team_applied must map choice names to the values the team config set")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Choices":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ChoicesError(f"unknown key(s) in answers: {', '.join(unknown)}")
        c = cls(**data)
        c.validate()
        return c

    def save(self, path: Path) -> None:
        from onboard.core.engine.fsutil import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> "Choices":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ChoicesError(f"{path}: no such file") from None
        except ValueError as exc:
            raise ChoicesError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ChoicesError(f"{path}: expected a JSON object")
        return cls.from_dict(data.get("choices", data))


_FIELDS = frozenset(f.name for f in fields(Choices))


_LOAD: Any = object()


def complete(c: Choices, keep: Iterable[str] = (), team_path: Optional[str] = None,
             team: Any = _LOAD) -> Choices:
    """What every front end does with the user's answers before planning, so the same answers
    and team config give the same plan from the command line and the terminal UI: the
    project folder defaults to the checkout this runs in, and the team config (found from it,
    or `team_path`, or an already loaded `team`) fills what is still open, recording what it
    filled in `team_applied`. Fields named in `keep` are the user's and stay as they are."""
    if not c.project_dir and not c.demo_dir:
        from onboard.core.project import find_root

        c.project_dir = find_root() or ""
    if c.demo_dir:
        return c
    from onboard.core.schema import SchemaError
    from onboard.core.teamconfig import apply_to_choices, load_team_config

    try:
        if team is _LOAD:
            team = load_team_config(start=Path(c.project_dir) if c.project_dir else None, path=team_path)
        apply_to_choices(team, c, keep=keep)
    except SchemaError as exc:
        raise ChoicesError("the team config has problems:\n" + str(exc)) from None
    return c
