#!/usr/bin/env python3
"""Warm direnv loads of one project shell, side by side in one run.

Every contender is a project whose .envrc loads the same team profile's shell, timed as
`direnv exec DIR true` (direnv's whole evaluation of the .envrc), interleaved repetitions:

  use onboard       `use onboard demo`: onboard's direnv library, warm cache
  source env.sh     `source <cache>/env.sh`: the cached environment, nothing else
  empty .envrc      direnv's own cost
  use flake         direnv's stdlib `use flake` on the rendered flake (re-evaluates each load)
  use nix           direnv's stdlib `use nix` on the rendered shell.nix (nix-shell each load)
  nix-direnv        nix-direnv's `use flake` on the rendered flake (its own cache), when the
                    path of its direnvrc is given with --nix-direnv (it is not in Debian:
                    without it the row is skipped, with a note)

and, outside direnv, the warm `onboard shell demo -- true` (every identity check of an
entry: project root, hold, manifest, input stats, Nix binary, GC root).

The profile is rendered by onboard with nixpkgs swapped for the stand-in package set in
tests/standin (no binary cache here). Evaluating the stand-in costs almost nothing, so the
`use flake` / `use nix` rows measure Nix's fixed start-up; with a real nixpkgs they add
seconds on every load. The onboard rows are the same with either.

Goals: `use onboard` within 1.1x of sourcing the cached file; warm `onboard shell` within
python start-up + sourcing + 3 ms (bench_shell.py measures that one more closely).

Run: .venv/bin/python bench/bench_direnv.py [--runs N] [--nix-direnv PATH/TO/direnvrc]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "tests" / "standin"
NIX_CONFIG = "\n".join(["sandbox = false", "substituters =", "flake-registry =",
                        "experimental-features = nix-command flakes"])
PROFILE = """name: demo
description: bench profile
nixpkgs:
  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674
  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=
packages: [hello, git, jq]
env:
  DEMO_VAR: demo value
"""


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(project: Path, env: dict[str, str]) -> tuple[float, float]:
    c0 = children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(["direnv", "exec", str(project), "true"], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"direnv exec {project} failed:\n{r.stderr}")
    return wall, children_cpu() - c0


def check(project: Path, env: dict[str, str], want: str) -> None:
    r = subprocess.run(["direnv", "exec", str(project), "sh", "-c", 'echo "$DEMO_VAR"'], env=env,
                       capture_output=True, text=True)
    if r.stdout.strip() != want:
        raise SystemExit(f"{project}: expected DEMO_VAR={want!r}, got {r.stdout.strip()!r}\n{r.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--nix-direnv", metavar="DIRENVRC", default="",
                    help="nix-direnv's direnvrc (its `use flake` is timed too); skipped without it")
    args = ap.parse_args()
    for tool in ("direnv", "nix", "nix-shell"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_direnv needs {tool} on PATH")
    tmp = Path(tempfile.mkdtemp(prefix="bench-direnv-"))
    try:
        home = tmp / "home"
        home.mkdir()
        env = dict(os.environ)
        for k in ("DIRENV_DIR", "DIRENV_FILE", "DIRENV_DIFF", "DIRENV_WATCHES", "ONBOARD_BIN"):
            env.pop(k, None)
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_STATE_HOME=str(home / ".local/state"), XDG_DATA_HOME=str(home / ".local/share"),
                   NIX_CONFIG=NIX_CONFIG, ONBOARD_NIXPKGS_OVERRIDE=str(STANDIN),
                   ONBOARD_PROFILES_DIR=str(tmp / "profiles"), PYTHONPATH=str(ROOT), NO_COLOR="1")
        (tmp / "profiles").mkdir()
        (tmp / "profiles" / "demo.yaml").write_text(PROFILE)
        os.environ.update({k: env[k] for k in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
                                               "XDG_DATA_HOME", "ONBOARD_PROFILES_DIR")})
        sys.path.insert(0, str(ROOT))
        from onboard.core.engine.plan import Plan, apply_plan
        from onboard.core.integrations import direnv as dv

        if not apply_plan(Plan(name="bench", actions=[dv.library_action()]), lock=False).ok:
            raise SystemExit("could not install the direnv library")
        r = subprocess.run([sys.executable, "-m", "onboard", "shell", "demo", "--print-env"], env=env,
                           capture_output=True, text=True, cwd=tmp)
        if r.returncode != 0:
            raise SystemExit(f"onboard shell demo --print-env failed:\n{r.stderr}")
        env_sh = Path(r.stdout.strip().splitlines()[-1])
        rendered = env_sh.parent / "flake"

        envrcs = {
            "use onboard": "use onboard demo\n",
            "source env.sh": f"source {env_sh}\n",
            "empty .envrc": "",
            "use flake": f"use flake path:{rendered} --override-input nixpkgs path:{STANDIN} "
                         "--no-write-lock-file\n",
            "use nix": f"use nix {rendered / 'shell.nix'} --arg nixpkgs {STANDIN} -I nixpkgs={STANDIN}\n",
        }
        note = ""
        if args.nix_direnv and os.path.isfile(args.nix_direnv):
            envrcs["nix-direnv"] = (f"source {args.nix_direnv}\nuse flake path:{rendered} --override-input nixpkgs "
                                    f"path:{STANDIN} --no-write-lock-file\n")
        else:
            note = ("nix-direnv: skipped (not packaged in Debian; pass --nix-direnv PATH/TO/direnvrc to time "
                    "its `use flake`)" + (f": {args.nix_direnv} is not a file" if args.nix_direnv else ""))
        projects: dict[str, Path] = {}
        for i, (name, text) in enumerate(envrcs.items()):
            p = tmp / f"p{i}"
            p.mkdir()
            (p / ".envrc").write_text(text)
            subprocess.run(["direnv", "allow", str(p)], env=env, check=True)
            projects[name] = p
        for name, p in projects.items():
            if name != "empty .envrc":
                check(p, env, "demo value")
            timed(p, env)  # warm up (use flake writes its profile link once)
        walls: dict[str, list[float]] = {n: [] for n in projects}
        cpus: dict[str, list[float]] = {n: [] for n in projects}
        shell_argv = [sys.executable, "-m", "onboard", "shell", "demo", "--", "true"]
        py_argv = [sys.executable, "-c", "pass"]
        extra: dict[str, list[float]] = {"onboard shell": [], "python": []}
        for _ in range(args.runs):
            for name, p in projects.items():
                w, c = timed(p, env)
                walls[name].append(w)
                cpus[name].append(c)
            for name, argv in (("onboard shell", shell_argv), ("python", py_argv)):
                t0 = time.perf_counter()
                subprocess.run(argv, env=env, cwd=tmp, check=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                extra[name].append(time.perf_counter() - t0)
        med = {n: statistics.median(v) * 1000 for n, v in walls.items()}
        cmed = {n: statistics.median(v) * 1000 for n, v in cpus.items()}
        nix = subprocess.run(["nix", "--version"], capture_output=True, text=True).stdout.strip()
        direnv = subprocess.run(["direnv", "version"], capture_output=True, text=True).stdout.strip()
        print(f"warm direnv loads, `direnv exec DIR true`, median of {args.runs} "
              f"({nix}, direnv {direnv}, stand-in nixpkgs)")
        print(f"  {'contender':<16}{'wall ms':>10}{'cpu ms':>10}")
        for name in projects:
            print(f"  {name:<16}{med[name]:>10.1f}{cmed[name]:>10.1f}")
        if note:
            print(f"  {note}")
        ratio = med["use onboard"] / med["source env.sh"]
        cratio = cmed["use onboard"] / cmed["source env.sh"]
        print(f"use onboard / source env.sh: {ratio:.2f}x wall, {cratio:.2f}x cpu (goal <= 1.1x): "
              f"{'met' if ratio <= 1.1 else 'NOT met'}")
        if "nix-direnv" in med:
            print(f"use onboard / nix-direnv:    {med['use onboard'] / med['nix-direnv']:.2f}x wall")
        sh = statistics.median(extra["onboard shell"]) * 1000
        py = statistics.median(extra["python"]) * 1000
        src = med["source env.sh"] - med["empty .envrc"]
        print(f"warm onboard shell: {sh:.1f} ms; python start-up {py:.1f} ms + sourcing {src:.1f} ms + 3 ms = "
              f"{py + src + 3:.1f} ms: {'met' if sh <= py + src + 3 else 'NOT met'} (a rough figure, wall clock "
              "only: bench_shell.py times it interleaved, with CPU time)")
        print(f"use onboard / use flake:     {med['use onboard'] / med['use flake']:.2f}x wall "
              "(the stand-in evaluates in no time: with a real nixpkgs use flake pays seconds each load)")
        print(f"use onboard / use nix:       {med['use onboard'] / med['use nix']:.2f}x wall")
        print(f"onboard's own cost above an empty .envrc: {med['use onboard'] - med['empty .envrc']:.1f} ms; "
              f"sourcing alone: {med['source env.sh'] - med['empty .envrc']:.1f} ms")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
