"""Reading a hashed requirements file (pip's format, as `uv export --hashes` writes it).

Every requirement must be pinned (`name==version`) and carry at least one `--hash=sha256:`;
`-r FILE` and `-c FILE` are followed, relative to the file that names them, and every file
read is recorded. A requirements file gives hashes but no URLs: the artifacts are found on
the index afterwards (onboard.core.python.index.locate_artifacts). Problems are at
`file:line` with the command that makes a proper file.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Optional
from urllib.parse import unquote, urlsplit

from onboard.core.python.markers import Environment, MarkerError, evaluate, normalize_name
from onboard.core.python.model import FIX_EXPORT, FIX_UV_LOCK, SHA256_RE, Artifact, Lock, Package
from onboard.core.python.tags import parse_filename
from onboard.core.schema import Problem

__all__ = ["read_requirements"]

_REQ_RE = re.compile(r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[(?P<extras>[^\]]*)\])?\s*"
                     r"(?P<rest>.*)$")
_PIN_RE = re.compile(r"^===?\s*(?P<version>[A-Za-z0-9.+!_-]+)$")
#: options pip allows in a requirements file that do not change what is installed
_HARMLESS = {"--require-hashes", "--pre", "--prefer-binary", "--no-binary", "--only-binary", "--trusted-host",
             "--use-feature", "--no-index", "-f", "--find-links", "--config-settings"}
_TAKES_VALUE = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url",
                "--no-binary", "--only-binary", "--trusted-host", "-f", "--find-links", "--use-feature",
                "-e", "--editable", "--hash", "--config-settings"}
MAX_DEPTH = 20


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with `\\` continuations joined and comments removed."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if not buf:
            start = i
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def _split_options(line: str) -> tuple[str, list[str]]:
    """The requirement part and the option words (`--hash=...` and the like) of one line."""
    words = line.split()
    for i, w in enumerate(words):
        if w.startswith("-"):
            return " ".join(words[:i]), words[i:]
    return line, []


def _option_pairs(words: list[str]) -> list[tuple[str, str]]:
    try:
        words = shlex.split(" ".join(words))
    except ValueError:
        pass
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        if "=" in w and w.startswith("--"):
            k, _, v = w.partition("=")
            out.append((k, v))
        elif w in _TAKES_VALUE and i + 1 < len(words):
            out.append((w, words[i + 1]))
            i += 1
        elif len(w) > 2 and w[:2] in ("-r", "-c", "-i", "-e", "-f") and not w.startswith("--"):
            out.append((w[:2], w[2:]))
        else:
            out.append((w, ""))
        i += 1
    return out


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.lock: Optional[Lock] = None
        self.seen: set[str] = set()

    def error(self, file: str, line: int, message: str) -> None:
        self.problems.append(Problem(file, line, 0, message))

    def read(self, path: str, constraint: bool, depth: int, named_at: tuple[str, int]) -> None:
        assert self.lock is not None
        path = os.path.abspath(path)
        if path in self.seen:
            return
        if depth > MAX_DEPTH:
            self.error(*named_at, f"`-r`/`-c` includes go deeper than {MAX_DEPTH} files: is there a loop?")
            return
        self.seen.add(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            self.error(*named_at, f"no such file: {path} (named by `-r`/`-c`, relative to the file that names it)"
                       if depth else f"no such file: {path}")
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.error(path, 0, f"cannot read it: {getattr(exc, 'strerror', None) or exc}")
            return
        self.lock.inputs.append(path)
        for line_no, line in _logical_lines(text):
            self.line(path, line_no, line, constraint, depth)

    def line(self, path: str, n: int, line: str, constraint: bool, depth: int) -> None:
        assert self.lock is not None
        req, words = _split_options(line)
        options = _option_pairs(words)
        hashes: list[str] = []
        bad_hash = False
        base = os.path.dirname(path)
        for key, value in options:
            if key in ("-r", "--requirement", "-c", "--constraint"):
                if not value:
                    self.error(path, n, f"`{key}` needs a file name")
                    continue
                self.read(os.path.join(base, os.path.expanduser(value)), constraint or key in ("-c", "--constraint"),
                          depth + 1, (path, n))
            elif key in ("-i", "--index-url", "--extra-index-url"):
                if value and value not in self.lock.index_urls:
                    if key == "--extra-index-url":
                        self.lock.index_urls.append(value)
                    else:
                        self.lock.index_urls.insert(0, value)
            elif key == "--hash":
                algo, _, digest = value.partition(":")
                if algo != "sha256" or not SHA256_RE.match(digest.lower()):
                    bad_hash = True
                    self.error(path, n, f"`--hash={value}`: onboard needs sha256 hashes (--hash=sha256:<64 hex "
                                        f"digits>); make the file with `{FIX_EXPORT}`")
                else:
                    hashes.append(digest.lower())
            elif key in ("-e", "--editable"):
                self.error(path, n, f"`{key} {value}`: an editable install cannot be pinned by hash; list the "
                                    f"project's dependencies in pyproject.toml and lock them with `{FIX_UV_LOCK}`")
                return
            elif key not in _HARMLESS:
                self.error(path, n, f"`{key}` is not an option onboard reads in a requirements file")
        if req and not bad_hash:
            self.requirement(path, n, req, hashes, constraint)
        elif hashes:
            self.error(path, n, "a `--hash` without a requirement before it on its line")

    def requirement(self, path: str, n: int, req: str, hashes: list[str], constraint: bool) -> None:
        assert self.lock is not None
        spec, _, marker = req.partition(";")
        m = _REQ_RE.match(spec.strip())
        if not m:
            self.error(path, n, f"`{req}` is not a requirement (NAME==VERSION)")
            return
        name, rest = normalize_name(m.group("name")), m.group("rest").strip()
        url = ""
        if rest.startswith("@"):
            url = rest[1:].strip()
            parsed = parse_filename(unquote(urlsplit(url).path.rsplit("/", 1)[-1]))
            if parsed is None or not hashes:
                self.error(path, n, f"`{req}`: a direct URL needs the file's `--hash=sha256:...` and a wheel or "
                                    f"sdist file name; make the file with `{FIX_EXPORT}`")
                return
            version = parsed[1]
        else:
            pin = _PIN_RE.match(rest)
            if not pin:
                what = f"`{spec.strip()}` is not pinned" if rest else f"`{spec.strip()}` has no version"
                self.error(path, n, f"{what}: every requirement needs an exact version and its hashes "
                                    f"(NAME==VERSION --hash=sha256:...); make the file with `{FIX_EXPORT}`")
                return
            version = pin.group("version")
        marker = marker.strip()
        if marker:
            try:
                evaluate(marker, Environment())  # only to catch a marker that cannot be read
            except MarkerError as exc:
                self.error(path, n, str(exc))
                return
        if constraint:
            self.lock.constraints[name] = version
            return
        if not hashes:
            self.error(path, n, f"`{spec.strip()}` has no `--hash`: onboard installs only what a hash pins; "
                                f"make the file with `{FIX_EXPORT}`")
            return
        pkg = Package(name=name, version=version, source="url" if url else "requirements", source_url=url,
                      marker=marker, hashes=sorted(set(hashes)), file=path, line=n)
        if url:
            filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            art = Artifact(filename=filename, url=url.split("#", 1)[0], sha256=pkg.hashes[0])
            if art.is_wheel:
                pkg.wheels.append(art)
            else:
                pkg.sdist = art
        self.lock.packages.append(pkg)


def read_requirements(path: str) -> tuple[Optional[Lock], list[Problem]]:
    """Read a hashed requirements file and the files it includes."""
    r = _Reader()
    r.lock = Lock(format="requirements", path=os.path.abspath(path))
    r.read(path, False, 0, (os.path.abspath(path), 0))
    for name, version in sorted(r.lock.constraints.items()):
        for pkg in r.lock.by_name(name):
            if pkg.version != version:
                r.error(pkg.file, pkg.line, f"{name}=={pkg.version} disagrees with the constraint {name}=={version}; "
                                            f"make the file again with `{FIX_EXPORT}`")
    if not r.lock.inputs:
        return None, r.problems
    return r.lock, r.problems
