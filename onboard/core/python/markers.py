"""Environment markers (PEP 508) and the part of PEP 440 versions they need.

`evaluate(marker, env)` decides a marker such as `python_full_version < '3.11' and
sys_platform == 'linux'` for one target environment. It is a small tokenizer and a
recursive-descent parser: nothing is ever passed to eval(). `Environment` describes the
target (see `Environment.for_target`); `extra`, `extras` and `dependency_groups` are sets,
so `extra == 'x'` is true when x is one of the extras asked for.

A marker that cannot be read raises `MarkerError` with a plain-words reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

__all__ = ["Environment", "MarkerError", "evaluate", "Version", "parse_version", "version_matches",
           "normalize_name"]

INF = float("inf")


def normalize_name(name: str) -> str:
    """A project name as PEP 503 compares it: lower case, runs of -_. become one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- versions --------------------------------------------------------------------------------
_VERSION_RE = re.compile(
    r"^\s*v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?"
    r"(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?"
    r"(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$", re.IGNORECASE)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


@dataclass(frozen=True, order=True)
class Version:
    """A PEP 440 version reduced to a sort key (local versions compare after their public part)."""

    key: tuple
    release: tuple[int, ...] = field(compare=False)
    text: str = field(compare=False, default="")


def parse_version(text: str) -> Version:
    """Parse a PEP 440 version; ValueError when it is not one."""
    m = _VERSION_RE.match(text)
    if not m:
        raise ValueError(f"`{text}` is not a version")
    release = tuple(int(x) for x in m.group("release").split("."))
    trimmed = list(release)
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
    has_post = m.group("post_n1") is not None or m.group("post_l") is not None
    pre: tuple
    if m.group("pre_l"):
        pre = (_PRE_RANK[m.group("pre_l").lower()], int(m.group("pre_n") or 0))
    elif m.group("dev_l") and not has_post:
        pre = (-INF,)
    else:
        pre = (INF,)
    post: tuple = (int(m.group("post_n1") or m.group("post_n2") or 0),) if has_post else (-INF,)
    dev: tuple = (int(m.group("dev_n") or 0),) if m.group("dev_l") else (INF,)
    local = tuple((0, int(p)) if p.isdigit() else (-1, p) for p in re.split(r"[-_.]", m.group("local") or "")
                  if p)
    return Version((int(m.group("epoch") or 0), tuple(trimmed), pre, post, dev, local), release, text.strip())


def version_matches(version: str, op: str, spec: str) -> bool:
    """Whether `version` satisfies `op spec` (==, !=, <, <=, >, >=, ~=, ===; `==3.*`).
    ValueError when either side is not a version."""
    if op == "===":
        return version.strip() == spec.strip()
    v = parse_version(version)
    if op in ("==", "!=") and spec.strip().endswith(".*"):
        prefix = parse_version(spec.strip()[:-2]).release
        hit = v.release[:len(prefix)] + (0,) * max(0, len(prefix) - len(v.release)) == prefix
        return hit if op == "==" else not hit
    s = parse_version(spec)
    if op == "~=":
        if len(s.release) < 2:
            raise ValueError(f"`~={spec}` needs at least two version parts")
        prefix = s.release[:-1]
        return v >= s and v.release[:len(prefix)] + (0,) * max(0, len(prefix) - len(v.release)) == prefix
    public = Version(v.key[:5] + ((),), v.release) if not s.key[5] else v
    if op == "==":
        return public == s
    if op == "!=":
        return public != s
    if op == "<":
        return v < s
    if op == "<=":
        return public <= s
    if op == ">":
        return public > s
    if op == ">=":
        return public >= s
    raise ValueError(f"`{op}` is not a version comparison")


# -- markers ---------------------------------------------------------------------------------
class MarkerError(ValueError):
    """A marker that cannot be read or uses a variable onboard does not know."""


SetOrStr = Union[str, frozenset]


@dataclass(frozen=True)
class Environment:
    """The values markers are decided against (PEP 508 names)."""

    python_version: str = "3.12"
    python_full_version: str = "3.12.0"
    sys_platform: str = "linux"
    platform_system: str = "Linux"
    platform_machine: str = "x86_64"
    os_name: str = "posix"
    implementation_name: str = "cpython"
    platform_python_implementation: str = "CPython"
    platform_release: str = ""
    platform_version: str = ""
    extras: frozenset = frozenset()
    dependency_groups: frozenset = frozenset()

    @classmethod
    def for_target(cls, python: str, machine: str = "x86_64", full_version: str = "") -> "Environment":
        """Linux with CPython `python` ("3.12"); `full_version` defaults to "<python>.0"."""
        return cls(python_version=python, python_full_version=full_version or f"{python}.0",
                   platform_machine=machine)

    def with_extras(self, extras: frozenset) -> "Environment":
        return Environment(**{**self.__dict__, "extras": frozenset(normalize_name(e) for e in extras)})

    def value(self, name: str) -> SetOrStr:
        if name == "extra" or name == "extras":
            return self.extras
        if name == "dependency_groups":
            return self.dependency_groups
        if name == "implementation_version":
            return self.python_full_version
        if name in _VARIABLES:
            return str(getattr(self, name))
        raise MarkerError(f"unknown marker variable `{name}`")


_VARIABLES = ("python_version", "python_full_version", "sys_platform", "platform_system", "platform_machine",
              "os_name", "implementation_name", "platform_python_implementation", "platform_release",
              "platform_version", "implementation_version", "extra", "extras", "dependency_groups")
_TOKEN_RE = re.compile(r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>|\(|\))"""
                       r"""|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))""")


def _tokens(marker: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = marker.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise MarkerError(f"cannot read the marker `{marker}` at `{text[pos:].strip()[:20]}`")
        pos = m.end()
        if m.group("str") is not None:
            out.append(("str", m.group("str")[1:-1]))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            out.append(("word", m.group("word")))
    return out


class _Parser:
    def __init__(self, marker: str, env: Environment) -> None:
        self.marker, self.env = marker, env
        self.toks = _tokens(marker)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, why: str) -> MarkerError:
        return MarkerError(f"cannot read the marker `{self.marker}`: {why}")

    def parse(self) -> bool:
        if not self.toks:
            return True
        value = self.expr()
        if self.peek()[0] != "end":
            raise self.fail(f"unexpected `{self.peek()[1]}`")
        return value

    def expr(self) -> bool:
        value = self.conj()
        while self.peek() == ("word", "or"):
            self.take()
            rhs = self.conj()  # parse both sides: a broken marker fails wherever it is
            value = value or rhs
        return value

    def conj(self) -> bool:
        value = self.atom()
        while self.peek() == ("word", "and"):
            self.take()
            rhs = self.atom()
            value = value and rhs
        return value

    def atom(self) -> bool:
        if self.peek() == ("op", "("):
            self.take()
            value = self.expr()
            if self.take() != ("op", ")"):
                raise self.fail("a `(` is not closed")
            return value
        lhs = self.operand()
        kind, op = self.take()
        if kind == "word" and op == "not" and self.peek() == ("word", "in"):
            self.take()
            op = "not in"
        elif not ((kind == "op" and op not in "()") or (kind == "word" and op == "in")):
            raise self.fail(f"expected a comparison after `{lhs[1]}`")
        rhs = self.operand()
        return _compare(lhs, op, rhs, self)

    def operand(self) -> tuple[str, SetOrStr]:
        kind, text = self.take()
        if kind == "str":
            return ("str", text)
        if kind == "word" and text not in ("and", "or", "not", "in"):
            return (text, self.env.value(text))
        raise self.fail(f"expected a variable or a quoted value, got `{text or 'the end'}`")


_VERSIONISH = ("python_version", "python_full_version", "implementation_version", "platform_release")


def _compare(lhs: tuple[str, SetOrStr], op: str, rhs: tuple[str, SetOrStr], p: _Parser) -> bool:
    (lname, lval), (rname, rval) = lhs, rhs
    if isinstance(lval, frozenset) or isinstance(rval, frozenset):  # extra / extras / dependency_groups
        values, other = (lval, rval) if isinstance(lval, frozenset) else (rval, lval)
        if isinstance(other, frozenset):
            raise p.fail("two sets of extras or groups cannot be compared")
        member = normalize_name(other) in values
        if op == "==" or (op == "in" and isinstance(rval, frozenset)):
            return member
        if op == "!=" or (op == "not in" and isinstance(rval, frozenset)):
            return not member
        raise p.fail(f"`{op}` cannot compare extras or groups")
    a, b = str(lval), str(rval)
    if op == "in":
        return a in b
    if op == "not in":
        return a not in b
    if lname in _VERSIONISH or rname in _VERSIONISH or op == "~=":
        try:
            if rname == "str":
                return version_matches(a, op, b)
            return version_matches(b, _FLIP.get(op, op), a)
        except ValueError:
            pass
    if op == "==" or op == "===":
        return a == b
    if op == "!=":
        return a != b
    raise p.fail(f"`{a} {op} {b}` compares text that is not a version")


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


def evaluate(marker: str, env: Environment) -> bool:
    """Whether `marker` holds in `env`; an empty marker always holds."""
    return _Parser(marker, env).parse()
