"""Services across projects and over their life, on real servers: two projects up at once,
restart and reset of a running service, and `onboard uninstall` (services stopped, data kept
without --delete-data and listed with its size, gone with it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_services import BODY, leftovers, listening, needs_servers, ob, project, variables

pytestmark = [needs_servers, pytest.mark.slow]


def psql(p: Path, url: str, sql: str) -> str:
    r = ob(p, "shell", "svc", "--", "psql", url, "-tAc", sql)
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()


def rows(p: Path) -> dict[str, dict]:
    r = ob(p, "services", "status", "--json")
    assert r.returncode == 0, r.stderr
    return {row["name"]: row for row in json.loads(r.stdout)["services"]}


def switched(p: Path) -> Path:
    r = ob(p, "switch", "svc", "--yes")
    assert r.returncode == 0, r.stderr
    return p


def test_two_projects_at_once_then_down_of_one_leaves_the_other(tmp_path):
    a = switched(project(tmp_path / "a"))
    b = switched(project(tmp_path / "b"))
    try:
        assert ob(a, "services", "up").returncode == 0
        r = ob(b, "services", "up")
        assert r.returncode == 0, r.stderr
        va, vb = variables(a), variables(b)
        assert {va["PGPORT"], va["REDIS_PORT"]}.isdisjoint({vb["PGPORT"], vb["REDIS_PORT"]})
        from onboard.core.services import state

        socks = {state.sock_dir(str(x.resolve())) for x in (a, b)}
        assert va["PGDATA"] != vb["PGDATA"] and len(socks) == 2 and all(os.path.isdir(d) for d in socks)
        psql(a, va["DATABASE_URL"], "create table only_in_a (x int)")
        assert psql(b, vb["DATABASE_URL"], "select count(*) from pg_tables where tablename = 'only_in_a'") == "0"
        assert ob(a, "services", "down").returncode == 0
        assert not listening(int(va["PGPORT"])) and not listening(int(va["REDIS_PORT"]))
        assert leftovers(a) == []
        assert listening(int(vb["PGPORT"])) and listening(int(vb["REDIS_PORT"]))
        assert {r["state"] for r in rows(b).values()} == {"ready"}
        assert psql(b, vb["DATABASE_URL"], "select 40+2") == "42"
        ping = ob(b, "shell", "svc", "--", "redis-cli", "-u", vb["REDIS_URL"], "ping")
        assert ping.stdout.strip() == "PONG"
    finally:
        ob(a, "services", "down")
        ob(b, "services", "down")
    assert leftovers(b) == []


def test_restart_keeps_data_and_reset_asks_then_wipes_it(tmp_path):
    p = switched(project(tmp_path, "services:\n  postgresql: {port: auto, databases: [app]}\n"))
    try:
        assert ob(p, "services", "up").returncode == 0
        v = variables(p)
        url = v["DATABASE_URL"]
        psql(p, url, "create table kept (x int); insert into kept values (7)")
        before = rows(p)["postgresql"]["pid"]
        r = ob(p, "services", "restart", "postgresql")
        assert r.returncode == 0 and "postgresql restarted" in r.stdout, r.stderr
        after = rows(p)["postgresql"]
        assert after["state"] == "ready" and after["pid"] and after["pid"] != before
        assert psql(p, url, "select x from kept") == "7"
        # reset asks first: without a terminal and without --yes, nothing is deleted
        r = ob(p, "services", "reset", "postgresql")
        assert r.returncode == 1 and "nothing deleted" in r.stderr
        assert psql(p, url, "select x from kept") == "7"
        dry = ob(p, "services", "reset", "postgresql", "--dry-run")
        assert dry.returncode == 0 and f"would delete {v['PGDATA']}" in dry.stdout
        r = ob(p, "services", "reset", "postgresql", "--yes")
        assert r.returncode == 0 and "data deleted" in r.stdout, r.stderr
        assert rows(p)["postgresql"]["state"] == "ready"
        assert psql(p, url, "select count(*) from pg_tables where tablename = 'kept'") == "0"
        assert psql(p, url, "select current_database()") == "app"  # made again on the empty data
    finally:
        ob(p, "services", "down")
    assert leftovers(p) == []


def test_uninstall_stops_services_keeps_data_unless_delete_data(tmp_path):
    body = BODY.replace("  redis:\n    port: auto\n", "  redis:\n    port: auto\n    data_dir: .data/redis\n")
    p = switched(project(tmp_path, body))
    root = str(p.resolve())
    assert ob(p, "services", "up").returncode == 0
    v = variables(p)
    pgdata, rdata = Path(v["PGDATA"]), p / ".data" / "redis"
    assert rdata.is_dir() and (pgdata / "PG_VERSION").is_file()
    gc = ob(p, "gc", "--dry-run", "--nix-gc", "none")
    assert gc.returncode == 0 and f"postgresql {pgdata}" in gc.stdout and f"redis {rdata}" in gc.stdout, gc.stdout

    dry = ob(p, "uninstall", "--dry-run", "--keep-onboard")
    assert dry.returncode == 0, dry.stderr
    assert f"stop the services of {root} (postgresql, redis)" in dry.stdout
    assert f"postgresql of {root}: {pgdata} (" in dry.stdout and "MiB)" in dry.stdout
    assert f"redis of {root}: {rdata}" in dry.stdout and "--delete-data deletes it" in dry.stdout
    assert listening(int(v["PGPORT"]))  # a dry run changes nothing
    js = json.loads(ob(p, "uninstall", "--dry-run", "--json", "--keep-onboard").stdout)
    assert {d["service"] for d in js["kept_data"]} == {"postgresql", "redis"}
    assert all(d["bytes"] > 0 for d in js["kept_data"] if d["service"] == "postgresql")

    r = ob(p, "uninstall", "--yes", "--keep-onboard")  # --yes alone never deletes data
    assert r.returncode == 0, r.stderr
    assert not listening(int(v["PGPORT"])) and not listening(int(v["REDIS_PORT"]))
    assert leftovers(p) == []
    assert (pgdata / "PG_VERSION").is_file() and rdata.is_dir()
    from onboard.core.services import state

    assert not os.path.exists(state.sock_dir(root))  # the socket directory is gone
    assert sorted(os.listdir(pgdata.parent.parent)) == ["data.json", "postgresql"]  # logs, ports gone

    dry = ob(p, "uninstall", "--dry-run", "--delete-data", "--keep-onboard")
    assert f"delete the data of service postgresql of {root}" in dry.stdout and pgdata.is_dir()
    r = ob(p, "uninstall", "--yes", "--delete-data", "--keep-onboard")
    assert r.returncode == 0, r.stderr
    assert not pgdata.exists() and not rdata.exists()
    assert not (pgdata.parent.parent.parent).exists()  # the project's state is gone with it


def test_down_and_status_need_no_loadable_profile(tmp_path):
    """What runs can always be seen and stopped: after the profile is broken (or the project
    has no active profile any more), `status` shows the running services and `down` stops them."""
    p = switched(project(tmp_path, "services:\n  redis: {port: auto}\n"))
    try:
        assert ob(p, "services", "up").returncode == 0
        port = int(variables(p)["REDIS_PORT"])
        (p / "profiles" / "svc.yaml").write_text("name: svc\npackages: [\n")  # broken YAML
        r = ob(p, "services", "status")
        assert r.returncode == 0 and "redis: ready" in r.stdout, r.stdout + r.stderr
        assert "cannot be loaded" in r.stderr
        r = ob(p, "services", "down")
        assert r.returncode == 0 and "stopped" in r.stdout, r.stdout + r.stderr
        assert not listening(port) and leftovers(p) == []
        r = ob(p, "services", "up")  # starting needs the profile: a clear error
        assert r.returncode == 1 and "cannot load profile svc" in r.stderr
    finally:
        ob(p, "services", "down")
