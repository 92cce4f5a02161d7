"""The per-project supervisor: `python -m onboard.core.services.supervisor SERVICES_DIR`.

Started by `onboard services up` (control.py) in a session of its own, it reads run.json,
starts each service when the ones it comes `after` are ready (a first-time step such as
initdb first), writes every state change to status.json and stops them all, in reverse
order, on SIGTERM, SIGINT or SIGHUP, or when the process it watches (`onboard shell
--services`) is gone. Each service runs in the foreground, in its own process group, with
the parent-death signal set (after any change of user), so that it dies with the
supervisor however the supervisor ends: nothing is ever orphaned. Every spawn is recorded
first (the tracked-process helper, onboard/core/procs.py), and every process carries the
project's token in its environment, so `down` finds all of them even after a SIGKILL.

PostgreSQL refuses to run as root: as root, its processes run as an unprivileged uid in a
user namespace of their own (uid 0 outside is that uid inside, so the data stays root's).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Optional

from onboard.core import procs
from onboard.core.services import registry
from onboard.core.services.state import NAME_VAR, TOKEN_VAR, read_json, write_json

PR_SET_PDEATHSIG = 1
CLONE_NEWUSER = 0x10000000
START_TIMEOUT = 90.0
POLL = 0.01


def unprivileged_ids() -> tuple[int, int]:
    """The uid and gid a server that refuses root runs as: the system's postgres user, else nobody."""
    import pwd

    for name in ("postgres", "nobody"):
        try:
            p = pwd.getpwnam(name)
            return p.pw_uid, p.pw_gid
        except KeyError:
            continue
    return 65534, 65534


def preexec(parent: int, death_signal: int, unprivileged: bool) -> Callable[[], None]:
    """What the child runs between fork and exec: (as root, for a server that refuses it) a
    user namespace in which it is an unprivileged uid, then the parent-death signal (after
    the change of user, which would clear it), then a check that the parent still lives."""
    libc = ctypes.CDLL(None, use_errno=True)
    ids = unprivileged_ids() if unprivileged and os.geteuid() == 0 else None
    outer_uid, outer_gid = os.geteuid(), os.getegid()

    def write(path: str, text: str) -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def run() -> None:
        if ids is not None:
            if libc.unshare(CLONE_NEWUSER) != 0:
                os._exit(126)
            write("/proc/self/setgroups", "deny")
            write("/proc/self/uid_map", f"{ids[0]} {outer_uid} 1")
            write("/proc/self/gid_map", f"{ids[1]} {outer_gid} 1")
        libc.prctl(PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return run


class Service:
    def __init__(self, svc: dict[str, Any]) -> None:
        self.svc = svc
        self.name: str = svc["name"]
        self.kind = registry.by_id(svc["kind"]).impl()
        self.state = "waiting"
        self.proc: Optional[subprocess.Popen] = None
        self.step = ""  # "init" while the first-time step runs
        self.since = 0.0
        self.message = ""
        self.rec: Optional[dict[str, Any]] = None
        self.ready_at = 0.0
        self.started_at = 0.0

    @property
    def stop_signal(self) -> int:
        sig = self.svc.get("stop") or ""
        return int(getattr(signal, sig)) if sig else int(self.kind.STOP)

    @property
    def grace(self) -> float:
        g = self.svc.get("grace")
        return float(g) if g is not None else float(self.kind.GRACE)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def entry(self) -> dict[str, Any]:
        return {"state": self.state, "pid": self.proc.pid if self.proc else None, "rec": self.rec,
                "message": self.message, "started_at": self.started_at, "ready_at": self.ready_at,
                "step": self.step, "port": self.svc.get("port"), "data_dir": self.svc.get("data_dir"),
                "log": self.svc.get("log"), "kind": self.svc.get("kind")}


class Supervisor:
    def __init__(self, sdir: str) -> None:
        self.sdir = sdir
        run = read_json(os.path.join(sdir, "run.json"))
        if not isinstance(run, dict):
            raise SystemExit(f"onboard supervisor: {sdir}/run.json is missing or unreadable")
        self.run = run
        self.services = [Service(s) for s in run["services"]]
        self.by_name = {s.name: s for s in self.services}
        self.stopping = False
        self.requests = False
        self.started = time.time()

    # -- records ------------------------------------------------------------------------
    def save(self) -> None:
        write_json(os.path.join(self.sdir, "status.json"), {
            "supervisor": os.getpid(), "profile": self.run.get("profile"), "started": self.started,
            "stopping": self.stopping, "ephemeral": bool(self.run.get("ephemeral")),
            "services": {s.name: s.entry() for s in self.services}})

    # -- processes ------------------------------------------------------------------------
    def env(self, s: Service) -> dict[str, str]:
        svc = s.svc
        if svc["kind"] == "generic":
            env = dict(self.run.get("env") or os.environ)
            env.update(svc.get("env") or {})
            if isinstance(svc.get("port"), int):
                env["PORT"] = str(svc["port"])
        else:
            env = {k: v for k, v in (self.run.get("env") or {}).items()
                   if k in ("HOME", "USER", "LOGNAME", "TZ", "PATH")}
            env.setdefault("PATH", "/usr/bin:/bin")
            env["LC_ALL"] = "C"
        env[TOKEN_VAR] = self.run["token"]
        env[NAME_VAR] = s.name
        return env

    def spawn(self, s: Service, argv: list[str], cwd: str) -> subprocess.Popen:
        rec = procs.intent(argv[0], name="")
        rec["name"] = ""  # servers rewrite their process title
        rec["cwd"] = os.path.realpath(cwd)
        s.rec = rec
        self.save()  # the intent is on disk before the spawn
        os.makedirs(os.path.dirname(s.svc["log"]), exist_ok=True)
        log = open(s.svc["log"], "ab")
        try:
            log.write(f"--- onboard: {' '.join(argv[:1])} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            log.flush()
            proc = procs.spawn(rec, argv, cwd=cwd, env=self.env(s), stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, close_fds=True,
                               preexec_fn=preexec(os.getpid(), s.stop_signal if s.step != "init"
                                                  else signal.SIGKILL, bool(self.kind_unpriv(s))))
        finally:
            log.close()
        self.save()
        return proc

    @staticmethod
    def kind_unpriv(s: Service) -> bool:
        return bool(getattr(s.kind, "UNPRIVILEGED", False))

    def start(self, s: Service) -> None:
        svc = s.svc
        s.started_at = time.time()
        try:
            problem = s.kind.clear_stale(svc)
            if problem:
                return self.fail(s, problem)
            if s.kind.needs_init(svc):
                s.step = "init"
                s.state = "initializing"
                s.proc = self.spawn(s, s.kind.init_argv(svc), os.path.dirname(svc["data_dir"]))
                return
            self.launch(s)
        except OSError as exc:
            self.fail(s, f"cannot start {s.name}: {exc.strerror or exc}")

    def launch(self, s: Service) -> None:
        svc = s.svc
        s.step = ""
        os.makedirs(svc["data_dir"], exist_ok=True)
        if self.kind_unpriv(s):
            os.chmod(svc["data_dir"], 0o700)
        s.state = "starting"
        s.since = time.monotonic()
        s.proc = self.spawn(s, s.kind.argv(svc), svc["cwd"] if svc["kind"] == "generic" else svc["data_dir"])

    def fail(self, s: Service, message: str) -> None:
        s.state = "failed"
        s.message = message
        self.save()

    def tick(self, s: Service) -> bool:
        """Advance one service; True when its state changed."""
        svc = s.svc
        if s.state == "waiting":
            deps = [self.by_name.get(d) for d in svc.get("after", [])]
            if all(d is not None and d.state == "ready" for d in deps):
                self.start(s)
                return True
            return False
        if s.state == "initializing":
            assert s.proc is not None
            rc = s.proc.poll()
            if rc is None:
                return False
            if rc != 0:
                self.fail(s, f"{s.kind.init_argv.__module__.rsplit('.', 1)[-1]} first-time setup failed "
                             f"(exit {rc}); see {svc['log']}")
                return True
            try:
                s.kind.finish_init(svc)
                self.launch(s)
            except OSError as exc:
                self.fail(s, str(exc))
            return True
        if s.state == "starting":
            assert s.proc is not None
            rc = s.proc.poll()
            if rc is not None:
                self.fail(s, f"{s.name} exited with code {rc} before it was ready; see {svc['log']}")
                return True
            svc["_running_for"] = time.monotonic() - s.since
            if s.kind.probe(svc):
                try:
                    s.kind.after_ready(svc)
                except Exception as exc:  # a query the server refused: said, and the service stays up
                    s.message = f"{s.name} is up, but setting it up failed: {exc}"
                s.state = "ready"
                s.ready_at = time.time()
                self.save()
                return True
            if time.monotonic() - s.since > START_TIMEOUT:
                self.fail(s, f"{s.name} did not answer within {int(START_TIMEOUT)} s; see {svc['log']}")
                return True
            return False
        if s.state == "ready" and s.proc is not None:
            rc = s.proc.poll()
            if rc is not None:
                s.state = "exited"
                s.message = f"{s.name} exited with code {rc}; see {svc['log']}"
                self.save()
                return True
        return False

    def stop_one(self, s: Service) -> None:
        if s.proc is None:
            s.state = "stopped" if s.state != "failed" else s.state
            return
        sig = signal.SIGKILL if s.step == "init" else s.stop_signal
        _killpg(s.proc.pid, sig)
        deadline = time.monotonic() + s.grace
        while s.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL)
        if s.proc.poll() is None:
            _killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait()
        _killpg(s.proc.pid, signal.SIGKILL)  # what the server left in its group
        if s.step == "init":
            shutil.rmtree(s.svc["data_dir"] + ".init", ignore_errors=True)
        if s.state != "failed":
            s.state = "stopped"

    def stop_all(self) -> None:
        self.stopping = True
        self.save()
        # every service at once, dependents before what they come after
        order = list(reversed(self.services))
        while order:
            wave = [s for s in order if not any(s.name in o.svc.get("after", []) for o in order)]
            wave = wave or order[:1]
            for s in wave:
                if s.proc is not None and s.proc.poll() is None:
                    _killpg(s.proc.pid, signal.SIGKILL if s.step == "init" else s.stop_signal)
            for s in wave:
                self.stop_one(s)
                order.remove(s)
        self.save()

    def handle_requests(self) -> None:
        path = os.path.join(self.sdir, "requests.json")
        req = read_json(path)
        try:
            os.unlink(path)
        except OSError:
            pass
        if not isinstance(req, dict):
            return
        for name in req.get("restart", []) + req.get("reset", []):
            s = self.by_name.get(name)
            if s is None:
                continue
            self.stop_one(s)
            if name in req.get("reset", []):
                shutil.rmtree(s.svc["data_dir"], ignore_errors=True)
            s.state, s.message, s.proc, s.rec, s.ready_at = "waiting", "", None, None, 0.0
        self.save()

    def watched_gone(self) -> bool:
        w = self.run.get("watch")
        if not w:
            return False
        return procs.start_ticks(int(w["pid"])) != w.get("start")

    def loop(self) -> int:
        def on_signal(signum: int, _frame: Any) -> None:
            self.stopping = True

        def on_request(signum: int, _frame: Any) -> None:
            self.requests = True

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)
        signal.signal(signal.SIGUSR1, on_request)
        self.save()
        idle = 0
        while not self.stopping:
            if self.requests:
                self.requests = False
                self.handle_requests()
            changed = False
            for s in self.services:
                if self.stopping:
                    break
                changed = self.tick(s) or changed
            busy = any(s.state in ("waiting", "initializing", "starting") for s in self.services)
            idle = 0 if busy or changed else idle + 1
            if idle and idle % 20 == 0 and self.watched_gone():
                break
            time.sleep(POLL if busy else 0.05)
        self.stop_all()
        if self.run.get("ephemeral") and self.run.get("data_root"):
            shutil.rmtree(self.run["data_root"], ignore_errors=True)
        return 0


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return 2  # started by control.py only, with the services directory
    os.chdir(argv[1])
    return Supervisor(argv[1]).loop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
