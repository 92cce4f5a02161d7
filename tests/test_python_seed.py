"""A lock change makes the new lock's venv from the one the project uses: the packages both locks
share are linked in, uv applies only the difference, and the result is exactly the new lock
(checked file by file against the wheels' RECORDs). Real uv, offline, wheels the test writes;
no Nix needed (the wheelhouse is a plain directory here)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from onboard.core.python import venv as pyvenv
from tests.support.standin import ROOT

UV = ROOT / ".venv" / "bin" / "uv"
PYTHON = shutil.which("python3", path="/usr/bin:/bin")

pytestmark = pytest.mark.skipif(not UV.exists() or not PYTHON, reason="needs .venv/bin/uv and /usr/bin/python3")


def _wheel(out: Path, name: str, version: str, script: bool = False) -> Path:
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"VERSION = {version!r}\ndef main():\n    print('{name}', VERSION)\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: onboard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    if script:
        files[f"{dist}/entry_points.txt"] = f"[console_scripts]\n{name}-cli = {name}:main\n"
    rows = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b.encode()).digest()).rstrip(b'=').decode()},"
            f"{len(b.encode())}" for p, b in files.items()]
    files[f"{dist}/RECORD"] = "\n".join(rows + [f"{dist}/RECORD,,"]) + "\n"
    path = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, b in files.items():
            z.writestr(zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0)), b)
    return path


def _wheelhouse(tmp: Path, label: str, pins: dict[str, str], scripts: tuple[str, ...] = ()) -> Path:
    wh = tmp / f"wheelhouse-{label}"
    (wh / "wheels").mkdir(parents=True)
    lines = []
    for name, version in sorted(pins.items()):
        w = _wheel(wh / "wheels", name, version, script=name in scripts)
        lines.append(f"{name}=={version} --hash=sha256:{hashlib.sha256(w.read_bytes()).hexdigest()}\n")
    (wh / "requirements.txt").write_text("".join(lines))
    return wh


@pytest.fixture(params=["short", "long"])
def place(request, tmp_path, monkeypatch):
    # a long state path makes the installer write a `#!/bin/sh` trampoline, not a `#!` line
    state = tmp_path / "state" if request.param == "short" else tmp_path / ("deep-" * 30) / "state"
    monkeypatch.setenv("ONBOARD_STATE_DIR", str(state))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "proj").mkdir()
    seeded: list[tuple[str, str, bool]] = []
    real = pyvenv._seed

    def spy(src: str, dst: str) -> bool:
        ok = real(src, dst)
        seeded.append((src, dst, ok))
        return ok

    monkeypatch.setattr(pyvenv, "_seed", spy)

    def plan(label: str, pins: dict[str, str], scripts: tuple[str, ...] = ()) -> pyvenv.VenvPlan:
        lock = hashlib.sha256(label.encode()).hexdigest()
        assert PYTHON is not None
        return pyvenv.VenvPlan(venv=pyvenv.venv_dir(lock, PYTHON), link=str(tmp_path / "proj" / ".venv"),
                               wheelhouse=str(_wheelhouse(tmp_path, label, pins, scripts)), python=PYTHON,
                               uv=str(UV), lock=lock)

    return plan, seeded


def _installed(venv: str) -> set[str]:
    site = next(Path(venv, "lib").glob("python3*/site-packages"))
    return {p.name for p in site.iterdir() if p.name.endswith(".dist-info")}


def _run(venv: str, *argv: str) -> str:
    return subprocess.run([os.path.join(venv, "bin", argv[0]), *argv[1:]], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_lock_change_starts_from_the_current_venv_and_ends_exactly_at_the_new_lock(place):
    plan, seeded = place
    first = plan("one", {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}, scripts=("alpha",))
    pyvenv.sync(first)
    assert seeded == []  # nothing to start from
    second = plan("two", {"alpha": "1.0", "beta": "2.0"}, scripts=("alpha",))  # beta moved, gamma gone
    pyvenv.sync(second)
    assert seeded == [(first.venv, second.venv, True)]
    assert os.readlink(second.link) == second.venv
    assert _installed(second.venv) == {"alpha-1.0.dist-info", "beta-2.0.dist-info"}
    assert _run(second.venv, "python", "-c", "import beta; print(beta.VERSION)") == "2.0"
    # the script came along, naming the new venv's Python, and runs there
    script = Path(second.venv, "bin", "alpha-cli").read_text()
    assert f"{second.venv}/bin/python" in script and first.venv not in script
    if len(second.venv) > 200:  # the long state path: the trampoline form is the one covered
        assert script.startswith("#!/bin/sh")
    assert _run(second.venv, "alpha-cli") == "alpha 1.0"
    # the first venv is untouched: a rollback finds it as it was
    assert _installed(first.venv) == {"alpha-1.0.dist-info", "beta-1.0.dist-info", "gamma-1.0.dist-info"}
    assert _run(first.venv, "python", "-c", "import gamma, beta; print(beta.VERSION)") == "1.0"
    from onboard.core.verify.venvcheck import check_venv

    assert check_venv(second.venv, second.wheelhouse, second.lock).problems == []


def test_a_hand_edited_file_is_not_carried_into_the_new_venv(place):
    plan, seeded = place
    first = plan("one", {"alpha": "1.0", "beta": "1.0"})
    pyvenv.sync(first)
    site = next(Path(first.venv, "lib").glob("python3*/site-packages"))
    edited = site / "alpha" / "__init__.py"
    edited.unlink()  # (uv may have linked it from its cache: never write through a link)
    edited.write_text("VERSION = 'edited by hand'\n")
    second = plan("two", {"alpha": "1.0", "beta": "2.0"})
    pyvenv.sync(second)
    assert seeded and seeded[0][2] is True  # seeded, then the check found the edit: made again, clean
    assert _run(second.venv, "python", "-c", "import alpha; print(alpha.VERSION)") == "1.0"
    from onboard.core.verify.venvcheck import check_venv

    assert check_venv(second.venv, second.wheelhouse, second.lock).problems == []


def test_another_python_is_never_a_seed(place, tmp_path):
    plan, seeded = place
    first = plan("one", {"alpha": "1.0"})
    pyvenv.sync(first)
    other = plan("two", {"alpha": "1.0"})
    other.venv = other.venv.rsplit("-", 1)[0] + "-otherpython"
    pyvenv.sync(other)
    assert seeded == []
