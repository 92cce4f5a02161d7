"""The TUI's pieces without a screen: the run model folded from core events (Nix progress
included), the bridge that merges floods, the status words."""

from __future__ import annotations

import threading

from onboard.core.doctor.model import CheckFinished, CheckResult
from onboard.core.events import (ActionFailed, ActionFinished, ActionProgress, ActionStarted, LogLine, Notice,
                                 PlanFinished, PlanStarted)
from onboard.core.profiles.nixlog import NixLogParser
from onboard.tui.bridge import EventBridge, format_event
from onboard.tui.progress import RunModel, status_word
from onboard.tui.state import check_view
from onboard.tui.widgets.action_row import bar_text

ROWS = [{"id": "a", "description": "make a", "paths": ["/a"]},
        {"id": "b", "description": "make b", "paths": ["/b"]}]


def test_run_model_folds_a_failed_run():
    m = RunModel(ROWS)
    assert [v.status for v in m.views()] == ["waiting", "waiting"] and m.total == 2
    m.feed_all([PlanStarted(plan="p", total=2), ActionStarted(index=0, total=2, action_id="a", description="make a"),
                ActionProgress(action_id="a", done=5, total=10, unit="bytes"),
                *[LogLine(action_id="a", line=f"line {i}") for i in range(30)],
                ActionFinished(action_id="a", status="done"),
                ActionStarted(index=1, total=2, action_id="b", description="make b"),
                Notice(message="kept /b.old", action_id="b"),
                ActionFailed(action_id="b", error="no space left", hint="free some"),
                PlanFinished(plan="p", status="failed", errors=["no space left"])])
    a, b = m.views()
    assert (a.status, a.fraction, b.status) == ("done", 1.0, "failed")
    assert m.failure.description == "make b" and m.failure.hint == "free some"
    assert m.status == "failed" and m.finished == 2 and m.errors == ["no space left"]
    tail = m.tail()
    assert len(tail) == 20 and tail[-1] == "failed: no space left" and "note: kept /b.old" in tail
    assert m.notices == ["kept /b.old"]
    assert [status_word(v.status) for v in m.views()] == ["DONE", "FAIL"]


def test_run_model_marks_what_a_cancel_left_undone():
    m = RunModel(ROWS)
    m.feed_all([PlanStarted(plan="p", total=2), ActionStarted(index=0, total=2, action_id="a", description="make a"),
                ActionFinished(action_id="a", status="skipped"), PlanFinished(plan="p", status="cancelled")])
    assert [status_word(v.status) for v in m.views()] == ["SKIP", "STOP"]


def test_nix_progress_from_the_log_parser_is_shown_as_built_and_downloaded():
    parser = NixLogParser(action_id="a")
    lines = [
        '@nix {"action":"start","id":1,"level":0,"type":104,"text":"","parent":0,"fields":[]}',
        '@nix {"action":"result","id":1,"type":105,"fields":[2,5,1,0]}',
        '@nix {"action":"start","id":2,"level":0,"type":105,"text":"building","parent":1,'
        '"fields":["/nix/store/0123456789abcdef0123456789abcdef-hello-2.12.drv","",1,1]}',
        '@nix {"action":"result","id":2,"type":101,"fields":["compiling hello.c"]}',
    ]
    m = RunModel(ROWS)
    m.feed(ActionStarted(index=0, total=2, action_id="a", description="make a"))
    for line in lines:
        m.feed_all(parser.feed(line))
    assert "2 of 5 built" in m.nix_summary()
    assert "2 of 5 built" in m.actions["a"].text
    assert any("compiling hello.c" in line for line in m.tail())


def test_action_progress_units_make_counters():
    m = RunModel()
    m.feed_all([ActionProgress(action_id="x", done=3e6, total=12e6, unit="bytes"),
                ActionProgress(action_id="y", done=4, total=9, unit="paths")])
    assert m.nix_summary() == "3.0 of 12.0 MB downloaded | 4 of 9 copied"


class FakeScreen:
    """What the bridge needs of a screen: post_message (thread-safe) and set_timer."""

    def __init__(self) -> None:
        self.posted = []
        self.timers = []

    def post_message(self, message) -> None:
        self.posted.append(message)

    def set_timer(self, delay, callback):
        self.timers.append((delay, callback))

        class T:
            def stop(self_inner):
                pass

        return T()


def test_bridge_merges_a_flood_and_wakes_the_screen_once():
    screen = FakeScreen()
    got = []
    bridge = EventBridge(screen, got.extend)

    def worker():
        bridge(ActionStarted(index=0, total=1, action_id="a", description="a"))
        for i in range(50000):
            bridge(ActionProgress(action_id="a", done=i + 1, total=50000, unit="builds"))
        bridge(LogLine(action_id="a", line="done building"))
        bridge(ActionFinished(action_id="a", status="done"))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(screen.posted) == 1  # one wake-up for the whole flood until the screen takes it
    bridge.flush()
    kinds = [e.kind for e in got]
    assert kinds == ["action-started", "action-progress", "log", "action-finished"]
    assert got[1].done == 50000  # only the newest progress survives
    assert bridge.received == 50003 and bridge.merged == 49999


def test_bridge_delivers_at_most_at_its_rate():
    screen = FakeScreen()
    got = []
    bridge = EventBridge(screen, got.append, rate=30)
    bridge(LogLine(line="one"))
    bridge.pending()  # first delivery: at once
    assert len(got) == 1
    bridge(LogLine(line="two"))
    bridge.pending()  # within 1/30 s of the last: waits for a timer
    assert len(got) == 1 and screen.timers and 0 < screen.timers[0][0] <= 1 / 30
    screen.timers[0][1]()
    assert [e[0].line for e in got] == ["one", "two"]


def test_log_file_lines_are_readable(tmp_path):
    bridge = EventBridge(FakeScreen(), lambda events: None)
    path = bridge.open_log(tmp_path / "logs", "demo")
    bridge(ActionStarted(index=0, total=2, action_id="a", description="make a"))
    bridge(LogLine(action_id="a", line="hello"))
    bridge(ActionFailed(action_id="a", error="boom", hint="retry"))
    bridge.close_log()
    text = path.read_text()
    assert "[a] start 1/2: make a" in text and "[a] hello" in text and "FAILED: boom (what to do: retry)" in text
    assert format_event(PlanFinished(plan="p", status="ok")).endswith("p: ok")


def test_check_views_and_bars():
    r = CheckResult("disk", "Free disk", "fail", "1 GB", "free 5 GB")
    for src in (r, r.to_dict(), CheckFinished(result=r.to_dict())):
        v = check_view(src)
        assert (v.id, v.word, v.fix) == ("disk", "FAIL", "free 5 GB")
    assert bar_text(0.5, True, 10) == "[#####-----]"
    assert bar_text(None, True, 10) == "[.working..]"
    assert bar_text(None, False, 4) == "[    ]"


def test_uninstall_lists_the_service_data_it_keeps():
    from onboard.tui.screens.uninstall import uninstall_text

    rows = [{"description": "stop the services of /p", "paths": []}]
    kept = [{"project": "/p", "service": "postgresql", "path": "/s/pg", "bytes": 3 * 1024 * 1024 + 1}]
    text = uninstall_text(rows, kept).plain
    assert "1. stop the services of /p" in text
    assert "--delete-data" in text and "postgresql of /p: /s/pg (3.0 MiB)" in text
    assert "Kept" not in uninstall_text(rows, []).plain
