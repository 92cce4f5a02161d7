"""A stand-in for lorri, for tests (lorri cannot be built on these machines).

It answers the two commands onboard relies on the way lorri does:

- `lorri direnv [--shell-file FILE]` prints, on stdout, a script for direnv to eval: it
  sets EVALUATION_ROOT to the project's GC root (~/.cache/lorri/gc_roots/<md5 of the
  absolute shell file>/gc_root/shell_gc_root), watches the daemon socket and that root,
  and loads the `bash-export` file found there, keeping the user's HOME, TMPDIR, SHELL
  and the like and putting the shell's PATH in front of the user's. It first pings the
  daemon (if one listens) to watch the file, and logs on stderr, as lorri does.
- `lorri daemon` listens on $XDG_RUNTIME_DIR/lorri/daemon.socket (lorri's cache dir when
  XDG_RUNTIME_DIR is unset), builds each shell file it is told about with real Nix
  (`nix-shell FILE --run 'export -p'` gives the same `declare -x` lines lorri's builder
  writes) into a new evaluation directory, points shell_gc_root at it, and rebuilds
  whenever the file changes. Stops on SIGTERM or SIGINT, removing its socket.

- `lorri internal stream-events --kind snapshot` prints, as lorri does, one JSON line per
  shell file the daemon knows with the latest event of its build (`{"Completed": ...}` or
  `{"Failure": ...}` with Nix's log lines), then `{"SectionEnd": {}}`. A failed build
  keeps the previous evaluation (what `lorri direnv` loads), as lorri does.

Differences from lorri, none visible to direnv: the daemon protocol is one JSON line
instead of varlink, the evaluation root is a directory under lorri's cache instead of a
/nix/store path, and the files watched are the shell file and the .nix files beside it or
below it (lorri watches every file the evaluation read).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

VERSION = "lorri 1.7.1 (stand-in for tests)"


def log(level: str, msg: str) -> None:
    sys.stderr.write(f"lorri: {level} {msg}\n")
    sys.stderr.flush()


def cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "lorri"


def socket_path() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / "lorri" / "daemon.socket"
    return cache_dir() / "daemon.socket"


def project_root(shell_file: Path) -> Path:
    digest = hashlib.md5(str(shell_file).encode()).hexdigest()
    return cache_dir() / "gc_roots" / digest / "gc_root"


# What direnv evaluates after EVALUATION_ROOT is set: load bash-export, keeping what a
# shell environment must not take over, and PATH-like lists in front of the user's.
LOADER = r'''
__lorri_standin_keep=" HOME USER LOGNAME DISPLAY TERM IN_NIX_SHELL TZ PAGER NIX_BUILD_SHELL SHLVL \
TEMPDIR TMPDIR TEMP TMP NIX_ENFORCE_PURITY OLDPWD PWD SHELL preHook BASH "
declare() {
  if [ "$1" = "-x" ]; then shift; fi
  local __name=${1%%=*}
  case "$__lorri_standin_keep" in *" $__name "*) return 0 ;; esac
  case "$__name" in
    PATH|XDG_DATA_DIRS|XDG_CONFIG_DIRS)
      local __old=${!__name-}
      export "$@"
      if [ -n "$__old" ]; then export "$__name=${!__name}:$__old"; fi
      ;;
    *) export "$@" ;;
  esac
}
export IN_NIX_SHELL=impure
if [ -f "$EVALUATION_ROOT/bash-export" ]; then
  . "$EVALUATION_ROOT/bash-export"
fi
unset -f declare
unset __lorri_standin_keep
'''


def shell_file_arg(argv: list[str]) -> Path:
    name = "shell.nix"
    if "--shell-file" in argv:
        i = argv.index("--shell-file")
        if i + 1 >= len(argv):
            log("ERRO", "--shell-file needs a file")
            raise SystemExit(2)
        name = argv[i + 1]
    return Path(os.path.abspath(name))


def status_path(shell_file: str) -> Path:
    return cache_dir() / "status" / (hashlib.md5(shell_file.encode()).hexdigest() + ".json")


def record(shell_file: str, event: dict) -> None:
    path = status_path(shell_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(event) + "\n")
    os.replace(tmp, path)


def cmd_stream_events(argv: list[str]) -> int:
    if "--kind" in argv and argv[argv.index("--kind") + 1:][:1] != ["snapshot"]:
        log("ERRO", "the stand-in answers only `--kind snapshot`")
        return 2
    d = cache_dir() / "status"
    for f in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            sys.stdout.write(f.read_text().strip() + "\n")
        except OSError:
            continue
    sys.stdout.write(json.dumps({"SectionEnd": {}}) + "\n")
    return 0


def ping(shell_file: Path) -> bool:
    path = socket_path()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall((json.dumps({"watch_shell": str(shell_file)}) + "\n").encode())
            return s.recv(16).startswith(b"ok")
    except OSError:
        return False


def cmd_direnv(argv: list[str]) -> int:
    shell_file = shell_file_arg(argv)
    if not shell_file.is_file():
        log("ERRO", f"`{shell_file}` does not exist")
        return 1
    root = project_root(shell_file) / "shell_gc_root"
    sent = ping(shell_file)
    cached = root.exists()
    if sent and not cached:
        log("INFO", "lorri has not completed an evaluation for this project yet")
    elif not sent and cached:
        log("INFO", "lorri daemon is not running, loading a cached environment")
    elif not sent:
        log("WARN", "lorri daemon is not running and this project has not yet been evaluated, "
                    "please run `lorri daemon`")
    if os.environ.get("DIRENV_IN_ENVRC") != "1":
        log("WARN", "`lorri direnv` should be executed by direnv from within an `.envrc` file")
    sys.stdout.write(f'\nEVALUATION_ROOT="{root}"\n\nwatch_file "{socket_path()}"\n'
                     f'watch_file "$EVALUATION_ROOT"\n{LOADER}')
    return 0


def stamp(shell_file: str) -> "tuple[int, int]":
    """What the watch compares: the shell file and the .nix files near it (what its
    evaluation reads, for the shells onboard renders)."""
    st = os.stat(shell_file)
    files = sorted(str(p) for p in Path(shell_file).parent.glob("**/*.nix") if p.is_file())
    acc = st.st_mtime_ns, st.st_size
    for f in files:
        s = os.stat(f)
        acc = max(acc[0], s.st_mtime_ns), acc[1] + s.st_size
    return acc


class Daemon:
    def __init__(self) -> None:
        # shell file -> (mtime_ns, size) it was built from; None while the first build runs
        self.watched: dict[str, "tuple[int, int] | None"] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.builds = 0

    def build(self, shell_file: str) -> None:
        root = project_root(Path(shell_file))
        root.mkdir(parents=True, exist_ok=True)
        try:
            seen = stamp(shell_file)
        except OSError:
            log("WARN", f"{shell_file} is gone; not building")
            return
        log("INFO", f"building {shell_file}")
        self.builds += 1
        evaluation = cache_dir() / "evaluations" / f"{int(time.time() * 1000)}-{os.getpid()}-{self.builds}"
        evaluation.mkdir(parents=True)
        cmd = f"export -p > {str(evaluation / 'bash-export')!r}"
        r = subprocess.run(["nix-shell", "--pure", shell_file, "--run", cmd], capture_output=True, text=True,
                           cwd=os.path.dirname(shell_file))
        if r.returncode != 0:
            log("ERRO", f"build of {shell_file} failed:\n{r.stderr.strip()}")
            record(shell_file, {"Failure": {"nix_file": shell_file, "failure": {"ExitFailure": {
                "command": "nix-shell", "status": r.returncode, "logs": r.stderr.strip().splitlines()[-20:]}}}})
            with self.lock:
                self.watched[shell_file] = seen
            return
        link = root / "shell_gc_root"
        tmp = root / f".shell_gc_root.{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(evaluation, tmp)
        os.replace(tmp, link)
        record(shell_file, {"Completed": {"nix_file": shell_file,
                                          "rooted_output_paths": {"shell_gc_root": str(link)}}})
        with self.lock:
            self.watched[shell_file] = seen
        log("INFO", f"build of {shell_file} completed")

    def watch_loop(self) -> None:
        while not self.stop.wait(0.2):
            with self.lock:
                items = list(self.watched.items())
            for f, seen in items:
                if seen is None:
                    continue
                try:
                    now = stamp(f)
                except OSError:
                    continue
                if now != seen:
                    self.build(f)

    def serve(self) -> int:
        path = socket_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(str(path))
                log("ERRO", f"a lorri daemon already listens on {path}")
                return 1
            except OSError:
                path.unlink()
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        srv.listen(8)
        srv.settimeout(0.2)

        def stop(*_a: object) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        threading.Thread(target=self.watch_loop, daemon=True).start()
        log("INFO", f"ready: listening on {path}")
        try:
            while not self.stop.is_set():
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    continue
                except OSError:
                    break
                with conn:
                    conn.settimeout(2)
                    try:
                        data = conn.recv(65536).decode()
                        shell_file = json.loads(data.splitlines()[0])["watch_shell"]
                        conn.sendall(b"ok\n")
                    except (OSError, ValueError, KeyError, IndexError):
                        continue
                with self.lock:
                    known = shell_file in self.watched
                if not known:
                    with self.lock:
                        self.watched[shell_file] = None
                    threading.Thread(target=self.build, args=(shell_file,), daemon=True).start()
        finally:
            srv.close()
            try:
                path.unlink()
            except OSError:
                pass
            log("INFO", "daemon stopped")
        return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write("usage: lorri (direnv [--shell-file FILE] | daemon | --version)\n")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        sys.stdout.write(VERSION + "\n")
        return 0
    if argv[0] == "direnv":
        return cmd_direnv(argv[1:])
    if argv[0] == "daemon":
        return Daemon().serve()
    if argv[:2] == ["internal", "stream-events"]:
        return cmd_stream_events(argv[2:])
    log("ERRO", f"unknown command {argv[0]!r} (the stand-in knows direnv and daemon)")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
