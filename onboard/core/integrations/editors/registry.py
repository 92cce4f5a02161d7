"""Every editor onboard can configure, one entry each; everything else reads this list.

The command line's `--with`, the team config's `editors:`, a profile's `editors:` keys,
doctor's editor check, the plan and the terminal UI's Editors dialog all come from
`EDITORS`. Adding an editor is a module in this package with a
`plan(project, profile, which) -> list[Action]` function, plus one line below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from onboard.core.engine.action import Action

Which = Callable[[str], Optional[str]]


@dataclass(frozen=True)
class Editor:
    id: str  # the name in --with, the team config and a profile's `editors:`
    label: str  # how people call it
    programs: tuple[str, ...]  # commands that show it is installed (the usual one first)
    module: str  # its module in onboard.core.integrations.editors
    typos: tuple[str, ...] = ()  # other names people type for it (did-you-mean)
    settings: bool = False  # a profile's `editors.<id>` may be a mapping of settings, not just true/false

    def installed(self, which: Which) -> Optional[str]:
        """The path of the first of its programs on PATH, or None (doctor's probe)."""
        for prog in self.programs:
            found = which(prog)
            if found:
                return found
        return None

    def plan(self, project: str, profile: Any, which: Which) -> "list[Action]":
        mod = importlib.import_module(f"onboard.core.integrations.editors.{self.module}")
        return list(mod.plan(project, profile, which))


EDITORS: tuple[Editor, ...] = (
    Editor("vscode", "VS Code", ("code", "codium"), "vscode", typos=("code", "codium"), settings=True),
    Editor("neovim", "Neovim", ("nvim",), "neovim", typos=("nvim",)),
    Editor("vim", "Vim", ("vim",), "vim"),
    Editor("emacs", "Emacs", ("emacs",), "emacs"),
)

IDS: tuple[str, ...] = tuple(e.id for e in EDITORS)


def by_id(editor_id: str) -> Editor:
    for e in EDITORS:
        if e.id == editor_id:
            return e
    raise KeyError(editor_id)


def typo_advice() -> dict[str, str]:
    """{"code": "did you mean `vscode`?", ...} for unknown-key messages."""
    return {t: f"did you mean `{e.id}`?" for e in EDITORS for t in e.typos}


def installed(which: Which) -> list[Editor]:
    return [e for e in EDITORS if e.installed(which)]


__all__ = ["Editor", "EDITORS", "IDS", "by_id", "typo_advice", "installed"]
