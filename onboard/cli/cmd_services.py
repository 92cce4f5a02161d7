"""onboard services: the profile's PostgreSQL, Redis and commands of your own, on loopback."""

from __future__ import annotations

import argparse
from typing import Any, Optional

from onboard.cli.output import Output

HELP = "start, stop and inspect the profile's services (PostgreSQL, Redis, your own)"
DESCRIPTION = """\
The services a profile declares under `services:`, for this project (default: the
nearest directory above here holding profiles/), of its active profile (or --profile P).

  onboard services up [NAME...]     start them; returns once every one answers
  onboard services down             stop them all (data is kept)
  onboard services status [--json] state, pid, port, data directory, uptime, last log lines
  onboard services logs [-f] NAME   a service's output
  onboard services restart NAME     stop and start one
  onboard services reset NAME       wipe one's data (asks first), then start it again if it ran
  onboard services env              the variables the shell gets (PGPORT, DATABASE_URL, ...)

Ports are chosen at the first up (free loopback ports for `port: auto`) and kept. The
variables are exported by `onboard shell` and the direnv library whether the services run
or not. `onboard shell P --services -- CMD` starts them, runs CMD and stops them again
(--ephemeral: on data in a temporary directory, removed afterwards). See docs/services.md.
"""

ACTIONS = ("up", "down", "status", "logs", "restart", "reset", "env")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=ACTIONS, metavar="ACTION", help=", ".join(ACTIONS))
    p.add_argument("names", nargs="*", metavar="NAME", help="services (default: all of the profile's)")
    p.add_argument("--profile", metavar="P", default=None, help="the profile (default: the active one)")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory (default: the project root above here)")
    p.add_argument("-f", "--follow", action="store_true", help="logs: keep printing new lines")
    p.add_argument("--lines", "-n", type=int, default=40, metavar="N", help="logs: the last N lines (40)")
    p.add_argument("--new-ports", action="store_true", help="up: choose new free ports for `port: auto`")


def _load(args: argparse.Namespace, out: Output) -> Optional[tuple[str, Any, list[str]]]:
    import os
    from pathlib import Path

    from onboard.core import project as projects
    from onboard.core.profiles import cache
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    root = projects.resolve(args.project)
    if root is None or not os.path.isdir(root):
        out.error("no project here: services belong to a project (a directory with profiles/)",
                  "run this inside the project, or give it: --project DIR")
        return None
    # `down` and `status` work on what runs: they need no profile (none active, or one that no
    # longer loads, still leaves services to stop and to show)
    lenient = args.action in ("down", "status") and not args.profile
    name = args.profile or cache.active_name(root)
    if not name:
        if lenient:
            return root, None, []
        out.error(f"{root} has no active profile", "make one active (onboard switch NAME), or give --profile NAME")
        return None
    dirs = projects.profile_dirs(root)
    try:
        profile = load_profile(name, dirs=[Path(d) for d in dirs])
    except SchemaError as exc:
        if lenient:
            if not out.json:
                out.info(f"onboard: profile {name} cannot be loaded ({exc.problems[0] if exc.problems else 'invalid'}); "
                         "showing what runs")
            return root, None, dirs
        out.error(f"cannot load profile {name}:\n" + "\n".join(f"  {p}" for p in exc.problems),
                  "fix the profile (onboard profiles validate)")
        return None
    return root, profile, dirs


def _progress(out: Output) -> Any:
    from onboard.core.services.control import Progress

    labels = {"waiting": "waiting", "initializing": "creating its data (first start)", "starting": "starting",
              "ready": "ready", "failed": "failed", "exited": "exited"}

    def emit(ev: Any) -> None:
        if isinstance(ev, Progress) and ev.service != "*" and not out.json:
            out.info(f"  {ev.service}: {labels.get(ev.state, ev.state)} ({ev.seconds:.2f} s)"
                     + (f": {ev.message}" if ev.message and ev.state == "ready" else ""))
    return emit


def _fail(out: Output, exc: Any) -> int:
    for line in exc.log[-20:]:
        out.info(f"  | {line}")
    out.error(exc.message, exc.hint)
    return 1


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.services import control

    loaded = _load(args, out)
    if loaded is None:
        return 1
    root, profile, dirs = loaded
    if profile is not None and not profile.services and args.action not in ("down", "status"):
        out.error(f"profile {profile.name} has no services", "add `services:` to it (see docs/services.md)")
        return 1
    try:
        if args.action == "up":
            return _up(args, out, root, profile, dirs)
        if args.action == "down":
            if out.dry_run:
                out.line(f"would stop the services of {root}" if control.running(root)
                         else f"no services run in {root}")
                return 0
            was = control.running(root) or bool(control.strays(root))
            left = control.down(root)
            if left:
                out.error(f"could not stop pids {', '.join(left)}", "stop them by hand (kill -9 PID)")
                return 1
            if out.json:
                out.emit_json(project=root, stopped=was)
            else:
                out.line(f"services of {root} stopped (data kept)" if was else f"no services were running in {root}")
            return 0
        if args.action == "status":
            rows = control.status(root, profile)
            if out.json:
                out.emit_json(project=root, profile=profile.name if profile else None, services=rows)
                return 0
            if not rows:
                out.line(f"profile {profile.name} has no services" if profile else f"no services run in {root}")
            for r in rows:
                up_for = f", up {_ago(r['uptime'])}" if r.get("uptime") is not None else ""
                pid = f", pid {r['pid']}" if r.get("pid") and r["state"] != "stopped" else ""
                port = f" on 127.0.0.1:{r['port']}" if r.get("port") else ""
                out.line(f"{r['name']}: {r['state']}{port}{pid}{up_for}")
                out.line(f"  data: {r['data_dir']}" + ("  (ephemeral)" if r.get("ephemeral") else ""))
                if r.get("message"):
                    out.line(f"  {r['message']}")
                for line in r.get("log_tail") or []:
                    out.line(f"  | {line}")
            return 0
        if args.action == "env":
            values = control.ensure_variables(root, profile)
            if out.json:
                out.emit_json(project=root, profile=profile.name, variables=values)
            else:
                for k, v in sorted(values.items()):
                    out.line(f"{k}={v}")
            return 0
        if len(args.names) != 1:
            out.error(f"`onboard services {args.action}` takes one service name",
                      f"onboard services {args.action} NAME (one of: {', '.join(sorted(profile.services))})")
            return 2
        name = args.names[0]
        control.wanted(profile, [name])
        if args.action == "logs":
            return _logs(args, out, root, name)
        if args.action == "restart":
            if out.dry_run:
                out.line(f"would restart {name}")
                return 0
            res = control.restart(root, profile, name, emit=_progress(out))
            out.line(f"{name} restarted ({res.seconds:.2f} s)")
            return 0
        if args.action == "reset":
            from onboard.core.services.model import specs

            spec = next(s for s in specs(profile.services) if s.name == name)
            data = control._data_dir(root, spec)
            if out.dry_run:
                out.line(f"would delete {data} (the data of {name})")
                return 0
            if not out.confirm(f"delete every piece of data of {name} in {data}?"):
                out.error("nothing deleted", "to delete it: onboard services reset NAME --yes")
                return 1
            control.reset(root, profile, name, emit=_progress(out))
            out.line(f"{name}: data deleted ({data})")
            return 0
    except control.ServicesError as exc:
        return _fail(out, exc)
    except KeyboardInterrupt:
        out.info("interrupted: stopping what was started")
        control.down(root)
        raise
    return 2


def _up(args: argparse.Namespace, out: Output, root: str, profile: Any, dirs: list[str]) -> int:
    from onboard.core.services import control

    chosen = control.wanted(profile, args.names or None)
    if out.dry_run:
        values = control.variables(root, profile)
        if out.json:
            out.emit_json(dry_run=True, project=root, services=[s.name for s in chosen], variables=values)
            return 0
        out.line(f"would start in {root}: " + ", ".join(f"{s.name} ({s.label})" for s in chosen))
        out.line("  ports: chosen at the first up (free loopback ports for `auto`) and kept; data in the "
                 "project's state directory")
        return 0
    reporter = out.reporter()
    try:
        res = control.up(root, profile, args.names or None, emit=_progress(out), new_ports=args.new_ports,
                         dirs=dirs, build_emit=reporter)
    finally:
        reporter.close()
    rows = {r["name"]: r for r in control.status(root, profile, alive=True)}  # up just saw them ready
    if out.json:
        out.emit_json(project=root, profile=profile.name, started=res.started, seconds=round(res.seconds, 3),
                      services=[rows[n] for n in res.services if n in rows])
        return 0
    what = "up" if res.started else "already up"
    out.line(f"services {what} in {res.seconds:.2f} s: " + ", ".join(
        f"{n} on 127.0.0.1:{rows[n]['port']}" if rows.get(n, {}).get("port") else n for n in res.services))
    return 0


def _logs(args: argparse.Namespace, out: Output, root: str, name: str) -> int:
    import os
    import sys
    import time

    from onboard.core.services import control, state

    path = state.log_file(root, name)
    if not os.path.exists(path):
        out.error(f"{name} has no log yet ({path})", "start it: onboard services up")
        return 1
    for line in control.tail(path, max(1, args.lines)):
        out.line(line)
    if not args.follow:
        return 0
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            chunk = fh.readline()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.2)


def _ago(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h"
