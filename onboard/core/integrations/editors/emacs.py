"""Emacs: envrc-mode (the envrc package) for every buffer, when the package is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onboard.core import paths
from onboard.core.actions.blocks import MarkedBlock

ELISP = """\
;; load each project's environment from direnv with the envrc package
;; (M-x package-install RET envrc RET); nothing happens without it
(add-hook 'after-init-hook
          (lambda ()
            (when (require 'envrc nil t)
              (envrc-global-mode))))"""


def init_path() -> Path:
    """The init file Emacs reads: ~/.emacs, ~/.emacs.el, ~/.emacs.d/init.el or
    ~/.config/emacs/init.el, whichever exists first; ~/.emacs.d/init.el for a new one."""
    home = paths.home()
    for p in (home / ".emacs", home / ".emacs.el", home / ".emacs.d" / "init.el",
              paths.config_home() / "emacs" / "init.el"):
        if p.exists():
            return p
    return home / ".emacs.d" / "init.el"


def emacs_action() -> MarkedBlock:
    path = init_path()
    return MarkedBlock(path=str(path), marker="direnv", content=ELISP, comment=";;",
                       summary=f"load direnv environments in Emacs with envrc ({path})")


def plan(project: str, profile: Any, which: Any) -> list[MarkedBlock]:
    """What the plan does for this editor (the same for every project)."""
    return [emacs_action()]


__all__ = ["plan", "emacs_action", "init_path", "ELISP"]
