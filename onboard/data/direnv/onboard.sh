# shellcheck shell=bash
# onboard's direnv library: `use onboard [NAME]` in a project's .envrc loads the team
# profile NAME (or the project's active profile, set with `onboard switch NAME`) from
# onboard's shell cache.
#
# Warm loads are pure bash: the cached environment is sourced after checking that no
# input of the profile (its YAML files, lock, requirements, the nix binary) is newer than
# the cache and that its GC root still exists. A stale or missing cache is rebuilt by
# `onboard shell NAME --print-env`; if that fails, the last good environment is loaded
# and the failure is said out loud. Every input, the cache and the project's `active`
# file are watched, so editing the profile rebuilds and `onboard switch` reloads.
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
  local __onboard_l1='' __onboard_l2='' __onboard_l3=''
  __onboard_key=${DIRENV_WATCHES-}$'\t'$*
  if [[ -f $__onboard_memo ]]; then
    for __onboard_f in "$@"; do  # a file that is gone counts as changed too
      [[ ! -e $__onboard_f || $__onboard_f -nt $__onboard_memo ]] && break
    done
    if [[ -e $__onboard_f && ! $__onboard_f -nt $__onboard_memo ]]; then
      { read -r __onboard_l1 && read -r __onboard_l2 && read -r __onboard_l3; } <"$__onboard_memo" || true
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
  if [[ -d $__onboard_dir && $__onboard_out != *$'\n'* && $__onboard_key != *$'\n'* ]]; then
    { printf '%s\n%s\nend\n' "$__onboard_key" "$__onboard_out" >"$__onboard_memo"; } 2>/dev/null || true
  fi
}

# Usage: use_onboard [NAME]
#
# Loads team profile NAME, or the profile made active for this project (the directory
# of the .envrc) with `onboard switch NAME`. Works under strict_env too: the profile's
# own shellHook runs without errexit/nounset, which are restored afterwards.
use_onboard() {
  local __onboard_opts=$- __onboard_rc=0
  set +eu
  _onboard_use "$@" || __onboard_rc=$?
  [[ $__onboard_opts == *u* ]] && set -u
  [[ $__onboard_opts == *e* ]] && set -e
  return "$__onboard_rc"
}

_onboard_use() {
  local __onboard_name=${1-} __onboard_active=''
  local __onboard_cache=${ONBOARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onboard}
  local __onboard_state=${ONBOARD_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/onboard}
  if [[ -z $__onboard_name ]]; then
    __onboard_active=$__onboard_state/projects/${PWD//\//%}/active
    if [[ ! -e $__onboard_active ]]; then
      # `onboard switch` may have seen the project by its physical path (symlinks resolved)
      local __onboard_here=$PWD __onboard_phys=''
      if builtin cd -P . 2>/dev/null; then
        __onboard_phys=$PWD
        builtin cd "$__onboard_here" 2>/dev/null || true
      fi
      if [[ -n $__onboard_phys && $__onboard_phys != "$__onboard_here" &&
        -e $__onboard_state/projects/${__onboard_phys//\//%}/active ]]; then
        __onboard_active=$__onboard_state/projects/${__onboard_phys//\//%}/active
      fi
    fi
    if [[ -r $__onboard_active ]]; then
      read -r __onboard_name <"$__onboard_active" || true
    fi
    if [[ -z $__onboard_name ]]; then
      watch_file "$__onboard_active"
      log_error "onboard: no profile is active for $PWD: run \`onboard switch NAME\` here, or write \`use onboard NAME\` in .envrc"
      return 1
    fi
  fi
  if [[ ! $__onboard_name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    log_error "onboard: '$__onboard_name' is not a profile name (letters, digits, '.', '_' and '-')"
    return 1
  fi

  local __onboard_dir=$__onboard_cache/env/$__onboard_name
  local __onboard_env=$__onboard_dir/env.sh __onboard_why='' __onboard_f
  local -a ONBOARD_INPUTS=()
  if [[ ! -f $__onboard_env || ! -f $__onboard_dir/inputs.sh ]]; then
    __onboard_why="no cached environment yet"
  elif [[ ! -e $__onboard_dir/gcroot ]]; then
    __onboard_why="its GC root is gone"
  else
    # shellcheck disable=SC1090,SC1091
    source "$__onboard_dir/inputs.sh"
    for __onboard_f in "${ONBOARD_INPUTS[@]}"; do
      if [[ $__onboard_f -nt $__onboard_env ]]; then
        __onboard_why="$__onboard_f changed"
        break
      elif [[ ! -e $__onboard_f ]]; then
        __onboard_why="$__onboard_f is gone"
        break
      fi
    done
  fi

  local __onboard_failed=''
  if [[ -n $__onboard_why ]]; then
    log_status "onboard: building profile $__onboard_name ($__onboard_why)"
    local __onboard_out
    if __onboard_out=$(_onboard_run shell "$__onboard_name" --print-env); then
      __onboard_out=${__onboard_out%$'\n'}
      __onboard_out=${__onboard_out##*$'\n'}
      [[ -f $__onboard_out ]] && __onboard_env=$__onboard_out
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
    local __onboard_pd
    local -a __onboard_pds=()
    IFS=: read -r -a __onboard_pds <<<"${ONBOARD_PROFILES_DIR-}"
    for __onboard_pd in "${__onboard_pds[@]}" "$PWD/profiles"; do
      [[ -n $__onboard_pd ]] &&
        __onboard_more+=("$__onboard_pd/$__onboard_name.yaml" "$__onboard_pd/$__onboard_name.yml")
    done
  fi

  # Watch after any rebuild: direnv compares against the times seen now.
  _onboard_watch "$__onboard_dir" ${__onboard_active:+"$__onboard_active"} "${ONBOARD_INPUTS[@]}" \
    "${__onboard_more[@]}" "$__onboard_env"

  if [[ -n $__onboard_failed ]]; then
    if [[ -f $__onboard_env ]]; then
      log_error "onboard: building profile $__onboard_name failed; loading its last good environment (run \`onboard shell $__onboard_name\` to see why)"
      export ONBOARD_ENV_STALE=1
    else
      log_error "onboard: building profile $__onboard_name failed and there is no earlier environment to fall back to (run \`onboard shell $__onboard_name\` to see why)"
      return 1
    fi
  fi
  _onboard_load "$__onboard_env" || log_error "onboard: $__onboard_env returned an error while loading"
  export ONBOARD_PROFILE=$__onboard_name
}
