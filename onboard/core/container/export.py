"""`onboard export container`: the environment `onboard shell` would load (built first when it
is not, as the shell would build it), as an OCI image archive.

The environment and its closure are found by the verify record's code (`verify.record.locate`,
Nix's `path-info -r` through `verify.nixstore`); its variables are the ones env.sh exports (the
file `onboard shell` sources); a store-built Python environment the rendered flake exposes as
`packages.<system>.python-env` (a profile with a Python lock) is built the one way onboard builds
it, python/storeenv.py, GC-rooted beside the environment, and its closure added. The image
itself is image.py.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

from onboard.core.container import image as img
from onboard.core.container.config import (ContainerError, _parse_cmd, check_tag, default_tag, exported_vars,
                                          find_shell, image_env, resolve_cmd)
from onboard.core.events import Emitter, discard

PYTHON_ENV = "python-env"


@dataclass
class Request:
    name: Optional[str]
    out: str
    project: Optional[str] = None
    cmd: Optional[str] = None  # a command line (shell words), or None for the profile's shell
    tag: str = ""
    gzip: bool = False
    replace: bool = False  # an existing --out may be replaced


@dataclass
class Exported:
    profile: str
    out: str
    digest: str
    config_digest: str
    size: int
    tag: str
    layers: int
    paths: list[str]
    roots: list[str]
    python_env: str
    cmd: list[str]
    env: list[str]
    nar_bytes: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Planned:
    """What an export would do (the dry run): nothing is built or written."""

    profile: str
    out: str
    tag: str
    built: bool  # the environment is there (else the export builds it first)
    paths: list[str]
    layers: int
    cmd: list[str]
    env: list[str]
    python_env: bool
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if not self.built:
            out.append(f"build the environment of profile {self.profile} first, as `onboard shell` would "
                       "(it is not built yet)")
        out.append(f"write the OCI image archive {self.out} (tag {self.tag}): "
                   + (f"{len(self.paths)} store paths in {self.layers} layers" if self.built
                      else "a layer per store path of its runtime closure")
                   + " (the last one onboard's own: user, directories, record)")
        if self.python_env:
            out.append(f"build the flake's packages.<system>.{PYTHON_ENV} and add its closure")
        out.append(f"image: user {img.User().name} (uid {img.User().uid}), working directory {img.User().workdir}, "
                   f"command {' '.join(self.cmd) if self.cmd else '(none: no shell in the closure)'}"
                   + (f", {len(self.env)} variables" if self.env else ""))
        return out


def _check_out(out: str, replace: bool) -> str:
    out = os.path.abspath(out)
    if os.path.isdir(out):
        raise ContainerError(f"{out} is a directory", "name the archive file to write: --out FILE.tar", code=2)
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise ContainerError(f"{parent} does not exist, so {out} cannot be written",
                             "name a file in an existing directory: --out FILE.tar", code=2)
    if os.path.lexists(out) and not replace:
        raise ContainerError(f"{out} exists", "remove it, name another file, or replace it with --yes", code=2)
    return out


# -- finding and building --------------------------------------------------------------------

def _locate(req: Request, emit: Emitter, build: bool) -> object:
    """verify.record.Located of the environment; built first (when `build`) if it is not."""
    from onboard.core.verify import record as rec
    from onboard.core.verify.nixstore import NixError

    try:
        return rec.locate(req.name, req.project, check=False)
    except rec.VerifyError as exc:
        if exc.code == 2 or not build:
            hint = exc.hint.replace("onboard verify NAME", "onboard export container NAME")
            raise ContainerError(exc.message, hint, exc.code) from None
    except NixError as exc:
        raise ContainerError(exc.message, exc.hint) from None
    _build(req, emit)
    try:
        return rec.locate(req.name, req.project, check=False)
    except rec.VerifyError as exc:
        raise ContainerError(exc.message, exc.hint, exc.code) from None


def _profile(req: Request) -> tuple[object, Optional[str], list[str]]:
    from pathlib import Path

    from onboard.core import project as projects
    from onboard.core.profiles import cache
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    root = projects.resolve(req.project)
    name = req.name or (cache.active_name(root) if root else "")
    dirs = projects.profile_dirs(root)
    try:
        return load_profile(name, dirs=[Path(d) for d in dirs]), root, dirs
    except SchemaError as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
        raise ContainerError(f"cannot load profile {name}:\n{problems}", "fix the profile (onboard profiles validate)",
                             code=2) from None


def _build(req: Request, emit: Emitter) -> None:
    from onboard.core.profiles import build

    profile, root, dirs = _profile(req)
    try:
        build.ensure_env(profile, emit=emit, project=root, dirs=dirs)  # type: ignore[arg-type]
    except build.EnvError as exc:
        where = f"{exc.where}: " if exc.where else ""
        raise ContainerError(f"cannot build the shell of profile {getattr(profile, 'name', req.name)}: "
                             f"{where}{exc.message}", exc.hint) from None


def _python_env(directory: str, manifest: object, emit: Emitter) -> str:
    """The store-built venv of a profile with a locked Python (the rendered flake's
    packages.<system>.python-env), built and GC-rooted in the environment's directory exactly as
    `onboard shell --hermetic` builds it (python/storeenv.py: found again without Nix while the
    environment is unchanged); "" when the environment has no lock."""
    if not _has_python_env(directory):
        return ""
    from onboard.core.events import ActionFailed, ActionFinished, ActionStarted
    from onboard.core.profiles.nixrun import EnvError
    from onboard.core.python import storeenv

    key = str(getattr(manifest, "key", "") or "")
    found = storeenv.current(directory, key)
    if found is not None:
        return found
    backend = str(getattr(manifest, "backend", "") or "flake")
    if backend != "flake":
        raise ContainerError(f"the store-built Python environment of this profile needs the `nix` command with "
                             f"flakes (Nix 2.4 or newer); this environment was built with {backend}",
                             "upgrade Nix (onboard install), rebuild with `onboard shell NAME`, then export again")
    action_id = f"container:{storeenv.OUTPUT}"
    emit(ActionStarted(index=0, total=1, action_id=action_id,
                       description=f"build the store-built Python environment (packages.{nix_system()}."
                                   f"{storeenv.OUTPUT}) of the locked Python"))
    try:
        path = storeenv.build(directory, key, backend, emit=emit, action_id=action_id)
    except EnvError as exc:
        emit(ActionFailed(action_id=action_id, error=exc.message))
        raise ContainerError(f"cannot build the store-built Python environment ({storeenv.OUTPUT}): {exc.message}",
                             exc.hint) from None
    emit(ActionFinished(action_id=action_id, status="done", message=path))
    return path


def layer_cache_dir() -> str:
    from onboard.core import paths

    return str(paths.cache_dir() / "containers" / "layers")


def nix_system() -> str:
    machine = os.uname().machine
    return f"{'aarch64' if machine == 'arm64' else machine}-{os.uname().sysname.lower()}"


def _closure(loc: object, roots: list[str]) -> tuple[dict[str, str], dict[str, list[str]], dict[str, int]]:
    """(path -> NAR hash, path -> references, path -> NAR size) of the closure of `roots`, asked of Nix
    once: the query locate started (before the command line was parsed, when it could) answers
    for the environment's own roots, and a second one, run beside it, for the roots added to them
    (the store-built Python environment)."""
    from onboard.core.verify import nixstore

    jobs = getattr(loc, "jobs", None)
    procs = []
    try:
        if jobs is not None and jobs.query is not None and jobs.roots == roots[:len(jobs.roots)]:
            procs.append(jobs.query)
            jobs.query = None
            if roots[len(jobs.roots):]:
                procs.append(nixstore.start_closure(roots[len(jobs.roots):]))
        else:
            procs.append(nixstore.start_closure(roots))
        answers = [(*p.communicate(), p.returncode) for p in procs]
    finally:
        if jobs is not None:
            jobs.kill()
    infos: dict[str, dict] = {}
    for out, err, rc in answers:
        if rc != 0:
            tail = (err.strip().splitlines() or ["no reason given"])[-1]
            raise ContainerError(f"Nix could not list the closure: {tail}", "run `onboard shell` to build it again")
        try:
            infos.update(nixstore.path_infos(json.loads(out)))
        except ValueError:
            raise ContainerError("Nix gave a closure this onboard cannot read",
                                 "report the Nix version you use") from None
    hashes = {p: nixstore.sri(str(i.get("narHash", ""))) for p, i in sorted(infos.items())}
    refs = {p: sorted(str(r) for r in (i.get("references") or [])) for p, i in infos.items()}
    return hashes, refs, {p: int(i.get("narSize") or 0) for p, i in infos.items()}


def _is_dev_env(path: str) -> bool:
    """The record `nix print-dev-env --profile` keeps in the store (verify.record.is_dev_env):
    it carries the time of its build, so the image carries its variables in its config
    instead, and its references, not the file."""
    from onboard.core.verify.record import is_dev_env

    return is_dev_env(path)


def runtime_closure(roots: list[str], hashes: dict[str, str],
                    refs: dict[str, list[str]]) -> tuple[list[str], dict[str, str]]:
    """(image roots, path -> NAR hash) of what the environment runs: the closure of `roots`
    with each dev-env record replaced by what it refers to."""
    image_roots: list[str] = []
    for r in roots:
        for p in ([q for q in refs.get(r, []) if q != r] if _is_dev_env(r) else [r]):
            if p not in image_roots:
                image_roots.append(p)
    keep: set[str] = set()
    todo = list(image_roots)
    while todo:
        p = todo.pop()
        if p in keep or p not in hashes:
            continue
        keep.add(p)
        todo.extend(refs.get(p, []))
    return image_roots, {p: hashes[p] for p in sorted(keep)}


# -- the export -----------------------------------------------------------------------------

def plan_export(req: Request) -> Planned:
    """The dry run: what `export_container(req)` would do. Builds and writes nothing."""
    from onboard.core.profiles import cache

    out = _check_out(req.out, req.replace)
    cmd = _parse_cmd(req.cmd) if req.cmd is not None else []
    if req.tag:
        check_tag(req.tag)
    try:
        loc = _locate(req, discard, build=False)
    except ContainerError as exc:
        if exc.code == 2 or "built" not in exc.message:
            raise
        profile, _root, _dirs = _profile(req)
        name = str(getattr(profile, "name", req.name or ""))
        return Planned(name, out, req.tag or default_tag(name), False, [], 0, cmd, [], False, [exc.message])
    name = str(getattr(loc, "name"))
    directory = str(getattr(loc, "directory"))
    roots = [p for p in getattr(loc, "manifest").store_paths if p]
    all_hashes, refs, _sizes = _closure(loc, roots)
    _roots, hashes = runtime_closure(roots, all_hashes, refs)
    variables = exported_vars(_read(os.path.join(directory, cache.ENV_SH)))
    env = image_env(variables, img.User(), name)
    closure = set(hashes)
    if not cmd:
        shell = find_shell(variables.get("PATH", ""), closure)
        cmd = [shell] if shell else []
    py = _has_python_env(directory)
    layers = len(img.group_layers(list(hashes), refs)) + 1
    return Planned(name, out, req.tag or default_tag(name), True, sorted(hashes), layers, cmd, env, py,
                   list(getattr(loc, "notes")))


def _has_python_env(directory: str) -> bool:
    """The rendered flake has a locked Python (its python.nix) and exposes python-env."""
    from onboard.core.profiles import cache

    flake = os.path.join(directory, cache.RENDERED)
    return os.path.isfile(os.path.join(flake, "python.nix")) and PYTHON_ENV in _read(os.path.join(flake, "flake.nix"))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError:
        return ""


def _new_file(directory: str) -> tuple[int, str]:
    """A new file of this process next to the archive (renamed over it once complete)."""
    for i in range(1000):
        path = os.path.join(directory, f".onboard-image-{os.getpid()}-{i}.tmp")
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), path
        except FileExistsError:
            continue
        except OSError as exc:
            raise ContainerError(f"cannot write in {directory}: {exc.strerror or exc}",
                                 "name a file in a directory you can write: --out FILE.tar") from None
    raise ContainerError(f"cannot make a new file in {directory}", "remove its .onboard-image-*.tmp files")


def export_container(req: Request, emit: Emitter = discard) -> Exported:
    """Build (if needed) and write the image archive. Raises ContainerError; on any failure
    nothing is left at `req.out` (an existing file there is replaced only when it succeeds)."""
    from onboard.core.events import ActionFinished, ActionProgress, ActionStarted
    from onboard.core.profiles import cache

    out = _check_out(req.out, req.replace)
    words = _parse_cmd(req.cmd) if req.cmd is not None else None
    if req.tag:
        check_tag(req.tag)
    loc = _locate(req, emit, build=True)
    name = str(getattr(loc, "name"))
    tag = req.tag or default_tag(name)
    directory = str(getattr(loc, "directory"))
    m = getattr(loc, "manifest")
    roots = [p for p in m.store_paths if p]
    notes = list(getattr(loc, "notes"))
    python_env = _python_env(directory, m, emit)
    every = roots + ([python_env] if python_env and python_env not in roots else [])
    all_hashes, refs, sizes = _closure(loc, every)
    every, hashes = runtime_closure(every, all_hashes, refs)
    nar_bytes = sum(sizes.get(p, 0) for p in hashes)
    closure = set(hashes)
    variables = exported_vars(_read(os.path.join(directory, cache.ENV_SH)))
    if "PATH" not in variables:
        raise ContainerError(f"the environment of profile {name} ({directory}/{cache.ENV_SH}) has no PATH",
                             f"build it again: onboard shell {name} --print-env")
    user = img.User()
    env = image_env(variables, user, name, python_env)
    path_var = next((e[5:] for e in env if e.startswith("PATH=")), "")
    shell = find_shell(path_var, closure)
    if words is not None:
        if not resolve_cmd(words, path_var, closure):
            raise ContainerError(f"--cmd: {words[0]} is not in the image (not on its PATH, {path_var or 'empty'}, "
                                 "nor a file of its closure)",
                                 "add the package that provides it to the profile, or name a program it has", code=2)
        cmd = words
    else:
        cmd = [shell] if shell else []
        if not shell:
            notes.append("the closure has no shell that runs inside the image (a bash or sh there links out of "
                         "the store), so the image has no default command: give one with --cmd, or at run time")
    system = str(variables.get("system") or nix_system())
    arch = img.ARCH.get(system.split("-", 1)[0])
    if arch is None or not system.endswith("-linux"):
        raise ContainerError(f"profile {name} is built for {system}: OCI images of onboard are for Linux",
                             "export it on a Linux machine")
    spec = img.Spec(profile=name, arch=arch, closure=hashes, references=refs, roots=every, env=env, cmd=cmd,
                    tag=tag, shell=shell, user=user, gzip=req.gzip,
                    labels={"org.opencontainers.image.title": name, "dev.onboard.profile": name,
                            "dev.onboard.image-format": img.FORMAT})
    action_id = f"container:{name}"
    total = len(img.group_layers(list(hashes), refs)) + 1
    emit(ActionStarted(index=0, total=1, action_id=action_id,
                       description=f"write the image of profile {name}: {len(hashes)} store paths "
                                   f"({nar_bytes} bytes as NARs) in {total} layers to {out}"))
    fd, tmp = _new_file(os.path.dirname(out))
    try:
        with os.fdopen(fd, "w+b") as fh:
            def progress(done: int, of: int, nbytes: int) -> None:
                emit(ActionProgress(action_id=action_id, done=done, total=of, unit="layers",
                                    text=f"{nbytes} bytes"))

            try:
                w = img.write_image(spec, fh, progress, img.DigestCache(layer_cache_dir()))
            except img.tw.TarError as exc:
                raise ContainerError(f"cannot write the image: {exc}",
                                     "check the store with `onboard verify`, then export again") from None
            fh.flush()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    emit(ActionFinished(action_id=action_id, status="done", message=f"{w.size} bytes, {w.digest}"))
    return Exported(name, out, w.digest, w.config_digest, w.size, tag, len(w.layers), sorted(hashes), every,
                    python_env, cmd, env, nar_bytes, notes)
