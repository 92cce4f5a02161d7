"""One core, two front ends: importing the core never imports a UI toolkit."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import onboard.core
from tests.conftest import ROOT, onboard_env

FORBIDDEN = ("textual", "rich")


def core_modules() -> list[str]:
    names = ["onboard.core"]
    for info in pkgutil.walk_packages(onboard.core.__path__, prefix="onboard.core."):
        names.append(info.name)
    return names


def test_importing_every_core_module_imports_no_ui_toolkit():
    mods = core_modules()
    assert len(mods) > 5
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=onboard_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"core imported {r.stdout.strip()}"


def test_core_never_prints():
    offenders = []
    for path in (ROOT / "onboard" / "core").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("print(") or "sys.stdout.write" in stripped or \
                    "sys.stderr.write" in stripped:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {stripped}")
    assert offenders == []


def test_warm_paths_import_nothing_heavy():
    heavy = ("textual", "rich", "yaml", "requests", "psutil", "argparse")
    for args in (["--version"],):
        code = ("import sys, runpy\n"
                f"sys.argv = ['onboard', *{args!r}]\n"
                "from onboard.cli.main import main\n"
                "rc = main()\n"
                f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})\n"
                "sys.stderr.write('HEAVY=' + ','.join(bad) + '\\n')\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           env=onboard_env(), timeout=60)
        assert "HEAVY=\n" in r.stderr, (args, r.stderr)


def test_help_imports_no_ui_or_network_library():
    heavy = ("textual", "rich", "yaml", "requests", "psutil")
    code = ("import sys\n"
            "from onboard.cli.main import main\n"
            "try:\n"
            "    main(['--help'])\n"
            "except SystemExit:\n"
            "    pass\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})\n"
            "sys.stderr.write('HEAVY=' + ','.join(bad) + '\\n')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=onboard_env(), timeout=60)
    assert "HEAVY=\n" in r.stderr, r.stderr
