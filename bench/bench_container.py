#!/usr/bin/env python3
"""`onboard export container` next to what any image of a closure costs at least: asking Nix
for the closure (`nix path-info -r`) and a plain `tar` of it.

One run, interleaved repetitions, the environment built once before. The profile takes
`hello`, `bashInteractive` and `payload` from a copy of the stand-in package set where bash is
a real, self-contained copy (tests/support/container_set.py) and `payload` is a copy of a host
directory (default /usr/lib/python3.11: tens of MB in about a thousand files, the shape of a
real closure's share of an interpreter). Contenders:

  onboard export      python -m onboard export container bench --out FILE --yes
                      (the layer digests written down by the run before; and again with none)
  onboard start-up    python -m onboard export --help (the interpreter and the command line)
  installed           the same two from a venv where onboard is installed as a package is
                      (its directory in site-packages), not as this checkout's editable
                      install, whose import finder costs every start of the interpreter a
                      few tens of milliseconds (it imports pathlib, re and importlib.util)
  nix + tar           nix path-info -r ROOT, then tar -cf FILE PATHS...

Goal: onboard export <= 1.5 x (nix path-info -r + tar). Both write an uncompressed archive of
the same files; onboard also reads the environment, and hashes every byte when no layer
digest is written down.

Run: .venv/bin/python bench/bench_container.py [--payload DIR] [--runs N]
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

from benchlib import NIX, NIX_CONFIG, PIN, ROOT, installed_python  # noqa: E402
from tests.support import container_set  # noqa: E402


#: the CPU time (user + system) of each contender's processes, beside its wall-clock time: on a
#: machine others share, the CPU a command needs moves much less than the time it waits for one
CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv: list[str], env: dict[str, str], cwd: str, label: str = "") -> float:
    t0, c0 = time.perf_counter(), _children_cpu()
    r = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} failed: {r.stderr.strip()[-400:]}")
    if label:
        CPU.setdefault(label, []).append(_children_cpu() - c0)
    return took


def nix_and_tar(root: str, out: str, env: dict[str, str]) -> float:
    t0, c0 = time.perf_counter(), _children_cpu()
    r = subprocess.run([*NIX, "path-info", "-r", root], env=env, capture_output=True, text=True, check=True)
    paths = r.stdout.split()
    subprocess.run(["tar", "-cf", out, *paths], env=env, check=True, stderr=subprocess.DEVNULL)
    CPU.setdefault("nix + tar", []).append(_children_cpu() - c0)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--payload", default="/usr/lib/python3.11", help="a host directory the payload package copies")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not shutil.which("nix"):
        sys.exit("needs nix on PATH")
    base = Path(tempfile.mkdtemp(prefix="bench-container-"))
    # both archives go to memory when it can hold them: the disk's write-back of one run's
    # file would otherwise land on the next run, whichever contender that is
    outs = Path(tempfile.mkdtemp(prefix="bench-container-out-",
                                 dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    try:
        pkgs = container_set.make(base / "pkgs", payload=a.payload)
        home = base / "home"
        proj = base / "proj"
        (proj / "profiles").mkdir(parents=True)
        (proj / ".git").mkdir()
        (proj / "profiles" / "bench.yaml").write_text(
            "name: bench\n" + PIN + "packages: [hello, bashInteractive, payload]\nenv:\n  WHO: bench\n")
        env = dict(os.environ, NIX_CONFIG=NIX_CONFIG, ONBOARD_NIXPKGS_OVERRIDE=str(pkgs), HOME=str(home),
                   XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".state"), PYTHONPATH=str(ROOT),
                   NO_COLOR="1")
        for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "ONBOARD_NIX_BACKEND", "CI", "PYTHONDONTWRITEBYTECODE"):
            env.pop(k, None)  # as installed: onboard's bytecode is written once, then used
        py = [sys.executable, "-m", "onboard"]
        installed = installed_python(base / "installed")
        r = subprocess.run([*py, "shell", "bench", "--print-env"], env=env, cwd=str(proj), capture_output=True,
                           text=True)
        if r.returncode != 0:
            sys.exit(f"building the environment failed: {r.stderr.strip()[-400:]}")
        root = os.path.realpath(next(home.glob(".cache/onboard/env/*/bench/gcroot")))
        refs = subprocess.run([*NIX, "path-info", "-r", root], env=env, capture_output=True, text=True).stdout.split()
        size = subprocess.run(["du", "-scb", "--apparent-size", *refs], capture_output=True, text=True)
        total = size.stdout.split()[-2] if size.returncode == 0 else "?"
        out_a, out_b = str(outs / "image.tar"), str(outs / "plain.tar")
        export = [*py, "export", "container", "bench", "--out", out_a, "--yes"]
        export_inst = [installed, "-m", "onboard", *export[3:]]
        env_inst = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        timed(export, env, str(proj))  # warm the page cache for both
        timed(export_inst, env_inst, str(proj))
        nix_and_tar(root, out_b, env)
        cold = "onboard export, no layer digests cached"
        inst = "onboard export, installed"
        times: dict[str, list[float]] = {"onboard export": [], cold: [], "onboard start-up": [], inst: [],
                                         "onboard start-up, installed": [], "nix + tar": []}
        for _ in range(a.runs):
            for f in (out_a, out_b):  # both write a new file (replacing one costs its blocks' release)
                os.unlink(f)
            times["onboard export"].append(timed(export, env, str(proj), "onboard export"))
            times["nix + tar"].append(nix_and_tar(root, out_b, env))
            os.unlink(out_a)
            times[inst].append(timed(export_inst, env_inst, str(proj), inst))
            times["onboard start-up, installed"].append(timed([installed, "-m", "onboard", "export", "--help"],
                                                              env_inst, str(proj), "onboard start-up, installed"))
            os.unlink(out_a)
            shutil.rmtree(home / ".cache" / "onboard" / "containers", ignore_errors=True)
            times[cold].append(timed(export, env, str(proj), cold))
            times["onboard start-up"].append(timed([*py, "export", "--help"], env, str(proj), "onboard start-up"))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"closure: {len(refs)} store paths, {total} bytes of files (payload {a.payload}); "
              f"image {os.path.getsize(out_a)} bytes, plain tar {os.path.getsize(out_b)} bytes; "
              f"{a.runs} runs, medians:")
        cpu = {k: statistics.median(v) for k, v in CPU.items()}
        for k, v in med.items():
            print(f"  {k:40s} {v * 1000:8.0f} ms   (min {min(times[k]) * 1000:.0f}; "
                  f"CPU {cpu.get(k, 0) * 1000:.0f} ms)")
        ratio = med["onboard export"] / med["nix + tar"]
        print(f"onboard export / (nix path-info -r + tar) = {ratio:.2f}x (goal <= 1.5x); "
              f"with no layer digests cached {med[cold] / med['nix + tar']:.2f}x; "
              f"installed {med[inst] / med['nix + tar']:.2f}x")
        print(f"CPU time: onboard export / (nix path-info -r + tar) = {cpu['onboard export'] / cpu['nix + tar']:.2f}x; "
              f"installed {cpu[inst] / cpu['nix + tar']:.2f}x")
        print("the stand-in's evaluation costs nothing; the export does not evaluate (the environment is "
              "built), so real nixpkgs adds nothing here but the size of its closure")
        return 0 if ratio <= 1.5 else 1
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(outs, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
