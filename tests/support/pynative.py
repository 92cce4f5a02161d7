"""Python packages with native code, made by the tests themselves, for a locked Python's native
builds (tests/test_python_native.py, tests/test_python_store_env.py, bench/bench_python.py).

- `c_sdist(dir)`: a source archive of a C extension (setuptools, static metadata in
  pyproject.toml, so `uv lock` reads it without building). Its setup.py records the build's
  compiler calls (the stand-in's `cc` writes them to $STANDIN_CC_LOG), PATH and CC into the
  package as `_build.json`, so a test can see in the shell how it was built.
- `cpp_wheel(dir)`: a manylinux wheel of a C++ extension that needs libstdc++.so.6, compiled
  here with the host's g++ against the interpreter the stand-in's Python is (as a wheel on an
  index is compiled elsewhere and published).
- `setuptools_wheel()`: a setuptools wheel (70.1 or newer: bdist_wheel built in) for the
  loopback index; tests/run downloads one into tests/.data/wheels.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "tests" / ".data" / "wheels"
#: the interpreter behind the stand-in's python3xx
HOST_PYTHON = "/usr/bin/python3"

SETUP_PY = r'''
import json, os, shutil, sysconfig
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class Recording(build_ext):
    def run(self):
        log = os.path.abspath("cc-calls.log")
        os.environ["STANDIN_CC_LOG"] = log
        super().run()
        calls = open(log).read().splitlines() if os.path.exists(log) else []
        host_cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
        info = {"calls": calls, "PATH": os.environ.get("PATH", ""), "CC": os.environ.get("CC", ""),
                "which_gcc": shutil.which("gcc") or "", "which_host_cc": shutil.which(host_cc) or ""}
        dest = os.path.join(self.build_lib, "NAME", "_build.json")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as fh:
            json.dump(info, fh)


setup(packages=["NAME"], ext_modules=[Extension("NAME._native", ["NAME/_native.c"])],
      cmdclass={"build_ext": Recording})
'''

C_SOURCE = r'''
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&mod); }
'''

CPP_SOURCE = r'''
#include <Python.h>
#include <sstream>
#include <string>
static PyObject *greet(PyObject *, PyObject *) {
    std::ostringstream s;
    s << "hello from c++ " << 6 * 7;
    return PyUnicode_FromString(s.str().c_str());
}
static PyMethodDef methods[] = {{"greet", greet, METH_NOARGS, "a greeting"}, {nullptr, nullptr, 0, nullptr}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_cpp", nullptr, -1, methods};
PyMODINIT_FUNC PyInit__cpp(void) { return PyModule_Create(&mod); }
'''


def host_python() -> tuple[str, str, str]:
    """(major.minor, include dir, extension suffix) of the stand-in's interpreter."""
    out = subprocess.run([HOST_PYTHON, "-c", "import sys, sysconfig; print('%d.%d' % sys.version_info[:2]); "
                          "print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return out[0], out[1], out[2]


def _tar_add(t: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 315532800, 0o644
    t.addfile(info, io.BytesIO(data))


def c_sdist(outdir: os.PathLike | str, name: str = "cext", version: str = "1.0") -> Path:
    """NAME-VERSION.tar.gz: a C extension module NAME._native with add(a, b)."""
    top = f"{name}-{version}"
    pyproject = (f'[build-system]\nrequires = ["setuptools>=70.1"]\nbuild-backend = "setuptools.build_meta"\n\n'
                 f'[project]\nname = "{name}"\nversion = "{version}"\nrequires-python = ">=3.8"\n'
                 'dependencies = []\n')
    pkg_info = f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n"
    out = Path(outdir) / f"{top}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as t:
        _tar_add(t, f"{top}/pyproject.toml", pyproject)
        _tar_add(t, f"{top}/PKG-INFO", pkg_info)
        _tar_add(t, f"{top}/setup.py", SETUP_PY.replace("NAME", name))
        _tar_add(t, f"{top}/{name}/__init__.py", "from ._native import add\n")
        _tar_add(t, f"{top}/{name}/_native.c", C_SOURCE)
    return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def cpp_wheel(outdir: os.PathLike | str, work: os.PathLike | str, name: str = "cppext", version: str = "1.0",
              arch: str = "") -> Path:
    """NAME-VERSION-cpXY-cpXY-manylinux_2_17_ARCH.whl: NAME._cpp.greet(), linked to libstdc++."""
    ver, include, suffix = host_python()
    arch = arch or os.uname().machine
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "_cpp.cpp"
    src.write_text(CPP_SOURCE)
    so = work / f"_cpp{suffix}"
    subprocess.run(["g++", "-shared", "-fPIC", "-O1", f"-I{include}", str(src), "-o", str(so)], check=True)
    cp = "cp" + ver.replace(".", "")
    tag = f"{cp}-{cp}-manylinux_2_17_{arch}"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"from ._cpp import greet\n",
        f"{name}/_cpp{suffix}": so.read_bytes(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: onboard-tests\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
    }
    record = "".join(f"{p},sha256={_b64(b)},{len(b)}\n" for p, b in files.items()) + f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    out = Path(outdir) / f"{name}-{version}-{tag}.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p, b in files.items():
            info = zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if p.endswith(".so") else 0o644) << 16
            z.writestr(info, b)
    return out


def setuptools_wheel() -> Optional[Path]:
    """The newest setuptools wheel (70.1 or newer) tests/run placed, or the host has."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for d in (WHEELS, Path("/usr/share/python-wheels")):
        for f in d.glob("setuptools-*-py3-none-any.whl") if d.is_dir() else []:
            m = re.match(r"setuptools-(\d+)\.(\d+)", f.name)
            if m and (int(m.group(1)), int(m.group(2))) >= (70, 1):
                found.append(((int(m.group(1)), int(m.group(2))), f))
    return max(found)[1] if found else None
