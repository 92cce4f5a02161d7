"""One run: `onboard services up` to ready for PostgreSQL + Redis beside the raw steps (initdb
once, `pg_ctl -w start`, `redis-server` + PING), and `down` beside `pg_ctl stop -m fast` +
`redis-cli shutdown`. Real servers (Debian's, behind the stand-in package set); as root the
raw PostgreSQL steps run through `unshare --user --map-user=<postgres uid>` as onboard's do.
Both initdb runs are alike (trust, no locale, UTF8, fsync on: neither passes --no-sync).
onboard runs with its byte code compiled, as an installed onboard is (pip compiles it):
PYTHONDONTWRITEBYTECODE, which some shells here set, is dropped for the bench.

    .venv/bin/python bench/bench_services.py
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PIN = ("nixpkgs:\n  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674\n"
       "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\n")
NIX_CONFIG = "sandbox = false\nsubstituters =\nflake-registry =\nexperimental-features = nix-command flakes"


def free_port() -> int:
    from onboard.core.services.ports import pick

    return pick()


def timed(argv: list[str], **kw) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t0


def timed_up(argv: list[str], **kw) -> tuple[float, float]:
    """(the whole command, the core's part: from up's start to the last service ready, as its
    progress lines say)."""
    import re

    t0 = time.perf_counter()
    r = subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
    total = time.perf_counter() - t0
    ready = [float(x) for x in re.findall(r": ready \(([0-9.]+) s\)", r.stderr)]
    return total, max(ready) if ready else 0.0


def main() -> int:
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    tmp = Path(tempfile.mkdtemp(prefix="bench-services-"))
    home = tmp / "home"
    env = dict(os.environ, HOME=str(home), XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"), NIX_CONFIG=NIX_CONFIG, PYTHONPATH=str(ROOT),
               ONBOARD_NIXPKGS_OVERRIDE=str(ROOT / "tests" / "standin"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "onboard")], check=True,
                   stdout=subprocess.DEVNULL)
    proj = tmp / "proj"
    (proj / "profiles").mkdir(parents=True)
    (proj / "profiles" / "svc.yaml").write_text(
        f"name: svc\n{PIN}services:\n  postgresql: {{port: auto}}\n  redis: {{port: auto}}\n")
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    ob = [sys.executable, "-m", "onboard"]
    subprocess.run(ob + ["switch", "svc", "--yes"], cwd=proj, env=env, check=True, capture_output=True)
    try:
        first_up, first_core = timed_up(ob + ["services", "up"], cwd=proj, env=env)
        down1 = timed(ob + ["services", "down"], cwd=proj, env=env)
        warm_up, warm_core = timed_up(ob + ["services", "up"], cwd=proj, env=env)
        down2 = timed(ob + ["services", "down"], cwd=proj, env=env)
    finally:
        subprocess.run(ob + ["services", "down"], cwd=proj, env=env, capture_output=True)
    # the raw steps
    wrap: list[str] = []
    data = tmp / "raw-pg"
    if os.geteuid() == 0:
        u = pwd.getpwnam("postgres") if "postgres" in {p.pw_name for p in pwd.getpwall()} else pwd.getpwnam("nobody")
        wrap = ["unshare", "--user", f"--map-user={u.pw_uid}", f"--map-group={u.pw_gid}"]
    pgp, rdp = free_port(), free_port()
    sock = tempfile.mkdtemp(prefix="bench-sock-")
    initdb = timed(wrap + [f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                           "--no-locale", "-E", "UTF8"])
    opts = f"-p {pgp} -k {sock} -c listen_addresses=127.0.0.1"
    t0 = time.perf_counter()
    subprocess.run(wrap + [f"{bindir}/pg_ctl", "-D", str(data), "-l", str(tmp / "pg.log"), "-o", opts, "-w", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    pg_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(["redis-server", "--port", str(rdp), "--bind", "127.0.0.1", "--daemonize", "yes", "--dir", str(tmp),
                    "--logfile", str(tmp / "redis.log")], check=True)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", rdp), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.005)
    redis_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(wrap + [f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["redis-cli", "-p", str(rdp), "shutdown"], check=True, stdout=subprocess.DEVNULL)
    raw_down = time.perf_counter() - t0
    raw_first = initdb + pg_start + redis_start
    raw_warm = pg_start + redis_start
    print(f"first up (initdb + start, both ready): onboard {first_up:.2f} s   raw {raw_first:.2f} s "
          f"(initdb {initdb:.2f} + pg_ctl -w start {pg_start:.2f} + redis-server/PING {redis_start:.2f})"
          f"   ratio {first_up / raw_first:.2f}")
    print(f"warm up (both ready):                  onboard {warm_up:.2f} s   raw {raw_warm:.2f} s"
          f"   ratio {warm_up / raw_warm:.2f}")
    print(f"  of which the core's up (environment check, supervisor, servers to ready): first "
          f"{first_core:.2f} s, warm {warm_core:.2f} s; the rest is the command's start (Python, "
          "imports, loading the profile)")
    print(f"down:                                  onboard {down1:.2f} / {down2:.2f} s   raw {raw_down:.2f} s "
          f"(pg_ctl stop -m fast + redis-cli shutdown)")
    print("onboard's figures include its own start (python, loading the profile, checking the cached "
          "environment) on the stand-in package set; real nixpkgs adds evaluation only on a cache miss")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(sock, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
