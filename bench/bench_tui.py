#!/usr/bin/env python3
"""TUI benchmark, in a real terminal (tmux, 80x24), side by side in one run.

1. Start-up: time from spawning `python -m onboard` to the Welcome screen being drawn,
   next to `python -c pass` and a minimal Textual app that draws one word (the floor
   Textual itself sets). Goal: first screen under 0.5 s.
2. Responsiveness: the largest gap between ticks of a 10 ms timer on the event loop
   while a demo install floods the UI with progress events (an action emitting N
   progress and log events as fast as it can), through onboard's bridge (merged,
   at most ~30 renders/s) and, for comparison, with one message per event. Goal: no
   stall over 100 ms.

3. Apply to a usable shell: a stand-in profile's plan (direnv hook, .envrc, the profile's
   build as the last step) applied from the guided setup's Apply (in-process, the real
   services) until `onboard shell base -- true` runs, next to the same steps run by the CLI
   (`onboard install --mode skip ... --yes`, then the same shell). Goal: within 1.1x. Real Nix
   offline against the stand-in package set (real nixpkgs adds evaluation time to both).

Usage: .venv/bin/python bench/bench_tui.py [--runs 5] [--events 100000] [--skip-apply]
Needs tmux. Uses a temporary HOME and XDG dirs; changes nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


#: a tmux server of the bench's own, kept alive by one idle session for the whole run: a
#: session started while the last one's server is exiting fails ("server exited unexpectedly")
TMUX = ["tmux", "-L", f"onboard-bench-{os.getpid()}"]


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True).stdout


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"),
               PYTHONPATH=str(ROOT), TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    return env


def time_to_screen(cmd: list[str], word: str, home: Path, timeout: float = 10.0) -> float:
    """Spawn `cmd` in a fresh 80x24 tmux session; seconds until `word` is on the screen."""
    name = f"bench-tui-{os.getpid()}-{time.monotonic_ns()}"
    envs = [f"{k}={v}" for k, v in env_for(home).items() if k in
            ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "PYTHONPATH")]
    shell = "env " + " ".join(f"'{e}'" for e in envs) + " " + " ".join(f"'{c}'" for c in cmd) + "; sleep 5"
    t0 = time.monotonic()
    subprocess.run([*TMUX, "new-session", "-d", "-s", name, "-x", "80", "-y", "24", shell], check=True)
    try:
        while time.monotonic() - t0 < timeout:
            if word in tmux("capture-pane", "-p", "-t", name):
                return time.monotonic() - t0
            time.sleep(0.002)
        raise RuntimeError(f"{word!r} did not appear within {timeout} s: {tmux('capture-pane', '-p', '-t', name)}")
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", name], capture_output=True)


MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static
class A(App):
    def compose(self):
        yield Static("Welcome")
A().run()
"""


def bench_startup(runs: int, home: Path) -> dict[str, list[float]]:
    minimal = home / "minimal_app.py"
    minimal.write_text(MINIMAL_APP)
    cases = {
        "python -c pass (then echo)": ([PY, "-c", "print('Welcome')"], "Welcome"),
        "minimal Textual app": ([PY, str(minimal)], "Welcome"),
        "onboard (Welcome screen)": ([PY, "-m", "onboard"], "Welcome to onboard"),
    }
    out: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):  # interleaved, so load changes hit every case alike
        for label, (cmd, word) in cases.items():
            out[label].append(time_to_screen(cmd, word, home))
    return out


# -- responsiveness: runs inside tmux as a child ---------------------------------------------------

def child(result_file: str, events: int, naive: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from onboard.core.engine.plan import preview
    from onboard.tui.app import OnboardApp
    from onboard.tui.bridge import EventBridge
    from onboard.tui.services import Services
    from tests.support.tui_fakes import GATES, fixed_doctor, GOOD, gated_plan

    work = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    plan = gated_plan(work, "bench", n=3, progress=events)
    GATES["bench"].set()
    gaps: list[float] = []
    ticks: list[float] = []
    state = {"last": 0.0, "start": 0.0, "first": 0.0}

    if naive:  # one message per event, no merging, no rate limit: what the bridge avoids
        def naive_call(self, event):  # type: ignore[no-untyped-def]
            self.received += 1
            self.target.app._loop.call_soon_threadsafe(self.deliver, [event])

        EventBridge.__call__ = naive_call  # type: ignore[method-assign]

    class BenchApp(OnboardApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.set_interval(0.01, self.tick)
            self.call_after_refresh(self.go)

        def go(self) -> None:
            rows = preview(plan)
            state["start"] = state["last"] = time.monotonic()
            gaps.clear()
            self.start_apply(plan, rows)
            self.set_interval(0.05, self.check_done)

        def tick(self) -> None:
            now = time.monotonic()
            gaps.append(now - state["last"])
            ticks.append(now)
            state["last"] = now
            screen = self.screen
            if not state["first"] and getattr(getattr(screen, "model", None), "current", ""):
                state["first"] = now  # the flood has reached the screen

        def check_done(self) -> None:
            if type(self.screen).__name__ in ("DoneScreen", "FailureScreen"):
                run = self.state.last_run
                flood = [g for t, g in zip(ticks, gaps) if state["first"] and t > state["first"]]
                Path(result_file).write_text(json.dumps({
                    "status": run.status if run else "?", "seconds": time.monotonic() - state["start"],
                    "max_gap": max(gaps) if gaps else 0, "p99_gap": sorted(gaps)[int(len(gaps) * 0.99)] if gaps else 0,
                    "ticks": len(gaps), "max_gap_flood": max(flood) if flood else 0,
                    "switch": (state["first"] or state["start"]) - state["start"]}))
                self.exit()

    svc = Services(run_checks=fixed_doctor(GOOD), recommend_mode=lambda r: ("single", ""),
                   load_team=lambda: None, build_plan=lambda c: plan)
    BenchApp(svc, demo_dir=str(work)).run()
    shutil.rmtree(work, ignore_errors=True)


def bench_stall(events: int, naive: bool, home: Path) -> dict:
    result = home / f"stall-{'naive' if naive else 'bridge'}.json"
    result.unlink(missing_ok=True)
    name = f"bench-stall-{os.getpid()}-{int(naive)}"
    envs = " ".join(f"'{k}={v}'" for k, v in env_for(home).items() if k.startswith(("HOME", "XDG_", "PYTHONPATH")))
    cmd = (f"env {envs} '{PY}' '{__file__}' --child '{result}' --events {events}" + (" --naive" if naive else "")
           + f" || echo failed > '{home}/child-err.txt'")
    subprocess.run([*TMUX, "new-session", "-d", "-s", name, "-x", "80", "-y", "24", cmd], check=True)
    try:
        end = time.monotonic() + 300
        while time.monotonic() < end and not result.exists():
            time.sleep(0.1)
        if not result.exists():
            raise RuntimeError("the stall run did not finish: " + tmux("capture-pane", "-p", "-t", name)[-2000:])
        time.sleep(0.05)
        return json.loads(result.read_text())
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", name], capture_output=True)


BASE = ("name: base\nnixpkgs:\n  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674\n"
        "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\npackages: [hello]\n")
NIX_CONFIG = "sandbox = false\nsubstituters =\nflake-registry =\nexperimental-features = nix-command flakes"


def _apply_world(tag: str) -> tuple[Path, Path, dict[str, str]]:
    base = Path(tempfile.mkdtemp(prefix=f"bench-apply-{tag}-"))
    home, project = base / "home", base / "project"
    (project / "profiles").mkdir(parents=True)
    (project / "profiles" / "base.yaml").write_text(BASE)
    home.mkdir()
    env = env_for(home)
    env.update(NIX_CONFIG=NIX_CONFIG, ONBOARD_NIXPKGS_OVERRIDE=str(ROOT / "tests" / "standin"),
               XDG_CACHE_HOME=str(home / "cache"), PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    return base, project, env


def _shell(project: Path, env: dict[str, str]) -> None:
    subprocess.run([PY, "-m", "onboard", "shell", "base", "--", "true"], cwd=project, env=env, check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)


def apply_cli() -> float:
    base, project, env = _apply_world("cli")
    try:
        t0 = time.perf_counter()
        subprocess.run([PY, "-m", "onboard", "install", "--mode", "skip", "--with", "direnv", "--project",
                        str(project), "--profile", "base", "--yes"], cwd=project, env=env, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        _shell(project, env)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def apply_tui_child(result_file: str, project: str) -> None:
    import asyncio

    from onboard.core.choices import Choices
    from onboard.tui.app import OnboardApp

    async def run() -> float:
        app = OnboardApp(choices=Choices(mode="skip", components=["direnv"], profile="base", project_dir=project))
        async with app.run_test(size=(80, 24)) as pilot:
            app.show_plan()
            while getattr(app.screen, "plan", None) is None:
                await pilot.pause(0.01)
            t0 = time.perf_counter()
            app.start_apply(app.screen.plan, app.screen.rows)
            while type(app.screen).__name__ not in ("DoneScreen", "FailureScreen"):
                await pilot.pause(0.01)
            assert type(app.screen).__name__ == "DoneScreen", "the apply failed"
            _shell(Path(project), dict(os.environ))
            return time.perf_counter() - t0

    Path(result_file).write_text(json.dumps({"seconds": asyncio.run(run())}))


def apply_tui() -> float:
    base, project, env = _apply_world("tui")
    try:
        out = base / "result.json"
        subprocess.run([PY, __file__, "--apply-child", str(out), str(project)], cwd=project, env=env, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        return float(json.loads(out.read_text())["seconds"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def bench_apply(runs: int) -> None:
    if not shutil.which("nix"):
        print("\napply to a usable shell: skipped (no nix on PATH)")
        return
    cli = [apply_cli() for _ in range(runs)]
    tui = [apply_tui() for _ in range(runs)]
    c, t = statistics.median(cli), statistics.median(tui)
    print(f"\napply to a usable shell (stand-in profile, direnv hook, build as a step; {runs} runs, median):")
    print(f"  CLI: onboard install ... --yes, then onboard shell base -- true   {c * 1000:7.0f} ms "
          f"(min {min(cli) * 1000:.0f})")
    print(f"  TUI: Apply (real services) to Done, then the same shell           {t * 1000:7.0f} ms "
          f"(min {min(tui) * 1000:.0f})")
    print(f"  TUI / CLI: {t / c:.2f}x;  goal within 1.1x: {'met' if t <= 1.1 * c else 'NOT met'} "
          "(the CLI figure includes its start-up and planning; the TUI's starts at Apply)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--child", metavar="RESULT_FILE")
    ap.add_argument("--naive", action="store_true")
    ap.add_argument("--skip-naive", action="store_true", help="do not run the one-message-per-event comparison")
    ap.add_argument("--skip-apply", action="store_true", help="do not time Apply to a usable shell")
    ap.add_argument("--apply-child", nargs=2, metavar=("RESULT_FILE", "PROJECT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.apply_child:
        apply_tui_child(*args.apply_child)
        return 0
    if args.child:
        child(args.child, args.events, args.naive)
        return 0
    if not shutil.which("tmux"):
        print("bench_tui: needs tmux", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="bench-tui-home-"))
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start "
          "(figures scale with load: compare the rows side by side)")
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keep", "sleep 86400"], check=True)
    try:
        print(f"start-up to first drawn screen, 80x24 tmux, {args.runs} runs each (median, min):")
        startup = bench_startup(args.runs, home)
        med = {k: statistics.median(v) for k, v in startup.items()}
        for label, values in startup.items():
            print(f"  {label:<30} {med[label] * 1000:7.0f} ms  (min {min(values) * 1000:.0f} ms)")
        base = med["minimal Textual app"]
        ob = med["onboard (Welcome screen)"]
        print(f"  onboard / minimal Textual app: {ob / base:.2f}x;  goal < 500 ms: "
              f"{'met' if ob < 0.5 else 'NOT met'} ({ob * 1000:.0f} ms)")
        print(f"\nevent-loop stall during a demo install flooding {args.events} progress events "
              "(10 ms timer, largest gap):")
        bridged = bench_stall(args.events, False, home)
        print(f"  onboard bridge (merged, <=30 renders/s): max {bridged['max_gap'] * 1000:6.0f} ms, "
              f"p99 {bridged['p99_gap'] * 1000:5.0f} ms, run {bridged['seconds']:.2f} s, {bridged['status']}")
        print(f"    of which: opening the Apply screen took {bridged['switch'] * 1000:.0f} ms; largest gap "
              f"while the flood was drawn {bridged['max_gap_flood'] * 1000:.0f} ms; {bridged['ticks']} ticks")
        if not args.skip_naive:
            naive = bench_stall(args.events, True, home)
            print(f"  one message per event (naive):           max {naive['max_gap'] * 1000:6.0f} ms, "
                  f"p99 {naive['p99_gap'] * 1000:5.0f} ms, run {naive['seconds']:.2f} s, {naive['status']}")
            print(f"  naive / bridge, largest stall: {naive['max_gap'] / max(bridged['max_gap'], 1e-6):.1f}x; "
                  f"run time: {naive['seconds'] / max(bridged['seconds'], 1e-6):.1f}x")
        print(f"  goal no stall over 100 ms: {'met' if bridged['max_gap'] < 0.1 else 'NOT met'} "
              f"({bridged['max_gap'] * 1000:.0f} ms)")
        if not args.skip_apply:
            bench_apply(max(1, min(args.runs, 3)))
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
