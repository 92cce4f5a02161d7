"""Edit JSON with comments (VS Code's settings.json) without disturbing anything else.

The text is tokenized and parsed into a light tree of containers (objects and arrays)
whose items carry their exact character spans. Edits splice text at those spans: the
user's comments, trailing commas, indentation, blank lines and key order stay byte for
byte; only the keys or array items onboard touches change. Inserted items copy the
container's own indentation and trailing-comma style.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional


class JsoncError(ValueError):
    """The text is not JSON with comments; says where."""

    def __init__(self, message: str, text: str, pos: int) -> None:
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"line {line}, column {col}: {message}")
        self.line, self.col = line, col


# -- tokens -------------------------------------------------------------------------------

@dataclass
class Token:
    kind: str  # "{", "}", "[", "]", ":", ",", "str", "lit", "comment"
    start: int
    end: int


_WS = " \t\r\n\ufeff"


def tokenize(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WS:
            i += 1
        elif c in "{}[]:,":
            toks.append(Token(c, i, i + 1))
            i += 1
        elif c == '"':
            j = i + 1
            while True:
                if j >= n:
                    raise JsoncError("unterminated string", text, i)
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == '"':
                    break
                if text[j] == "\n":
                    raise JsoncError("line break inside a string", text, j)
                j += 1
            toks.append(Token("str", i, j + 1))
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            toks.append(Token("comment", i, j))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise JsoncError("unterminated comment", text, i)
            toks.append(Token("comment", i, j + 2))
            i = j + 2
        else:
            j = i
            while j < n and (text[j].isalnum() or text[j] in "+-.eE_"):
                j += 1
            if j == i:
                raise JsoncError(f"unexpected character {c!r}", text, i)
            toks.append(Token("lit", i, j))
            i = j
    return toks


# -- tree ---------------------------------------------------------------------------------

@dataclass
class Item:
    """One member of an object (key set) or element of an array (key None)."""

    start: int  # first character (the key's quote, or the value)
    value_start: int
    value_end: int
    comma_end: Optional[int] = None  # just after the comma that follows, if any
    key: Optional[str] = None
    child: Optional["Container"] = None  # when the value is an object or array

    @property
    def end(self) -> int:
        return self.comma_end if self.comma_end is not None else self.value_end


@dataclass
class Container:
    kind: str  # "{" or "["
    open: int  # index of the bracket
    close: int  # index of the closing bracket
    items: list[Item] = field(default_factory=list)

    def member(self, key: str) -> Optional[Item]:
        """The last member named `key` (the one that wins, as in JSON parsers)."""
        found = None
        for it in self.items:
            if it.key == key:
                found = it
        return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = [t for t in tokenize(text) if t.kind != "comment"]
        self.i = 0

    def peek(self) -> Optional[Token]:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: Optional[str] = None) -> Token:
        t = self.peek()
        if t is None:
            raise JsoncError("unexpected end of file", self.text, len(self.text))
        if kind and t.kind != kind:
            raise JsoncError(f"expected {kind!r}", self.text, t.start)
        self.i += 1
        return t

    def value(self) -> tuple[int, int, Optional[Container]]:
        t = self.take()
        if t.kind in ("str", "lit"):
            if t.kind == "lit":
                word = self.text[t.start:t.end]
                if word not in ("true", "false", "null"):
                    try:
                        float(word)
                    except ValueError:
                        raise JsoncError(f"not a JSON value: {word!r}", self.text, t.start) from None
            return t.start, t.end, None
        if t.kind in "{[":
            c = self.container(t)
            return t.start, c.close + 1, c
        raise JsoncError(f"unexpected {t.kind!r}", self.text, t.start)

    def container(self, open_tok: Token) -> Container:
        closer = "}" if open_tok.kind == "{" else "]"
        c = Container(kind=open_tok.kind, open=open_tok.start, close=-1)
        while True:
            t = self.peek()
            if t is None:
                raise JsoncError(f"missing {closer!r}", self.text, open_tok.start)
            if t.kind == closer:
                self.i += 1
                c.close = t.start
                return c
            if c.items and c.items[-1].comma_end is None:
                raise JsoncError(f"expected ',' or {closer!r}", self.text, t.start)
            if c.kind == "{":
                k = self.take("str")
                key = json.loads(self.text[k.start:k.end])
                self.take(":")
                vs, ve, child = self.value()
                item = Item(start=k.start, value_start=vs, value_end=ve, key=key, child=child)
            else:
                vs, ve, child = self.value()
                item = Item(start=vs, value_start=vs, value_end=ve, child=child)
            nxt = self.peek()
            if nxt is not None and nxt.kind == ",":
                self.i += 1
                item.comma_end = nxt.end
            c.items.append(item)

    def document(self) -> Optional[Container]:
        if self.peek() is None:
            return None  # empty or only comments
        t = self.take()
        if t.kind != "{":
            raise JsoncError("the top level must be an object", self.text, t.start)
        root = self.container(t)
        extra = self.peek()
        if extra is not None:
            raise JsoncError("text after the closing '}'", self.text, extra.start)
        return root


def parse(text: str) -> Optional[Container]:
    """The top-level object, or None for a file that is empty or holds only comments."""
    return _Parser(text).document()


def loads(text: str) -> Any:
    """The value of JSON-with-comments text (comments and trailing commas allowed)."""
    toks = [t for t in tokenize(text) if t.kind != "comment"]
    parts: list[str] = []
    for k, t in enumerate(toks):
        if t.kind == "," and k + 1 < len(toks) and toks[k + 1].kind in "}]":
            continue
        parts.append(text[t.start:t.end])
    if not parts:
        return None
    try:
        return json.loads(" ".join(parts))
    except ValueError as exc:
        raise JsoncError(str(exc), text, 0) from None


def value_of(text: str, item: Item) -> Any:
    return loads(text[item.value_start:item.value_end])


# -- layout helpers -------------------------------------------------------------------------

def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _starts_line(text: str, pos: int) -> bool:
    return text[_line_start(text, pos):pos].strip(" \t") == ""


def _indent_at(text: str, pos: int) -> str:
    ls = _line_start(text, pos)
    j = ls
    while j < len(text) and text[j] in " \t":
        j += 1
    return text[ls:j]


def indent_unit(text: str) -> str:
    """The file's indentation step: the first indented line's leading whitespace."""
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else " " * len(lead)
    return "    "  # VS Code's own default


def _end_of_line_after(text: str, pos: int) -> Optional[int]:
    """Where the line holding `pos` ends, if only blanks and comments follow `pos` on it."""
    j, n = pos, len(text)
    while j < n:
        if text[j] in " \t":
            j += 1
        elif text.startswith("//", j):
            k = text.find("\n", j)
            k = n if k < 0 else k
            return k - 1 if k > 0 and text[k - 1] == "\r" else k
        elif text.startswith("/*", j):
            k = text.find("*/", j + 2)
            if k < 0 or "\n" in text[j:k]:
                return None
            j = k + 2
        elif text[j] == "\r" and text.startswith("\r\n", j):
            return j
        elif text[j] == "\n":
            return j
        else:
            return None
    return n


def render_value(value: Any, indent: str, unit: str, nl: str) -> str:
    """JSON text for a value, laid out like the file (objects and arrays one item a line)."""
    if isinstance(value, dict) and value:
        inner = indent + unit
        rows = [f"{inner}{json.dumps(k)}: {render_value(v, inner, unit, nl)}" for k, v in value.items()]
        return "{" + nl + ("," + nl).join(rows) + nl + indent + "}"
    if isinstance(value, list) and value:
        inner = indent + unit
        rows = [inner + render_value(v, inner, unit, nl) for v in value]
        return "[" + nl + ("," + nl).join(rows) + nl + indent + "]"
    return json.dumps(value, ensure_ascii=False)


# -- edits --------------------------------------------------------------------------------

def item_indent(text: str, c: Container) -> str:
    """Indentation for a new item of `c`: like its items, else one step in from `c`."""
    for it in reversed(c.items):
        if _starts_line(text, it.start):
            return _indent_at(text, it.start)
    return _indent_at(text, c.open) + indent_unit(text)


def insert_item(text: str, c: Container, item_text: str) -> tuple[str, bool]:
    """Add `item_text` (a `"key": value` or a value) as the last item of `c`.

    Returns the new text and whether a comma had to be added after the item before it.
    """
    nl = newline_of(text)
    if c.items:
        last = c.items[-1]
        multiline = "\n" in text[c.open:c.close]
        trailing = last.comma_end is not None
        if not multiline:
            if trailing:
                return text[:last.comma_end] + " " + item_text + "," + text[last.comma_end:], False
            return text[:last.value_end] + ", " + item_text + text[last.value_end:], True
        indent = item_indent(text, c)
        anchor = last.end
        eol = _end_of_line_after(text, anchor)
        new_item = nl + indent + item_text + ("," if trailing else "")
        if eol is not None and eol < c.close:
            out = text[:eol] + new_item + text[eol:]
        else:
            # the closing bracket (or more items' text) shares the line: put ours before it
            close_line = _starts_line(text, c.close)
            if close_line:
                ls = _line_start(text, c.close)
                out = text[:ls] + indent + item_text + ("," if trailing else "") + nl + text[ls:]
            else:
                out = text[:c.close] + nl + indent + item_text + ("," if trailing else "") + nl + \
                    _indent_at(text, c.open) + text[c.close:]
        if not trailing:
            out = out[:last.value_end] + "," + out[last.value_end:]
            return out, True
        return out, False
    # empty container
    indent = item_indent(text, c)
    if _starts_line(text, c.close) and _line_start(text, c.close) > c.open:
        ls = _line_start(text, c.close)
        return text[:ls] + indent + item_text + nl + text[ls:], False
    return (text[:c.open + 1] + nl + indent + item_text + nl + _indent_at(text, c.open) +
            text[c.close:]), False


def remove_item(text: str, c: Container, index: int, added_comma: bool = False) -> str:
    """Remove item `index` of `c` with its comma and, when it had its own line, that line."""
    it = c.items[index]
    start, end = it.start, it.end
    own_line = _starts_line(text, start)
    eol = _end_of_line_after(text, end)
    if own_line and eol is not None and text[end:eol].strip(" \t") == "":
        start = _line_start(text, start)
        end = eol
        if text.startswith("\r\n", end):
            end += 2
        elif text.startswith("\n", end):
            end += 1
    elif not own_line:
        # inline: take the blank before it too
        while start > 0 and text[start - 1] in " \t":
            start -= 1
    out = text[:start] + text[end:]
    last = index == len(c.items) - 1
    if last and it.comma_end is None and index > 0:
        prev = c.items[index - 1]
        if added_comma and prev.comma_end is not None:
            out = out[:prev.comma_end - 1] + out[prev.comma_end:]
    return out


def replace_value(text: str, it: Item, value_text: str) -> str:
    return text[:it.value_start] + value_text + text[it.value_end:]


def new_document(members: dict[str, Any], unit: str = "    ", nl: str = "\n") -> str:
    return render_value(members, "", unit, nl) + nl if members else "{}" + nl


__all__ = [
    "JsoncError", "Container", "Item", "parse", "loads", "value_of", "insert_item", "remove_item",
    "replace_value", "render_value", "item_indent", "indent_unit", "newline_of", "new_document",
]
