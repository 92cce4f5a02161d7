"""The environment of a profile's shell, as bash: what Nix reports, made into env.sh.

Nix reports the environment two ways: `nix print-dev-env --json` (model_from_json), or,
for nix-shell, the NUL-separated records DUMPER writes from inside the shell
(model_from_dump). Either becomes an EnvModel, written as env.sh (render_env_script),
cleaned of print-dev-env's quirks: no SHELL/BASH of the build user, no `mktemp -d` for
NIX_BUILD_TOP on every load (no temp dir residue), no bash internals (OLDPWD, LINENO, ...).
The outer PATH is appended unless ONBOARD_PURE is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["EnvModel", "DROP_VARS", "NIX_SHELL_KEPT", "DUMPER", "sh_quote", "model_from_json", "model_from_dump",
           "render_env_script", "render_inputs_script", "render_bashrc"]


#: Variables print-dev-env (or the nix-shell dump) reports that must not reach the user's
#: shell: bash internals, the build user's SHELL/BASH, per-build temp dirs, user settings.
DROP_VARS = frozenset({
    "BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0", "BASH_CMDS",
    "BASH_COMMAND", "BASH_LINENO", "BASH_LOADABLES_PATH", "BASH_REMATCH", "BASH_SOURCE", "BASH_SUBSHELL",
    "BASH_VERSINFO", "BASH_VERSION", "BASH_EXECUTION_STRING", "COLUMNS", "COMP_WORDBREAKS", "DIRSTACK",
    "EPOCHREALTIME", "EPOCHSECONDS", "EUID", "FUNCNAME", "GROUPS", "HISTCMD", "HISTFILE", "HISTFILESIZE",
    "HISTSIZE", "HOME", "HOSTNAME", "HOSTTYPE", "IFS", "LINENO", "LINES", "MACHTYPE", "MAILCHECK",
    "NIX_BUILD_TOP", "NIX_ENFORCE_PURITY", "NIX_LOG_FD", "NIX_REMOTE", "OLDPWD", "OPTARG", "OPTERR",
    "OPTIND", "OSTYPE", "PIPESTATUS", "PPID", "PS1", "PS2", "PS4", "PWD", "RANDOM", "SECONDS", "SHELL",
    "SHELLOPTS", "SHLVL", "SRANDOM", "SSL_CERT_FILE", "TEMP", "TEMPDIR", "TERM", "TMP", "TMPDIR", "TZ",
    "UID", "_",
})
#: What `nix-shell --pure` keeps from the caller's environment (dropped from its dump).
NIX_SHELL_KEPT = frozenset({
    "USER", "LOGNAME", "DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "XDG_RUNTIME_DIR", "PAGER",
    "NIX_BUILD_SHELL", "NIX_SHELL_PRESERVE_PROMPT", "NIX_PATH", "NIX_CONFIG", "LANG", "LC_ALL",
    "http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
    "FTP_PROXY", "ALL_PROXY", "NO_PROXY", "TERMINFO", "TERMINFO_DIRS",
})


@dataclass
class EnvModel:
    """Variables (name -> (type, value)) and bash functions (name -> full definition)."""

    variables: dict[str, tuple[str, object]] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)


def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def model_from_json(doc: dict) -> EnvModel:
    """`nix print-dev-env --json` -> EnvModel."""
    model = EnvModel()
    for name, spec in (doc.get("variables") or {}).items():
        if isinstance(spec, dict):
            model.variables[name] = (str(spec.get("type", "var")), spec.get("value"))
    for name, body in (doc.get("bashFunctions") or {}).items():
        model.functions[name] = f"{name} ()\n{{\n{body}}}"
    return model


DUMPER = r"""
__ob_out=$1
{
for __ob_n in $(compgen -v); do
    case $__ob_n in __ob_*|BASH_*|FUNCNAME|PIPESTATUS|GROUPS|DIRSTACK) continue ;; esac
    __ob_d=$(declare -p "$__ob_n" 2>/dev/null) || continue
    __ob_f=${__ob_d#declare -}; __ob_f=${__ob_f%% *}
    case $__ob_f in
        *A*) eval "__ob_k=(\"\${!$__ob_n[@]}\")"
             printf 'A\0%s\0%s\0' "$__ob_n" "${#__ob_k[@]}"
             for __ob_key in "${__ob_k[@]}"; do eval "printf '%s\0%s\0' \"\$__ob_key\" \"\${$__ob_n[\$__ob_key]}\""; done ;;
        *a*) eval "__ob_v=(\"\${$__ob_n[@]}\")"
             printf 'a\0%s\0%s\0' "$__ob_n" "${#__ob_v[@]}"
             if [ "${#__ob_v[@]}" -gt 0 ]; then printf '%s\0' "${__ob_v[@]}"; fi ;;
        *x*) printf 'v\0%s\0exported\0%s\0' "$__ob_n" "${!__ob_n}" ;;
        *) printf 'v\0%s\0var\0%s\0' "$__ob_n" "${!__ob_n}" ;;
    esac
done
for __ob_n in $(compgen -A function); do
    printf 'f\0%s\0%s\0' "$__ob_n" "$(declare -f "$__ob_n")"
done
} > "$__ob_out"
"""


def model_from_dump(data: bytes, strip_path_prefix: str = "") -> EnvModel:
    """The NUL-separated records DUMPER writes -> EnvModel."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    model = EnvModel()
    i = 0
    while i < len(fields) - 1:
        tag = fields[i]
        if tag == "v":
            name, kind, value = fields[i + 1:i + 4]
            model.variables[name] = (kind, value)
            i += 4
        elif tag == "a":
            name, count = fields[i + 1], int(fields[i + 2])
            model.variables[name] = ("array", fields[i + 3:i + 3 + count])
            i += 3 + count
        elif tag == "A":
            name, count = fields[i + 1], int(fields[i + 2])
            flat = fields[i + 3:i + 3 + 2 * count]
            model.variables[name] = ("associative", dict(zip(flat[0::2], flat[1::2])))
            i += 3 + 2 * count
        elif tag == "f":
            model.functions[fields[i + 1]] = fields[i + 2].rstrip("\n")
            i += 3
        else:
            break
    for name in NIX_SHELL_KEPT:
        model.variables.pop(name, None)
    if "IN_NIX_SHELL" in model.variables:
        model.variables["IN_NIX_SHELL"] = ("exported", "impure")
    # the shellHook was held back while dumping; it is run by env.sh
    hook = model.variables.pop("onboardShellHook", None)
    model.variables["shellHook"] = ("exported" if hook and hook[0] == "exported" else "var",
                                    hook[1] if hook else "")
    if strip_path_prefix and "PATH" in model.variables:
        path_kind, path_value = model.variables["PATH"]
        if isinstance(path_value, str) and path_value.startswith(strip_path_prefix + ":"):
            model.variables["PATH"] = (path_kind, path_value[len(strip_path_prefix) + 1:])
        elif path_value == strip_path_prefix:
            model.variables["PATH"] = (path_kind, "")
    return model


def render_env_script(model: EnvModel, profile_name: str) -> str:
    """The bash text of env.sh. Safe to source inside a function (direnv): scalars and
    indexed arrays are plain assignments (global), associative arrays use declare -gA."""
    out = [f"# onboard: the environment of profile {profile_name} (generated; do not edit)",
           'if [ -n "${ONBOARD_PURE:-}" ]; then onboard_saved_PATH=; else onboard_saved_PATH="${PATH:-}"; fi']
    for name in sorted(model.variables):
        if name in DROP_VARS or name.startswith("BASH_") or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        kind, value = model.variables[name]
        if kind in ("exported", "var"):
            out.append(f"{name}={sh_quote(str(value))}")
            if kind == "exported":
                out.append(f"export {name}")
        elif kind == "array" and isinstance(value, list):
            out.append(f"{name}=(" + " ".join(sh_quote(str(v)) for v in value) + ")")
        elif kind == "associative" and isinstance(value, dict):
            out.append(f"declare -gA {name}=(" + " ".join(
                f"[{sh_quote(str(k))}]={sh_quote(str(v))}" for k, v in sorted(value.items())) + ")")
    for name in sorted(model.functions):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_:.-]*", name):
            out.append(model.functions[name])
    out += [
        'PATH="${PATH:-}${onboard_saved_PATH:+${PATH:+:}$onboard_saved_PATH}"',
        "export PATH",
        "unset onboard_saved_PATH",
        'if [ -n "${ONBOARD_PURE:-}" ]; then export IN_NIX_SHELL=pure; fi',
        "unset ONBOARD_PURE",
        f"export ONBOARD_PROFILE={sh_quote(profile_name)}",
        'eval "${shellHook:-}"',
    ]
    return "\n".join(out) + "\n"


def render_inputs_script(paths: list[str], override: str = "", tools: tuple[str, ...] = ()) -> str:
    """What the direnv loader checks in bash: the inputs (and the tools: onboard itself)
    must not be newer than env.sh, and ONBOARD_NIXPKGS_OVERRIDE must be `override`."""
    return ("# onboard: every file whose change must be checked before loading (generated)\n"
            "ONBOARD_INPUTS=(\n" + "".join(f"  {sh_quote(p)}\n" for p in paths) + ")\n"
            "ONBOARD_TOOLS=(" + " ".join(sh_quote(t) for t in tools) + ")\n"
            f"ONBOARD_BUILT_OVERRIDE={sh_quote(override)}\n")


def render_bashrc(profile_name: str, env_sh: str) -> str:
    """rcfile of the interactive shell: the user's ~/.bashrc, then the environment."""
    label = re.sub(r"[^A-Za-z0-9._+-]", "_", profile_name)
    return ("# onboard: interactive shell of profile " + profile_name + " (generated)\n"
            'if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'
            f". {sh_quote(env_sh)}\n"
            f'PS1="({label}) ${{PS1-\\\\s-\\\\v\\\\$ }}"\n')
