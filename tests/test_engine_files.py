"""The change engine on real files: apply, re-apply, revert, user edits, odd files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from onboard.core.actions.blocks import MarkedBlock, find_block
from onboard.core.actions.files import EnsureDirectory, Symlink, WriteFile
from onboard.core.engine.plan import Plan, apply_plan, preview, revert_receipt
from onboard.core.engine.receipt import list_receipts, load_receipt
from onboard.core.events import Collector, Notice
from onboard.core import paths
from tests.support.tree import diff, snapshot


def apply(plan: Plan):
    c = Collector()
    out = apply_plan(plan, emit=c)
    assert out.ok, out.errors
    return c


def revert(name: str = "t"):
    c = Collector()
    r = load_receipt(name)
    assert r is not None
    out = revert_receipt(r, emit=c)
    assert out.ok, out.errors
    return c


def test_write_new_file_then_revert_removes_it_and_created_dirs(tmp_path):
    before = snapshot(tmp_path)
    target = tmp_path / "a" / "b" / "conf.txt"
    apply(Plan("t", [WriteFile(path=str(target), content="x=1\n")]))
    assert target.read_text() == "x=1\n"
    revert()
    assert diff(before, snapshot(tmp_path)) == []
    assert not paths.state_dir().exists(), "the receipt and backups must go too"


def test_overwrite_existing_file_restores_bytes_and_mode(tmp_path):
    f = tmp_path / "conf"
    f.write_bytes(b"old\r\ncontent without newline")
    os.chmod(f, 0o600)
    before = snapshot(tmp_path)
    apply(Plan("t", [WriteFile(path=str(f), content="new\n")]))
    assert f.read_text() == "new\n"
    assert oct(f.stat().st_mode & 0o777) == oct(0o600)
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_apply_twice_changes_nothing_the_second_time(tmp_path):
    rc = tmp_path / ".bashrc"
    rc.write_text("alias ll='ls -l'\n")
    plan = Plan("t", [EnsureDirectory(path=str(tmp_path / "d")),
                      WriteFile(path=str(tmp_path / "d" / "f"), content="1"),
                      MarkedBlock(path=str(rc), marker="nix", content="export A=1")])
    apply(plan)
    first = snapshot(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    c = apply(plan)
    assert [e.status for e in c.events if e.kind == "action-finished"] == ["skipped"] * 3
    assert diff(first, snapshot(tmp_path)) == []
    assert mtimes == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert all(r["status"] == "already" for r in preview(plan))


@pytest.mark.parametrize("original", [
    b"export PATH=$HOME/bin:$PATH\n",
    b"line one\r\nline two\r\n",
    b"no final newline",
    b"crlf without final newline\r\nsecond",
    b"",
    b"\xff\xfe not utf-8 \x80\n",
])
def test_marked_block_roundtrip_is_byte_exact(tmp_path, original):
    rc = tmp_path / ".zshrc"
    rc.write_bytes(original)
    before = snapshot(tmp_path)
    apply(Plan("t", [MarkedBlock(path=str(rc), marker="nix", content="source /nix/x\nexport B=2")]))
    data = rc.read_bytes()
    assert b"source /nix/x" in data
    if b"\r\n" in original:
        assert b"export B=2\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert data.startswith(original if original.endswith(b"\n") or not original else original)
    revert()
    assert diff(before, snapshot(tmp_path)) == []


@pytest.mark.parametrize("original", [b"a=1\n", b"a=1", b"a=1\r\nb=2\r\n"])
def test_user_edit_after_apply_keeps_edit_and_removes_only_block(tmp_path, original):
    rc = tmp_path / ".bashrc"
    rc.write_bytes(original)
    apply(Plan("t", [MarkedBlock(path=str(rc), marker="direnv", content='eval "$(direnv hook bash)"')]))
    nl = b"\r\n" if b"\r\n" in original else b"\n"
    with open(rc, "ab") as fh:
        fh.write(b"alias user=added" + nl)
    c = revert()
    text = rc.read_bytes()
    assert b"direnv hook" not in text and b"onboard" not in text
    assert b"alias user=added" in text
    assert text.startswith(original.rstrip(b"\r\n"))
    assert any(isinstance(e, Notice) for e in c.events)


def test_symlinked_dotfile_edits_the_target_and_keeps_the_link(tmp_path):
    dots = tmp_path / "dotfiles"
    dots.mkdir()
    (dots / "bashrc").write_text("# mine\n")
    link = tmp_path / ".bashrc"
    link.symlink_to(dots / "bashrc")
    before = snapshot(tmp_path)
    apply(Plan("t", [MarkedBlock(path=str(link), marker="nix", content="export N=1")]))
    assert link.is_symlink()
    assert "export N=1" in (dots / "bashrc").read_text()
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_drift_is_repaired_on_reapply(tmp_path):
    rc = tmp_path / ".profile"
    rc.write_text("x\n")
    plan = Plan("t", [MarkedBlock(path=str(rc), marker="nix", content="export Z=1")])
    apply(plan)
    rc.write_text("x\nuser line\n")  # the user removed our block and added a line
    c = apply(plan)
    assert [e.status for e in c.events if e.kind == "action-finished"] == ["done"]
    assert find_block(rc.read_text(), "nix") is not None
    assert "user line" in rc.read_text()
    revert()
    assert rc.read_text() == "x\nuser line\n"


def test_preexisting_state_is_never_removed(tmp_path):
    d = tmp_path / "exists"
    d.mkdir()
    f = d / "same.txt"
    f.write_text("same")
    apply(Plan("t", [EnsureDirectory(path=str(d)), WriteFile(path=str(f), content="same")]))
    r = load_receipt("t")
    assert all(e.record.get("preexisting") for e in r.entries)
    revert()
    assert f.read_text() == "same"


def test_symlink_action_restores_previous_link(tmp_path):
    link = tmp_path / "l"
    link.symlink_to("/old/target")
    before = snapshot(tmp_path)
    apply(Plan("t", [Symlink(path=str(link), points_to="/new/target")]))
    assert os.readlink(link) == "/new/target"
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_failed_action_stops_the_plan_and_receipt_reverts(tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("i am a file")
    before = snapshot(tmp_path)
    plan = Plan("t", [WriteFile(path=str(tmp_path / "ok.txt"), content="ok"),
                      EnsureDirectory(path=str(blocker)),
                      WriteFile(path=str(tmp_path / "never.txt"), content="no")])
    out = apply_plan(plan)
    assert out.status == "failed" and "not a directory" in out.errors[0]
    assert not (tmp_path / "never.txt").exists()
    assert [r.status for r in list_receipts()] == ["failed"]
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_changed_plan_content_keeps_the_original_prior_state(tmp_path):
    """A file onboard created and later regenerated with new content is still removed on
    revert (not restored to onboard's own first version)."""
    before = snapshot(tmp_path)
    f = tmp_path / "gen" / "lib.sh"
    apply(Plan("t", [WriteFile(path=str(f), content="v1\n")]))
    apply(Plan("t", [WriteFile(path=str(f), content="v2\n")]))
    assert f.read_text() == "v2\n"
    assert load_receipt("t").entries[0].params["content"] == "v2\n"
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_changed_block_content_reverts_to_the_users_original(tmp_path):
    rc = tmp_path / ".bashrc"
    rc.write_bytes(b"mine\r\nno newline")
    before = snapshot(tmp_path)
    apply(Plan("t", [MarkedBlock(path=str(rc), marker="nix", content="export V=1")]))
    apply(Plan("t", [MarkedBlock(path=str(rc), marker="nix", content="export V=2")]))
    assert b"export V=2" in rc.read_bytes() and b"V=1" not in rc.read_bytes()
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_failure_while_taking_the_snapshot_changes_nothing_and_reverts_nothing(tmp_path):
    weird = tmp_path / "is-a-dir"
    weird.mkdir()
    (weird / "keep").write_text("x")
    before = snapshot(tmp_path)
    out = apply_plan(Plan("t", [WriteFile(path=str(weird), content="no")]))
    assert out.status == "failed" and "not a regular file" in out.errors[0]
    r = load_receipt("t")
    assert r.entries[0].state == "pending" and not r.entries[0].owned
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_killed_inside_a_write_leaves_nothing_after_revert(tmp_path):
    """Killed after the journaled start, after making parent dirs and a temporary file but
    before the rename: revert finds both from the write-ahead record."""
    from onboard.core.engine.action import Context
    from onboard.core.engine.plan import _entry_for
    from onboard.core.engine.receipt import Receipt

    before = snapshot(tmp_path)
    target = tmp_path / "new" / "dir" / "conf"
    action = WriteFile(path=str(target), content="x")
    receipt = Receipt(name="t")
    entry = _entry_for(action)
    receipt.entries.append(entry)
    entry.record = action.snapshot(Context(backup_dir=receipt.backup_dir()))
    entry.state = "started"
    receipt.save()
    target.parent.mkdir(parents=True)
    (target.parent / ".conf.k1ll3d.onboard-tmp").write_text("half")
    revert()
    assert diff(before, snapshot(tmp_path)) == []


def test_uninstall_cleans_a_receipt_write_cut_short(isolated_home):
    from onboard.core.uninstall import clean_leftovers

    before = snapshot(isolated_home)
    paths.make_owned_dir(paths.state_dir())
    paths.receipts_dir().mkdir()
    (paths.receipts_dir() / ".onboard.json.x1y2z3.onboard-tmp").write_text("{")
    clean_leftovers()
    assert diff(before, snapshot(isolated_home)) == []
