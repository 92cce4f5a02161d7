"""Checking a parsed YAML file against a schema, with positions.

`Checker` is a small toolkit any YAML-backed file uses (profiles, the team config): typed
getters that record a `file:line:col: message` problem instead of raising, unknown keys
with did-you-mean, required keys. Every problem is collected; nothing stops at the first
one. `SchemaError` carries them all when a file cannot be used.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Sequence, Union

from onboard.core.schema.source import Mark, Problem, YNode, type_name
from onboard.core.schema.suggest import suffix

__all__ = ["Checker", "SchemaError", "Where"]


class SchemaError(Exception):
    """Every problem found in one or more files, all at once: a profile (and the profiles
    it extends) or the team config. `str()` is one `file:line:col: message` line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


Where = Union[YNode, Mark, None]


class Checker:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    # -- reporting ------------------------------------------------------------------------
    def _at(self, where: Where) -> tuple[str, int, int]:
        if isinstance(where, YNode):
            where = where.mark
        if isinstance(where, Mark):
            return where.file or self.file, where.line, where.col
        return self.file, 0, 0

    def error(self, where: Where, message: str) -> None:
        f, line, col = self._at(where)
        self.problems.append(Problem(f, line, col, message))

    def warn(self, where: Where, message: str) -> None:
        f, line, col = self._at(where)
        self.problems.append(Problem(f, line, col, message, level="warning"))

    @property
    def ok(self) -> bool:
        return not any(p.level == "error" for p in self.problems)

    # -- structure ------------------------------------------------------------------------
    def mapping(self, node: Optional[YNode], what: str) -> Optional[YNode]:
        if node is None or node.bad:
            return None
        if node.kind != "map":
            if node.kind == "scalar" and node.value is None:
                return YNode("map", node.mark, [], tag="tag:yaml.org,2002:map")  # `key:` with nothing
            self.error(node, f"{what}: expected a mapping (key: value lines), got {type_name(node)}")
            return None
        return node

    def keys(self, node: YNode, allowed: Sequence[str], what: str,
             required: Sequence[str] = (), advice: Optional[dict[str, str]] = None) -> None:
        """Unknown keys are errors with did-you-mean; missing required keys are errors at
        the mapping. `advice` gives a specific message for a known-wrong key."""
        advice = advice or {}
        for pair in node.pairs():
            key = pair.key.value
            if not isinstance(key, str):
                self.error(pair.key, f"{what}: a key must be text, got {type_name(pair.key)}; "
                                     f"quote it: \"{pair.key.raw}\"")
                continue
            if key in allowed:
                continue
            where = f"{what}." if what else ""
            if key in advice:
                self.error(pair.key, f"unknown key `{where}{key}`: {advice[key]}")
            else:
                self.error(pair.key, f"unknown key `{where}{key}`{suffix(key, allowed)} "
                                     f"(allowed: {', '.join(allowed)})")
        present = set(node.keys())
        for key in required:
            if key not in present:
                self.error(node, f"{what + ': ' if what else ''}missing required key `{key}`")

    # -- scalars --------------------------------------------------------------------------
    def text(self, node: Optional[YNode], what: str, *, numbers: bool = False,
             nonempty: bool = False, pattern: Optional[str] = None, pattern_hint: str = "") -> Optional[str]:
        """A string. With numbers=True a number is taken as written (`5432`, `3.10`)."""
        if node is None or node.bad:
            return None
        if node.kind == "scalar" and isinstance(node.value, str):
            value = node.value
        elif numbers and node.kind == "scalar" and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            value = node.raw
        else:
            hint = ""
            if node.kind == "scalar" and node.value is not None and node.raw:
                hint = f"; quote it if you meant the text: \"{node.raw}\""
            elif node.kind == "scalar" and node.value is None:
                hint = "; give a value or remove the key"
            self.error(node, f"{what}: expected text, got {type_name(node)}{hint}")
            return None
        if nonempty and not value.strip():
            self.error(node, f"{what}: must not be empty")
            return None
        if pattern is not None and not re.fullmatch(pattern, value):
            self.error(node, f"{what}: `{value}` is not valid{'; ' + pattern_hint if pattern_hint else ''}")
            return None
        return value

    def boolean(self, node: Optional[YNode], what: str) -> Optional[bool]:
        if node is None or node.bad:
            return None
        if node.kind == "scalar" and isinstance(node.value, bool):
            return node.value
        self.error(node, f"{what}: expected true or false, got {type_name(node)}")
        return None

    def integer(self, node: Optional[YNode], what: str, minimum: Optional[int] = None,
                maximum: Optional[int] = None) -> Optional[int]:
        if node is None or node.bad:
            return None
        if node.kind != "scalar" or isinstance(node.value, bool) or not isinstance(node.value, int):
            self.error(node, f"{what}: expected a whole number, got {type_name(node)}")
            return None
        v = node.value
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            lo = "" if minimum is None else str(minimum)
            hi = "" if maximum is None else str(maximum)
            self.error(node, f"{what}: {v} is out of range ({lo}..{hi})")
            return None
        return v

    # -- collections ----------------------------------------------------------------------
    def seq(self, node: Optional[YNode], what: str) -> Optional[list[YNode]]:
        if node is None or node.bad:
            return None
        if node.kind == "scalar" and node.value is None:
            return []
        if node.kind != "seq":
            hint = ""
            if node.kind == "scalar" and isinstance(node.value, str):
                hint = f"; write it as a list: [{node.raw}] or one `- item` per line"
            self.error(node, f"{what}: expected a list, got {type_name(node)}{hint}")
            return None
        return node.items()

    def text_list(self, node: Optional[YNode], what: str, **kw: Any) -> Optional[list[tuple[str, YNode]]]:
        items = self.seq(node, what)
        if items is None:
            return None
        out: list[tuple[str, YNode]] = []
        for i, item in enumerate(items):
            v = self.text(item, f"{what}[{i}]", **kw)
            if v is not None:
                out.append((v, item))
        return out

    def text_map(self, node: Optional[YNode], what: str, key_pattern: Optional[str] = None,
                 key_hint: str = "", numbers: bool = True) -> Optional[dict[str, tuple[str, YNode]]]:
        m = self.mapping(node, what)
        if m is None:
            return None
        out: dict[str, tuple[str, YNode]] = {}
        for pair in m.pairs():
            key = pair.key.value
            if not isinstance(key, str):
                self.error(pair.key, f"{what}: a name must be text, got {type_name(pair.key)}; "
                                     f"quote it: \"{pair.key.raw}\"")
                continue
            if key_pattern is not None and not re.fullmatch(key_pattern, key):
                self.error(pair.key, f"{what}: `{key}` is not a valid name{'; ' + key_hint if key_hint else ''}")
                continue
            v = self.text(pair.value, f"{what}.{key}", numbers=numbers)
            if v is not None:
                out[key] = (v, pair.value)
        return out
