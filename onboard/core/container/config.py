"""What the image's config says, from the environment `onboard shell` loads: the variables
env.sh exports (less the building machine's own), the command (the profile's shell, or
--cmd, resolved inside the image's closure) and the image's name. Errors are ContainerError
(message, hint, exit code).
"""

from __future__ import annotations

import os
import re

from onboard.core.container import image as img

#: what env.sh exports that belongs to the machine that built it, not to the environment
HOST_VARS = frozenset({"NIX_BUILD_CORES", "HOME", "USER", "LOGNAME", "ONBOARD_PURE"})
_TAG = (r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
        r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?")


class ContainerError(Exception):
    """`message`, `hint`, `code` (2: bad input, 1: it failed)."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


_SCALAR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)='((?:[^']+|'\\'')*)'\n")
_QUOTED = r"'(?:[^']+|'\\'')*'"
_ARRAY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\((?:" + _QUOTED + r"|\s)*\)\n")
_ASSOC = re.compile(r"declare -gA [A-Za-z_][A-Za-z0-9_]*=\((?:\[" + _QUOTED + r"\]=" + _QUOTED + r"|\s)*\)\n")


def exported_vars(text: str) -> dict[str, str]:
    """The scalars env.sh exports (env.sh is envsh.render_env_script's: its variables come
    first, in sorted order, then its functions and a fixed tail)."""
    lines = text.split("\n", 2)
    body = lines[2] if len(lines) == 3 else ""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        m = _SCALAR.match(body, pos)
        if m:
            name, value = m.group(1), m.group(2).replace("'\\''", "'")
            pos = m.end()
            mark = f"export {name}\n"
            if body.startswith(mark, pos):
                out[name] = value
                pos += len(mark)
            continue
        m = _ARRAY.match(body, pos) or _ASSOC.match(body, pos)
        if not m:
            break
        pos = m.end()
    return out


def image_env(variables: dict[str, str], user: img.User, profile: str, python_env: str = "") -> list[str]:
    env = {k: v for k, v in variables.items() if k not in HOST_VARS}
    if python_env and os.path.isdir(os.path.join(python_env, "bin")):
        bin_dir = os.path.join(python_env, "bin")
        parts = [p for p in env.get("PATH", "").split(":") if p]
        if bin_dir not in parts:
            env["PATH"] = ":".join([bin_dir, *parts])
        if os.path.isfile(os.path.join(python_env, "pyvenv.cfg")):
            env["VIRTUAL_ENV"] = python_env
    env.update(HOME=user.home, USER=user.name, ONBOARD_PROFILE=profile)
    return [f"{k}={env[k]}" for k in sorted(env)]


def _in_closure(path: str, closure: set[str]) -> bool:
    """`path` (after its links) is a file of a store path in the closure."""
    real = os.path.realpath(path)
    m = re.match(r"^(/nix/store/[^/]+)(/|$)", real)
    return m is not None and m.group(1) in closure and os.path.isfile(real) and os.access(real, os.X_OK)


def find_shell(path_var: str, closure: set[str]) -> str:
    """The profile's shell inside the image: bash, else sh, first on the environment's PATH,
    else anywhere in the closure; "" when none runs there (a link out of the closure does not)."""
    dirs = [d for d in path_var.split(":") if d]
    for prog in ("bash", "sh"):
        for d in dirs + sorted(os.path.join(p, "bin") for p in closure):
            cand = os.path.join(d, prog)
            if os.path.lexists(cand) and _in_closure(cand, closure):
                return cand
    return ""


def resolve_cmd(words: list[str], path_var: str, closure: set[str], extra: frozenset[str] = frozenset()) -> str:
    """Where `words[0]` is in the image, or "" (a command the image cannot run)."""
    prog = words[0]
    if "/" in prog:
        return prog if (prog in extra or _in_closure(prog, closure)) else ""
    for d in (d for d in path_var.split(":") if d):
        cand = os.path.join(d, prog)
        if os.path.lexists(cand) and _in_closure(cand, closure):
            return cand
    return ""


def _parse_cmd(text: str) -> list[str]:
    try:
        import shlex

        words = shlex.split(text)
    except ValueError as exc:
        raise ContainerError(f"--cmd {text!r} is not a command line: {exc}", "quote it as a shell would: "
                             "--cmd 'python -m http.server 8000'", code=2) from None
    if not words:
        raise ContainerError("--cmd is empty", "give the image's command: --cmd 'python -m http.server'", code=2)
    return words


def check_tag(tag: str) -> str:
    if not re.fullmatch(_TAG, tag) or len(tag) > 255:
        raise ContainerError(f"--tag {tag!r} is not an image name",
                             "use lower-case letters, digits, '.', '_', '-' and '/', then an optional :TAG "
                             "(e.g. --tag web:dev)", code=2)
    return tag


def default_tag(profile: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", profile.lower()).strip("-") or "profile"
    return f"onboard-{base}:latest"
