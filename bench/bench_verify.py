#!/usr/bin/env python3
"""`onboard verify` against Nix's own two commands on the same closure, side by side.

One run, interleaved repetitions. A project whose profile takes `benchdeps` from a copy of
the stand-in package set (tests/standin) with one package added: it depends on N small
derivations (default 300) of a file each (--kib, default 256), so the closure has a few hundred store paths. Contenders:

  onboard verify       python -m onboard verify web   (locate, record, Nix's checks, the venv)
  ..., installed       the same from a venv where onboard is an installed package (this
                       checkout's editable install adds an import finder to every start)
  onboard start-up     python -m onboard verify --help (the interpreter and the command line)
  nix (both)           nix path-info -r --json ROOT; then nix store verify --no-trust -r ROOT
  nix path-info        alone
  nix store verify     alone

Goal: onboard verify <= 1.2 x (nix path-info + nix store verify). onboard runs the two Nix
commands side by side, so its floor is the slower of them plus its own start-up.

Run: .venv/bin/python bench/bench_verify.py [--deps N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import NIX, NIX_CONFIG, PIN, ROOT, STANDIN, installed_python  # noqa: E402


def package_set(dest: Path, deps: int, kib: int) -> None:
    shutil.copytree(STANDIN, dest, ignore=shutil.ignore_patterns("uv-bin"))
    nix = dest / "default.nix"
    text = nix.read_text()
    tail = "  };\nin\npkgs"
    assert text.rstrip().endswith(tail), "the stand-in's default.nix changed shape"
    extra = ('    benchdeps = mk { name = "benchdeps-1.0"; extra = { deps = builtins.genList (i: mk { '
             'name = "benchdep-${toString i}-1.0"; script = "mkdir -p $out; echo ${toString i} > $out/v; '
             f'head -c {kib * 1024} /dev/urandom > $out/blob"; }}) '
             f'{deps}; }}; script = "mkdir -p $out; echo $deps > $out/deps"; }};\n')
    cut = text.rstrip()[: -len(tail)]
    nix.write_text(cut + extra + tail + "\n")


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed (exit {r.returncode}): {' '.join(argv)}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deps", type=int, default=300)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--kib", type=int, default=256, help="size of each dependency's file (KiB)")
    opts = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="onboard-bench-verify-"))
    try:
        pkgs = tmp / "nixpkgs"
        package_set(pkgs, opts.deps, opts.kib)
        proj = tmp / "proj"
        (proj / "profiles").mkdir(parents=True)
        (proj / ".git").mkdir()
        (proj / "profiles" / "web.yaml").write_text("name: web\n" + PIN + "packages: [hello, benchdeps]\n")
        env = dict(os.environ, HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "home/.cache"),
                   XDG_STATE_HOME=str(tmp / "home/.local/state"), NIX_CONFIG=NIX_CONFIG,
                   ONBOARD_NIXPKGS_OVERRIDE=str(pkgs), PYTHONPATH=str(ROOT), NO_COLOR="1")
        # PYTHONDONTWRITEBYTECODE would recompile every changed module on each run: an
        # installed onboard has its bytecode
        for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "CI", "PYTHONDONTWRITEBYTECODE"):
            env.pop(k, None)
        print(f"building a profile with {opts.deps} extra dependencies (stand-in package set)...", file=sys.stderr)
        timed([sys.executable, "-m", "onboard", "shell", "web", "--print-env"], env, str(proj))
        onboard = [sys.executable, "-m", "onboard", "verify", "web"]
        startup = [sys.executable, "-m", "onboard", "verify", "--help"]
        installed = [installed_python(tmp / "installed"), "-m", "onboard", "verify", "web"]
        timed(onboard, env, str(proj))
        key = str(proj).replace("_", "_u").replace("/", "_s")
        gcroot = os.path.realpath(tmp / "home/.cache/onboard/env" / key / "web" / "gcroot")
        closure = subprocess.run(NIX + ["path-info", "-r", gcroot], capture_output=True, text=True, env=env)
        n = len(closure.stdout.split())
        path_info = NIX + ["path-info", "-r", "--json", gcroot]
        verify = NIX + ["store", "verify", "--no-trust", "-r", gcroot]
        env_inst = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        timed(installed, env_inst, str(proj))
        times: dict[str, list[float]] = {k: [] for k in ("onboard verify", "onboard verify, installed", "nix (both)",
                                                          "nix path-info", "nix store verify", "onboard start-up")}
        for _ in range(opts.runs):
            times["onboard verify"].append(timed(onboard, env, str(proj)))
            times["onboard verify, installed"].append(timed(installed, env_inst, str(proj)))
            times["onboard start-up"].append(timed(startup, env, str(proj)))
            a = timed(path_info, env, str(proj))
            b = timed(verify, env, str(proj))
            times["nix path-info"].append(a)
            times["nix store verify"].append(b)
            times["nix (both)"].append(a + b)
        size = subprocess.run(NIX + ["path-info", "-S", gcroot], capture_output=True, text=True, env=env)
        mib = int(size.stdout.split()[-1]) / (1 << 20) if size.stdout.split() else 0
        print(f"closure: {n} store paths, {mib:.0f} MiB; {opts.runs} interleaved runs; median (min) wall time")
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, v in times.items():
            print(f"  {k:<26} {med[k] * 1000:8.1f} ms  ({min(v) * 1000:.1f})")
        ratio = med["onboard verify"] / med["nix (both)"]
        print(f"onboard verify / (nix path-info + nix store verify) = {ratio:.2f}x (goal <= 1.2x); installed "
              f"(no editable-install finder at start-up) {med['onboard verify, installed'] / med['nix (both)']:.2f}x")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
