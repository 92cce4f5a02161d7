"""SIGKILL a real process at every action boundary; re-run completes, revert leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from onboard.core import paths
from tests.conftest import ROOT
from tests.support.tree import diff, snapshot

N_ACTIONS = 7


def prepare(root: Path) -> None:
    (root / "dot").mkdir(parents=True)
    (root / "dot" / "zshrc").write_bytes(b"# zsh, CRLF, no final newline\r\nsetopt x")
    (root / ".zshrc").symlink_to("dot/zshrc")
    (root / ".bashrc").write_bytes(b"alias a=b\n")
    (root / "etc.conf").write_bytes(b"original\n")
    os.chmod(root / "etc.conf", 0o640)


def run(root: Path, what: str, kind: str = "", index: int = -1, state: str = "") -> int:
    args = [sys.executable, "-m", "tests.support.crashplan", str(root), what]
    if kind:
        args += [kind, str(index)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if state:
        env["XDG_STATE_HOME"] = state
    return subprocess.run(args, cwd=ROOT, env=env, timeout=60).returncode


# action-started k: killed before action k recorded anything; log 0 of the command action:
# killed mid-action (after its intent was journaled); action-finished k: after k was done.
KILL_POINTS = [("action-started", k) for k in range(N_ACTIONS)] + \
              [("action-finished", k) for k in range(N_ACTIONS)] + [("log", 0)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    # module scope runs before the per-test HOME exists: give it its own state dir
    base = tmp_path_factory.mktemp("ref")
    root = base / "root"
    prepare(root)
    before = snapshot(root)
    assert run(root, "apply", state=str(base / "state")) == 0
    return before, snapshot(root)


@pytest.mark.parametrize("kind,index", KILL_POINTS)
def test_sigkill_then_rerun_completes_and_revert_leaves_nothing(tmp_path, reference, kind, index):
    ref_before, ref_after = reference
    root = tmp_path / "root"
    prepare(root)
    assert snapshot(root) == ref_before
    rc = run(root, "apply", kind, index)
    assert rc == -signal.SIGKILL
    receipt = paths.receipts_dir() / "crash.json"
    assert receipt.exists(), "the journal must exist after the first action started"
    # Resume: the re-run finishes the job exactly as an uninterrupted run would.
    assert run(root, "apply") == 0
    assert diff(ref_after, snapshot(root)) == []
    assert run(root, "revert") == 0
    assert diff(ref_before, snapshot(root)) == []
    assert not paths.state_dir().exists()


@pytest.mark.parametrize("kind,index", KILL_POINTS)
def test_sigkill_then_revert_from_partial_receipt(tmp_path, reference, kind, index):
    ref_before, _ = reference
    root = tmp_path / "root"
    prepare(root)
    assert run(root, "apply", kind, index) == -signal.SIGKILL
    assert run(root, "revert") == 0
    assert diff(ref_before, snapshot(root)) == []
    assert not paths.state_dir().exists()


@pytest.mark.parametrize("index", [0, 3, 6])
def test_sigkill_during_revert_then_revert_again(tmp_path, reference, index):
    ref_before, _ = reference
    root = tmp_path / "root"
    prepare(root)
    assert run(root, "apply") == 0
    assert run(root, "revert", "action-started", index) == -signal.SIGKILL
    assert run(root, "revert") == 0
    assert diff(ref_before, snapshot(root)) == []
