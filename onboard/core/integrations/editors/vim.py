"""Vim: load the project's direnv environment when Vim starts and when its directory
changes (nothing to do when the direnv.vim plugin is installed: it does the same). A block
in the user's vimrc, or a plugin file of onboard's own when there is no vimrc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onboard.core import paths
from onboard.core.actions.blocks import MarkedBlock

VIMSCRIPT = """\
" load the project's environment from direnv (skipped when direnv.vim does it)
function! s:onboard_direnv() abort
  if exists('g:loaded_direnv') || !executable('direnv')
    return
  endif
  let l:out = system('direnv export vim 2>/dev/null')
  if v:shell_error == 0
    for l:line in split(l:out, "\\n")
      execute l:line
    endfor
  endif
endfunction
augroup onboard_direnv
  autocmd!
  autocmd VimEnter * call s:onboard_direnv()
  if exists('##DirChanged')
    autocmd DirChanged * call s:onboard_direnv()
  endif
augroup END"""


def vimrc_path() -> Path:
    """~/.vimrc, or ~/.vim/vimrc when only that one exists."""
    home = paths.home()
    if not (home / ".vimrc").exists() and (home / ".vim" / "vimrc").exists():
        return home / ".vim" / "vimrc"
    return home / ".vimrc"


def plugin_path() -> Path:
    """Where onboard's part goes when there is no vimrc: a plugin file. Vim loads its
    defaults.vim (syntax, incsearch, scrolloff, ...) only while no vimrc exists, so creating
    one would change how Vim behaves; a plugin file adds onboard's part and nothing else."""
    return paths.home() / ".vim" / "plugin" / "onboard-direnv.vim"


def vim_action() -> MarkedBlock:
    vimrc = vimrc_path()
    path = vimrc if vimrc.exists() else plugin_path()
    return MarkedBlock(path=str(path), marker="direnv", content=VIMSCRIPT, comment='"',
                       summary=f"load direnv environments in Vim ({path})")


def plan(project: str, profile: Any, which: Any) -> list[MarkedBlock]:
    """What the plan does for this editor (the same for every project)."""
    return [vim_action()]


__all__ = ["plan", "vim_action", "vimrc_path", "plugin_path", "VIMSCRIPT"]
