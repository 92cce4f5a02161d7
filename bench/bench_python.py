#!/usr/bin/env python3
"""A locked Python's entry costs, side by side with pip and uv, in one run.

A lock of N packages (default 20, tiny wheels written by tests/support/pyindex.py) served from a
loopback index; the project's profile uses the stand-in package set (tests/standin: this
machine has no binary cache) with `python.lock: uv.lock`, and a second profile without Python
gives the warm `onboard shell` figure. Contenders, all in one run (the machine is noisy):

  first entry      onboard shell py -- true: render, Nix fetches every wheel by its hash, builds
                   the shell, uv syncs the venv offline
  warm re-entry    the same again (median of --runs): only stats, no uv
  warm plain       onboard shell plain -- true (no Python): the warm path's own cost
  lock change      one package moved in the lock (uv lock done before timing), then entry;
                   and the venv's part of it alone: made from the venv before it (seeded), and
                   from scratch
  pip install -r   the host's pip into a fresh venv, from the loopback index, --no-cache-dir,
                   PIP_CONFIG_FILE=/dev/null (the venv is made before timing)
  uv (index)       uv venv + uv pip sync from the loopback index, cold cache: uv's own time
                   with its fetch
  uv (offline)     uv venv + uv pip sync --offline from onboard's wheelhouse: the sync alone

Goals: warm re-entry - warm plain: nothing measurable; a lock change syncs >= 10x faster than pip
install -r; first entry <= uv (index) + 10%.

Native code (skipped with --no-native, or without g++, patchelf or a setuptools wheel): a lock
of one sdist with a C extension (built by Nix with the package set's compiler and the lock's
setuptools) and one manylinux wheel with a C++ extension (patched to find libstdc++ in the
store), both written by tests/support/pynative.py with versions new on every run, so nothing
is in the store yet:

  first entry      onboard shell nat -- true: render, fetch, build the sdist, patch the wheel,
                   uv syncs the venv
  python-env       onboard shell nat --hermetic -- true right after: the venv built in the store
  uv               uv venv + uv pip install from the loopback index, cold cache: uv builds the
                   sdist itself (build isolation, setuptools from the index) and installs the
                   wheel as published (it patches nothing)

Goal: first entry within 1.3x of uv (median of --native-runs rounds, default 3).

Run: .venv/bin/python bench/bench_python.py [--packages N] [--runs N] [--no-native] [--native-runs N]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import standin  # noqa: E402
from tests.support.pyindex import Index, write_index  # noqa: E402

UV = ROOT / ".venv" / "bin" / "uv"
PIN = ("nixpkgs:\n  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674\n"
       "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\n")


class BenchIndex(Index):
    """tests/support/pyindex.py's server with a listen backlog for 20 parallel clients: with the
    default of 5, uv's and Nix's parallel requests overflow it and wait a TCP retransmit (1 s)."""

    def start(self) -> "BenchIndex":
        write_index(self.root)
        code = ("import http.server, sys; http.server.ThreadingHTTPServer.request_queue_size = 128; "
                f"sys.path.insert(0, {str(ROOT)!r}); from tests.support.pyindex import _serve; _serve(sys.argv[1])")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(self.root)], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise SystemExit(f"the loopback index did not start (said {line!r})")
        self.port = int(line)
        return self


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed (exit {r.returncode}): {' '.join(argv)}\n{r.stderr[-2000:]}")
    return dt


def median(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    return statistics.median(timed(argv, env, cwd) for _ in range(runs))


def lock_change_syncs(home: Path, proj: Path, before: Path, env: dict[str, str], runs: int) -> tuple[float, float]:
    """The venv part of a lock change, timed in this process (Nix done): made from the venv the
    project had before (as an entry after a lock change makes it), and from scratch."""
    from onboard.core.python import venv as pyvenv

    d = next((home / ".cache" / "onboard" / "env").glob("*/py"))
    plan = pyvenv.read_plan(str(d))
    assert plan is not None
    saved = dict(os.environ)
    os.environ.update(env)
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(runs):
            for seed in (True, False):
                shutil.rmtree(plan.venv)
                os.unlink(plan.link)
                os.symlink(str(before), plan.link)
                t0 = time.perf_counter()
                pyvenv._make(plan, seed=seed)
                pyvenv._relink(plan)
                times[seed].append(time.perf_counter() - t0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return statistics.median(times[True]), statistics.median(times[False])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packages", type=int, default=20)
    ap.add_argument("--runs", type=int, default=31)
    ap.add_argument("--no-native", action="store_true", help="leave out the native-code figures")
    ap.add_argument("--native-runs", type=int, default=3, help="rounds of the native-code figures (median)")
    args = ap.parse_args()
    if not UV.exists() or not standin.have_nix():
        raise SystemExit("needs nix and .venv/bin/uv")
    dest = standin.STANDIN / "uv-bin"
    if not dest.exists() or dest.stat().st_size != UV.stat().st_size:
        shutil.copy2(UV, dest)
    tmp = Path(tempfile.mkdtemp(prefix="bench-python-"))
    index = BenchIndex(tmp / "index")
    names = [f"benchpkg{i:02d}" for i in range(args.packages)]
    for n in names:
        index.add(n, "1.0")
    index.add(names[0], "1.1")
    index.start()
    try:
        rc = run(tmp, index, names, args.runs)
        if not args.no_native:
            native(tmp, args.native_runs)
        return rc
    finally:
        index.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def native(tmp: Path, runs: int) -> None:
    """First build of a lock with one sdist and one patched wheel, beside uv doing the same: `runs`
    rounds, each with new versions (nothing in the store yet), onboard and uv interleaved."""
    from tests.support import pynative

    setuptools = pynative.setuptools_wheel()
    if setuptools is None or not shutil.which("g++") or not shutil.which("patchelf"):
        print("\nnative code: skipped (needs g++, patchelf and a setuptools wheel: tests/run gets one)")
        return
    firsts, stores, uvs = [], [], []
    for round_ in range(runs):
        first, store, uv = native_round(tmp / f"native{round_}", setuptools)
        firsts.append(first)
        stores.append(store)
        uvs.append(uv)
    ms = 1000.0
    print(f"\nnative code: one sdist (C extension) and one manylinux wheel (C++, needs libstdc++), new versions "
          f"each round; medians of {runs} rounds")
    print(f"  {'first entry (fetch, build sdist, patch wheel, uv sync)':<50} {statistics.median(firsts) * ms:9.1f} ms")
    print(f"  {'python-env built in the store (--hermetic)':<50} {statistics.median(stores) * ms:9.1f} ms")
    print(f"  {'uv venv + pip install from the index, cold':<50} {statistics.median(uvs) * ms:9.1f} ms")
    ratios = sorted(f / u for f, u in zip(firsts, uvs))
    print(f"  first entry / uv:                          {statistics.median(ratios):8.2f}x     (goal: <= 1.3x; "
          f"rounds {ratios[0]:.2f}-{ratios[-1]:.2f})")
    print("  (the stand-in package set costs Nix almost nothing to evaluate; real nixpkgs adds seconds"
          " on an evaluation-cache miss)")


def native_round(base: Path, setuptools: Path) -> tuple[float, float, float]:
    from tests.support import pynative

    index = BenchIndex(base / "index")
    version = f"1.0.{time.time_ns() // 1000}"  # new on every round: nothing of it is in the store
    files = index.root / "files"
    shutil.copy(setuptools, files / setuptools.name)
    pynative.c_sdist(files, "benchcext", version)
    pynative.cpp_wheel(files, base / "work", "benchcpp", version)
    index.start()
    try:
        home = base / "home"
        home.mkdir()
        proj = base / "proj"
        (proj / "profiles").mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(proj)], check=True)
        pyver = pynative.host_python()[0]
        (proj / "profiles" / "nat.yaml").write_text(
            f"name: nat\n{PIN}python:\n  version: \"{pyver}\"\n  lock: uv.lock\n"
            "  libraries: [stdenv.cc.cc.lib]\n  build_systems:\n    benchcext: [setuptools]\n")
        (proj / "pyproject.toml").write_text(
            f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.10"\n'
            f'dependencies = ["benchcext=={version}", "benchcpp=={version}"]\n\n'
            '[dependency-groups]\nbuild = ["setuptools"]\n')
        uv_env = {"PATH": os.environ["PATH"], "HOME": str(home), "UV_NO_CONFIG": "1",
                  "UV_CACHE_DIR": str(base / "uvc-lock"), "UV_PYTHON_DOWNLOADS": "never"}
        subprocess.run([str(UV), "lock", "-q", "--index-url", index.url], cwd=proj, env=uv_env, check=True)
        env = standin.onboard_standin_env(
            HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".local/state"),
            XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"), PYTHONPATH=str(ROOT),
            ONBOARD_NO_FALLBACK="1")
        shell = [sys.executable, "-m", "onboard", "shell", "nat"]
        first = timed(shell + ["--", "true"], env, proj)
        store = timed(shell + ["--hermetic", "--", "true"], env, proj)
        check = "import benchcext, benchcpp; assert benchcext.add(2, 3) == 5; print(benchcpp.greet())"
        subprocess.run(shell + ["--", "python", "-c", check], env=env, cwd=proj, check=True, capture_output=True)
        c = dict(uv_env, UV_CACHE_DIR=str(base / "uvc-cold"))
        t0 = time.perf_counter()
        subprocess.run([str(UV), "venv", "-q", "--python", pynative.HOST_PYTHON, str(base / "uvvenv")], env=c,
                       check=True, capture_output=True)
        subprocess.run([str(UV), "pip", "install", "-q", "--python", str(base / "uvvenv" / "bin" / "python"),
                        "--index-url", index.url, f"benchcext=={version}", f"benchcpp=={version}"], env=c,
                       check=True, capture_output=True)
        return first, store, time.perf_counter() - t0
    finally:
        index.stop()


def run(tmp: Path, index: Index, names: list[str], runs: int) -> int:
    home = tmp / "home"
    home.mkdir()
    proj = tmp / "proj"
    (proj / "profiles").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    (proj / "profiles" / "py.yaml").write_text(f"name: py\n{PIN}python:\n  version: \"3.12\"\n  lock: uv.lock\n")
    (proj / "profiles" / "plain.yaml").write_text(f"name: plain\n{PIN}packages:\n  - hello\n")
    uv_env = {"PATH": os.environ["PATH"], "HOME": str(home), "UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp / "uvc")}

    def lock(versions: dict[str, str]) -> None:
        deps = ", ".join(f'"{n}=={versions.get(n, "1.0")}"' for n in names)
        (proj / "pyproject.toml").write_text(f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                             f"dependencies = [{deps}]\n")
        subprocess.run([str(UV), "lock", "-q", "--index-url", index.url], cwd=proj, env=uv_env, check=True)

    lock({})
    env = standin.onboard_standin_env(
        HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"), PYTHONPATH=str(ROOT))
    shell = [sys.executable, "-m", "onboard", "shell"]
    timed(shell + ["plain", "--", "true"], env, proj)  # the stand-in's shell and hello built once, outside

    first = timed(shell + ["py", "--", "true"], env, proj)
    venv = Path(os.path.realpath(proj / ".venv"))
    wheelhouse = subprocess.run(shell + ["py", "--", "sh", "-c", 'echo "$ONBOARD_WHEELHOUSE"'], env=env, cwd=proj,
                                capture_output=True, text=True, check=True).stdout.split()[-1]
    nix_python = subprocess.run(shell + ["py", "--", "sh", "-c", 'echo "$ONBOARD_PYTHON"'], env=env, cwd=proj,
                                capture_output=True, text=True, check=True).stdout.split()[-1]

    warm, plain = [], []
    for _ in range(runs):  # interleaved: the same noise for both
        warm.append(timed(shell + ["py", "--", "true"], env, proj))
        plain.append(timed(shell + ["plain", "--", "true"], env, proj))
    warm_py, warm_plain = statistics.median(warm), statistics.median(plain)
    source = {}
    for n in ("py", "plain"):  # what the two entries differ by: the env.sh each sources
        d = next((home / ".cache" / "onboard" / "env").glob(f"*/{n}"))
        source[n] = median(["bash", "--noprofile", "--norc", "-c", f'source "{d}/env.sh"; true'],
                           dict(env, ONBOARD_PROJECT_DIR=str(proj)), proj, runs)

    lock({names[0]: "1.1"})
    change = timed(shell + ["py", "--", "true"], env, proj)
    assert os.path.realpath(proj / ".venv") != str(venv)
    seeded, scratch = lock_change_syncs(home, proj, venv, env, runs=5)

    req = tmp / "requirements.txt"
    req.write_text("".join(f"{n}==1.0\n" for n in names))
    pip_env = {"PATH": os.environ["PATH"], "HOME": str(home), "PIP_CONFIG_FILE": "/dev/null",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    host_python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    subprocess.run([host_python, "-m", "venv", str(tmp / "pipvenv")], check=True, env=pip_env)
    pip = timed([str(tmp / "pipvenv" / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", "--index-url",
                 index.url, "-r", str(req)], pip_env, tmp)

    def uv_sync(target: str, *source: str) -> float:
        c = dict(uv_env, UV_CACHE_DIR=str(tmp / f"uvc-{target}"), UV_PYTHON_DOWNLOADS="never")
        t = timed([str(UV), "venv", "-q", "--python", nix_python, str(tmp / target)], c, tmp)
        s = timed([str(UV), "pip", "sync", "-q", "--python", str(tmp / target / "bin" / "python"), *source], c, tmp)
        return t + s

    uv_index = uv_sync("uvindex", "--index-url", index.url, str(req))
    uv_offline = uv_sync("uvoffline", "--offline", "--no-index", "--find-links", f"{wheelhouse}/wheels",
                         "--require-hashes", f"{wheelhouse}/requirements.txt")

    ms = 1000.0
    print(f"{len(names)} packages from a loopback index; warm figures are medians of {runs} runs\n")
    rows = [("first entry (Nix fetch + build + uv sync)", first), ("warm re-entry", warm_py),
            ("warm onboard shell, no Python", warm_plain), ("re-entry after a one-package lock change", change),
            ("pip install -r, fresh venv, --no-cache-dir", pip), ("uv venv + pip sync from the index, cold", uv_index),
            ("uv venv + pip sync offline from the wheelhouse", uv_offline)]
    for label, t in rows:
        print(f"  {label:<50} {t * ms:9.1f} ms")
    print()
    print(f"  warm re-entry - warm onboard shell:        {(warm_py - warm_plain) * ms:+8.1f} ms   (goal: nothing measurable)")
    print(f"    the same, fastest runs:                  {(min(warm) - min(plain)) * ms:+8.1f} ms")
    print(f"    sourcing env.sh, locked - plain:         {(source['py'] - source['plain']) * ms:+8.1f} ms")
    print(f"  lock change, the venv's sync alone (from the venv before it, median): {seeded * ms:.1f} ms;"
          f" from scratch {scratch * ms:.1f} ms")
    print(f"  pip install -r / the lock change's sync:   {pip / seeded:8.2f}x     (goal: >= 10x)")
    print(f"  pip install -r / the whole re-entry:       {pip / change:8.2f}x     (Nix evaluates the changed lock's"
          " shell first)")
    print(f"  first entry / uv from the index (cold):    {first / uv_index:8.2f}x     (goal: <= 1.10x)")
    print(f"  first entry - uv from the index (cold):    {(first - uv_index) * ms:+8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
