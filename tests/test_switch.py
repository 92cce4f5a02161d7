"""`onboard switch`, `rollback`, `gc`, status and uninstall cleanup with real Nix against the
stand-in: generations with their own GC roots, the `active` file direnv reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import needs_nix
from tests.support import standin
from tests.support.standin import World

pytestmark = [needs_nix, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("switchworld"))


def state_dir(w: World, project: Path) -> Path:
    return w.state / "projects" / str(project).replace("/", "%")


def gens_json(w: World, project: Path) -> dict:
    return json.loads((state_dir(w, project) / "generations.json").read_text())


def active(w: World, project: Path) -> str:
    return (state_dir(w, project) / "active").read_text()


def test_switch_back_and_forth_with_generations_and_rollback(world):
    p = world.project
    r = world.onboard("switch", "web")
    assert r.returncode == 0, r.stderr
    assert f"{p}: web is active (generation 1)" in r.stdout
    assert "+ postgresql_16" in r.stdout
    assert active(world, p) == "web\n"

    r = world.onboard("switch", "base")
    assert r.returncode == 0, r.stderr
    assert "generation 2" in r.stdout and "- postgresql_16" in r.stdout and "- $DATABASE_URL" in r.stdout
    assert active(world, p) == "base\n"
    r = world.onboard("switch", "base")
    assert r.returncode == 0 and "already the active profile" in r.stdout
    r = world.onboard("switch", "web")
    assert "generation 3" in r.stdout
    doc = gens_json(world, p)
    assert doc["current"] == 3 and [g["profile"] for g in doc["generations"]] == ["web", "base", "web"]
    for g in doc["generations"]:
        root = state_dir(world, p) / "generations" / str(g["number"]) / "root"
        assert os.path.realpath(root) == g["store_paths"][0]
        assert g["store_paths"][0].endswith("-onboard-" + g["profile"] + "-env")

    # `onboard shell` without a name follows the active profile, also from a subdirectory
    sub = p / "src" / "deep"
    sub.mkdir(parents=True, exist_ok=True)
    r = world.onboard("shell", "--", "sh", "-c", 'echo "$ONBOARD_PROFILE|${DATABASE_URL:-none}"', cwd=sub)
    assert r.stdout.strip() == "web|postgres://localhost/web", r.stderr

    # rollback: instant, and works without Nix on PATH (offline: nothing is evaluated)
    r = world.onboard("rollback", "--json", PATH="/usr/bin/false-dir:/bin")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["generation"]["number"] == 2 and out["previous"]["number"] == 3
    assert active(world, p) == "base\n"
    r = world.onboard("shell", "--", "sh", "-c", 'echo "$ONBOARD_PROFILE|${DATABASE_URL:-none}"')
    assert r.stdout.strip() == "base|none", r.stderr
    r = world.onboard("rollback")
    assert r.returncode == 0 and "back to generation 1 (web)" in r.stdout
    r = world.onboard("rollback")
    assert r.returncode == 1 and "nothing to roll back to" in r.stderr
    r = world.onboard("rollback", "--to", "3")
    assert r.returncode == 0 and active(world, p) == "web\n"
    r = world.onboard("rollback", "--dry-run", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["dry_run"] and doc["generation"]["number"] < 3
    r = world.onboard("switch", "base", "--dry-run", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["dry_run"] and doc["profile"] == "base"
    assert active(world, p) == "web\n", "a dry run changed the active profile"

    # listed for `onboard profiles` and `onboard status`
    r = world.onboard("profiles", "--json")
    assert r.returncode == 0, r.stderr
    listed = [(g["project"], g["number"], g["profile"], g["current"]) for g in json.loads(r.stdout)["generations"]]
    assert listed == [(str(p), 1, "web", False), (str(p), 2, "base", False), (str(p), 3, "web", True)]
    r = world.onboard("status")
    assert f"active profile in {p}: web (generation 3 of 3)" in r.stdout


def test_switch_other_project_by_option_and_errors(world, tmp_path):
    other = tmp_path / "other"
    (other / "profiles").mkdir(parents=True)
    (other / "profiles" / "solo.yaml").write_text((world.profiles / "base.yaml").read_text()
                                                  .replace("name: base", "name: solo"))
    r = world.onboard("switch", "solo", "--project", str(other))
    assert r.returncode == 0, r.stderr
    assert active(world, other) == "solo\n"
    r = world.onboard("switch", "nosuch")
    assert r.returncode == 1 and "nosuch" in r.stderr
    r = world.onboard("rollback", "--project", str(tmp_path))
    assert r.returncode == 1 and "no generations" in r.stderr
    r = world.onboard("switch", "solo", "--project", str(tmp_path / "missing"))
    assert r.returncode == 1


def _age(world: World, project: Path, number: int, days: float) -> None:
    path = state_dir(world, project) / "generations.json"
    doc = json.loads(path.read_text())
    for g in doc["generations"]:
        if g["number"] == number:
            g["time"] = time.time() - days * 86400
    path.write_text(json.dumps(doc))


def test_gc_older_than_drops_old_generations_never_the_current(world, tmp_path):
    proj = tmp_path / "gcproj"
    (proj / "profiles").mkdir(parents=True)
    for name in ("web", "base"):
        (proj / "profiles" / f"{name}.yaml").write_text((world.profiles / f"{name}.yaml").read_text())
    (proj / "profiles" / "gone.yaml").write_text(
        "name: gone\n" + (world.profiles / "base.yaml").read_text().split("\n", 1)[1]
        .replace("TEAM: onboard", "TEAM: gone-team"))
    for name in ("web", "gone", "base", "web"):
        r = world.onboard("switch", name, "--project", str(proj))
        assert r.returncode == 0, r.stderr
    for number, days in ((1, 60), (2, 45), (3, 1)):
        _age(world, proj, number, days)
    gone_store = gens_json(world, proj)["generations"][1]["store_paths"][0]
    assert gone_store.endswith("-onboard-gone-env")

    r = world.onboard("gc", "--older-than", "30d", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "drop generation 1 (web" in r.stdout and "drop generation 2 (gone" in r.stdout
    assert "drop generation 3" not in r.stdout and "dry run" in r.stdout
    assert [g["number"] for g in gens_json(world, proj)["generations"]] == [1, 2, 3, 4]

    # the profile `gone` disappears: its cache goes too, and with --nix-gc released only
    # what onboard released (and nothing else roots) leaves the store
    (proj / "profiles" / "gone.yaml").unlink()
    r = world.onboard("gc", "--older-than", "30d", "--nix-gc", "released")
    assert r.returncode == 0, r.stderr
    assert "remove the cache of profile gone" in r.stdout
    assert "pinned by each project:" in r.stdout and f"{proj}: web (generations 3, 4)" in r.stdout
    assert [g["number"] for g in gens_json(world, proj)["generations"]] == [3, 4]
    roots = state_dir(world, proj) / "generations"
    assert sorted(p.name for p in roots.iterdir()) == ["3", "4"]
    assert not world.env_dir("gone").exists()
    assert not os.path.exists(gone_store)
    assert "store paths deleted" in r.stdout

    r = world.onboard("gc", "--older-than", "soon")
    assert r.returncode == 2 and "not an age" in r.stderr
    # without --older-than every generation but the current goes; the current stays
    r = world.onboard("gc", "--nix-gc", "none", "--json")
    assert r.returncode == 0, r.stderr
    assert [g["number"] for g in json.loads(r.stdout)["dropped"] if g["project"] == str(proj)] == [3]
    assert [g["number"] for g in gens_json(world, proj)["generations"]] == [4]
    assert active(world, proj) == "web\n"


def test_uninstall_cleanup_leaves_nothing(world, tmp_path, monkeypatch):
    from onboard.core.profiles import cleanup, status

    monkeypatch.setenv("ONBOARD_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("ONBOARD_STATE_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("ONBOARD_NIXPKGS_OVERRIDE", str(standin.standin_path()))
    proj = tmp_path / "p"
    (proj / "profiles").mkdir(parents=True)
    (proj / "profiles" / "base.yaml").write_text((world.profiles / "base.yaml").read_text())
    env = world.env(ONBOARD_CACHE_DIR=str(tmp_path / "c"), ONBOARD_STATE_DIR=str(tmp_path / "s"))
    r = subprocess.run([sys.executable, "-m", "onboard", "switch", "base"], cwd=proj, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    facts = status.status_facts()
    assert facts[f"active profile in {proj}"] == "base (generation 1 of 1)"
    assert facts["cached shell environments"] == "base (fresh)"
    auto = Path("/nix/var/nix/gcroots/auto")
    ours = [str(tmp_path)]

    def our_auto_roots() -> list[str]:
        return [e.name for e in auto.iterdir() if any(os.readlink(e).startswith(o) for o in ours)]

    assert our_auto_roots()  # the cache's and the generation's roots are registered
    items = cleanup.cleanup_items()
    assert len(items) == 2 and all(i.paths for i in items)
    for item in items:
        item.remove()
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()
    assert our_auto_roots() == []
    assert cleanup.cleanup_items() == []
