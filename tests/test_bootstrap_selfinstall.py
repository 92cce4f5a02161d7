"""onboard.core.selfinstall: `onboard uninstall` removes onboard's own venv and launcher as its
last step, and only what the bootstrap's marker says the bootstrap created."""

from __future__ import annotations

from pathlib import Path

from onboard.core import selfinstall
from onboard.core.uninstall import plan_uninstall, run_uninstall

SIGNATURE = selfinstall.LAUNCHER_SIGNATURE


def fake_install(home: Path, venv: Path | None = None, launcher_text: str | None = None,
                 created: list[Path] | None = None) -> tuple[Path, Path, Path]:
    data = home / ".local" / "share" / "onboard"
    venv = venv or data / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    launcher = home / ".local" / "bin" / "onboard"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(launcher_text if launcher_text is not None else
                        f"#!/bin/sh\n{SIGNATURE}\nexec '{venv}/bin/onboard' \"$@\"\n")
    created = created if created is not None else [home / ".local" / "share", data]
    marker = data / "bootstrap.marker"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("# what the bootstrap created\nformat=1\n"
                      f"venv={venv}\nlauncher={launcher}\nsource=index\n"
                      + "".join(f"created={d}\n" for d in created))
    return venv, launcher, marker


def test_nothing_without_a_marker(isolated_home):
    assert selfinstall.read_marker() is None
    assert selfinstall.cleanup_items() == []


def test_removes_what_the_marker_names_last_and_keeps_what_it_did_not_create(isolated_home):
    home = isolated_home
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "their-tool").write_text("x")
    venv, launcher, marker = fake_install(home)
    info = selfinstall.read_marker()
    assert info.venv == venv and info.launcher == launcher and info.source == "index"
    plan = plan_uninstall()
    ours = [x for x in plan.extras if x.description.startswith(("remove onboard's", "remove the onboard",
                                                                  "remove the bootstrap"))]
    assert len(ours) == 3 and all(x.last for x in ours)
    assert plan.extras[-3:] == ours  # after every other cleanup
    assert run_uninstall(plan) == []
    assert not venv.exists() and not launcher.exists() and not marker.exists()
    assert not (home / ".local" / "share").exists()  # created by the bootstrap, now empty
    assert (home / ".local" / "bin" / "their-tool").exists()  # not created by it


def test_a_created_directory_that_is_not_empty_stays(isolated_home):
    home = isolated_home
    venv, launcher, marker = fake_install(home)
    (home / ".local" / "share" / "their-data").mkdir()
    assert run_uninstall(plan_uninstall()) == []
    assert not (home / ".local" / "share" / "onboard").exists()
    assert (home / ".local" / "share" / "their-data").is_dir()


def test_never_a_checkouts_venv_nor_someone_elses_launcher(isolated_home, tmp_path):
    home = isolated_home
    checkout = tmp_path / "src" / "onboard"
    checkout.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'onboard'\n")
    for venv in (checkout / ".venv", checkout / "venv"):  # a dev venv, even one named like ours
        v, launcher, marker = fake_install(home, venv=venv, launcher_text="#!/bin/sh\nexec pipx-onboard\n")
        items = selfinstall.cleanup_items()
        assert [x.description for x in items] == [
            "remove the bootstrap's marker and the directories it created (when empty)"]
        for x in items:
            x.remove()
        assert v.is_dir() and launcher.is_file() and not marker.exists()


def test_keep_onboard_leaves_it_installed(isolated_home, onboard):
    venv, launcher, marker = fake_install(isolated_home)
    p = onboard("uninstall", "--yes", "--keep-onboard")
    assert p.returncode == 0, p.stderr
    assert venv.is_dir() and launcher.is_file() and marker.is_file()
    p = onboard("uninstall", "--dry-run")
    assert p.returncode == 0 and f"remove onboard's virtualenv {venv}" in p.stdout and venv.is_dir()
    p = onboard("uninstall", "--yes")
    assert p.returncode == 0, p.stderr
    assert not venv.exists() and not launcher.exists() and not marker.exists()
