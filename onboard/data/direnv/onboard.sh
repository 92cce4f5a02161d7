# shellcheck shell=bash
# onboard's direnv library: `use onboard [NAME]` in a project's .envrc loads the team
# profile NAME (or the project's active profile, set with `onboard switch NAME`) from
# this project's own environment cache; `use onboard --lorri [NAME]` lets lorri build it.
#
# The project is the nearest directory above the .envrc's (physical path) holding
# profiles/ or onboard.yaml, stopping at the git root or $HOME (else the .envrc's
# directory): the same rule as onboard/core/project.py. Its environments live under
# $cache/env/OWNER/NAME (OWNER: the root with "_" as "_u", then "/" as "_s"), apart from
# every other project's; its state (active, hold, generations) in $state/projects/${ROOT//\//%}/.
#
# Warm loads are pure bash: the cached environment is sourced after checking that no
# input of the profile (its YAML files, lock, requirements, the team config, the nix
# binary, onboard itself) is newer than the cache, that ONBOARD_NIXPKGS_OVERRIDE is what
# it was built with, that no failed build is pending and that its GC root exists. Else
# `onboard shell NAME --print-env --project ROOT` decides: a render shows whether the
# change means anything (a comment does not), Nix rebuilds when it does, and a failed
# rebuild loads this project's last good environment with ONBOARD_ENV_STALE=1 (onboard
# says why, once). A project held by `onboard rollback` loads that generation's
# environment as it was, without onboard. The inputs, the cache and the project's
# `active` and `hold` files are watched, so an edit, a switch or a rollback reloads.
#
# Settings (environment): ONBOARD_BIN (the onboard command to run), ONBOARD_CACHE_DIR,
# ONBOARD_STATE_DIR, XDG_CACHE_HOME, XDG_STATE_HOME.
#
# Installed by onboard; `onboard uninstall` removes it.

# @ONBOARD_LAUNCHER@

# Run onboard: $ONBOARD_BIN, else the launcher that installed this file, else PATH.
_onboard_run() {
  if [[ -n ${ONBOARD_BIN-} ]]; then
    "$ONBOARD_BIN" "$@"
  elif [[ ${#_onboard_launcher[@]} -gt 0 && -x ${_onboard_launcher[0]} ]]; then
    if [[ -n ${_onboard_pythonpath-} ]]; then
      PYTHONPATH="$_onboard_pythonpath${PYTHONPATH:+:$PYTHONPATH}" "${_onboard_launcher[@]}" "$@"
    else
      "${_onboard_launcher[@]}" "$@"
    fi
  elif has onboard; then
    onboard "$@"
  else
    log_error "onboard: the onboard command was not found (not on PATH, and ${_onboard_launcher[0]-the launcher} is gone); set ONBOARD_BIN or reinstall onboard"
    return 127
  fi
}

# Source a cached environment, keeping what a dev shell must not change in the user's
# shell (SHELL, HOME, TMPDIR, ...) and not creating the build directory print-dev-env
# asks for on every load.
_onboard_load() {
  local __onboard_v __onboard_old_xdg=${XDG_DATA_DIRS-}
  local -a __onboard_saved=() __onboard_unset=()
  for __onboard_v in SHELL HOME USER LOGNAME TERM TZ PAGER DISPLAY SHLVL TMP TMPDIR TEMP \
    TEMPDIR OLDPWD NIX_BUILD_SHELL NIX_BUILD_TOP; do
    if [[ -n ${!__onboard_v+x} ]]; then
      __onboard_saved+=("$__onboard_v=${!__onboard_v}")
    else
      __onboard_unset+=("$__onboard_v")
    fi
  done
  # `nix print-dev-env` output runs `mktemp -d -t nix-shell.XXXXXX` for NIX_BUILD_TOP and
  # never removes it: answer that one call without creating anything.
  # shellcheck disable=SC2317  # called by the sourced file
  mktemp() {
    if [[ $# -eq 3 && $1 == -d && $2 == -t && $3 == nix-shell.* ]]; then
      printf '%s\n' "${TMPDIR:-/tmp}"
    else
      command mktemp "$@"
    fi
  }
  # shellcheck disable=SC1090
  source "$1"
  local __onboard_rc=$?
  unset -f mktemp
  for __onboard_v in "${__onboard_saved[@]}"; do
    # shellcheck disable=SC2163  # each entry is NAME=value
    export "$__onboard_v"
  done
  for __onboard_v in "${__onboard_unset[@]}"; do
    unset "$__onboard_v"
  done
  # XDG_DATA_DIRS: the shell's entries first, then the user's (desktop files, completions)
  if [[ -n $__onboard_old_xdg && ${XDG_DATA_DIRS-} != "$__onboard_old_xdg" ]]; then
    local __onboard_new=${XDG_DATA_DIRS-} __onboard_out='' __onboard_d IFS=:
    for __onboard_d in $__onboard_new $__onboard_old_xdg; do
      [[ -z $__onboard_d || :$__onboard_out: == *:"$__onboard_d":* ]] && continue
      __onboard_out+=${__onboard_out:+:}$__onboard_d
    done
    export XDG_DATA_DIRS=$__onboard_out
  fi
  return "$__onboard_rc"
}

# watch_file forks direnv (about 5 ms, the biggest cost of a warm load). Its answer
# depends only on DIRENV_WATCHES so far and on the watched files' times, so it is kept
# next to the cached environment and reused while neither changed.
_onboard_watch() {
  local __onboard_dir=$1
  shift
  local __onboard_memo=$__onboard_dir/direnv-watch${PWD//\//%} __onboard_key __onboard_f
  local __onboard_l1='' __onboard_l2='' __onboard_l3='' __onboard_missing='' __onboard_changed=''
  local __onboard_w0=${DIRENV_WATCHES-}
  if [[ -f $__onboard_memo ]]; then
    # a file that appeared, went or changed since the memo was written invalidates it (the
    # missing ones are part of its key: a `hold` that does not exist yet is not a change)
    for __onboard_f in "$@"; do
      if [[ ! -e $__onboard_f ]]; then
        __onboard_missing+=$__onboard_f$'\t'
      elif [[ $__onboard_f -nt $__onboard_memo ]]; then
        __onboard_changed=1
        break
      fi
    done
    if [[ -z $__onboard_changed ]]; then
      __onboard_key=$__onboard_w0$'\t'$*$'\t'$__onboard_missing
      { IFS= read -r __onboard_l1 && IFS= read -r __onboard_l2 && IFS= read -r __onboard_l3; } <"$__onboard_memo" || true
      if [[ $__onboard_l3 == end && $__onboard_l1 == "$__onboard_key" ]]; then
        eval "$__onboard_l2"
        return
      fi
    fi
  fi
  local __onboard_out
  if ! __onboard_out=$("$direnv" watch bash "$@"); then
    watch_file "$@"
    return
  fi
  eval "$__onboard_out"
  __onboard_missing=''
  for __onboard_f in "$@"; do
    [[ -e $__onboard_f ]] || __onboard_missing+=$__onboard_f$'\t'
  done
  __onboard_key=$__onboard_w0$'\t'$*$'\t'$__onboard_missing
  if [[ -d $__onboard_dir && $__onboard_out != *$'\n'* && $__onboard_key != *$'\n'* ]]; then
    { printf '%s\n%s\nend\n' "$__onboard_key" "$__onboard_out" >"$__onboard_memo"; } 2>/dev/null || true
  fi
}

# Usage: use_onboard [--lorri] [NAME]
#
# Loads team profile NAME, or the profile made active for this project with `onboard
# switch NAME`. Works under strict_env too: the profile's own shellHook runs without
# errexit/nounset, which are restored afterwards.
use_onboard() {
  local __onboard_opts=$- __onboard_rc=0
  set +eu
  _onboard_use "$@" || __onboard_rc=$?
  [[ $__onboard_opts == *u* ]] && set -u
  [[ $__onboard_opts == *e* ]] && set -e
  return "$__onboard_rc"
}

# Whether a failed rebuild may fall back (ONBOARD_NO_FALLBACK=1, default when CI is set).
_onboard_may_fall_back() {
  local __onboard_v=${ONBOARD_NO_FALLBACK-}
  if [[ -z ${ONBOARD_NO_FALLBACK+x} ]]; then
    [[ -z ${CI-} ]]
    return
  fi
  case ${__onboard_v,,} in '' | 0 | no | false | off) return 0 ;; *) return 1 ;; esac
}

# Sets __onboard_root: the project root (see the top of this file).
_onboard_root() {
  local __onboard_here=$PWD __onboard_old=${OLDPWD-} __onboard_d
  __onboard_d=$PWD
  if builtin cd -P . 2>/dev/null; then
    __onboard_d=$PWD
    builtin cd "$__onboard_here" 2>/dev/null || true
    OLDPWD=$__onboard_old
  fi
  local __onboard_start=$__onboard_d
  __onboard_root=''
  while [[ -n $__onboard_d && $__onboard_d != "${HOME-}" ]]; do
    if [[ -d $__onboard_d/profiles || -f $__onboard_d/onboard.yaml || -f $__onboard_d/onboard.yml ]]; then
      __onboard_root=$__onboard_d
      return
    fi
    [[ -e $__onboard_d/.git || $__onboard_d == / ]] && break
    __onboard_d=${__onboard_d%/*}
    [[ -z $__onboard_d ]] && __onboard_d=/
  done
  __onboard_root=$__onboard_start
}

_onboard_use() {
  local __onboard_lorri=''
  if [[ ${1-} == --lorri ]]; then
    __onboard_lorri=1
    shift
  fi
  local __onboard_name=${1-} __onboard_root
  local __onboard_cache=${ONBOARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onboard}
  local __onboard_state=${ONBOARD_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/onboard}
  _onboard_root
  local __onboard_key=${__onboard_root//\//%} __onboard_owner=${__onboard_root//_/_u}
  __onboard_owner=${__onboard_owner//\//_s}
  local __onboard_proj=$__onboard_state/projects/$__onboard_key
  local __onboard_active=$__onboard_proj/active __onboard_hold=$__onboard_proj/hold
  if [[ -z $__onboard_name ]]; then
    if [[ -r $__onboard_active ]]; then
      read -r __onboard_name <"$__onboard_active" || true
    fi
    if [[ -z $__onboard_name ]]; then
      watch_file "$__onboard_active"
      log_error "onboard: no profile is active for $__onboard_root: run \`onboard switch NAME\` here, or write \`use onboard NAME\` in .envrc"
      return 1
    fi
  fi
  if [[ ! $__onboard_name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    log_error "onboard: '$__onboard_name' is not a profile name (letters, digits, '.', '_' and '-')"
    return 1
  fi
  local __onboard_held='' __onboard_held_name=''
  if [[ -r $__onboard_hold ]]; then
    read -r __onboard_held __onboard_held_name <"$__onboard_hold" || true
  fi
  if [[ -n $__onboard_held && $__onboard_held_name == "$__onboard_name" ]]; then
    _onboard_held
    return
  fi
  local __onboard_dir=$__onboard_cache/env/$__onboard_owner/$__onboard_name
  if [[ -n $__onboard_lorri ]]; then
    _onboard_lorri
    return
  fi

  local __onboard_env=$__onboard_dir/env.sh __onboard_why='' __onboard_f
  local -a ONBOARD_INPUTS=() ONBOARD_TOOLS=()
  local ONBOARD_BUILT_OVERRIDE=''
  if [[ ! -f $__onboard_env || ! -f $__onboard_dir/inputs.sh ]]; then
    __onboard_why="no cached environment yet"
  elif [[ ! -e $__onboard_dir/gcroot ]]; then
    __onboard_why="its GC root is gone"
  elif [[ -e $__onboard_dir/stale ]]; then
    __onboard_why="the last build failed"
  elif [[ -f $__onboard_dir/python-venv ]] && { IFS= read -r __onboard_f <"$__onboard_dir/python-venv" || true
         [[ ! -f ${__onboard_f#venv=}/.onboard-synced ]]; }; then
    __onboard_why="the Python virtualenv of the lock is missing"
  else
    # shellcheck disable=SC1090,SC1091
    source "$__onboard_dir/inputs.sh"
    if [[ ${ONBOARD_NIXPKGS_OVERRIDE-} != "$ONBOARD_BUILT_OVERRIDE" ]]; then
      __onboard_why="ONBOARD_NIXPKGS_OVERRIDE changed"
    fi
    for __onboard_f in "${ONBOARD_INPUTS[@]}" "${ONBOARD_TOOLS[@]}"; do
      [[ -n $__onboard_why ]] && break
      if [[ $__onboard_f -nt $__onboard_env ]]; then
        __onboard_why="$__onboard_f changed"
      elif [[ ! -e $__onboard_f ]]; then
        __onboard_why="$__onboard_f is gone"
      fi
    done
  fi

  local __onboard_failed='' __onboard_stale=''
  if [[ -n $__onboard_why ]]; then
    log_status "onboard: building profile $__onboard_name ($__onboard_why)"
    local __onboard_out
    if __onboard_out=$(_onboard_run shell "$__onboard_name" --print-env --project "$__onboard_root"); then
      __onboard_out=${__onboard_out%$'\n'}
      __onboard_out=${__onboard_out##*$'\n'}
      [[ -f $__onboard_out ]] && __onboard_env=$__onboard_out
      if [[ -r $__onboard_dir/stale ]]; then
        read -r __onboard_stale <"$__onboard_dir/stale" || true
        __onboard_stale=${__onboard_stale:-the last build failed}
      fi
      ONBOARD_INPUTS=()
      if [[ -f $__onboard_dir/inputs.sh ]]; then
        # shellcheck disable=SC1090,SC1091
        source "$__onboard_dir/inputs.sh"
      fi
    else
      __onboard_failed=1
    fi
  fi

  # Nothing recorded yet (a first build failed): watch where the profile usually is, so
  # that fixing it retries the build without a manual `direnv reload`.
  local -a __onboard_more=()
  if [[ -n $__onboard_failed && ${#ONBOARD_INPUTS[@]} -eq 0 ]]; then
    _onboard_profile_guesses
  fi

  # Watch after any rebuild: direnv compares against the times seen now.
  _onboard_watch "$__onboard_dir" "$__onboard_active" "$__onboard_hold" "${ONBOARD_INPUTS[@]}" \
    "${__onboard_more[@]}" "$__onboard_env"

  if [[ -n $__onboard_failed ]]; then
    if [[ -f $__onboard_env ]] && ! _onboard_may_fall_back; then
      log_error "onboard: building profile $__onboard_name failed and falling back is off (ONBOARD_NO_FALLBACK, or CI): nothing loaded"
    else
      log_error "onboard: building profile $__onboard_name failed and there is no earlier environment to fall back to (run \`onboard shell $__onboard_name\` to see why)"
    fi
    return 1
  fi
  _onboard_enter "$__onboard_env" "$__onboard_stale"
}

# Where a profile usually is (for a first build that failed): __onboard_more.
_onboard_profile_guesses() {
  local __onboard_pd
  local -a __onboard_pds=()
  IFS=: read -r -a __onboard_pds <<<"${ONBOARD_PROFILES_DIR-}"
  for __onboard_pd in "${__onboard_pds[@]}" "$__onboard_root/profiles"; do
    [[ -n $__onboard_pd ]] &&
      __onboard_more+=("$__onboard_pd/$__onboard_name.yaml" "$__onboard_pd/$__onboard_name.yml")
  done
}

# Load an environment file of this project; $2: why it is stale ("" when fresh).
_onboard_enter() {
  export ONBOARD_PROJECT_DIR=$__onboard_root
  _onboard_load "$1" || log_error "onboard: $1 returned an error while loading"
  export ONBOARD_PROFILE=$__onboard_name ONBOARD_PROJECT_DIR=$__onboard_root
  # the variables of the project's services (PGPORT, DATABASE_URL, ...), at entry: docs/services.md
  local __onboard_svc=$__onboard_proj/services/env.$__onboard_name __onboard_k __onboard_val
  if [[ ! -f $__onboard_svc && -f ${1%/*}/flake/services ]]; then
    _onboard_run services env --profile "$__onboard_name" --project "$__onboard_root" >/dev/null || true
  fi
  if [[ -f $__onboard_svc ]]; then
    while IFS='=' read -r __onboard_k __onboard_val; do
      [[ $__onboard_k =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && export "$__onboard_k=$__onboard_val"
    done <"$__onboard_svc"
    watch_file "$__onboard_svc"
  fi
  if [[ -n ${2-} ]]; then
    export ONBOARD_ENV_STALE=1 ONBOARD_ENV_STALE_REASON=$2
  else
    unset ONBOARD_ENV_STALE ONBOARD_ENV_STALE_REASON
  fi
}

# The project is held at a generation (`onboard rollback`): load it as it was.
_onboard_held() {
  local __onboard_dir=$__onboard_proj/generations/$__onboard_held
  local __onboard_env=$__onboard_dir/env.sh __onboard_f __onboard_changed=''
  local -a ONBOARD_INPUTS=() ONBOARD_TOOLS=()
  local ONBOARD_BUILT_OVERRIDE=''
  if [[ ! -f $__onboard_env || ! -e $__onboard_dir/root ]]; then
    watch_file "$__onboard_hold" "$__onboard_active"
    log_error "onboard: $__onboard_root is held at generation $__onboard_held of profile $__onboard_name, which cannot be loaded (its environment or GC root is gone): run \`onboard switch $__onboard_name\`"
    return 1
  fi
  if [[ -f $__onboard_dir/inputs.sh ]]; then
    # shellcheck disable=SC1090,SC1091
    source "$__onboard_dir/inputs.sh"
  fi
  for __onboard_f in "${ONBOARD_INPUTS[@]}"; do
    if [[ ! -e $__onboard_f || $__onboard_f -nt $__onboard_env ]]; then
      __onboard_changed=1
      break
    fi
  done
  if [[ -n $__onboard_changed ]]; then
    log_error "onboard: $__onboard_root is held at generation $__onboard_held (onboard rollback): the profile changed since generation $__onboard_held; \`onboard switch\` rebuilds"
  fi
  _onboard_watch "$__onboard_dir" "$__onboard_active" "$__onboard_hold" "${ONBOARD_INPUTS[@]}" "$__onboard_env"
  _onboard_enter "$__onboard_env" ""
}

# lorri mode: onboard renders what lorri evaluates (lorri.nix: the profile's shell.nix with
# the same package set), lorri builds it; a failed lorri build keeps lorri's last good
# environment of this project, said out loud and marked stale (or refused, as above).
_onboard_lorri() {
  local __onboard_nix=$__onboard_dir/lorri.nix __onboard_why='' __onboard_f __onboard_stale=''
  local __onboard_stamp=$__onboard_dir/lorri.stamp
  local -a ONBOARD_INPUTS=() ONBOARD_TOOLS=()
  local ONBOARD_BUILT_OVERRIDE=''
  if [[ ! -f $__onboard_nix || ! -f $__onboard_stamp || ! -f $__onboard_dir/inputs.sh ]]; then
    __onboard_why="not rendered yet"
  elif [[ -e $__onboard_dir/stale ]]; then
    __onboard_why="the last render failed"
  else
    # shellcheck disable=SC1090,SC1091
    source "$__onboard_dir/inputs.sh"
    [[ ${ONBOARD_NIXPKGS_OVERRIDE-} != "$ONBOARD_BUILT_OVERRIDE" ]] && __onboard_why="ONBOARD_NIXPKGS_OVERRIDE changed"
    for __onboard_f in "${ONBOARD_INPUTS[@]}" "${ONBOARD_TOOLS[@]}"; do
      [[ -n $__onboard_why ]] && break
      [[ ! -e $__onboard_f || $__onboard_f -nt $__onboard_stamp ]] && __onboard_why="$__onboard_f changed"
    done
  fi
  if [[ -n $__onboard_why ]]; then
    if ! _onboard_run shell "$__onboard_name" --render --project "$__onboard_root" >/dev/null; then
      local -a __onboard_more=()
      _onboard_profile_guesses
      _onboard_watch "$__onboard_dir" "$__onboard_active" "$__onboard_hold" "${__onboard_more[@]}"
      return 1
    fi
    ONBOARD_INPUTS=()
    # shellcheck disable=SC1090,SC1091
    [[ -f $__onboard_dir/inputs.sh ]] && source "$__onboard_dir/inputs.sh"
  fi
  if [[ -r $__onboard_dir/stale ]]; then
    read -r __onboard_stale <"$__onboard_dir/stale" || true
  fi
  # lorri reports each build of a file as an event; the last one for ours tells.
  local __onboard_ev='' __onboard_line
  while IFS= read -r __onboard_line; do
    [[ $__onboard_line == *"\"$__onboard_nix\""* ]] && __onboard_ev=$__onboard_line
  done < <(lorri internal stream-events --kind snapshot 2>/dev/null)
  if [[ $__onboard_ev == '{"Failure"'* ]]; then
    local __onboard_msg="see \`lorri internal stream-events --kind snapshot\`"
    [[ $__onboard_ev =~ \"(error: [^\"]*)\" ]] && __onboard_msg=${BASH_REMATCH[1]}
    __onboard_stale="lorri could not build $__onboard_nix: $__onboard_msg"
  fi
  _onboard_watch "$__onboard_dir" "$__onboard_active" "$__onboard_hold" "${ONBOARD_INPUTS[@]}" "$__onboard_nix"
  if [[ -n $__onboard_stale ]]; then
    if ! _onboard_may_fall_back; then
      log_error "onboard: building profile $__onboard_name failed and falling back is off (ONBOARD_NO_FALLBACK, or CI): $__onboard_stale"
      return 1
    fi
    [[ $__onboard_ev == '{"Failure"'* ]] &&
      log_error "onboard: building profile $__onboard_name failed; loading its last good environment (lorri's, ONBOARD_ENV_STALE=1): $__onboard_stale"
  fi
  export ONBOARD_PROJECT_DIR=$__onboard_root
  eval "$(lorri direnv --shell-file "$__onboard_nix")"
  export ONBOARD_PROFILE=$__onboard_name ONBOARD_PROJECT_DIR=$__onboard_root
  if [[ -n $__onboard_stale ]]; then
    export ONBOARD_ENV_STALE=1 ONBOARD_ENV_STALE_REASON=$__onboard_stale
  else
    unset ONBOARD_ENV_STALE ONBOARD_ENV_STALE_REASON
  fi
}
