"""A file onboard writes whole and recognises as its own by its first line (a project's .envrc)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboard.core.actions.files import WriteFile, file_snapshot
from onboard.core.engine.action import Context, register
from onboard.core.engine.fsutil import read_bytes


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
