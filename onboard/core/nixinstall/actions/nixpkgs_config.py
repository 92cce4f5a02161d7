"""Unfree packages allowed in ~/.config/nixpkgs/config.nix, merged into the file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.blocks import ENC, ERR, find_block, newline_of, remove_block, render_block
from onboard.core.actions.files import file_snapshot, missing_parents, revert_file, write_with_parents
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import read_bytes, resolve_target, sha256_bytes
from onboard.core.nixinstall.actions.common import Preflight


_COMMENT_RE = re.compile(r"/\*.*?\*/|#[^\n]*", re.S)


def strip_nix_comments(text: str) -> str:
    return _COMMENT_RE.sub("", text)


def nixpkgs_config_problem(text: str) -> Optional[str]:
    """Why onboard cannot merge its lines into this config.nix, or None."""
    code = strip_nix_comments(text).strip()
    if not code:
        return None
    if re.search(r"\ballowUnfree(Predicate)?\s*=", code):
        return "it already sets allowUnfree or allowUnfreePredicate"
    if not code.startswith("{") or not code.endswith("}"):
        return "it is not a plain attribute set { ... }"
    if re.match(r"^\{[^{}]*\}\s*:", code):
        return "it is a function ({ pkgs, ... }: ...)"
    return None


def insert_before_last_brace(text: str, block_lines: list[str], marker: str) -> str:
    text = remove_block(text, marker)
    nl = newline_of(text) if text else "\n"
    block = render_block("\n".join(block_lines), marker, "#", nl)  # unindented: markers start lines
    code = strip_nix_comments(text).strip()
    if not code:
        return text + ("" if not text or text.endswith("\n") else nl) + "{" + nl + block + "}" + nl
    i = text.rfind("}")
    head = text[:i]
    if head and not head.endswith("\n"):
        head += nl
    return head + block + text[i:]


@register
@dataclass
class NixpkgsConfig(Preflight, Action):
    """Unfree packages in ~/.config/nixpkgs/config.nix: merged into the file, never clobbering it."""

    kind = "nixpkgs-config"
    path: str = ""
    lines: list[str] = field(default_factory=list)
    marker: str = "nix-unfree"
    owner: str = ""
    summary: str = ""

    def id(self) -> str:
        return f"{self.kind}:{self.path}"

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"allow unfree packages in {self.path}"

    def _transform(self, original: bytes) -> bytes:
        return insert_before_last_brace(original.decode(ENC, ERR), self.lines, self.marker).encode(ENC, ERR)

    def check(self, ctx: Context) -> bool:
        data = read_bytes(resolve_target(self.path))
        if data is None:
            return False
        text = data.decode(ENC, ERR)
        span = find_block(text, self.marker)
        if span is None:
            return False
        body = [ln.strip() for ln in text[span[0]:span[1]].splitlines()[2:-1]]
        return body == [ln.strip() for ln in self.lines]

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        self._preflight()
        data = read_bytes(resolve_target(self.path))
        if data is not None:
            text = remove_block(data.decode(ENC, ERR), self.marker)
            problem = nixpkgs_config_problem(text)
            if problem:
                raise ActionError(f"onboard will not change {self.path}: {problem}",
                                  hint="add the unfree settings yourself, or remove them from the file")
        record = file_snapshot(ctx, self.path)
        record["created_dirs"] = missing_parents(record["path"])
        return record

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        target = Path(record["path"])
        new = self._transform(read_bytes(target) or b"")
        write_with_parents(target, new, record, 0o644, self.owner)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        data = read_bytes(record["path"])
        return {"post": sha256_bytes(data) if data is not None else None}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return

        def strip(current: bytes) -> Optional[bytes]:
            return remove_block(current.decode(ENC, ERR), self.marker).encode(ENC, ERR)

        revert_file(ctx, record, expected=self._transform, strip_own=strip)
