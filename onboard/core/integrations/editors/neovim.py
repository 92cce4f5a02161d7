"""Neovim: the same as Vim, in Lua for init.lua (or Vim script for init.vim)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onboard.core import paths
from onboard.core.actions.blocks import MarkedBlock
from onboard.core.integrations.editors.vim import VIMSCRIPT

LUA = """\
-- load the project's environment from direnv (skipped when direnv.vim does it)
do
  local function onboard_direnv()
    if vim.g.loaded_direnv or vim.fn.executable("direnv") ~= 1 then
      return
    end
    local out = vim.fn.system({ "sh", "-c", "direnv export json 2>/dev/null" })
    if vim.v.shell_error ~= 0 or not out:match("%S") then
      return
    end
    local ok, changes = pcall(vim.fn.json_decode, out)
    if not ok or type(changes) ~= "table" then
      return
    end
    for name, value in pairs(changes) do
      vim.fn.setenv(name, value)
    end
  end
  vim.api.nvim_create_autocmd({ "VimEnter", "DirChanged" }, {
    group = vim.api.nvim_create_augroup("onboard_direnv", { clear = true }),
    callback = onboard_direnv,
  })
end"""


def init_path() -> Path:
    """init.lua, or init.vim when that is the one that exists."""
    d = paths.config_home() / "nvim"
    if (d / "init.vim").exists() and not (d / "init.lua").exists():
        return d / "init.vim"
    return d / "init.lua"


def neovim_action() -> MarkedBlock:
    path = init_path()
    lua = path.suffix == ".lua"
    return MarkedBlock(path=str(path), marker="direnv", content=LUA if lua else VIMSCRIPT,
                       comment="--" if lua else '"',
                       summary=f"load direnv environments in Neovim ({path})")


def plan(project: str, profile: Any, which: Any) -> list[MarkedBlock]:
    """What the plan does for this editor (the same for every project)."""
    return [neovim_action()]


__all__ = ["plan", "neovim_action", "init_path", "LUA"]
