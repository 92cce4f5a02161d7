"""The builder of a locked Python's native code, run by the package set's Python inside a Nix build.

The renderer copies this file verbatim beside python.nix (as `python-native.py`); each native
artifact is one derivation whose builder is `${python}/bin/python3 -I python-native.py MODE`:

- `backend`: the lock's wheels of one sdist's build backend, unpacked into `$out/site` (one
  derivation, shared by every build that names the same wheels);
- `sdist`: unpack the source archive, put the build backend on the path (that `site`, and the
  package set's site-packages the profile names), check that everything
  its `[build-system] requires` names is there, then call the PEP 517 hooks in a child process
  with only the package set on PATH: CC/CXX are the package set's compiler (`stdenv.cc`),
  CPATH / LIBRARY_PATH / PKG_CONFIG_PATH list the profile's `python.build_inputs` and
  `python.libraries`; no /usr/bin, /usr/include or /usr/lib is named. The wheel it makes then
  goes through the fixup below.
- `wheel`: the fixup of a downloaded platform wheel. Every ELF file in it has its NEEDED
  libraries looked up: in the wheel itself (auditwheel's `<pkg>.libs/`), in the C library the
  interpreter brings (libc, libm, ...), else in the lib/ of `python.libraries` (and
  build_inputs); those directories are added to its RUNPATH with patchelf and RECORD is
  rewritten with the new hashes. A wheel that needs no change is copied byte for byte. A
  library found nowhere fails the build, naming it and the profile lines that add it.

Output: `$out/<wheel file>` and `$out/requirement.txt` (`name==version --hash=sha256:...` of that
file, for `uv pip sync --require-hashes`). Messages for onboard start with `onboard-native: `.

Only the standard library is used, and nothing of onboard: this file runs inside the build.
Environment: `out`, `src`, `srcName`, `pkgName`, `pkgVersion`, `libraries`, `libraryNames`,
`buildInputs`, `buildInputNames`, `backendWheels`, `backendSites`, `backendNames`, `cc`,
`patchelf`, `coreutils`, `python` (lists are space-separated store paths or names).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from typing import Iterable, Optional

PREFIX = "onboard-native: "
#: libraries of the C library, which the interpreter itself brings
LIBC_RE = re.compile(r"^(?:libc|libm|libdl|libpthread|librt|libutil|libresolv|libnsl|libanl|libmvec|"
                     r"libBrokenLocale)\.so(?:\.\d+)*$|^ld-linux[^/]*\.so(?:\.\d+)*$|^ld64\.so(?:\.\d+)*$")
#: the package set's attribute that usually has a library, for the hint
LIBRARY_HINTS = (
    (r"^lib(?:stdc\+\+|gcc_s|gomp|atomic|quadmath|gfortran)\.", "stdenv.cc.cc.lib"),
    (r"^libz\.", "zlib"), (r"^lib(?:ssl|crypto)\.", "openssl"), (r"^libffi\.", "libffi"),
    (r"^libpq\.", "postgresql.lib"), (r"^libsqlite3\.", "sqlite"), (r"^libbz2\.", "bzip2"),
    (r"^liblzma\.", "xz"), (r"^libexpat\.", "expat"), (r"^libuuid\.", "libuuid"),
    (r"^libcrypt\.", "libxcrypt"), (r"^libGL\.", "libGL"), (r"^libX11\.", "xorg.libX11"),
    (r"^libglib-2\.0\.", "glib"), (r"^libxml2\.", "libxml2"), (r"^libxslt\.", "libxslt"),
    (r"^libjpeg\.", "libjpeg"), (r"^libpng16\.", "libpng"), (r"^libcurl\.", "curl"),
)


class Failure(Exception):
    pass


def fail(message: str) -> "Failure":
    return Failure(message)


def _env_list(name: str) -> list[str]:
    return [x for x in os.environ.get(name, "").split() if x]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _yaml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


# -- libraries ------------------------------------------------------------------------------------

def library_dirs(paths: Iterable[str]) -> list[str]:
    """The lib/ (and lib64/) directories of store paths, in order, existing ones only."""
    out: list[str] = []
    for p in paths:
        for sub in ("lib", "lib64"):
            d = os.path.join(p, sub)
            if os.path.isdir(d) and d not in out:
                out.append(d)
    return out


def hint_for(soname: str) -> str:
    for pattern, attr in LIBRARY_HINTS:
        if re.match(pattern, soname):
            return attr
    return ""


def missing_message(where: str, missing: dict[str, list[str]], names: list[str]) -> str:
    """What a wheel needs that no library gives, with the profile lines that add it."""
    what = "; ".join(f"{f} needs {', '.join(sorted(libs))}" for f, libs in sorted(missing.items()))
    wanted = sorted({h for libs in missing.values() for lib in libs if (h := hint_for(lib))})
    lines = [n for n in names] + [h for h in wanted if h not in names]
    fix = ("add the package that has it to the profile:\n  python:\n    libraries: "
           + _yaml_list(lines or ["PACKAGE"]))
    given = f" (it names: {', '.join(names)})" if names else " (it names none)"
    return f"{where}: {what}, which no library of python.libraries gives{given}; {fix}"


def _patchelf(patchelf: str, *args: str) -> str:
    r = subprocess.run([patchelf, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise fail(f"patchelf {' '.join(args[:-1])} {os.path.basename(args[-1])} failed: "
                   f"{(r.stderr or r.stdout).strip().splitlines()[-1:] or r.returncode}")
    return r.stdout.strip()


def fix_wheel(wheel: str, dest: str, lib_dirs: list[str], patchelf: str, names: list[str],
              tmp: str, rewrite: bool = False, label: str = "") -> bool:
    """Write `wheel`, its ELF files' RUNPATH pointing at the `lib_dirs` that hold what they need,
    to `dest`. Returns whether an ELF file changed; unchanged and not `rewrite`: copied as it is.
    Members are streamed, only ELF files are held in memory (a wheel may be gigabytes)."""
    changed: dict[str, bytes] = {}
    missing: dict[str, list[str]] = {}
    work = os.path.join(tmp, "elf")
    os.makedirs(work, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        infos = z.infolist()
        bundled = {os.path.basename(i.filename) for i in infos}
        for i in infos:
            if i.is_dir() or i.file_size < 64:
                continue
            with z.open(i) as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
            path = os.path.join(work, "x-" + hashlib.sha256(i.filename.encode()).hexdigest()[:16])
            with z.open(i) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            try:
                needed = [x for x in _patchelf(patchelf, "--print-needed", path).splitlines() if x.strip()]
                rpath = _patchelf(patchelf, "--print-rpath", path)
            except Failure:  # an ELF file that is no dynamic object (static, another machine's): left as it is
                os.unlink(path)
                continue
            add: list[str] = []
            for lib in needed:
                if LIBC_RE.match(lib) or lib in bundled:
                    continue
                found = next((d for d in lib_dirs if os.path.exists(os.path.join(d, lib))), None)
                if found is None:
                    missing.setdefault(i.filename, []).append(lib)
                elif found not in add:
                    add.append(found)
            old = [x for x in rpath.split(":") if x]
            new = old + [d for d in add if d not in old]
            if new != old:
                _patchelf(patchelf, "--set-rpath", ":".join(new), path)
                with open(path, "rb") as fh:
                    changed[i.filename] = fh.read()
            os.unlink(path)
        if missing:
            raise fail(missing_message(label or os.path.basename(wheel), missing, names))
        if not changed and not rewrite:
            shutil.copyfile(wheel, dest)
            return False
        record = next((i.filename for i in infos if i.filename.count("/") == 1
                       and i.filename.endswith(".dist-info/RECORD")), None)
        if record is not None:
            changed[record] = _record(z.read(record), changed, record)
        order = infos if not rewrite else sorted(infos, key=lambda x: (x.filename == record, x.filename))
        with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
            for i in order:
                zi = zipfile.ZipInfo(i.filename, date_time=i.date_time if not rewrite else (1980, 1, 1, 0, 0, 0))
                zi.external_attr = i.external_attr
                zi.compress_type = zipfile.ZIP_DEFLATED
                if i.filename in changed:
                    zout.writestr(zi, changed[i.filename])
                    continue
                with z.open(i) as src, zout.open(zi, "w", force_zip64=i.file_size >= (1 << 31) - 1) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    return any(n != record for n in changed)


def _record(text: bytes, changed: dict[str, bytes], record: str) -> bytes:
    """RECORD with the changed files' new hashes and sizes (the others as they were)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text.decode("utf-8"))):
        if not row:
            continue
        name = row[0]
        if name == record:
            w.writerow([name, "", ""])
        elif name in changed:
            w.writerow([name, "sha256=" + _b64(changed[name]), str(len(changed[name]))])
        else:
            w.writerow(row)
    return out.getvalue().encode("utf-8")


# -- sdists ---------------------------------------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unpack(archive: str, name: str, into: str) -> str:
    """The source tree of an sdist (tar.gz, tar.bz2, tar.xz, tar, zip)."""
    os.makedirs(into, exist_ok=True)
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for n in z.namelist():
                if n.startswith("/") or ".." in n.split("/"):
                    raise fail(f"{name} holds a path outside its directory: {n}")
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.name.startswith("/") or ".." in m.name.split("/") or (m.issym() or m.islnk()) and (
                        os.path.isabs(m.linkname) or ".." in m.linkname.split("/")):
                    raise fail(f"{name} holds a path outside its directory: {m.name}")
                if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                    raise fail(f"{name} holds a special file: {m.name}")
            if hasattr(tarfile, "data_filter"):
                t.extractall(into, filter="data")
            else:
                t.extractall(into)
    tops = [e for e in os.listdir(into) if not e.startswith(".")]
    if len(tops) == 1 and os.path.isdir(os.path.join(into, tops[0])):
        return os.path.join(into, tops[0])
    return into


def unpack_wheels(wheels: Iterable[str], into: str) -> None:
    """Unpack wheels (the build backend from the lock) into one directory for sys.path."""
    os.makedirs(into, exist_ok=True)
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            for info in z.infolist():
                n = info.filename
                if n.startswith("/") or ".." in n.split("/") or n.endswith("/"):
                    continue
                parts = n.split("/")
                if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
                    n = "/".join(parts[2:])
                elif parts[0].endswith(".data"):
                    continue  # scripts, headers, data: not needed on the path
                dest = os.path.join(into, n)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as fh:
                    fh.write(z.read(info))


def build_system(tree: str) -> tuple[list[str], str, list[str]]:
    """(requires, build-backend, backend-path) of the source tree's pyproject.toml; without one
    (or without [build-system]) setuptools' legacy backend, as pip and uv do."""
    legacy: tuple[list[str], str, list[str]] = (["setuptools>=40.8.0"], "setuptools.build_meta:__legacy__", [])
    path = os.path.join(tree, "pyproject.toml")
    if not os.path.isfile(path):
        return legacy
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        import importlib
        doc = importlib.import_module("tomllib").loads(raw.decode("utf-8"))
        bs = doc.get("build-system")
    except ImportError:  # Python 3.10: the few keys by hand
        bs = _build_system_by_hand(raw.decode("utf-8"))
    if not isinstance(bs, dict):
        return legacy
    requires = [str(r) for r in bs.get("requires", [])]
    backend = str(bs.get("build-backend") or legacy[1])
    return requires, backend, [str(p) for p in bs.get("backend-path", [])]


def _build_system_by_hand(text: str) -> Optional[dict]:
    m = re.search(r"^\[build-system\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not m:
        return None
    body = m.group(1)
    out: dict = {}
    for key in ("requires", "backend-path"):
        k = re.search(rf"^{key}\s*=\s*\[(.*?)\]", body, re.M | re.S)
        if k:
            out[key] = re.findall(r"""["']([^"']+)["']""", k.group(1))
    b = re.search(r"""^build-backend\s*=\s*["']([^"']+)["']""", body, re.M)
    if b:
        out["build-backend"] = b.group(1)
    return out


def requirement_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return _norm(m.group(1)) if m else ""


def marker_holds(req: str) -> bool:
    """Only the common markers of build requirements (python_version, sys_platform, ...)."""
    if ";" not in req:
        return True
    marker = req.split(";", 1)[1].strip()
    env = {"python_version": "%d.%d" % sys.version_info[:2], "sys_platform": sys.platform,
           "platform_system": "Linux", "os_name": os.name, "implementation_name": sys.implementation.name,
           "platform_python_implementation": "CPython",
           "python_full_version": "%d.%d.%d" % sys.version_info[:3]}
    m = re.fullmatch(r"""\s*(\w+)\s*(==|!=|<=|>=|<|>)\s*["']([^"']*)["']\s*""", marker)
    if not m or m.group(1) not in env:
        return True
    a, op, b = env[m.group(1)], m.group(2), m.group(3)
    if m.group(1).startswith("python"):
        av, bv = tuple(int(x) for x in a.split(".")), tuple(int(x) for x in b.split(".") if x.isdigit())
        return {"==": av[:len(bv)] == bv, "!=": av[:len(bv)] != bv, "<=": av <= bv, ">=": av >= bv,
                "<": av < bv, ">": av > bv}[op]
    return {"==": a == b, "!=": a != b}.get(op, True)


def installed_names(paths: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for p in paths:
        if not os.path.isdir(p):
            continue
        for e in os.listdir(p):
            if e.endswith((".dist-info", ".egg-info")):
                names.add(_norm(e.rsplit(".", 1)[0].split("-")[0]))
            elif os.path.isdir(os.path.join(p, e)) and not e.startswith((".", "_")):
                names.add(_norm(e))  # a package set's module without metadata
    return names


def missing_backend_message(pkg: str, version: str, missing: list[str], given: list[str], what: str) -> str:
    names = given + [m for m in missing if m not in given]
    return (f"{pkg} {version}: its {what} needs {', '.join(missing)}, which python.build_systems.{pkg} does "
            f"not give (it names: {', '.join(given) or 'nothing'}); name it in the profile:\n  python:\n"
            f"    build_systems:\n      {pkg}: {_yaml_list(names)}\n"
            "(each comes from the lock when a package of it has that name, e.g. a `build` dependency group"
            " locked with `uv add --group build NAME`, else from the package set)")


def _python() -> str:
    """The package set's interpreter running this builder (python.nix passes it as `python`)."""
    return os.environ.get("python") or sys.executable or os.path.realpath("/proc/self/exe")


def build_env(tmp: str, sys_path: list[str]) -> dict[str, str]:
    """The environment of the PEP 517 hooks: the package set only."""
    cc = os.environ.get("cc", "")
    inputs = _env_list("buildInputs") + _env_list("libraries")
    bins = [os.path.join(p, "bin") for p in [cc, *_env_list("buildInputs"), os.environ.get("coreutils", "")]
            if p and os.path.isdir(os.path.join(p, "bin"))]
    bins.insert(0, os.path.dirname(_python()))
    incs = [os.path.join(p, "include") for p in inputs if os.path.isdir(os.path.join(p, "include"))]
    libs = library_dirs(inputs)
    pkgconfig = [os.path.join(p, sub) for p in inputs for sub in ("lib/pkgconfig", "share/pkgconfig")
                 if os.path.isdir(os.path.join(p, sub))]
    env = {"PATH": ":".join(dict.fromkeys(bins)), "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8",
           "PYTHONPATH": ":".join(sys_path), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "315532800", "NIX_BUILD_TOP": os.environ.get("NIX_BUILD_TOP", tmp)}
    if cc:
        env.update(CC=os.path.join(cc, "bin", "cc"), CXX=os.path.join(cc, "bin", "c++"))
        env["LDSHARED"] = env["CC"] + " -shared"
        env["LDCXXSHARED"] = env["CXX"] + " -shared"
    if incs:
        env["CPATH"] = ":".join(incs)
    if libs:
        env["LIBRARY_PATH"] = ":".join(libs)
    if pkgconfig:
        env["PKG_CONFIG_PATH"] = ":".join(pkgconfig)
    return env


HOOK = r"""
import importlib, json, os, re, sys
backend_name, outdir, have = sys.argv[1], sys.argv[2], set(sys.argv[3].split())
for p in reversed(json.loads(os.environ.get("ONBOARD_BACKEND_PATH", "[]"))):
    sys.path.insert(0, os.path.abspath(p))
mod, _, obj = backend_name.partition(":")
backend = importlib.import_module(mod)
for part in obj.split(".") if obj else []:
    backend = getattr(backend, part)
need = list(getattr(backend, "get_requires_for_build_wheel", lambda: [])() or [])
names = [re.sub(r"[-_.]+", "-", m.group(1)).lower() for r in need if ";" not in r
         for m in [re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r)] if m]
missing = [n for n in names if n not in have]
if missing:
    os.write(1, ("ONBOARD-MISSING " + " ".join(missing) + "\n").encode())
    sys.exit(3)
built = backend.build_wheel(outdir)
"""


def build_sdist(src: str, name: str, pkg: str, version: str, tmp: str) -> str:
    """Build the sdist; the path of the wheel it made."""
    tree = unpack(src, name, os.path.join(tmp, "src"))
    sys_path = _env_list("backendSites")
    if _env_list("backendWheels"):  # not unpacked by python.nix: here
        site = os.path.join(tmp, "backend")
        unpack_wheels(_env_list("backendWheels"), site)
        sys_path.insert(0, site)
    requires, backend, backend_path = build_system(tree)
    have = installed_names(sys_path)
    given = _env_list("backendNames")
    missing = [r for r in (requirement_name(x) for x in requires if marker_holds(x)) if r and r not in have]
    if missing:
        raise fail(missing_backend_message(pkg, version, missing, given,
                                           f"build backend ({backend}, [build-system] requires)"))
    env = build_env(tmp, sys_path)
    env["ONBOARD_BACKEND_PATH"] = "[" + ",".join('"' + p.replace('"', '') + '"' for p in backend_path) + "]"
    outdir = os.path.join(tmp, "dist")
    os.makedirs(outdir, exist_ok=True)
    argv = [_python(), "-c", HOOK, backend, outdir, " ".join(sorted(have))]
    r = subprocess.run(argv, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    said = r.stdout or ""
    os.write(1, said.encode("utf-8", "replace"))
    if r.returncode == 3 and "ONBOARD-MISSING " in said:
        missing = said.split("ONBOARD-MISSING ", 1)[1].split()
        raise fail(missing_backend_message(pkg, version, missing, given,
                                           f"build backend ({backend}, get_requires_for_build_wheel)"))
    if r.returncode != 0:
        raise fail(f"{pkg} {version}: building {name} failed (the build's own output is above); its compiler, "
                   "headers and libraries come from the package set: name what it needs under "
                   "python.build_inputs, its build backend under python.build_systems")
    wheels = [f for f in os.listdir(outdir) if f.endswith(".whl")]
    if len(wheels) != 1:
        raise fail(f"{pkg} {version}: the build backend made {len(wheels)} wheels, not one")
    return os.path.join(outdir, wheels[0])


def requirement_line(pkg: str, version: str, path: str) -> str:
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return f"{pkg}=={version} --hash=sha256:{digest}\n"


def build_log(line: str) -> None:
    """A line of the Nix build's log (this runs as a Nix builder, never inside onboard itself:
    onboard reads these lines back from Nix's log, see envhook.explain)."""
    os.write(2, (line + "\n").encode("utf-8", "replace"))


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else ""
    out = os.environ.get("out", "")
    src, name = os.environ.get("src", ""), os.environ.get("srcName", "")
    pkg, version = os.environ.get("pkgName", ""), os.environ.get("pkgVersion", "")
    tmp = os.environ.get("NIX_BUILD_TOP") or os.environ.get("TMPDIR") or "/tmp"
    tmp = os.path.join(tmp, "onboard-native")
    os.makedirs(tmp, exist_ok=True)
    if mode == "backend" and out:  # a build backend's wheels, unpacked once for every sdist
        unpack_wheels(_env_list("backendWheels"), os.path.join(out, "site"))
        return 0
    if mode not in ("sdist", "wheel") or not out or not src:
        build_log(PREFIX + "usage: python-native.py sdist|wheel|backend (with out, src, srcName set)")
        return 2
    lib_paths = _env_list("libraries") + _env_list("buildInputs")
    names = _env_list("libraryNames")
    patchelf = os.path.join(os.environ.get("patchelf", ""), "bin", "patchelf")
    try:
        if mode == "sdist":
            wheel = build_sdist(src, name, pkg, version, tmp)
            rewrite = True
        else:
            wheel, rewrite = src, False
        os.makedirs(out, exist_ok=True)
        dest = os.path.join(out, os.path.basename(wheel) if mode == "sdist" else name)
        changed = fix_wheel(wheel, dest, library_dirs(lib_paths), patchelf, names, tmp, rewrite=rewrite,
                            label=os.path.basename(dest))
        with open(os.path.join(out, "requirement.txt"), "w", encoding="utf-8") as fh:
            fh.write(requirement_line(pkg, version, dest))
        what = ("built" if mode == "sdist" else "checked") + (", its RUNPATH set" if changed else "")
        build_log(f"{PREFIX}{pkg} {version}: {what}: {os.path.basename(dest)}")
    except Failure as exc:
        build_log(PREFIX + "error: " + str(exc).replace("\n", "\n" + PREFIX))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
