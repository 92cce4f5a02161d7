"""The internal-json parser on lines recorded from Nix 2.8 (and the documented
substitution format, which needs a binary cache this machine cannot reach)."""

from __future__ import annotations

from onboard.core.events import ActionProgress, LogLine
from onboard.core.profiles.nixlog import NixLogParser, NixProgress, human_bytes, store_name, strip_ansi

# `nix print-dev-env --log-format internal-json -v` of a shell whose one input fails to build
FAILED_BUILD = r"""
@nix {"action":"stop","id":27354646708224}
@nix {"action":"start","id":27354646708225,"level":0,"text":"","type":102}
@nix {"action":"start","id":27354646708226,"level":0,"text":"","type":104}
@nix {"action":"start","id":27354646708227,"level":0,"text":"","type":103}
@nix {"action":"result","fields":[0,1,0,0],"id":27354646708226,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":27354646708227,"type":105}
@nix {"action":"result","fields":[101,0],"id":27354646708225,"type":106}
@nix {"action":"result","fields":[100,0],"id":27354646708225,"type":106}
@nix {"action":"start","id":27354646708228,"level":6,"text":"querying info about missing paths","type":0}
@nix {"action":"stop","id":27354646708228}
@nix {"action":"result","fields":[0,2,0,0],"id":27354646708226,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":27354646708227,"type":105}
@nix {"action":"result","fields":[101,0],"id":27354646708225,"type":106}
@nix {"action":"result","fields":[100,0],"id":27354646708225,"type":106}
@nix {"action":"start","fields":["/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-noisy-1.drv","",1,1],"id":27354646708229,"level":3,"text":"building '/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-noisy-1.drv'","type":105}
@nix {"action":"result","fields":[0,2,1,0],"id":27354646708226,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":27354646708227,"type":105}
@nix {"action":"result","fields":[101,0],"id":27354646708225,"type":106}
@nix {"action":"result","fields":[100,0],"id":27354646708225,"type":106}
@nix {"action":"result","fields":["compiling part one"],"id":27354646708229,"type":101}
@nix {"action":"result","fields":["compiling part two"],"id":27354646708229,"type":101}
@nix {"action":"result","fields":["boom"],"id":27354646708229,"type":101}
@nix {"action":"result","fields":[0,1,0,1],"id":27354646708226,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":27354646708227,"type":105}
@nix {"action":"result","fields":[101,0],"id":27354646708225,"type":106}
@nix {"action":"result","fields":[100,0],"id":27354646708225,"type":106}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m builder for '\u001b[35;1m/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-noisy-1.drv\u001b[0m' failed with exit code 3","raw_msg":"builder for '\u001b[35;1m/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-noisy-1.drv\u001b[0m' failed with exit code 3"}
@nix {"action":"stop","id":27354646708229}
@nix {"action":"result","fields":[0,0,0,1],"id":27354646708226,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":27354646708227,"type":105}
@nix {"action":"result","fields":[101,0],"id":27354646708225,"type":106}
@nix {"action":"result","fields":[100,0],"id":27354646708225,"type":106}
@nix {"action":"stop","id":27354646708227}
@nix {"action":"stop","id":27354646708226}
@nix {"action":"stop","id":27354646708225}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m \u001b[35;1m1\u001b[0m dependencies of derivation '\u001b[35;1m/nix/store/isn78qhpalf9gih56axp2hlwa3dl6a23-s-env.drv\u001b[0m' failed to build","raw_msg":"\u001b[35;1m1\u001b[0m dependencies of derivation '\u001b[35;1m/nix/store/isn78qhpalf9gih56axp2hlwa3dl6a23-s-env.drv\u001b[0m' failed to build"}
"""

# the same for a shell whose inputs build (chromium and the env), recorded
GOOD_BUILD = r"""
@nix {"action":"start","id":125791002165248,"level":4,"text":"copying '/tmp/sb/p2'","type":0}
@nix {"action":"stop","id":125791002165248}
@nix {"action":"msg","level":4,"msg":"evaluating file '/nix/store/6lf6daaslq0nmkn3g084fnvz3nzxav70-source/flake.nix'"}
@nix {"action":"start","id":125791002165249,"level":4,"text":"copying '/work/main/tests/standin'","type":0}
@nix {"action":"stop","id":125791002165249}
@nix {"action":"msg","level":4,"msg":"evaluating file '/nix/store/i8g15298bb35cxy9jlrsf086pjm7kc0g-source/flake.nix'"}
@nix {"action":"msg","level":1,"msg":"\u001b[35;1mwarning:\u001b[0m not writing modified lock file of flake 'path:/tmp/sb/p2':\n• \u001b[32;1mAdded input 'nixpkgs':\u001b[0m\n    'path:/work/main/tests/standin?lastModified=1795613937&narHash=sha256-rq2o+2MzE1OTq3GMLBLVrnY5R1vgY3W8qcTto3zoRx0=' (2026-11-25)"}
@nix {"action":"msg","level":4,"msg":"evaluating file '/nix/store/i8g15298bb35cxy9jlrsf086pjm7kc0g-source/default.nix'"}
@nix {"action":"msg","level":4,"msg":"evaluating file '/nix/store/i8g15298bb35cxy9jlrsf086pjm7kc0g-source/lib.nix'"}
@nix {"action":"start","id":125791002165250,"level":0,"text":"","type":102}
@nix {"action":"start","id":125791002165251,"level":0,"text":"","type":104}
@nix {"action":"start","id":125791002165252,"level":0,"text":"","type":103}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"start","id":125791002165253,"level":6,"text":"querying info about missing paths","type":0}
@nix {"action":"stop","id":125791002165253}
@nix {"action":"result","fields":[0,2,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,3,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,4,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,5,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,6,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,7,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,8,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,9,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,8,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,7,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,6,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,5,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,4,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,3,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[0,2,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,1,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"start","fields":["/nix/store/1zz9d6rck3nlyck8dhbq6mxjpd3ynhx6-chromium-124.0.6367.78.drv","",1,1],"id":125791002165254,"level":3,"text":"building '/nix/store/1zz9d6rck3nlyck8dhbq6mxjpd3ynhx6-chromium-124.0.6367.78.drv'","type":105}
@nix {"action":"result","fields":[0,2,1,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[1,2,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"stop","id":125791002165254}
@nix {"action":"start","fields":["/nix/store/ag2rh5zx9z3i6mrlc4j7cj2yl4ainlbv-web-env.drv","",1,1],"id":125791002165255,"level":3,"text":"building '/nix/store/ag2rh5zx9z3i6mrlc4j7cj2yl4ainlbv-web-env.drv'","type":105}
@nix {"action":"result","fields":[1,2,1,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[2,2,0,0],"id":125791002165251,"type":105}
@nix {"action":"result","fields":[0,0,0,0],"id":125791002165252,"type":105}
@nix {"action":"result","fields":[101,0],"id":125791002165250,"type":106}
@nix {"action":"result","fields":[100,0],"id":125791002165250,"type":106}
@nix {"action":"stop","id":125791002165255}
@nix {"action":"stop","id":125791002165252}
@nix {"action":"stop","id":125791002165251}
@nix {"action":"stop","id":125791002165250}

"""

# substituting from a binary cache: the shape Nix emits (copyPaths, copyPath with
# per-path byte progress, fileTransfer with download bytes)
SUBSTITUTE = r"""
@nix {"action":"start","id":1,"level":0,"text":"","type":102}
@nix {"action":"start","id":2,"level":0,"text":"","type":104,"parent":1}
@nix {"action":"start","id":3,"level":0,"text":"","type":103,"parent":1}
@nix {"action":"result","fields":[0,2,0,0],"id":3,"type":105}
@nix {"action":"result","fields":[100,3000],"id":1,"type":106}
@nix {"action":"result","fields":[101,1500],"id":1,"type":106}
@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-openssl-3.0.13","https://cache.example.org","local"],"id":4,"level":4,"text":"copying path '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-openssl-3.0.13' from 'https://cache.example.org'","type":100,"parent":3}
@nix {"action":"start","fields":["https://cache.example.org/nar/abc.nar.xz"],"id":5,"level":4,"text":"downloading 'https://cache.example.org/nar/abc.nar.xz'","type":101,"parent":4}
@nix {"action":"result","fields":[500,1000,0,0],"id":5,"type":105}
@nix {"action":"result","fields":[1000,2000,0,0],"id":4,"type":105}
@nix {"action":"result","fields":[1000,1000,0,0],"id":5,"type":105}
@nix {"action":"stop","id":5}
@nix {"action":"result","fields":[2000,2000,0,0],"id":4,"type":105}
@nix {"action":"stop","id":4}
@nix {"action":"result","fields":[1,2,0,0],"id":3,"type":105}
"""


def run(text: str) -> tuple[NixLogParser, list]:
    p = NixLogParser(action_id="env:web")
    events = []
    for line in text.strip("\n").splitlines():
        events.extend(p.feed(line))
    return p, events


def test_failed_build_reports_error_log_lines_and_failure_count():
    p, events = run(FAILED_BUILD)
    logs = [e.line for e in events if isinstance(e, LogLine)]
    assert "building noisy-1" in logs
    assert ["noisy-1> compiling part one", "noisy-1> compiling part two", "noisy-1> boom"] == \
        [line for line in logs if line.startswith("noisy-1> ")]
    assert p.errors[0] == ("error: builder for '/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-noisy-1.drv' "
                           "failed with exit code 3")
    assert "dependencies of derivation" in p.errors[1]
    assert "\x1b" not in p.error_text()
    assert p.failed_build_log() == ["compiling part one", "compiling part two", "boom"]
    progress = [e for e in events if isinstance(e, NixProgress)]
    assert max(e.builds_failed for e in progress) == 1
    assert any(e.running == ["noisy-1"] for e in progress)
    assert all(e.action_id == "env:web" for e in events)
    errors = [e for e in events if isinstance(e, LogLine) and e.level == "error"]
    assert len(errors) == 2


def test_successful_build_counts_builds_done_of_expected():
    p, events = run(GOOD_BUILD)
    progress = [e for e in events if isinstance(e, NixProgress)]
    assert (progress[-1].builds_done, progress[-1].builds_expected) == (2, 2)
    assert progress[-1].running == []
    assert progress[-1].summary().startswith("2 of 2 built")
    generic = [e for e in events if isinstance(e, ActionProgress)]
    assert generic[-1].unit == "builds" and (generic[-1].done, generic[-1].total) == (2, 2)
    assert "building chromium-124.0.6367.78" in [e.line for e in events if isinstance(e, LogLine)]
    warn = [e for e in events if isinstance(e, LogLine) and e.level == "warn"]
    assert warn and warn[0].line.startswith("warning: not writing modified lock file")
    assert not p.errors


def test_progress_is_emitted_only_when_something_changed():
    _, events = run(GOOD_BUILD)
    progress = [e for e in events if isinstance(e, NixProgress)]
    snaps = [NixLogParser._snapshot(e) for e in progress]
    assert len(snaps) >= 5
    assert all(a != b for a, b in zip(snaps, snaps[1:]))


def test_substitution_counts_paths_bytes_and_downloads():
    p, events = run(SUBSTITUTE)
    last = p.progress()
    assert (last.paths_done, last.paths_expected) == (1, 2)
    assert (last.bytes_done, last.bytes_expected) == (2000, 3000)
    assert (last.downloads_done, last.downloads_expected) == (1, 1)
    assert (last.download_bytes_done, last.download_bytes_expected) == (1000, 1500)
    assert last.summary() == "1 of 2 downloaded (2.0 KiB of 2.9 KiB)"
    byte_events = [e for e in events if isinstance(e, ActionProgress) and e.unit == "bytes"]
    assert byte_events[-1].done == 2000 and byte_events[-1].total == 3000
    assert "copying openssl-3.0.13" in [e.line for e in events if isinstance(e, LogLine)]


def test_plain_and_broken_lines_pass_through():
    p = NixLogParser()
    assert p.feed("") == []
    (e,) = p.feed("\x1b[31;1merror:\x1b[0m plain text")
    assert isinstance(e, LogLine) and e.line == "error: plain text"
    (e,) = p.feed("@nix {not json")
    assert isinstance(e, LogLine) and e.line == "@nix {not json"
    assert p.feed("@nix []") == []
    assert p.feed('@nix {"action":"stop","id":99}') == []
    assert p.feed('@nix {"action":"result","id":99,"type":105,"fields":[1,2,0,0]}') == []


def test_helpers():
    assert store_name("/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-noisy-1.drv") == "noisy-1"
    assert store_name("/nix/store/msd7syjnn5llf3b05hr11dc3llcskj3p-web-env") == "web-env"
    assert strip_ansi("\x1b[35;1mx\x1b[0m") == "x"
    assert human_bytes(512) == "512 B" and human_bytes(3 * 1024 * 1024) == "3.0 MiB"
