"""Marked blocks in files the user owns (shell rc files, editor configs, /etc/bashrc).

onboard's lines sit between two marker lines. Line endings (CRLF or LF) follow the
file; a file without a final newline gets one before the block and loses it again
on revert. Dotfiles that are symlinks are edited at their target.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.files import file_snapshot, revert_file, write_with_parents
from onboard.core.engine.action import Action, Context, register
from onboard.core.engine.fsutil import read_bytes, resolve_target, sha256_bytes

ENC = "utf-8"
ERR = "surrogateescape"  # keep bytes that are not UTF-8 exactly as they were


def markers(marker: str, comment: str = "#") -> tuple[str, str]:
    return (f"{comment} >>> onboard: {marker} >>>", f"{comment} <<< onboard: {marker} <<<")


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def render_block(content: str, marker: str, comment: str, nl: str) -> str:
    begin, end = markers(marker, comment)
    body = [line.rstrip("\r") for line in content.rstrip("\n").split("\n")] if content else []
    note = f"{comment} managed by onboard; `onboard uninstall` removes this block"
    return nl.join([begin, note, *body, end]) + nl


def find_block(text: str, marker: str, comment: str = "#") -> Optional[tuple[int, int]]:
    """Character span of the block, from its first marker to the end of its last line."""
    begin, end = markers(marker, comment)
    start = 0
    while True:
        i = text.find(begin, start)
        if i < 0:
            return None
        if i == 0 or text[i - 1] == "\n":
            break
        start = i + 1
    j = text.find(end, i)
    if j < 0:
        return None
    k = j + len(end)
    if text.startswith("\r\n", k):
        k += 2
    elif text.startswith("\n", k):
        k += 1
    return i, k


def remove_block(text: str, marker: str, comment: str = "#", added_newline: bool = False) -> str:
    span = find_block(text, marker, comment)
    if span is None:
        return text
    i, k = span
    out = text[:i] + text[k:]
    if added_newline and k >= len(text):
        nl = newline_of(text)
        if out.endswith(nl):
            out = out[: -len(nl)]
    return out


def insert_block(text: str, content: str, marker: str, comment: str, position: str) -> tuple[str, bool]:
    """Return the new text and whether a final newline had to be added before the block."""
    text = remove_block(text, marker, comment)
    nl = newline_of(text)
    block = render_block(content, marker, comment, nl)
    if position == "prepend":
        return block + text, False
    added = bool(text) and not text.endswith("\n")
    return text + (nl if added else "") + block, added


@register
@dataclass
class MarkedBlock(Action):
    kind = "marked-block"
    path: str = ""
    marker: str = ""
    content: str = ""
    comment: str = "#"
    position: str = "append"  # append | prepend
    mode: Optional[int] = None  # for a file onboard creates
    owner: str = ""
    summary: str = ""

    def id(self) -> str:
        return f"{self.kind}:{self.path}#{self.marker}"

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"add onboard's {self.marker} block to {self.path}"

    def _transform(self, original: bytes) -> tuple[bytes, bool]:
        text, added = insert_block(original.decode(ENC, ERR), self.content, self.marker,
                                   self.comment, self.position)
        return text.encode(ENC, ERR), added

    def check(self, ctx: Context) -> bool:
        data = read_bytes(resolve_target(self.path))
        if data is None:
            return False
        text = data.decode(ENC, ERR)
        span = find_block(text, self.marker, self.comment)
        if span is None:
            return False
        return text[span[0]:span[1]] == render_block(self.content, self.marker, self.comment,
                                                     newline_of(text))

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return file_snapshot(ctx, self.path)

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        target = Path(record["path"])
        current = read_bytes(target) or b""
        new, added = self._transform(current)
        if record.get("existed") and "added_newline" not in record:
            record["added_newline"] = added
        write_with_parents(target, new, record, self.mode, self.owner)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        data = read_bytes(record["path"])
        return {"post": sha256_bytes(data) if data is not None else None}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        def strip(current: bytes) -> Optional[bytes]:
            text = current.decode(ENC, ERR)
            return remove_block(text, self.marker, self.comment,
                                bool(record.get("added_newline"))).encode(ENC, ERR)

        revert_file(ctx, record, expected=lambda orig: self._transform(orig)[0], strip_own=strip)
