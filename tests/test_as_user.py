"""The suite as a normal user (tests/support/userns.py): a root run runs a small part of it
as `nobody` through setpriv, so the unprivileged path (user namespace, own /nix, Nix in
single-user mode) is kept honest on CI too."""

from __future__ import annotations

import ast
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import userns
from tests.support.standin import NIX_CONFIG

#: a small part of the suite that needs Nix, namespaces and root powers, and one test that
#: a non-root run skips (its reason must show)
PART = [
    "tests/test_shell_standin.py::test_nix_develop_runs_a_command_with_packages_env_and_hook",
    "tests/test_shell_standin.py::test_nix_shell_pure_has_only_the_profile_on_path",
    "tests/test_install_e2e.py::test_single_user_install_builds_and_uninstalls_to_nothing",
    "tests/test_install_e2e.py::test_nix_owned_by_someone_else",
    "tests/test_as_user.py::test_nix_builds_into_the_runs_own_store",
]


def test_every_listed_root_only_test_exists():
    """The skip list names functions by file::name: a renamed test must not escape it."""
    for key in userns.REAL_ROOT_TESTS:
        path, name = key.split("::")
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert name in names, f"{key} is in userns.REAL_ROOT_TESTS but not in {path}"
    for item in PART:
        path, name = item.split("::")
        assert f"def {name}(" in (ROOT / path).read_text(), item


@pytest.mark.skipif(not shutil.which("nix"), reason="needs Debian's nix-bin (tests/run installs it)")
def test_nix_builds_into_the_runs_own_store(tmp_path):
    """Nix builds with sandbox = false; in a non-root run into the run's own single-user store."""
    expr = ('derivation { name = "as-user"; system = builtins.currentSystem; builder = "/bin/sh"; '
            'args = [ "-c" "echo built > $out" ]; }')
    env = {k: v for k, v in os.environ.items() if k != "NIX_REMOTE"}
    env["NIX_CONFIG"] = NIX_CONFIG
    r = subprocess.run(["nix-build", "--no-out-link", "-E", expr], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()[-1]
    assert out.startswith("/nix/store/") and Path(out).read_text() == "built\n"
    if userns.inside():
        run = Path(os.environ[userns.MARK])
        assert os.geteuid() == 0 and "NIX_REMOTE" not in os.environ
        assert not Path("/nix/var/nix/daemon-socket").exists()  # no daemon: the local store
        assert os.stat("/nix/store").st_uid == 0  # the run's own directory, not the host's
        assert "build-users-group =" in Path("/etc/nix/nix.conf").read_text()
        assert str(run).startswith("/") and os.environ["USER"] == "root"


def _as_nobody(argv: list[str], home: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           "env", "-i", f"HOME={home}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", *argv],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def _python_for_nobody(work: Path) -> str:
    """A Python nobody can run with this run's test dependencies: this venv's Python, or else
    (a venv under root's home, say) a venv of the same Python version made for nobody in WORK
    that sees this venv's site-packages (nothing is downloaded)."""
    home = str(work / "home")
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); import pytest"
    r = _as_nobody([sys.executable, "-c", probe], home, timeout=60, cwd=str(work))
    if r.returncode == 0:
        return sys.executable
    want = "%d.%d" % sys.version_info[:2]
    for base in (getattr(sys, "_base_executable", ""), os.path.realpath(sys.executable), f"/usr/bin/python{want}"):
        if not base or not os.path.isfile(base):
            continue
        r = _as_nobody([base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], home, timeout=60)
        if r.returncode != 0 or r.stdout.strip() != want:
            continue
        r = _as_nobody([base, "-m", "venv", "--without-pip", str(work / "venv")], home, timeout=120)
        if r.returncode != 0:
            continue
        import site

        (site_dir,) = (work / "venv" / "lib").glob("python*/site-packages")
        (site_dir / "onboard-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
        return str(work / "venv" / "bin" / "python")
    pytest.skip(f"nobody cannot run {sys.executable} nor a Python {want} with this run's test dependencies")


@pytest.mark.slow
@pytest.mark.skipif(not userns.real_root(), reason=f"{userns.REAL_ROOT}: this test becomes nobody through "
                    "setpriv (a non-root run is itself the unprivileged path; nobody is unmapped in its namespace)")
@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux)")
def test_part_of_the_suite_passes_as_nobody():
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("needs the user nobody")
    # not under /tmp, which a non-root run replaces with its own
    work = Path(tempfile.mkdtemp(prefix="onboard-as-nobody-", dir="/var/tmp"))
    try:
        for name in ("onboard", "tests"):
            shutil.copytree(ROOT / name, work / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
        (work / "home").mkdir()
        subprocess.run(["chown", "-R", "nobody:nogroup", str(work)], check=True)
        os.chmod(work, 0o755)
        python = _python_for_nobody(work)
        r = _as_nobody([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-rs", *PART],
                       str(work / "home"), cwd=str(work), timeout=600)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-4000:]
        assert "4 passed, 1 skipped" in out, out[-4000:]
        assert "SKIPPED" in out and f"{userns.REAL_ROOT} (test_nix_owned_by_someone_else)" in out, out[-4000:]
        assert "1 skipped because they need real root" in out, out[-4000:]
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
