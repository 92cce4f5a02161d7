# stdenv/setup of the stand-in: what nix-shell and nix develop source before the shell
# (runHook, and each input's bin/ on PATH, as nixpkgs' setup does).
# (initialPath=... is written above this line when the stdenv is built.)

runHook() {
    local hookName="$1"
    shift
    local hook
    # a variable (shellHook="...") or a function of that name, as nixpkgs runs them
    if declare -F "$hookName" >/dev/null; then
        "$hookName" "$@"
    elif [ -n "${!hookName:-}" ]; then
        eval "${!hookName}"
    fi
    return 0
}

addToSearchPath() {
    local varName="$1" dir="$2"
    [ -d "$dir" ] || return 0
    export "${varName}=${dir}${!varName:+:${!varName}}"
}

standinAddInputs() {
    local p sub
    for p in "$@"; do
        [ -n "$p" ] || continue
        if [ -d "$p/bin" ]; then
            case ":${standinPath:-}:" in *":$p/bin:"*) ;; *) standinPath="${standinPath:+$standinPath:}$p/bin" ;; esac
        fi
        for sub in "$p"/lib/python3*/site-packages; do
            if [ -d "$sub" ]; then addToSearchPath PYTHONPATH "$sub"; fi
        done
    done
    return 0
}

standinPath=
# shellcheck disable=SC2086
standinAddInputs ${nativeBuildInputs:-} ${buildInputs:-} ${propagatedNativeBuildInputs:-} ${propagatedBuildInputs:-}
standinAddInputs "$initialPath"
# as nixpkgs' setup: PATH starts afresh (nix-shell and nix develop append the outer PATH
# themselves unless the shell is pure)
export PATH="$standinPath"
unset standinPath
export SOURCE_DATE_EPOCH=315532800
