"""Install and uninstall time of `onboard install` from a local tarball (served on loopback),
single-user and daemon mode, each inside a private mount namespace (empty /nix, a copy of
/etc, a temporary HOME), and onboard's own overhead on the steps every installer does.

The raw steps are what the official script does, timed in the same kind of namespace:
download (streamed to a file), sha256, `tar -xJf`, moving the store paths in, and
`nix-store --load-db < .reginfo`. onboard's time for the same steps is read from its event
log (the download, unpack, store-paths and load-db actions, start to finish, receipt writes
included). Printed side by side with the ratio; goal: overhead under 10%.

The test tarball is built from this machine's Nix (Debian's nix-bin), ~4 MB; a real release
is ~25 MB, so download and unpack weigh more there and the fixed costs less.

Run as root: .venv/bin/python bench/bench_install.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.install_ns import Sandbox  # noqa: E402
from tests.support.install_server import TarballServer  # noqa: E402
from tests.support.install_tarball import get_tarball  # noqa: E402

RAW = r'''
import hashlib, json, os, subprocess, sys, time, urllib.request
url, sha, work = sys.argv[1], sys.argv[2], sys.argv[3]
t = {}
t0 = time.perf_counter()
dest = os.path.join(work, "nix.tar.xz")
with urllib.request.urlopen(url) as r, open(dest, "wb") as f:
    while True:
        b = r.read(1 << 16)
        if not b:
            break
        f.write(b)
t["download"] = time.perf_counter() - t0
t0 = time.perf_counter()
h = hashlib.sha256()
with open(dest, "rb") as f:
    for c in iter(lambda: f.read(1 << 20), b""):
        h.update(c)
assert h.hexdigest() == sha
t["sha256"] = time.perf_counter() - t0
t0 = time.perf_counter()
os.makedirs("/nix/store", exist_ok=True); os.makedirs("/nix/var/nix", exist_ok=True)
os.makedirs("/nix/var/unpack", exist_ok=True)
subprocess.run(["tar", "-xJf", dest, "-C", "/nix/var/unpack"], check=True)
t["unpack"] = time.perf_counter() - t0
t0 = time.perf_counter()
top = os.path.join("/nix/var/unpack", os.listdir("/nix/var/unpack")[0])
for p in os.listdir(os.path.join(top, "store")):
    os.rename(os.path.join(top, "store", p), os.path.join("/nix/store", p))
t["move"] = time.perf_counter() - t0
t0 = time.perf_counter()
nix = [l for l in open(os.path.join(top, "install")) if l.startswith('nix="')][0].split('"')[1]
with open(os.path.join(top, ".reginfo"), "rb") as f:
    subprocess.run([nix + "/bin/nix-store", "--load-db"], stdin=f, check=True, env=dict(os.environ, HOME=work))
t["load-db"] = time.perf_counter() - t0
print(json.dumps(t))
'''

CORE_KINDS = ("nix-download", "nix-unpack", "nix-store-paths", "nix-load-db")


def action_times(log: Path) -> dict[str, float]:
    starts: dict[str, float] = {}
    out: dict[str, float] = {}
    for line in log.read_text().splitlines():
        ev = json.loads(line)
        if ev["kind"] == "action-started":
            starts[ev["action_id"]] = ev["at"]
        elif ev["kind"] in ("action-finished", "action-failed") and ev["action_id"] in starts:
            out[ev["action_id"]] = ev["at"] - starts[ev["action_id"]]
    return out


def run_raw(tarball, url: str) -> dict[str, float]:
    sb = Sandbox(Path("/tmp/unused"))
    try:
        script = sb.base / "raw.py"
        script.write_text(RAW)
        r = sb.sh(f"{sys.executable} {script} {url} {tarball.sha256} {sb.home}")
        if r.returncode != 0:
            raise SystemExit(f"raw steps failed: {r.stderr}")
        return json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        sb.cleanup()


def run_onboard(url: str, tarball, mode: str) -> dict[str, float]:
    sb = Sandbox(Path("/tmp/unused"))
    args = ["install", "--mode", mode, "--tarball", url, "--sha256", tarball.sha256, "--yes"]
    if mode == "daemon":
        args[3:3] = ["--init", "none"]
    try:
        t0 = time.perf_counter()
        r = sb.onboard(*args, timeout=300)
        install = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"onboard install failed: {r.stderr[-2000:]}")
        logs = sorted((sb.home / ".local/state/onboard/logs").glob("*.log"))
        times = action_times(logs[-1])
        core = sum(v for k, v in times.items() if k.split(":", 1)[0] in CORE_KINDS)
        actions = sum(times.values())
        t0 = time.perf_counter()
        r = sb.onboard("uninstall", "--yes", timeout=300)
        uninstall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"onboard uninstall failed: {r.stderr[-2000:]}")
        return {"install": install, "uninstall": uninstall, "core": core, "actions": actions,
                "selftest": sum(v for k, v in times.items() if k.startswith("nix-self-test")),
                "users": sum(v for k, v in times.items() if k.startswith(("build-users", "group")))}
    finally:
        sb.cleanup()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    tarball = get_tarball()
    med = statistics.median
    with TarballServer() as srv:
        url = srv.add(tarball.path)
        raws, single, daemon = [], [], []
        for _ in range(opts.runs):  # interleaved, so machine load hits all alike
            raws.append(run_raw(tarball, url))
            single.append(run_onboard(url, tarball, "single"))
            daemon.append(run_onboard(url, tarball, "daemon"))
    raw_total = [sum(r.values()) for r in raws]
    print(f"tarball: {tarball.path.name} ({tarball.path.stat().st_size / 1e6:.1f} MB), runs: {opts.runs} (medians)")
    print("raw steps (official-script equivalent): " + ", ".join(
        f"{k} {med([r[k] for r in raws]) * 1000:.0f} ms" for k in raws[0]) + f"; total {med(raw_total) * 1000:.0f} ms")
    for name, runs in (("single-user", single), ("daemon (--init none, 32 build users)", daemon)):
        print(f"{name}: install {med([r['install'] for r in runs]):.2f} s, "
              f"uninstall {med([r['uninstall'] for r in runs]):.2f} s; "
              f"inside: actions {med([r['actions'] for r in runs]):.2f} s "
              f"(self-test {med([r['selftest'] for r in runs]) * 1000:.0f} ms"
              + (f", group+users {med([r['users'] for r in runs]) * 1000:.0f} ms" if runs is daemon else "") + ")")
    core = [r["core"] for r in single]
    ratio = med(core) / med(raw_total)
    print(f"download+unpack+load-db: onboard {med(core) * 1000:.0f} ms vs raw {med(raw_total) * 1000:.0f} ms "
          f"-> ratio {ratio:.2f}, overhead {100 * (ratio - 1):+.0f}% (goal < +10%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
