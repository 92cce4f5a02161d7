"""The tracked-process record (onboard.core.procs): a process matches only when it runs the
recorded executable and started after the recorded intent; anything else is never stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from onboard.core import procs


def _sleep(tmp_path, name="sleep"):
    exe = tmp_path / name
    shutil.copy(shutil.which("sleep"), exe)
    return str(exe)


def test_a_spawned_process_is_found_and_stopped(tmp_path):
    exe = _sleep(tmp_path)
    rec = procs.intent(exe)
    proc = procs.spawn(rec, [exe, "30"])
    try:
        assert rec["proc"]["pid"] == proc.pid and rec["proc"]["exe"] == os.path.realpath(exe)
        assert procs.find(rec) == [proc.pid]
        assert procs.stop(rec, timeout=5) == []
        assert proc.wait(5) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_processes_the_record_does_not_match_are_left_alone(tmp_path):
    exe, other = _sleep(tmp_path), _sleep(tmp_path, "other")
    early = subprocess.Popen([exe, "30"])  # the right program, started before the intent
    try:
        time.sleep(0.05)
        rec = procs.intent(exe)
        stranger = subprocess.Popen([other, "30"])  # after the intent, another program
        try:
            assert procs.find(rec) == []
            # the recorded pid, now (as if reused) another program's: not matched, not signalled
            rec["proc"] = {"pid": stranger.pid, "start": procs.start_ticks(stranger.pid), "exe": exe}
            assert not procs.matches(stranger.pid, rec)
            assert procs.stop(rec, extra=[stranger.pid, early.pid], timeout=1) == []
            assert early.poll() is None and stranger.poll() is None
            assert procs.find(dict(rec, under="/nix/store")) == []
            assert procs.find(dict(rec, boot="another-boot")) == []
        finally:
            stranger.kill()
            stranger.wait()
    finally:
        early.kill()
        early.wait()
