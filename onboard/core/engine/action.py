"""The Action: one reversible change to a machine.

An action can describe itself, check whether the machine already has it, take a
snapshot of the state it is about to change (recorded *before* it runs, so a
crash at any point can be reverted), execute, settle (record what it left) and
revert from that record alone. Actions are dataclasses; their fields are their
parameters and are stored in the receipt, so revert never needs the planner.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional, Sequence

from onboard.core import paths
from onboard.core.engine.kinds import kind_class, register
from onboard.core.events import Emitter, LogLine, Notice, discard


class ActionError(Exception):
    """An action failed in a way the user can act on; `hint` says how."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def action_from_dict(data: dict[str, Any]) -> "Action":
    """The action a receipt (or a saved plan) recorded: its kind's class, with its parameters."""
    cls = kind_class(data["kind"])
    names = {f.name for f in dataclasses.fields(cls)}
    params = {k: v for k, v in data.get("params", {}).items() if k in names}
    return cls(**params)


@dataclass
class Context:
    """What an action may use while it runs: an emitter, dirs, a subprocess runner."""

    emit: Emitter = discard
    dry_run: bool = False
    backup_dir: Optional[Path] = None
    action_id: str = ""
    env: Optional[dict[str, str]] = None

    def log(self, line: str, level: str = "info") -> None:
        self.emit(LogLine(action_id=self.action_id, line=line, level=level))

    def notice(self, message: str, level: str = "warn") -> None:
        self.emit(Notice(message=message, level=level, action_id=self.action_id))

    def backups(self) -> Path:
        d = self.backup_dir or (paths.backups_dir() / "misc")
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return d

    def run(self, argv: Sequence[str], *, input: Optional[bytes] = None, check: bool = True,
            env: Optional[dict[str, str]] = None, cwd: Optional[str] = None,
            stdin_file: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run a command, streaming its output lines as log events."""
        self.log("$ " + " ".join(argv), level="debug")
        full_env = dict(os.environ if self.env is None else self.env)
        if env:
            full_env.update(env)
        stdin: Any = subprocess.PIPE if input is not None else subprocess.DEVNULL
        fh = open(stdin_file, "rb") if stdin_file else None
        try:
            proc = subprocess.Popen(
                list(argv), stdin=fh if fh else stdin, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
            )
        except FileNotFoundError as exc:
            if fh:
                fh.close()
            raise ActionError(f"command not found: {argv[0]}") from exc
        if input is not None and proc.stdin:
            proc.stdin.write(input)
            proc.stdin.close()
        lines: list[str] = []
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            self.log(line)
        rc = proc.wait()
        if fh:
            fh.close()
        out = "\n".join(lines)
        if check and rc != 0:
            tail = "\n".join(lines[-5:])
            raise ActionError(f"`{' '.join(argv)}` exited with {rc}" + (f": {tail}" if tail else ""))
        return subprocess.CompletedProcess(list(argv), rc, out, "")


@dataclass
class Action:
    """Base class. Subclasses are dataclasses registered with @register."""

    kind: ClassVar[str] = ""
    #: True when executing needs root (the CLI asks once, up front).
    needs_root: ClassVar[bool] = False
    #: False for plan lines that only inform (notes): shown, never counted as changes.
    changes_machine: ClassVar[bool] = True

    def id(self) -> str:
        """Stable identity within a plan: kind + the main parameter."""
        return f"{self.kind}:{self.target()}"

    def target(self) -> str:
        return ""

    def describe(self) -> str:
        raise NotImplementedError

    def paths(self) -> list[str]:
        """Every path, user, unit or service this action touches (for plan listings)."""
        t = self.target()
        return [t] if t else []

    def check(self, ctx: Context) -> bool:
        """True when the machine already is as this action would leave it."""
        raise NotImplementedError

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        """Record the state about to change. Written to the receipt before execute."""
        return {}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        """What the action left behind (e.g. the new file's hash). Merged into the record."""
        return {}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def repair_keeps_snapshot(self, ctx: Context, record: dict[str, Any]) -> bool:
        """On a re-run that must redo this action: True keeps the prior state recorded the
        first time (what revert returns to) instead of taking a new snapshot. Default: when
        what the action left is still there untouched (files compare settle()'s hash), e.g.
        a regenerated file whose content changed."""
        path, post = record.get("path"), record.get("post")
        if not path or not post:
            return False
        from onboard.core.engine.fsutil import sha256_file

        return sha256_file(path) == post

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dataclasses.asdict(self)}


def owner_ids(user: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """uid/gid for a user name ("" or None: leave as is)."""
    if not user:
        return None, None
    import pwd

    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


__all__ = ["Action", "ActionError", "Context", "register", "kind_class", "action_from_dict", "owner_ids",
           "field"]
