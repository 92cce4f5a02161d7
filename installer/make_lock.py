#!/usr/bin/env python3
"""Write installer/requirements.lock: onboard's dependency closure, pinned, with the sha256 of
every file pip may pick on the platforms onboard supports.

    python3 installer/make_lock.py [--resolve-with python3.10]

Only pip talks to the package index (`pip install --dry-run --report` resolves the closure,
`pip download` fetches the files whose hashes are recorded). Resolving with the oldest Python
onboard supports (3.10) gives versions that install on every newer one. The same text is
embedded in installer/bootstrap.sh (between the `BEGIN requirements.lock` and
`END requirements.lock` lines) so the one-line install carries its own pins.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
IN_FILE = HERE / "requirements.in"
LOCK_FILE = HERE / "requirements.lock"
BOOTSTRAP = HERE / "bootstrap.sh"
BEGIN, END = "# BEGIN requirements.lock", "# END requirements.lock"

PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Each entry is one pip run: the platforms it may pick from (pip picks the best file).
PLATFORMS = (
    ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
    ("manylinux2014_x86_64",),
    ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    ("manylinux2014_aarch64",),
    ("musllinux_1_2_x86_64", "musllinux_1_1_x86_64"),
    ("musllinux_1_2_aarch64", "musllinux_1_1_aarch64"),
    ("macosx_14_0_arm64",),
    ("macosx_11_0_arm64",),
    ("macosx_14_0_x86_64",),
    ("macosx_10_13_x86_64",),
)
PIP = ("-m", "pip", "--disable-pip-version-check", "--no-cache-dir")


def pip(python: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    argv = [python, *PIP, *args]
    return _checked(argv) if check else subprocess.run(argv, text=True, capture_output=True)


def _checked(argv: list[str]) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, text=True, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"make_lock: {' '.join(argv)} failed:\n{p.stderr[-3000:]}")
    return p


def resolve(python: str) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip(python, "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
            "-r", str(IN_FILE))
        data = json.loads(report.read_text())
    pins = sorted((i["metadata"]["name"], i["metadata"]["version"]) for i in data["install"])
    return sorted(pins, key=lambda p: p[0].lower())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def collect(pins: list[tuple[str, str]], python: str, work: Path) -> dict[str, dict[str, str]]:
    """name -> {filename: sha256} of every file recorded for it."""
    files: dict[str, dict[str, str]] = {}
    for name, version in pins:
        spec = f"{name}=={version}"
        d = work / name
        d.mkdir()
        pip(python, "download", "--no-deps", "-d", str(d), spec)
        binary = any(not f.name.endswith("-none-any.whl") for f in d.iterdir())
        if binary:
            for pyver in PYTHONS:
                for group in PLATFORMS:
                    plat: list[str] = []
                    for p in group:
                        plat += ["--platform", p]
                    pip(python, "download", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                        "--python-version", pyver, *plat, "-d", str(d), spec, check=False)
            # the source archive, for platforms without a wheel (built locally by pip)
            pip(python, "download", "--no-deps", f"--no-binary={name}", "-d", str(d), spec, check=False)
        files[name] = {f.name: sha256(f) for f in sorted(d.iterdir())}
        print(f"make_lock: {spec}: {len(files[name])} file(s)", file=sys.stderr)
    return files


def render(pins: list[tuple[str, str]], files: dict[str, dict[str, str]], resolved_with: str) -> str:
    lines = [
        "# onboard's dependencies, pinned and hash-checked:",
        "#   pip install --require-hashes -r requirements.lock",
        "# Written by installer/make_lock.py from installer/requirements.in (do not edit by hand).",
        f"# Resolved with Python {resolved_with}; hashes cover CPython {PYTHONS[0]}-{PYTHONS[-1]} wheels for",
        "# Linux (glibc and musl; x86_64 and aarch64) and macOS, and the source archives of binary packages.",
    ]
    for name, version in pins:
        digests = sorted(set(files[name].values()))
        lines.append(f"{name}=={version} \\")
        for i, d in enumerate(digests):
            lines.append(f"    --hash=sha256:{d}" + (" \\" if i < len(digests) - 1 else ""))
    return "\n".join(lines) + "\n"


def embed(lock_text: str, script: Path = BOOTSTRAP) -> bool:
    """Put lock_text between the BEGIN/END lines of bootstrap.sh; True when it changed."""
    text = script.read_text()
    start = text.index(BEGIN + "\n") + len(BEGIN) + 1
    stop = text.index(END + "\n", start)
    new = text[:start] + lock_text + text[stop:]
    if new == text:
        return False
    script.write_text(new)
    return True


def embedded(script: Path = BOOTSTRAP) -> str:
    text = script.read_text()
    start = text.index(BEGIN + "\n") + len(BEGIN) + 1
    return text[start:text.index(END + "\n", start)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resolve-with", default=shutil.which("python3.10") or sys.executable,
                    help="the Python that resolves the closure (the oldest supported: 3.10)")
    ap.add_argument("--embed-only", action="store_true",
                    help="only copy requirements.lock into bootstrap.sh")
    args = ap.parse_args()
    if not args.embed_only:
        ver = _checked([args.resolve_with, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
        pins = resolve(args.resolve_with)
        with tempfile.TemporaryDirectory() as tmp:
            files = collect(pins, sys.executable, Path(tmp))
        LOCK_FILE.write_text(render(pins, files, ver))
        print(f"make_lock: wrote {LOCK_FILE} ({len(pins)} packages)", file=sys.stderr)
    changed = embed(LOCK_FILE.read_text())
    print(f"make_lock: {BOOTSTRAP} {'updated' if changed else 'already up to date'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
