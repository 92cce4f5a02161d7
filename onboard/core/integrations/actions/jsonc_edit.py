"""Set keys and add array items in a JSON-with-comments file (VS Code settings), keeping
everything else byte for byte and reverting only its own keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.blocks import ENC, ERR
from onboard.core.actions.files import file_snapshot, revert_file, write_with_parents
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import read_bytes, resolve_target, sha256_bytes
from onboard.core.integrations.editors import jsonc


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
