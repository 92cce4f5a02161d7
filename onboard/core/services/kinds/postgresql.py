"""PostgreSQL: initdb once (trust on loopback), then `postgres -D` in the foreground, on
127.0.0.1:PORT and a unix socket in the project's short socket directory."""

from __future__ import annotations

import os
import shutil
import signal
from typing import Any

from onboard.core.services import pgwire

PROGRAMS = ("postgres", "initdb")
STOP = signal.SIGINT  # "fast" shutdown: clients are disconnected, a clean checkpoint is written
GRACE = 15.0
UNPRIVILEGED = True
SUPERUSER = "postgres"


def variables(spec: Any, port: int, data_dir: str) -> dict[str, str]:
    db = spec.databases[0] if spec.databases else "postgres"
    return {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": SUPERUSER, "PGDATABASE": db,
            "PGDATA": data_dir, "DATABASE_URL": f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{db}"}


def needs_init(svc: dict[str, Any]) -> bool:
    return not os.path.isfile(os.path.join(svc["data_dir"], "PG_VERSION"))


def init_argv(svc: dict[str, Any]) -> list[str]:
    tmp = svc["data_dir"] + ".init"
    shutil.rmtree(tmp, ignore_errors=True)  # what an interrupted initdb left
    if os.path.isdir(svc["data_dir"]) and not os.listdir(svc["data_dir"]):
        os.rmdir(svc["data_dir"])
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    return [svc["bins"]["initdb"], "-D", tmp, "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
            "--no-locale", "--no-instructions"]


def finish_init(svc: dict[str, Any]) -> None:
    data = svc["data_dir"]
    if os.path.exists(data):
        raise OSError(f"{data} exists and is not a PostgreSQL data directory (no PG_VERSION): "
                      "move it aside, or `onboard services reset postgresql`")
    os.rename(data + ".init", data)


def clear_stale(svc: dict[str, Any]) -> str:
    """postmaster.pid of a server that is gone (a crash, a reboot) blocks the next start when
    its pid is reused: removed unless a postgres really runs on this data directory."""
    data = svc["data_dir"]
    pidfile = os.path.join(data, "postmaster.pid")
    try:
        with open(pidfile, encoding="utf-8", errors="replace") as fh:
            first = fh.readline().strip()
    except OSError:
        first = ""
    if first.isdigit():
        pid = int(first)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            cwd = exe = ""
        if exe.startswith("postgres") and os.path.realpath(cwd) == os.path.realpath(data):
            return (f"a PostgreSQL server (pid {pid}) not started by onboard runs on {data}: "
                    f"stop it (pg_ctl -D {data} stop)")
    for stale in (pidfile, os.path.join(svc["sock_dir"], f".s.PGSQL.{svc['port']}"),
                  os.path.join(svc["sock_dir"], f".s.PGSQL.{svc['port']}.lock")):
        try:
            os.unlink(stale)
        except OSError:
            pass
    return ""


def argv(svc: dict[str, Any]) -> list[str]:
    out = [svc["bins"]["postgres"], "-D", svc["data_dir"], "-p", str(svc["port"]), "-k", svc["sock_dir"],
           "-c", "listen_addresses=127.0.0.1"]
    for k, v in sorted(svc.get("settings", {}).items()):
        out += ["-c", f"{k}={v}"]
    return out


def probe(svc: dict[str, Any]) -> bool:
    return pgwire.answers("127.0.0.1", svc["port"], SUPERUSER, "postgres")


def after_ready(svc: dict[str, Any]) -> None:
    """The profile's databases and extensions, made when missing."""
    dbs = list(svc.get("databases") or [])
    exts = list(svc.get("extensions") or [])
    if not dbs and not exts:
        return
    conn = pgwire.Conn("127.0.0.1", svc["port"], SUPERUSER, "postgres")
    try:
        have = {r[0] for r in conn.query("SELECT datname FROM pg_database")}
        for db in dbs:
            if db not in have:
                conn.query(f"CREATE DATABASE {pgwire.quote_ident(db)}")
    finally:
        conn.close()
    for db in (dbs or ["postgres"]) if exts else []:
        c = pgwire.Conn("127.0.0.1", svc["port"], SUPERUSER, db)
        try:
            for ext in exts:
                c.query(f"CREATE EXTENSION IF NOT EXISTS {pgwire.quote_ident(ext)}")
        finally:
            c.close()
