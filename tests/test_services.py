"""Services per profile, against real servers (Debian's postgresql and redis-server behind the
stand-in's postgresql_16 and redis): up to ready, a real query and a real PING, down leaving
no process and no listener, kills at several moments, a port in use, a stale postmaster.pid,
`shell --services --ephemeral`, direnv, and the schema's errors."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.standin import STANDIN, have_nix, onboard_standin_env

ROOT = Path(__file__).resolve().parent.parent
PIN = ("nixpkgs:\n  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674\n"
       "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\n")
SERVERS = bool(glob.glob("/usr/lib/postgresql/*/bin/postgres")) and os.path.exists("/usr/bin/redis-server")
needs_servers = pytest.mark.skipif(not (have_nix() and SERVERS),
                                   reason="needs nix-bin, postgresql and redis-server (tests/run installs them)")
BODY = "services:\n  postgresql:\n    port: auto\n    databases: [app]\n  redis:\n    port: auto\n"


def project(tmp: Path, body: str = BODY, name: str = "svc") -> Path:
    p = tmp / "proj"
    (p / "profiles").mkdir(parents=True)
    (p / "profiles" / f"{name}.yaml").write_text(f"name: {name}\n{PIN}{body}")
    subprocess.run(["git", "init", "-q", str(p)], check=True)
    return p


def ob(p: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    e = onboard_standin_env(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "onboard", *args], cwd=p, env=e, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def variables(p: Path) -> dict[str, str]:
    r = ob(p, "services", "env", "--json")
    assert r.returncode == 0, r.stderr
    import json

    return json.loads(r.stdout)["variables"]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def leftovers(p: Path) -> list[str]:
    """Processes that carry this project's services token (what down must leave none of)."""
    from onboard.core.services import control

    return [str(x) for x in control.strays(str(p.resolve()))]


@pytest.fixture
def svc(tmp_path):
    p = project(tmp_path)
    r = ob(p, "switch", "svc", "--yes")
    assert r.returncode == 0, r.stderr
    yield p
    ob(p, "services", "down")


@needs_servers
@pytest.mark.slow
def test_up_answers_then_down_leaves_nothing(svc):
    r = ob(svc, "services", "up")
    assert r.returncode == 0, r.stderr
    assert "postgresql: ready" in r.stderr and "redis: ready" in r.stderr
    v = variables(svc)
    pg, rd = int(v["PGPORT"]), int(v["REDIS_PORT"])
    q = ob(svc, "shell", "svc", "--", "psql", v["DATABASE_URL"], "-tAc", "select 40+2")
    assert q.stdout.strip().splitlines()[-1] == "42", q.stderr
    ping = ob(svc, "shell", "svc", "--", "redis-cli", "-u", v["REDIS_URL"], "ping")
    assert ping.stdout.strip() == "PONG", ping.stderr
    st = ob(svc, "services", "status", "--json")
    import json

    rows = {row["name"]: row for row in json.loads(st.stdout)["services"]}
    assert rows["postgresql"]["state"] == "ready" and rows["postgresql"]["pid"]
    again = ob(svc, "services", "up")
    assert again.returncode == 0 and "already up" in again.stdout
    t0 = time.monotonic()
    d = ob(svc, "services", "down")
    assert d.returncode == 0, d.stderr
    assert time.monotonic() - t0 < 5
    assert not listening(pg) and not listening(rd)
    assert leftovers(svc) == []
    # the ports are kept across runs, and so is the data
    assert variables(svc)["PGPORT"] == str(pg)
    assert ob(svc, "services", "up").returncode == 0
    q = ob(svc, "shell", "svc", "--", "psql", v["DATABASE_URL"], "-tAc", "select count(*) from pg_database where datname='app'")
    assert q.stdout.strip().endswith("1")


@needs_servers
@pytest.mark.slow
def test_kills_then_down_and_up_again(svc):
    assert ob(svc, "services", "up").returncode == 0
    v = variables(svc)
    from onboard.core.services import control

    root = str(svc.resolve())
    # SIGKILL of the supervisor: the servers die with it (parent-death signal)
    for pid in control.supervisor_pids(root):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (listening(int(v["PGPORT"])) or listening(int(v["REDIS_PORT"]))):
        time.sleep(0.05)
    assert not listening(int(v["PGPORT"])) and not listening(int(v["REDIS_PORT"]))
    assert ob(svc, "services", "down").returncode == 0
    assert leftovers(svc) == []
    # SIGKILL of onboard at several moments of `up`, each followed by down
    env = onboard_standin_env(PYTHONPATH=str(ROOT))
    for delay in (0.1, 0.5, 1.0, 2.0):
        proc = subprocess.Popen([sys.executable, "-m", "onboard", "services", "up"], cwd=svc, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        assert ob(svc, "services", "down").returncode == 0
        assert leftovers(svc) == [], delay
        assert not listening(int(v["PGPORT"])) and not listening(int(v["REDIS_PORT"]))
    # SIGKILL of a server: status says so, down and up bring it back
    assert ob(svc, "services", "up").returncode == 0
    import json

    rows = {r["name"]: r for r in json.loads(ob(svc, "services", "status", "--json").stdout)["services"]}
    os.kill(rows["redis"]["pid"], signal.SIGKILL)
    time.sleep(0.3)
    rows = {r["name"]: r for r in json.loads(ob(svc, "services", "status", "--json").stdout)["services"]}
    assert rows["redis"]["state"] == "exited"
    assert ob(svc, "services", "down").returncode == 0
    assert ob(svc, "services", "up").returncode == 0
    ping = ob(svc, "shell", "svc", "--", "redis-cli", "-u", v["REDIS_URL"], "ping")
    assert ping.stdout.strip() == "PONG"


@needs_servers
@pytest.mark.slow
def test_port_in_use_names_the_program_and_stale_pid_does_not_block(svc):
    v = variables(svc)
    holder = subprocess.Popen([sys.executable, "-c", "import socket,time; s=socket.socket(); "
                               "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                               f"s.bind(('127.0.0.1', {v['REDIS_PORT']})); s.listen(); time.sleep(60)"])
    try:
        time.sleep(0.3)
        r = ob(svc, "services", "up")
        assert r.returncode == 1
        assert f"port {v['REDIS_PORT']} of service redis is taken by python" in r.stderr
        assert f"pid {holder.pid}" in r.stderr and "Traceback" not in r.stderr
    finally:
        holder.kill()
        holder.wait()
    assert leftovers(svc) == []
    assert ob(svc, "services", "up").returncode == 0
    data = Path(variables(svc)["PGDATA"])
    assert ob(svc, "services", "down").returncode == 0
    # a reboot: postmaster.pid names a pid that is now another live process
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n0\n{v['PGPORT']}\n")
    r = ob(svc, "services", "up")
    assert r.returncode == 0, r.stderr


@needs_servers
@pytest.mark.slow
def test_shell_services_ephemeral_leaves_nothing(svc):
    r = ob(svc, "shell", "svc", "--services", "--ephemeral", "--", "sh", "-c",
           'psql "$DATABASE_URL" -tAc "select 7*6"; echo "data=$PGDATA"')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "42" in lines
    data = next(x for x in lines if x.startswith("data="))[5:]
    assert "onboard-services-" in data and not os.path.exists(data)
    assert leftovers(svc) == []
    v = variables(svc)
    assert not listening(int(v["PGPORT"]))
    # services already up are used and left up; --ephemeral on kept data is refused with the way on
    assert ob(svc, "services", "up").returncode == 0
    r = ob(svc, "shell", "svc", "--services", "--", "redis-cli", "-u", v["REDIS_URL"], "ping")
    assert r.stdout.strip() == "PONG" and listening(int(v["REDIS_PORT"]))
    r = ob(svc, "shell", "svc", "--services", "--ephemeral", "--", "true")
    assert r.returncode == 1 and "onboard services down" in r.stderr


@pytest.mark.skipif(not have_nix(), reason="needs nix-bin")
def test_variables_at_entry_without_running_and_in_direnv(svc, tmp_path):
    r = ob(svc, "shell", "svc", "--", "sh", "-c", 'echo "$PGPORT|$DATABASE_URL|$REDIS_URL"')
    assert r.returncode == 0, r.stderr
    pgport, url, rurl = r.stdout.strip().splitlines()[-1].split("|")
    assert pgport.isdigit() and url == f"postgresql://postgres@127.0.0.1:{pgport}/app"
    assert rurl.startswith("redis://127.0.0.1:")
    envrc = svc / ".envrc"
    if not subprocess.run(["which", "direnv"], capture_output=True).returncode == 0:
        pytest.skip("no direnv")
    lib = ROOT / "onboard" / "data" / "direnv" / "onboard.sh"
    envrc.write_text(f"source {lib}\nuse onboard\n")
    env = onboard_standin_env(ONBOARD_BIN=f"{sys.executable} -m onboard", PYTHONPATH=str(ROOT),
                              DIRENV_CONFIG=str(tmp_path / "direnv"))
    (tmp_path / "direnv").mkdir()
    subprocess.run(["direnv", "allow", str(svc)], env=env, check=True, cwd=svc)
    d = subprocess.run(["direnv", "exec", str(svc), "sh", "-c", 'echo "$PGPORT|$REDIS_URL"'], env=env,
                       cwd=svc, text=True, capture_output=True, timeout=120)
    assert d.stdout.strip().splitlines()[-1] == f"{pgport}|{rurl}", d.stderr


def test_schema_errors_at_file_line_with_did_you_mean(tmp_path):
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    body = textwrap.dedent("""\
        services:
          postgresql:
            port: fivefour
            databses: [app]
          redis: {port: auto, after: [postgress]}
          redsi: true
          mail:
            run: mailpit --smtp 127.0.0.1:$PORT
            port: auto
            stop: SIGTERMM
            ready: {tcp: port, http: "http://x"}
        """)
    d = tmp_path / "profiles"
    d.mkdir()
    f = d / "bad.yaml"
    f.write_text(f"name: bad\n{PIN}{body}")
    with pytest.raises(SchemaError) as exc:
        load_profile("bad", dirs=[d])
    text = "\n".join(str(p) for p in exc.value.problems)
    assert f"{f}:7:11: services.postgresql.port: `fivefour` is not a port" in text
    assert f"{f}:8:5: unknown key `services.postgresql.databses`; did you mean `databases`?" in text
    assert "no service `postgress` in this profile; did you mean `postgresql`?" in text
    assert f"{f}:10:3: unknown key `services.redsi`; did you mean `redis`?" in text
    assert "`SIGTERMM` is not a signal onboard sends; did you mean `SIGTERM`?" in text
    assert "ready: give one of tcp, http or command" in text
    assert "Error" not in text.replace("error", "")


def test_service_packages_join_the_environment_and_ports_stay_out_of_it(tmp_path):
    from onboard.core.profiles.loader import load_profile
    from onboard.core.profiles.render import render_profile

    d = tmp_path / "profiles"
    d.mkdir()
    (d / "web.yaml").write_text(f"name: web\n{PIN}packages: [hello]\n{BODY}")
    files = render_profile(load_profile("web", dirs=[d]))
    assert "pkgs.postgresql\n" in files["flake.nix"] and "pkgs.redis\n" in files["flake.nix"]
    assert "PGPORT" not in files["flake.nix"] and files["services"] == "postgresql\nredis\n"


def test_python_web_profile_uses_services():
    text = (ROOT / "profiles" / "python-web.yaml").read_text()
    assert "db-start" not in text and "redis-start" not in text and "PGPORT:" not in text and "5432" not in text
    assert "services:" in text and "port: auto" in text
