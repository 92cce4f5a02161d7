"""VS Code's JSON with comments: onboard changes only its own keys, keeps comments, trailing
commas, odd indentation and CRLF byte for byte elsewhere, and reverts only its keys
(restoring the values it replaced)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onboard.core.engine.plan import Plan, apply_plan
from onboard.core.integrations.actions.jsonc_edit import JsoncEdit, apply_jsonc, undo_jsonc
from onboard.core.integrations.editors import jsonc
from tests.support.direnv_home import uninstall_all

SETTINGS = """// VS Code user settings
{
\t// the editor
\t"editor.fontSize": 14,   // big enough
\t"files.exclude": {
\t\t"**/.git": true,
\t},
\t/* a block
\t   comment */
\t"python.defaultInterpreterPath": "/usr/bin/python3", // mine
\t"workbench.colorTheme": "Solarized Light",
}
"""

ODD = '{\r\n   "a": [1, 2,],\r\n      "b": {"c": "x // not a comment", "d": "/* nor this */"}\r\n}'

WANT = {"python.defaultInterpreterPath": "${workspaceFolder}/.venv/bin/python",
        "direnv.restart.automatic": True}


def strip_comments_value(text: str):
    return jsonc.loads(text)


@pytest.mark.parametrize("text", [SETTINGS, ODD, "", "{}", "{ }\n", "// only a comment\n", '{"a": 1}',
                                  '{\n    // empty but commented\n}\n', '{"a": {"b": [ ]}}\n'])
def test_apply_then_undo_gives_back_the_same_bytes(text):
    new, ops = apply_jsonc(text, WANT, {"recommendations": ["mkhl.direnv"]})
    value = jsonc.loads(new)
    assert value["python.defaultInterpreterPath"] == WANT["python.defaultInterpreterPath"]
    assert value["direnv.restart.automatic"] is True
    assert "mkhl.direnv" in value["recommendations"]
    back = undo_jsonc(new, ops)
    if text.strip() in ("{}", "{ }"):
        assert jsonc.loads(back) == {}  # an empty object may come back laid out on two lines
    else:
        assert back == text


def test_only_onboards_keys_change_and_the_rest_keeps_its_bytes():
    new, _ops = apply_jsonc(SETTINGS, WANT, {})
    assert '\t"python.defaultInterpreterPath": "${workspaceFolder}/.venv/bin/python", // mine\n' in new
    # everything but that value is byte for byte the same, in order, and the new key uses
    # the file's tab indentation and its trailing-comma style
    assert new.replace('"${workspaceFolder}/.venv/bin/python"', '"/usr/bin/python3"') == SETTINGS.replace(
        '\t"workbench.colorTheme": "Solarized Light",\n',
        '\t"workbench.colorTheme": "Solarized Light",\n\t"direnv.restart.automatic": true,\n')


def test_crlf_and_odd_indentation_are_kept():
    new, _ = apply_jsonc(ODD, {"k": 1}, {})
    assert new == '{\r\n   "a": [1, 2,],\r\n      "b": {"c": "x // not a comment", "d": "/* nor this */"},' \
                  '\r\n      "k": 1\r\n}'


def test_a_list_gets_the_item_once_and_in_the_lists_style():
    text = '{\n  "recommendations": [\n      "ms-python.python", // py\n  ]\n}\n'
    new, ops = apply_jsonc(text, {}, {"recommendations": ["mkhl.direnv"]})
    assert new == '{\n  "recommendations": [\n      "ms-python.python", // py\n      "mkhl.direnv",\n  ]\n}\n'
    assert apply_jsonc(new, {}, {"recommendations": ["mkhl.direnv"]})[1] == []
    assert undo_jsonc(new, ops) == text


def test_undo_keeps_what_the_user_changed_since():
    new, ops = apply_jsonc(SETTINGS, WANT, {"recommendations": ["mkhl.direnv"]})
    edited = new.replace('"editor.fontSize": 14', '"editor.fontSize": 16')
    edited = edited.replace('"direnv.restart.automatic": true', '"direnv.restart.automatic": false')
    notes: list[str] = []
    back = undo_jsonc(edited, ops, notes)
    value = jsonc.loads(back)
    assert value["editor.fontSize"] == 16
    assert value["direnv.restart.automatic"] is False  # the user's choice now: kept
    assert value["python.defaultInterpreterPath"] == "/usr/bin/python3"  # our replacement undone
    assert "recommendations" not in value
    assert any("direnv.restart.automatic" in n for n in notes)
    assert "// mine" in back and "/* a block" in back


@pytest.mark.parametrize("bad", ['{"a": 1', '{"a": 1 "b": 2}', '[1, 2]', '{"a": tru}', '{"a": 1} x',
                                 '{"a": "unterminated}', '{/* open'])
def test_invalid_files_say_where(bad):
    with pytest.raises(jsonc.JsoncError, match=r"line \d+, column \d+"):
        jsonc.parse(bad)


def test_duplicate_keys_edit_the_one_that_wins():
    text = '{\n  "a": 1,\n  "a": 2\n}\n'
    new, ops = apply_jsonc(text, {"a": 3}, {})
    assert new == '{\n  "a": 1,\n  "a": 3\n}\n'
    assert undo_jsonc(new, ops) == text


# -- through the engine --------------------------------------------------------------------------

def apply_one(action) -> None:  # type: ignore[no-untyped-def]
    out = apply_plan(Plan(name="editors", actions=[action]))
    assert out.ok, out.errors


def test_settings_file_install_and_uninstall_byte_for_byte(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(SETTINGS)
    action = JsoncEdit(path=str(path), values=WANT, items={"recommendations": ["mkhl.direnv"]})
    assert not action.check(None)  # type: ignore[arg-type]
    apply_one(action)
    assert action.check(None)  # type: ignore[arg-type]
    assert json.loads(json.dumps(jsonc.loads(path.read_text())))["direnv.restart.automatic"] is True
    apply_one(action)  # twice: nothing changes
    assert uninstall_all() == []
    assert path.read_text() == SETTINGS


def test_settings_edited_after_install_lose_only_onboards_keys(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(SETTINGS)
    apply_one(JsoncEdit(path=str(path), values=WANT))
    path.write_text(path.read_text().replace('"Solarized Light"', '"Monokai"'))
    assert uninstall_all() == []
    assert path.read_text() == SETTINGS.replace('"Solarized Light"', '"Monokai"')


def test_a_file_onboard_created_goes_and_its_directories_too(tmp_path):
    path = tmp_path / "Code" / "User" / "settings.json"
    apply_one(JsoncEdit(path=str(path), values=WANT))
    assert jsonc.loads(path.read_text()) == WANT
    assert uninstall_all() == []
    assert not (tmp_path / "Code").exists()


def test_a_created_file_the_user_added_to_keeps_their_keys(tmp_path):
    path = tmp_path / "settings.json"
    apply_one(JsoncEdit(path=str(path), values=WANT))
    text = path.read_text().replace("{\n", '{\n    "mine": 1,\n', 1)
    path.write_text(text)
    assert uninstall_all() == []
    assert jsonc.loads(path.read_text()) == {"mine": 1}


def test_an_invalid_settings_file_is_a_clear_error_and_stays_as_it_was(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"editor.fontSize": 14,, }')
    out = apply_plan(Plan(name="editors", actions=[JsoncEdit(path=str(path), values=WANT)]))
    assert not out.ok
    assert "not valid JSON with comments" in out.errors[0] and "line 1" in out.errors[0]
    assert path.read_text() == '{"editor.fontSize": 14,, }'
    assert uninstall_all() == []
    assert path.read_text() == '{"editor.fontSize": 14,, }'


def test_symlinked_settings_are_edited_at_their_target(tmp_path):
    real = tmp_path / "dotfiles" / "settings.json"
    real.parent.mkdir()
    real.write_text(SETTINGS)
    link = tmp_path / "settings.json"
    link.symlink_to(real)
    apply_one(JsoncEdit(path=str(link), values=WANT))
    assert link.is_symlink() and jsonc.loads(real.read_text())["direnv.restart.automatic"] is True
    assert uninstall_all() == []
    assert link.is_symlink() and real.read_text() == SETTINGS


def test_not_a_list_is_refused(tmp_path):
    path = tmp_path / "extensions.json"
    path.write_text('{"recommendations": "mkhl.direnv"}')
    out = apply_plan(Plan(name="editors", actions=[JsoncEdit(path=str(path), items={"recommendations": ["x"]})]))
    assert not out.ok and "is not a list" in out.errors[0]
    assert Path(path).read_text() == '{"recommendations": "mkhl.direnv"}'
