"""The project's .editorconfig from the profile's `editors.editorconfig` settings.

Accepted shapes (YAML):

    editors:
      editorconfig:
        indent_style: space        # plain keys apply to [*]
        "*.py": {indent_size: 4}   # a mapping is a section
        "Makefile": {indent_style: tab}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.files import WriteFile
from onboard.core.engine.action import Action
from onboard.core.engine.fsutil import read_bytes, resolve_target


class EditorconfigError(ValueError):
    pass


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "unset"
    if isinstance(v, (int, float, str)):
        text = str(v)
        if "\n" in text:
            raise EditorconfigError(f"value {text!r} spans lines")
        return text
    raise EditorconfigError(f"value {v!r} is not a string, number or boolean")


def sections(settings: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    if not isinstance(settings, dict):
        raise EditorconfigError("editors.editorconfig must be a mapping")
    top: list[tuple[str, str]] = []
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for key, value in settings.items():
        if isinstance(value, dict):
            out.append((str(key), [(str(k), _value(v)) for k, v in value.items()]))
        else:
            top.append((str(key), _value(value)))
    if top:
        out.insert(0, ("*", top))
    return out


def render_sections(secs: list[tuple[str, list[tuple[str, str]]]]) -> str:
    blocks = []
    for name, pairs in secs:
        blocks.append("\n".join([f"[{name}]"] + [f"{k} = {v}" for k, v in pairs]))
    return "\n\n".join(blocks)


def editorconfig_action(project: str, profile_name: str, settings: Any) -> Optional[Action]:
    secs = sections(settings)
    if not secs:
        return None
    path = Path(project) / ".editorconfig"
    body = render_sections(secs)
    if read_bytes(resolve_target(path)) is None:
        text = (f"# EditorConfig (https://editorconfig.org) from the team profile {profile_name}, "
                "written by onboard\nroot = true\n\n" + body + "\n")
        return WriteFile(path=str(path), content=text, summary=f"write {path} from profile {profile_name}")
    return MarkedBlock(path=str(path), marker="editorconfig", content=body, comment="#",
                       summary=f"add profile {profile_name}'s editor settings to {path}")


__all__ = ["editorconfig_action", "sections", "render_sections", "EditorconfigError"]
