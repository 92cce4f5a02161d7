"""Editor configs through the plan: VS Code (user settings, the project's extensions.json
and settings.json), Vim, Neovim, Emacs blocks and the project's .editorconfig, each
reverted byte for byte; the whole plan's uninstall leaves HOME and the project as they
were. Real Vim loads the project's environment through its block."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.choices import Choices
from onboard.core.integrations.actions.jsonc_edit import JsoncEdit
from onboard.core.integrations.actions.plan_note import PlanNote
from onboard.core.integrations.editors import emacs, jsonc, neovim, vim, vscode
from onboard.core.integrations.planner import plan_integrations, suggested_components
from tests.support import tree
from tests.support.direnv_home import World, apply, uninstall_all, which_with, write_profile

EDITORCONFIG = """editors:
  vscode:
    extensions: [ms-python.python]
    settings: {"editor.formatOnSave": true}
  editorconfig:
    "*": {indent_style: space}
    "*.py": {indent_size: 4}
    Makefile: {indent_style: tab}
"""
EVERYTHING = ["direnv", "vscode", "neovim", "vim", "emacs"]
INSTALLED = which_with({"code": "/usr/bin/code", "nvim": "/usr/bin/nvim", "vim": "/usr/bin/vim",
                        "emacs": "/usr/bin/emacs", "zsh": "/usr/bin/zsh", "fish": "/usr/bin/fish"})


@pytest.fixture
def world(isolated_home, tmp_path, monkeypatch):
    w = World(isolated_home, tmp_path, monkeypatch)
    write_profile(w.profiles, "demo", {"DEMO_VAR": "demo value"},
                  extra='python: {version: "3.12"}\n' + EDITORCONFIG)
    return w


def test_editors_are_configured_when_asked_and_named_when_only_installed(world):
    plan = plan_integrations(Choices(components=["direnv", "vim"], project_dir=str(world.project),
                                     profile="demo"), which=INSTALLED)
    blocks = [a for a in plan.actions if isinstance(a, MarkedBlock)]
    # no vimrc yet: onboard's part is a plugin file, so Vim keeps loading its defaults.vim
    assert any(b.path == str(world.home / ".vim" / "plugin" / "onboard-direnv.vim") and b.comment == '"'
               for b in blocks)
    assert not any(isinstance(a, JsoncEdit) for a in plan.actions)
    notes = " ".join(a.message for a in plan.actions if isinstance(a, PlanNote))
    assert "also installed: VS Code, Neovim, Emacs" in notes and "--with vscode,neovim,emacs" in notes
    assert suggested_components(INSTALLED) == ["direnv", "vscode", "neovim", "vim", "emacs"]


def test_an_editor_asked_for_but_missing_is_configured_with_a_note(world):
    plan = plan_integrations(Choices(components=["emacs"]), which=which_with({"emacs": None}))
    assert any(isinstance(a, MarkedBlock) and a.comment == ";;" for a in plan.actions)
    assert any("Emacs is not installed" in a.message for a in plan.actions if isinstance(a, PlanNote))


def test_vscode_gets_the_extension_the_interpreter_and_the_teams_settings(world):
    settings = vscode.user_settings_path()
    settings.parent.mkdir(parents=True)
    settings.write_text('{\n  // mine\n  "editor.fontSize": 13,\n}\n')
    apply(plan_integrations(Choices(components=["vscode"], project_dir=str(world.project), profile="demo"),
                            which=INSTALLED))
    user = jsonc.loads(settings.read_text())
    assert user["direnv.restart.automatic"] is True and user["editor.fontSize"] == 13
    assert "// mine" in settings.read_text()
    ext = jsonc.loads((world.project / ".vscode/extensions.json").read_text())
    assert ext["recommendations"] == ["mkhl.direnv", "ms-python.python"]
    ws = jsonc.loads((world.project / ".vscode/settings.json").read_text())
    assert ws == {"python.defaultInterpreterPath": "${workspaceFolder}/.venv/bin/python",
                  "editor.formatOnSave": True}
    assert uninstall_all() == []
    assert settings.read_text() == '{\n  // mine\n  "editor.fontSize": 13,\n}\n'
    assert not (world.project / ".vscode").exists()


def test_interpreter_path_follows_the_profiles_venv():
    class Spec:
        venv_dir = "./env"

    class P:
        python = Spec()

    assert vscode.interpreter_path(P()) == "${workspaceFolder}/env/bin/python"
    Spec.venv_dir = "/opt/venvs/app"
    assert vscode.interpreter_path(P()) == "/opt/venvs/app/bin/python"
    P.python = None  # type: ignore[assignment]
    assert vscode.interpreter_path(P()) == ""


def test_editor_blocks_use_each_files_comments_and_revert_byte_for_byte(world):
    home = world.home
    (home / ".vimrc").write_bytes(b'set number\r\n" mine\r\n')
    nvim = home / ".config/nvim"
    nvim.mkdir(parents=True)
    (nvim / "init.vim").write_bytes(b"set nowrap")  # no final newline, and no init.lua
    (home / ".emacs.d").mkdir()
    dot = home / "dotfiles"
    dot.mkdir()
    (dot / "init.el").write_text(";; my emacs\n(setq inhibit-startup-screen t)\n")
    (home / ".emacs.d/init.el").symlink_to(dot / "init.el")
    before = tree.snapshot(home)
    apply(plan_integrations(Choices(components=["neovim", "vim", "emacs"]), which=INSTALLED))
    vimrc = (home / ".vimrc").read_bytes()
    assert vimrc.startswith(b'set number\r\n" mine\r\n" >>> onboard: direnv >>>\r\n')
    assert b"direnv export vim" in vimrc
    init_vim = (nvim / "init.vim").read_text()
    assert init_vim.startswith('set nowrap\n" >>> onboard: direnv >>>') and not (nvim / "init.lua").exists()
    el = (dot / "init.el").read_text()
    assert ";; >>> onboard: direnv >>>" in el and "(when (require 'envrc nil t)" in el
    assert (home / ".emacs.d/init.el").is_symlink()
    assert uninstall_all() == []
    assert tree.diff(before, tree.snapshot(home, ignore=(".local/state",))) == []


def test_new_neovim_config_is_lua_and_its_syntax_is_valid(world):
    assert neovim.init_path().name == "init.lua"
    apply(plan_integrations(Choices(components=["neovim"]), which=INSTALLED))
    text = neovim.init_path().read_text()
    assert text.startswith("-- >>> onboard: direnv >>>") and "direnv export json" in text
    if shutil.which("luac"):
        r = subprocess.run(["luac", "-p", str(neovim.init_path())], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert uninstall_all() == []
    assert not (world.home / ".config/nvim").exists()


def test_editorconfig_from_the_profile_new_file_and_existing_file(world):
    apply(plan_integrations(Choices(components=["direnv"], project_dir=str(world.project), profile="demo")))
    text = (world.project / ".editorconfig").read_text()
    assert "root = true" in text
    assert "[*]\nindent_style = space" in text and "[*.py]\nindent_size = 4" in text
    assert "[Makefile]\nindent_style = tab" in text
    assert uninstall_all() == []
    assert not (world.project / ".editorconfig").exists()
    (world.project / ".editorconfig").write_text("root = true\n\n[*]\ncharset = utf-8\n")
    apply(plan_integrations(Choices(components=["direnv"], project_dir=str(world.project), profile="demo")))
    text = (world.project / ".editorconfig").read_text()
    assert text.startswith("root = true\n\n[*]\ncharset = utf-8\n# >>> onboard: editorconfig >>>\n")
    assert text.count("root = true") == 1
    assert uninstall_all() == []
    assert (world.project / ".editorconfig").read_text() == "root = true\n\n[*]\ncharset = utf-8\n"


def test_whole_plan_uninstall_leaves_home_and_project_as_they_were(world):
    (world.home / ".bashrc").write_text("# bashrc\n")
    settings = vscode.user_settings_path()
    settings.parent.mkdir(parents=True)
    settings.write_text('// user\n{\n\t"a": 1,\n}\n')
    home_before = tree.snapshot(world.home)
    project_before = tree.snapshot(world.project)
    # --no-profile: the environment's build (and Nix's own eval cache in ~/.cache) is not this test's
    r = world.onboard("apply", "--mode", "skip", "--with", ",".join(EVERYTHING), "--profile", "demo",
                      "--project", str(world.project), "--no-profile", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (world.project / ".envrc").exists() and (world.project / ".editorconfig").exists()
    assert vim.plugin_path().exists() and emacs.init_path().exists() and neovim.init_path().exists()
    r = world.onboard("uninstall", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert tree.diff(project_before, tree.snapshot(world.project)) == []
    assert tree.diff(home_before, tree.snapshot(world.home)) == []


@pytest.mark.skipif(shutil.which("vim") is None or shutil.which("direnv") is None, reason="needs vim, direnv")
def test_real_vim_gets_the_projects_environment(world, tmp_path):
    (world.project / ".envrc").write_text("export FROM_DIRENV=in-vim\n")
    world.direnv("allow", str(world.project))
    apply(plan_integrations(Choices(components=["vim"])))
    out = tmp_path / "vim-out"
    write = f'call writefile([$FROM_DIRENV], "{out}")'
    runs = [(world.project, [f"autocmd VimEnter * {write}", "autocmd VimEnter * qa!"]),  # started there
            (tmp_path, ["cd " + str(world.project), write, "qa!"])]  # :cd into it later
    for cwd, cmds in runs:
        out.unlink(missing_ok=True)
        argv = ["vim", "-Nu", str(vim.plugin_path()), "-i", "NONE", "-es"]
        for c in cmds:
            argv += ["-c", c]
        subprocess.run(argv, cwd=cwd, env=world.env(), stdin=subprocess.DEVNULL, timeout=30,
                       capture_output=True)
        assert out.exists() and out.read_text().strip() == "in-vim", (cwd, argv)


def vim_options(world, *names: str) -> str:
    """What a real Vim started by this user has set (Ex mode, -es, reads no vimrc at all)."""
    out = world.home / "vim-options"
    subprocess.run(["vim", "-X", "--not-a-term", "-i", "NONE", "-c", f"redir! > {out}",
                    "-c", "set " + " ".join(f"{n}?" for n in names), "-c", "redir END", "-c", "qa!"],
                   env=world.env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return " ".join(out.read_text().split())


@pytest.mark.skipif(shutil.which("vim") is None, reason="needs vim")
def test_without_a_vimrc_vim_keeps_its_defaults(world):
    assert not vim.vimrc_path().exists()
    before = vim_options(world, "incsearch", "scrolloff")
    assert before == "incsearch scrolloff=5"  # defaults.vim, loaded because there is no vimrc
    home_before = tree.snapshot(world.home, ignore=("vim-options",))
    apply(plan_integrations(Choices(components=["vim"])))
    assert not vim.vimrc_path().exists() and vim.plugin_path().exists()
    assert vim_options(world, "incsearch", "scrolloff") == before
    assert uninstall_all() == []
    assert tree.diff(home_before, tree.snapshot(world.home, ignore=("vim-options",))) == []
