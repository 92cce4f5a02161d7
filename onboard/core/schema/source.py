"""YAML that remembers where everything came from.

`parse_yaml(text, file)` reads one YAML document with yaml.safe_load's semantics (the
same tags, the same implicit types, merge keys) but keeps the file, line and column of
every key and value, so validation can say `file:line:col: message`. Duplicate keys,
which safe_load silently resolves to the last one, are reported as problems; YAML syntax
errors become problems located at the parser's mark.

Used by every YAML file onboard reads (profiles, the team config). yaml is imported
inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

#: the largest file onboard reads as YAML (a profile or the team config)
MAX_BYTES = 1 << 20
#: how many values aliases may add to a document once expanded; a profile that shares a
#: package list through an anchor adds tens, an alias bomb billions
ALIAS_BUDGET = 10_000


@dataclass
class Problem:
    """One thing wrong with a file, at a place in it. line and col are 1-based; 0 means
    unknown. level is "error" (fatal) or "warning"."""

    file: str
    line: int
    col: int
    message: str
    level: str = "error"

    def __str__(self) -> str:
        if not self.file:
            return self.message
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.col:
                where += f":{self.col}"
        prefix = "warning: " if self.level == "warning" else ""
        return f"{where}: {prefix}{self.message}"

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.col, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "col": self.col, "level": self.level,
                "message": self.message}


@dataclass(frozen=True)
class Mark:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class YNode:
    """A YAML node with its position.

    kind "map": value is a list of YPair (document order, duplicates removed: the last
    wins, as with safe_load); kind "seq": value is a list of YNode; kind "scalar": value
    is what safe_load gives (str, int, float, bool, None, date...) and raw is the text as
    written (so `3.10` can be read back as "3.10", not 3.1).
    """

    kind: str
    mark: Mark
    value: Any
    tag: str = ""
    raw: str = ""
    style: Optional[str] = None  # scalar style: None plain, "'" '"' "|" ">"
    bad: bool = False  # could not be read (a problem was already reported): checks skip it

    # -- mappings -------------------------------------------------------------------------
    def pairs(self) -> list["YPair"]:
        return self.value if self.kind == "map" else []

    def get(self, key: str) -> Optional["YNode"]:
        for pair in self.pairs():
            if pair.key.value == key:
                return pair.value
        return None

    def key_node(self, key: str) -> Optional["YNode"]:
        for pair in self.pairs():
            if pair.key.value == key:
                return pair.key
        return None

    def keys(self) -> list[Any]:
        return [p.key.value for p in self.pairs()]

    # -- sequences ------------------------------------------------------------------------
    def items(self) -> list["YNode"]:
        return self.value if self.kind == "seq" else []

    # -- any ------------------------------------------------------------------------------
    def to_python(self) -> Any:
        """The plain value, exactly as yaml.safe_load would give it."""
        if self.kind == "map":
            return {p.key.to_python(): p.value.to_python() for p in self.value}
        if self.kind == "seq":
            return [n.to_python() for n in self.value]
        return self.value

    def type_name(self) -> str:
        return type_name(self)

    def walk(self) -> Iterator["YNode"]:
        yield self
        if self.kind == "map":
            for p in self.value:
                yield from p.key.walk()
                yield from p.value.walk()
        elif self.kind == "seq":
            for n in self.value:
                yield from n.walk()


@dataclass
class YPair:
    key: YNode
    value: YNode


@dataclass
class ParseResult:
    root: Optional[YNode]
    problems: list[Problem] = field(default_factory=list)


def type_name(node: YNode) -> str:
    """How a user would call what they wrote: "a mapping", "a list", "text", "a number"..."""
    if node.kind == "map":
        return "a mapping"
    if node.kind == "seq":
        return "a list"
    v = node.value
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"a boolean ({node.raw})"
    if isinstance(v, (int, float)):
        return f"a number ({node.raw})"
    if isinstance(v, str):
        return "text"
    return f"a {type(v).__name__} ({node.raw})"


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


def _mark(file: str, m: Any) -> Mark:
    return Mark(file, (m.line + 1) if m is not None else 0, (m.column + 1) if m is not None else 0)


def parse_yaml(text: str, file: str) -> ParseResult:
    """Parse one YAML document. Never raises for bad input: problems are returned."""
    import yaml

    loader = _loader_class()(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            return ParseResult(None, [_syntax_problem(file, exc, text)])
        except yaml.YAMLError as exc:
            return ParseResult(None, [Problem(file, 1, 1, f"YAML error: {exc}")])
        if node is None:
            return ParseResult(None, [])
        bomb = _alias_bomb(node, text, file)
        if bomb is not None:
            return ParseResult(None, [bomb])
        problems: list[Problem] = []
        try:
            root = _convert(loader, node, file, problems, set())
        except RecursionError:
            return ParseResult(None, [Problem(file, 1, 1, "the values are nested too deeply to read")])
        return ParseResult(root, problems)
    finally:
        loader.dispose()


def _alias_bomb(root: Any, text: str, file: str) -> Optional[Problem]:
    """A problem when the document's aliases expand past ALIAS_BUDGET values, else None.

    The composed document shares one node per anchor, so counting costs one pass over the
    distinct nodes; only when the budget is passed are the tokens scanned again to name the
    alias where the expansion passes it."""
    sizes: dict[int, int] = {}
    try:
        total = _expanded_size(root, sizes, set())
    except RecursionError:
        return Problem(file, 1, 1, "the values are nested too deeply to read")
    if total - len(sizes) <= ALIAS_BUDGET:
        return None
    import yaml

    by_mark: dict[tuple[int, int], int] = {}
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        by_mark.setdefault((n.start_mark.line, n.start_mark.column), sizes.get(id(n), 1))
        if isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.extend((k, v))
    anchors: dict[str, int] = {}
    added, worst = 0, None
    try:
        for tok in yaml.scan(text, Loader=_loader_class()):
            if isinstance(tok, yaml.AnchorToken):
                anchors[tok.value] = by_mark.get((tok.start_mark.line, tok.start_mark.column), 1)
            elif isinstance(tok, yaml.AliasToken):
                size = anchors.get(tok.value, 1)
                added += size
                if worst is None or size > worst[0]:
                    worst = (size, tok)
                if added > ALIAS_BUDGET:
                    worst = (size, tok)
                    break
    except yaml.YAMLError:
        pass
    where = _mark(file, worst[1].start_mark) if worst else Mark(file, 1, 1)
    name = f"`*{worst[1].value}` " if worst else ""
    return Problem(file, where.line, where.col,
                   f"the alias {name}makes this file expand to more than {ALIAS_BUDGET:,} values "
                   f"(about {total:,}); onboard refuses aliases that expand this far (a YAML "
                   "\"billion laughs\" file?): write the values out or share fewer of them")


def _expanded_size(node: Any, sizes: dict[int, int], active: set[int]) -> int:
    """How many values `node` stands for once every alias in it is expanded (memoised by node)."""
    got = sizes.get(id(node))
    if got is not None:
        return got
    if id(node) in active:  # a recursive alias: _convert reports it
        return 1
    import yaml

    total = 1
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        for n in node.value:
            total += _expanded_size(n, sizes, active)
        active.discard(id(node))
    elif isinstance(node, yaml.MappingNode):
        active.add(id(node))
        for k, v in node.value:
            total += _expanded_size(k, sizes, active) + _expanded_size(v, sizes, active)
        active.discard(id(node))
    sizes[id(node)] = total
    return total


def _syntax_problem(file: str, exc: Any, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    if problem.startswith("but found another document"):
        m = _mark(file, exc.problem_mark)
        return Problem(file, m.line, m.col, "a second YAML document (`---`): this file must hold exactly one")
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        m = _mark(file, mark)
        return Problem(file, m.line, m.col, "YAML syntax error: a tab here; indent with spaces, not tabs")
    if problem.startswith("mapping values are not allowed") and exc.problem_mark is not None:
        deeper = _indented_deeper(file, text, exc.problem_mark.line)
        if deeper is not None:
            return deeper
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.context_mark is not None and exc.problem_mark is not None \
            and (exc.context_mark.line, exc.context_mark.column) != (exc.problem_mark.line,
                                                                       exc.problem_mark.column):
        message += f" ({exc.context} at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        message += "; a tab here: indent with spaces, not tabs"
    m = _mark(file, mark) if mark is not None else Mark(file, 1, 1)
    return Problem(file, m.line, m.col, message)


def _indented_deeper(file: str, text: str, line: int) -> Optional[Problem]:
    """`narHash` written under `rev: ...` with more indentation: PyYAML says "mapping values are
    not allowed here"; say which key is indented deeper than which."""
    lines = text.splitlines()
    if line >= len(lines):
        return None
    here = re.match(r"^( *)([^\s:#][^:#]*?)\s*:(\s|$)", lines[line])
    if not here:
        return None
    for back in range(line - 1, -1, -1):
        prev = lines[back]
        if not prev.strip() or prev.lstrip().startswith("#"):
            continue
        above = re.match(r"^( *)(?:- +)?([^\s:#][^:#]*?)\s*:\s*\S", prev)
        if not above or len(here.group(1)) <= len(above.group(1)):
            return None
        key, other = here.group(2), above.group(2)
        return Problem(file, line + 1, len(here.group(1)) + 1,
                       f"`{key}` is indented deeper than `{other}` (line {back + 1}): keys of one mapping "
                       f"start in the same column; move `{key}` left to line up with `{other}`")
    return None


def _convert(loader: Any, node: Any, file: str, problems: list[Problem], active: set[int]) -> YNode:
    import yaml

    mark = _mark(file, node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problems.append(Problem(file, mark.line, mark.col, f"cannot read this value: {_short(exc)}"))
            return YNode("scalar", mark, None, tag=node.tag, raw=node.value, style=node.style, bad=True)
        return YNode("scalar", mark, value, tag=node.tag, raw=node.value, style=node.style)
    if id(node) in active:  # an alias that contains itself
        problems.append(Problem(file, mark.line, mark.col, "this value refers to itself (recursive alias)"))
        return YNode("scalar", mark, None, tag="tag:yaml.org,2002:null", raw="", bad=True)
    active = active | {id(node)}
    if node.tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
        # !!set, !!omap, !!pairs (safe_load reads them) or a tag it refuses
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problems.append(Problem(file, mark.line, mark.col, f"cannot read this value: {_short(exc)}"))
            return YNode("scalar", mark, None, tag=node.tag, bad=True)
        return YNode("scalar", mark, value, tag=node.tag)
    if isinstance(node, yaml.SequenceNode):
        return YNode("seq", mark, [_convert(loader, n, file, problems, active) for n in node.value],
                     tag=node.tag)
    # mapping
    own = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
    try:
        loader.flatten_mapping(node)  # merge keys (<<), as safe_load does
    except yaml.YAMLError as exc:
        problems.append(Problem(file, mark.line, mark.col, f"cannot merge: {_short(exc)}"))
    pairs: list[YPair] = []
    sources: list[int] = []  # id of the yaml key node behind each pair
    index: dict[Any, int] = {}
    for knode, vnode in node.value:
        key = _convert(loader, knode, file, problems, active)
        value = _convert(loader, vnode, file, problems, active)
        if key.kind != "scalar":
            problems.append(Problem(file, key.mark.line, key.mark.col,
                                    f"a key must be text, not {type_name(key)}"))
            continue
        try:
            hash(key.value)
        except TypeError:
            problems.append(Problem(file, key.mark.line, key.mark.col, "a key must be text"))
            continue
        hkey = (type(key.value), key.value)
        if hkey in index:
            first = pairs[index[hkey]].key.mark
            if id(knode) in own and sources[index[hkey]] in own:
                problems.append(Problem(file, key.mark.line, key.mark.col,
                                        f"duplicate key `{key.raw}` (first at line {first.line}); "
                                        "YAML keeps only the last one: remove one of them"))
            pairs[index[hkey]] = YPair(key, value)
            sources[index[hkey]] = id(knode)
            continue
        index[hkey] = len(pairs)
        pairs.append(YPair(key, value))
        sources.append(id(knode))
    return YNode("map", mark, pairs, tag=node.tag)


def _char_at(text: str, line: int, col: int) -> str:
    lines = text.split("\n")
    if 0 <= line < len(lines) and 0 <= col < len(lines[line]):
        return lines[line][col]
    return ""


def _short(exc: Any) -> str:
    return getattr(exc, "problem", None) or str(exc).splitlines()[0]


def read_yaml(path: str) -> ParseResult:
    """Read and parse a file. An unreadable file is a problem, not an exception."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return ParseResult(None, [Problem(path, 0, 0, f"cannot read: {exc.strerror or exc}")])
    if len(data) > MAX_BYTES:
        try:
            size = f"{os.path.getsize(path) / (1 << 20):.1f} MiB"
        except OSError:
            size = "over 1 MiB"
        return ParseResult(None, [Problem(path, 1, 1, f"this file is too large to be a profile or team "
                                                      f"config ({size}; onboard reads at most 1 MiB)")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ParseResult(None, [Problem(path, line, 0, "not UTF-8 text")])
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_yaml(text, path)
