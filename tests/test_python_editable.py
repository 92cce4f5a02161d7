"""python.editable: the project beside uv.lock installed editable into the locked venv, offline,
with its build backend from the project itself; a missing backend is said with the profile lines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.test_python_env import UV, Proj, _uv_in_standin, pytestmark, proj  # noqa: F401

__all__ = ["pytestmark"]

BACKEND = '''\
"""A PEP 517/660 backend of a few lines: the editable wheel is one .pth naming this directory."""
import base64, hashlib, os, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _wheel(directory):
    name, dist = "app-0-py3-none-any.whl", "app-0.dist-info"
    files = {"app.pth": HERE + "\\n", dist + "/METADATA": "Metadata-Version: 2.1\\nName: app\\nVersion: 0\\n",
             dist + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: backend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    rec = []
    for p, body in files.items():
        d = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
        rec.append(f"{p},sha256={d},{len(body.encode())}")
    files[dist + "/RECORD"] = "\\n".join(rec + [dist + "/RECORD,,"]) + "\\n"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for p, body in files.items():
            z.writestr(p, body)
    return name


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory)


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError
'''


def _project(proj: Proj, p: Path, system: str) -> None:
    (p / "pyproject.toml").write_text(f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                      f'dependencies = ["tinyalpha==1.0"]\n\n[build-system]\n{system}')
    (p / "backend.py").write_text(BACKEND)
    (p / "app").mkdir(exist_ok=True)
    (p / "app" / "__init__.py").write_text("WHERE = 'checkout'\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(proj.home), "UV_NO_CONFIG": "1",
           "UV_CACHE_DIR": str(proj.tmp / "uvcache")}
    r = subprocess.run([str(UV), "lock", "-q", "--index-url", proj.index.url], cwd=p, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


PROFILE = 'python:\n  version: "3.12"\n  lock: uv.lock\n  editable: true\n'


def test_the_project_is_installed_editable_offline_with_its_own_backend(proj):
    p = proj.make("ed", body=PROFILE)
    _project(proj, p, 'requires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
    proj.index.stop()  # the project's install needs no index: the wheels come from the store
    r = proj.shell(p, "python", "-c", "import app, tinyalpha; print(app.__file__, app.WHERE)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-2:] == [str(p / "app" / "__init__.py"), "checkout"]
    (p / "app" / "__init__.py").write_text("WHERE = 'edited'\n")  # editable: no reinstall
    r = proj.shell(p, "python", "-c", "import app; print(app.WHERE)")
    assert r.returncode == 0 and r.stdout.split()[-1] == "edited", r.stderr


def test_a_backend_neither_locked_nor_from_nix_is_said_with_the_profile_lines(proj):
    p = proj.make("nobackend", body=PROFILE)
    _project(proj, p, 'requires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n')
    r = proj.shell(p, "true")
    assert r.returncode != 0
    assert "python.editable: the build backend" in r.stderr and "setuptools" in r.stderr
    assert "  python:\n    from_nix: [setuptools]" in r.stderr
