"""Actions for shell, direnv and editor integration.

- JsoncEdit: set keys / add array items in a JSON-with-comments file (VS Code settings),
  keeping everything else byte for byte and reverting only its own keys.
- DirenvAllow: `direnv allow DIR` with `direnv deny DIR` as undo, leaving no directory
  of direnv's behind that did not exist before.
- SystemdUserUnits: user unit files, enabled with `systemctl --user`, disabled and
  removed on revert.
- PlanNote: a line in the plan that says something the user should know (a fallback,
  a missing tool). It changes nothing and emits a Notice when checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core import paths
from onboard.core.actions.commands import RunCommand
from onboard.core.actions.files import WriteFile, file_snapshot, revert_file, write_with_parents
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import read_bytes, resolve_target, sha256_bytes
from onboard.core.integrations.editors import jsonc

ENC, ERR = "utf-8", "surrogateescape"


# -- JSON with comments ---------------------------------------------------------------------

def _rendered(text: str, value: Any, container: jsonc.Container) -> str:
    """A value laid out like its new neighbours: compact in a one-line container, one item
    a line (with the file's indentation) otherwise."""
    if container.items and "\n" not in text[container.open:container.close]:
        return json.dumps(value, ensure_ascii=False)
    return jsonc.render_value(value, jsonc.item_indent(text, container), jsonc.indent_unit(text),
                              jsonc.newline_of(text))


def apply_jsonc(text: str, values: dict[str, Any], items: dict[str, list[Any]]
                ) -> tuple[str, list[dict[str, Any]]]:
    """Set `values` and add `items` to arrays in `text`; return the new text and what was
    done (enough to undo exactly that and nothing else)."""
    ops: list[dict[str, Any]] = []
    root = jsonc.parse(text)
    if root is None:
        # empty, or comments only: keep them and add the object after
        nl = jsonc.newline_of(text) if text else "\n"
        prefix = text + (nl if text and not text.endswith("\n") else "")
        doc: dict[str, Any] = dict(values)
        for key, wanted in items.items():
            doc[key] = list(wanted)
        body = jsonc.new_document(doc, nl=nl)
        ops.append({"op": "document", "prefix_len": len(prefix), "body_len": len(body)})
        for key, value in values.items():
            ops.append({"op": "set", "key": key, "had": False, "new": json.dumps(value), "added_comma": False})
        for key, wanted in items.items():
            ops.append({"op": "member", "key": key, "added": list(wanted), "added_comma": False})
        return prefix + body, ops
    for key, value in values.items():
        root = jsonc.parse(text)
        assert root is not None
        it = root.member(key)
        if it is not None:
            old = text[it.value_start:it.value_end]
            if jsonc.value_of(text, it) == value:
                continue
            new = _rendered(text, value, root)
            text = jsonc.replace_value(text, it, new)
            ops.append({"op": "set", "key": key, "had": True, "old": old, "new": new})
        else:
            new = _rendered(text, value, root)
            text, added = jsonc.insert_item(text, root, f"{json.dumps(key)}: {new}")
            ops.append({"op": "set", "key": key, "had": False, "new": new, "added_comma": added})
    for key, wanted in items.items():
        root = jsonc.parse(text)
        assert root is not None
        it = root.member(key)
        if it is None:
            new = _rendered(text, list(wanted), root)
            text, added = jsonc.insert_item(text, root, f"{json.dumps(key)}: {new}")
            ops.append({"op": "member", "key": key, "added": list(wanted), "added_comma": added})
            continue
        if it.child is None or it.child.kind != "[":
            raise ActionError(f"{key!r} is not a list in this file",
                              hint=f"make {key!r} a list ([...]) or remove it, then run again")
        for w in wanted:
            root = jsonc.parse(text)
            assert root is not None
            arr = root.member(key).child  # type: ignore[union-attr]
            assert arr is not None
            if any(jsonc.value_of(text, e) == w for e in arr.items):
                continue
            item_text = _rendered(text, w, arr)
            text, added = jsonc.insert_item(text, arr, item_text)
            ops.append({"op": "item", "key": key, "item": w, "added_comma": added})
    return text, ops


def undo_jsonc(text: str, ops: list[dict[str, Any]], notices: Optional[list[str]] = None) -> Optional[str]:
    """Undo `ops` in `text` that has been edited since; None when it no longer parses."""
    notes = notices if notices is not None else []
    created_doc = None
    for op in reversed(ops):
        try:
            root = jsonc.parse(text)
        except jsonc.JsoncError:
            return None
        if root is None:
            return text
        if op["op"] == "document":
            created_doc = op
            continue
        idx = next((i for i in range(len(root.items) - 1, -1, -1) if root.items[i].key == op["key"]), None)
        if idx is None:
            continue
        it = root.items[idx]
        if op["op"] == "set":
            if jsonc.value_of(text, it) != jsonc.loads(op["new"]):
                notes.append(f"kept {op['key']!r}: it was changed after onboard set it")
                continue
            if op.get("had"):
                text = jsonc.replace_value(text, it, op["old"])
            else:
                text = jsonc.remove_item(text, root, idx, op.get("added_comma", False))
        elif op["op"] == "item":
            arr = it.child
            if arr is None or arr.kind != "[":
                continue
            j = next((k for k, e in enumerate(arr.items) if jsonc.value_of(text, e) == op["item"]), None)
            if j is not None:
                text = jsonc.remove_item(text, arr, j, op.get("added_comma", False))
        elif op["op"] == "member":
            arr = it.child
            if arr is not None and arr.kind == "[" and \
                    all(jsonc.value_of(text, e) in op["added"] for e in arr.items):
                text = jsonc.remove_item(text, root, idx, op.get("added_comma", False))
            elif arr is not None and arr.kind == "[":
                for w in op["added"]:
                    root2 = jsonc.parse(text)
                    assert root2 is not None
                    arr2 = root2.items[idx].child
                    assert arr2 is not None
                    j = next((k for k, e in enumerate(arr2.items) if jsonc.value_of(text, e) == w), None)
                    if j is not None:
                        text = jsonc.remove_item(text, arr2, j)
    if created_doc is not None:
        root = jsonc.parse(text)
        if root is not None and not root.items:
            end = root.close + 1
            if text.startswith("\r\n", end):
                end += 2
            elif text.startswith("\n", end):
                end += 1
            text = text[:root.open] + text[end:]
    return text


@register
@dataclass
class JsoncEdit(Action):
    """Onboard's keys in a JSON-with-comments file the user owns."""

    kind = "jsonc-edit"
    path: str = ""
    #: top-level key -> value onboard sets
    values: dict[str, Any] = field(default_factory=dict)
    #: top-level key -> items onboard adds to that list (created when missing)
    items: dict[str, list[Any]] = field(default_factory=dict)
    summary: str = ""

    def id(self) -> str:
        keys = ",".join(sorted(self.values) + sorted(self.items))
        return f"{self.kind}:{self.path}#{keys}"

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return self.summary or f"set {', '.join(list(self.values) + list(self.items))} in {self.path}"

    def check(self, ctx: Context) -> bool:
        data = read_bytes(resolve_target(self.path))
        if data is None:
            return False
        text = data.decode(ENC, ERR)
        try:
            root = jsonc.parse(text)
            if root is None:
                return not self.values and not self.items
            for key, value in self.values.items():
                it = root.member(key)
                if it is None or jsonc.value_of(text, it) != value:
                    return False
            for key, wanted in self.items.items():
                it = root.member(key)
                if it is None or it.child is None or it.child.kind != "[":
                    return False
                have = [jsonc.value_of(text, e) for e in it.child.items]
                if any(w not in have for w in wanted):
                    return False
        except jsonc.JsoncError:
            return False
        return True

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        target = resolve_target(self.path)
        data = read_bytes(target)
        if data is not None:
            try:
                jsonc.parse(data.decode(ENC, ERR))
            except jsonc.JsoncError as exc:
                raise ActionError(f"{target} is not valid JSON with comments ({exc}); left it as it is",
                                  hint=f"fix {target} (or move it aside) and run again") from None
        return file_snapshot(ctx, self.path)

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        target = Path(record["path"])
        text = (read_bytes(target) or b"").decode(ENC, ERR)
        try:
            new, ops = apply_jsonc(text, self.values, self.items)
        except jsonc.JsoncError as exc:
            raise ActionError(f"{target} is not valid JSON with comments ({exc})",
                              hint=f"fix {target} (or move it aside) and run again") from None
        record["ops"] = ops
        write_with_parents(target, new.encode(ENC, ERR), record, None)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        data = read_bytes(record["path"])
        return {"post": sha256_bytes(data) if data is not None else None}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "path" not in record:
            return  # failed before its snapshot: nothing was changed
        notes: list[str] = []

        def strip(current: bytes) -> Optional[bytes]:
            out = undo_jsonc(current.decode(ENC, ERR), record.get("ops", []), notes)
            return None if out is None else out.encode(ENC, ERR)

        def expected(original: bytes) -> bytes:
            return apply_jsonc(original.decode(ENC, ERR), self.values, self.items)[0].encode(ENC, ERR)

        revert_file(ctx, record, expected=expected, strip_own=strip)
        for n in notes:
            ctx.notice(f"{record['path']}: {n}", level="info")


# -- files onboard generates and may regenerate -------------------------------------------------

@register
@dataclass
class GeneratedFile(WriteFile):
    """A file onboard writes whole and recognises as its own by its first line (`signature`),
    such as a project's .envrc. Found there already (an earlier onboard run, another
    profile), it is replaced and still removed on revert; an edited one is kept."""

    kind = "generated-file"
    signature: str = ""

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        record = file_snapshot(ctx, self.path)
        data = read_bytes(record["path"]) if record.get("existed") else None
        if data is not None and self.signature and data.startswith(self.signature.encode()):
            record.update(existed=False, adopted=True)
        return record


# -- direnv allow -----------------------------------------------------------------------------

def direnv_allowed(project: str, direnv: str = "direnv") -> Optional[bool]:
    """Whether direnv allows the .envrc of `project` (None: direnv could not tell)."""
    try:
        r = subprocess.run([direnv, "status"], cwd=project, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in r.stdout.splitlines():
        if line.startswith("Found RC allowed "):
            value = line.rsplit(" ", 1)[-1].strip().lower()
            return value in ("true", "0")  # direnv 2.32 prints true/false, later 0 = allowed
    return False if "No .envrc" in r.stdout else None


def _direnv_data_dir() -> Path:
    return paths.data_home() / "direnv"


def _missing_dirs(path: Path) -> list[str]:
    """`path` and its ancestors that do not exist yet, innermost first."""
    out = []
    p = path
    while not p.exists() and p != p.parent:
        out.append(str(p))
        p = p.parent
    return out


@register
@dataclass
class DirenvAllow(RunCommand):
    """`direnv allow DIR`, undone with `direnv deny DIR`."""

    kind = "direnv-allow"
    project: str = ""

    def __post_init__(self) -> None:
        if self.project:
            if not self.argv:
                self.argv = ["direnv", "allow", self.project]
            if not self.undo:
                self.undo = ["direnv", "deny", self.project]
            if not self.cwd:
                self.cwd = self.project
            if not self.ident:
                self.ident = f"direnv allow {self.project}"

    def describe(self) -> str:
        return self.summary or f"allow {self.project}/.envrc for direnv (direnv allow)"

    def paths(self) -> list[str]:
        return [os.path.join(self.project, ".envrc")]

    def check(self, ctx: Context) -> bool:
        if shutil.which(self.argv[0]) is None:
            return False
        return bool(direnv_allowed(self.project, self.argv[0]))

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        data = _direnv_data_dir()
        missing = set(_missing_dirs(data / "allow")) | set(_missing_dirs(data / "deny"))
        return {"missing_dirs": sorted(missing, key=lambda d: (-d.count(os.sep), d))}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if shutil.which(self.argv[0]) is None:
            raise ActionError("direnv is not installed, so the .envrc cannot be allowed",
                              hint="install direnv (e.g. `apt install direnv` or "
                                   "`nix profile install nixpkgs#direnv`), then run `direnv allow` "
                                   f"in {self.project}")
        ctx.run(self.argv, cwd=self.cwd or None)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "missing_dirs" not in record:
            return  # failed before its snapshot: nothing was changed
        deny_dir = _direnv_data_dir() / "deny"
        before = set(os.listdir(deny_dir)) if deny_dir.is_dir() else set()
        if shutil.which(self.undo[0]) is not None and os.path.isdir(self.project):
            ctx.run(self.undo, cwd=self.cwd or None, check=False)
        # newer direnv records a denial as a file: ours goes with the rest
        if deny_dir.is_dir():
            for name in set(os.listdir(deny_dir)) - before:
                try:
                    (deny_dir / name).unlink()
                except OSError:
                    pass
        for d in record.get("missing_dirs", []):
            try:
                os.rmdir(d)
            except OSError:
                pass


# -- systemd user units ---------------------------------------------------------------------

@register
@dataclass
class SystemdUserUnits(Action):
    """Unit files in the user's systemd dir, `enable --now`-ed; disabled and removed on revert."""

    kind = "systemd-user-units"
    unit_dir: str = ""
    units: dict[str, str] = field(default_factory=dict)  # file name -> content
    enable: list[str] = field(default_factory=list)
    summary: str = ""

    def target(self) -> str:
        return self.unit_dir

    def id(self) -> str:
        return f"{self.kind}:{self.unit_dir}#{','.join(sorted(self.units))}"

    def describe(self) -> str:
        return self.summary or f"install and enable {', '.join(self.enable)} (systemd user units)"

    def paths(self) -> list[str]:
        return [os.path.join(self.unit_dir, n) for n in self.units]

    def _systemctl(self, ctx: Context, *args: str, check: bool = True) -> None:
        ctx.run(["systemctl", "--user", *args], check=check)

    def check(self, ctx: Context) -> bool:
        for name, content in self.units.items():
            if read_bytes(os.path.join(self.unit_dir, name)) != content.encode():
                return False
        for unit in self.enable:
            try:
                r = subprocess.run(["systemctl", "--user", "is-enabled", unit], capture_output=True,
                                   timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                return False
            if r.returncode != 0:
                return False
        return True

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"files": {n: file_snapshot(ctx, os.path.join(self.unit_dir, n)) for n in self.units}}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if shutil.which("systemctl") is None:
            raise ActionError("systemctl is not available", hint="start `lorri daemon` yourself instead")
        for name, content in self.units.items():
            rec = record["files"][name]
            write_with_parents(Path(rec["path"]), content.encode(), rec, 0o644)
        self._systemctl(ctx, "daemon-reload")
        if self.enable:
            self._systemctl(ctx, "enable", "--now", *self.enable)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        for rec in record.get("files", {}).values():
            data = read_bytes(rec["path"])
            rec["post"] = sha256_bytes(data) if data is not None else None
        return {}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "files" not in record:
            return  # failed before its snapshot: nothing was changed
        have = shutil.which("systemctl") is not None
        if have and self.enable:
            self._systemctl(ctx, "disable", "--now", *self.enable, check=False)
        # the file whose write created the directories goes last, so they can go with it
        files = record.get("files", {})
        for name in sorted(files, key=lambda n: len(files[n].get("created_dirs") or [])):
            content = self.units.get(name, "").encode()
            revert_file(ctx, files[name], expected=lambda _o, c=content: c)
        if have:
            self._systemctl(ctx, "daemon-reload", check=False)


# -- notes ------------------------------------------------------------------------------------

@register
@dataclass
class PlanNote(Action):
    """Something the plan wants the user to read. Never changes the machine."""

    kind = "note"
    changes_machine = False
    message: str = ""
    level: str = "warn"

    def id(self) -> str:
        return f"{self.kind}:{hashlib.sha256(self.message.encode()).hexdigest()[:12]}"

    def describe(self) -> str:
        return "note: " + self.message

    def paths(self) -> list[str]:
        return []

    def check(self, ctx: Context) -> bool:
        ctx.notice(self.message, level=self.level)
        return True

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        return None

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        return None


__all__ = ["GeneratedFile", "JsoncEdit", "DirenvAllow", "SystemdUserUnits", "PlanNote", "apply_jsonc", "undo_jsonc",
           "direnv_allowed"]
