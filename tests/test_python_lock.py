"""Reading Python locks: a real uv.lock made by `uv lock` against a loopback index, hashed
requirements files with -r/-c includes, and the problems of locks onboard cannot pin."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from onboard.core.python import Target, read_lock, select
from onboard.core.python.index import locate_artifacts
from onboard.core.python.uvrun import uv_env
from tests.support.pyindex import Index, pyindex, sha256_of  # noqa: F401 - pyindex is a fixture

ROOT = Path(__file__).resolve().parents[1]
UV = str(ROOT / ".venv" / "bin" / "uv") if (ROOT / ".venv" / "bin" / "uv").exists() else shutil.which("uv")
needs_uv = pytest.mark.skipif(UV is None, reason="needs uv (pip install uv; the test extras have it)")
H1, H2 = "a" * 64, "b" * 64


def project(d: Path, deps: str, extra: str = "") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "pyproject.toml").write_text(f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                      f"dependencies = [{deps}]\n{extra}")
    return d


def uv_lock(d: Path, index: Index) -> None:
    assert UV is not None
    r = subprocess.run([UV, "lock", "--no-config", "--index-url", index.url], cwd=d, env=uv_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def lines_of(problems) -> list[str]:
    return [str(p) for p in problems]


@needs_uv
def test_a_real_uv_lock_is_read_with_urls_hashes_extras_groups_and_markers(tmp_path, pyindex):
    a = pyindex.add("tinyalpha", "1.0", requires=['tinydep; python_version < "3.11"'])
    pyindex.add("tinyalpha", "0.9")
    dep = pyindex.add("tinydep", "3.0")
    pyindex.add("tinybeta", "2.0")
    pyindex.add("tinygamma", "1.5")
    pyindex.start()
    p = project(tmp_path / "p", '"tinyalpha"', '[project.optional-dependencies]\nfast = ["tinybeta"]\n'
                                                '[dependency-groups]\ndev = ["tinygamma"]\n')
    uv_lock(p, pyindex)
    lock, problems = read_lock(str(p / "uv.lock"))
    assert problems == [] and lock is not None
    assert lock.format == "uv.lock" and lock.roots == ["app"]
    assert lock.inputs == [str(p / "uv.lock"), str(p / "pyproject.toml")]
    assert lock.versions() == {"tinyalpha": "1.0", "tinybeta": "2.0", "tinydep": "3.0", "tinygamma": "1.5"}
    (alpha,) = lock.by_name("tinyalpha")
    assert alpha.source == "registry" and alpha.source_url == pyindex.url
    (w,) = alpha.wheels
    assert (w.filename, w.sha256) == ("tinyalpha-1.0-py3-none-any.whl", sha256_of(a))
    assert w.url == f"http://127.0.0.1:{pyindex.port}/files/tinyalpha-1.0-py3-none-any.whl"
    assert open(p / "uv.lock").read().splitlines()[alpha.line - 1] == 'name = "tinyalpha"'

    def names(python, **kw):
        sel, probs = select(lock, Target(python=python), **kw)
        assert probs == []
        return [c.name for c in sel.chosen]

    assert names("3.12") == ["tinyalpha"]  # the dependency's marker is false on 3.12
    assert names("3.10") == ["tinyalpha", "tinydep"]
    assert names("3.12", extras=["fast"]) == ["tinyalpha", "tinybeta"]
    assert names("3.12", groups=["dev"]) == ["tinyalpha", "tinygamma"]
    sel, probs = select(lock, Target(python="3.10"))
    assert [c.artifact.sha256 for c in sel.chosen] == [sha256_of(a), sha256_of(dep)]
    assert [p.name for p in sel.local] == ["app"]
    _, probs = select(lock, Target(python="3.12"), extras=["fats"])
    assert lines_of(probs) == [f"{p / 'uv.lock'}:{lock.by_name('app')[0].line}: the project `app` has no extra "
                               "`fats` (it has: fast)"]


@needs_uv
def test_uv_lock_of_platform_wheels_keeps_them_all_and_selection_picks_by_tags(tmp_path, pyindex):
    for tag in ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp312-cp312-musllinux_1_1_x86_64",
                "cp312-cp312-manylinux_2_28_aarch64", "cp38-abi3-manylinux_2_17_x86_64",
                "cp312-cp312-macosx_11_0_arm64", "py3-none-any"):
        pyindex.add("native", "1.0", tag=tag)
    pyindex.start()
    p = project(tmp_path / "p", '"native"')
    uv_lock(p, pyindex)
    lock, problems = read_lock(str(p / "uv.lock"))
    assert problems == [] and lock is not None
    assert len(lock.by_name("native")[0].wheels) == 6

    def pick(**kw):
        sel, probs = select(lock, Target(**kw))
        assert probs == []
        return sel.chosen[0].artifact.filename

    assert pick(python="3.12") == "native-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert pick(python="3.11") == "native-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"
    assert pick(python="3.12", machine="aarch64") == "native-1.0-cp312-cp312-manylinux_2_28_aarch64.whl"
    assert pick(python="3.12", machine="aarch64", glibc=(2, 27)) == "native-1.0-py3-none-any.whl"
    assert pick(python="3.12", libc="musl", glibc=(1, 2)) == "native-1.0-cp312-cp312-musllinux_1_1_x86_64.whl"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_requirements_follow_includes_relative_to_the_including_file(tmp_path):
    write(tmp_path / "sub" / "base.txt", f"""\
        # shared pins
        tinyalpha==1.0 \\
            --hash=sha256:{H1}
        -c constraints.txt
    """)
    write(tmp_path / "sub" / "constraints.txt", "tinybeta==2.0\n")
    req = write(tmp_path / "requirements.txt", f"""\
        --index-url http://127.0.0.1:9/simple
        -r sub/base.txt
        tinybeta==2.0 ; python_version >= "3.11" --hash=sha256:{H2} --hash=sha256:{H1}
        tinyold==1.0 ; python_version < "3.11" --hash=sha256:{H2}
    """)
    lock, problems = read_lock(str(req), kind="requirements")
    assert problems == [] and lock is not None
    assert lock.inputs == [str(req), str(tmp_path / "sub" / "base.txt"), str(tmp_path / "sub" / "constraints.txt")]
    assert [(p.name, p.version, p.line, p.hashes) for p in lock.packages] == [
        ("tinyalpha", "1.0", 2, [H1]), ("tinybeta", "2.0", 3, [H1, H2]), ("tinyold", "1.0", 4, [H2])]
    assert lock.index_urls == ["http://127.0.0.1:9/simple"] and lock.constraints == {"tinybeta": "2.0"}


def test_requirements_problems_are_at_file_line_with_the_command_that_fixes_them(tmp_path):
    export = "uv export --format requirements-txt --hashes --output-file requirements.txt"
    write(tmp_path / "inc.txt", "tinyloose>=1.0\n")
    req = write(tmp_path / "requirements.txt", f"""\
        tinyalpha==1.0
        -r inc.txt
        tinybare
        -r missing.txt
        tinybeta==2.0 --hash=md5:abc
        -e ./local
        tinygamma==1.0 --hash=sha256:{H1}
    """)
    lock, problems = read_lock(str(req), kind="requirements")
    r, inc = str(req), str(tmp_path / "inc.txt")
    assert lines_of(problems) == [
        f"{r}:1: `tinyalpha==1.0` has no `--hash`: onboard installs only what a hash pins; make the file with "
        f"`{export}`",
        f"{inc}:1: `tinyloose>=1.0` is not pinned: every requirement needs an exact version and its hashes "
        f"(NAME==VERSION --hash=sha256:...); make the file with `{export}`",
        f"{r}:3: `tinybare` has no version: every requirement needs an exact version and its hashes "
        f"(NAME==VERSION --hash=sha256:...); make the file with `{export}`",
        f"{r}:4: no such file: {tmp_path / 'missing.txt'} (named by `-r`/`-c`, relative to the file that names it)",
        f"{r}:5: `--hash=md5:abc`: onboard needs sha256 hashes (--hash=sha256:<64 hex digits>); make the file "
        f"with `{export}`",
        f"{r}:6: `-e ./local`: an editable install cannot be pinned by hash; list the project's dependencies in "
        "pyproject.toml and lock them with `uv lock`",
    ]
    assert lock is not None and [p.name for p in lock.packages] == ["tinygamma"]
    assert lock.inputs == [r, inc]


def test_requirements_get_their_urls_from_the_index_page(tmp_path, pyindex):
    wheel = pyindex.add("tinyalpha", "1.0")
    pyindex.add("tinyalpha", "1.1")
    pyindex.start()
    req = write(tmp_path / "requirements.txt", f"tinyalpha==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    lock, problems = read_lock(str(req), kind="requirements")
    assert problems == [] and lock is not None
    sel, problems = select(lock, Target(python="3.12"))
    assert "gives no download URL" in lines_of(problems)[0]
    assert locate_artifacts(lock, [pyindex.url]) == []
    sel, problems = select(lock, Target(python="3.12"))
    assert problems == []
    (c,) = sel.chosen
    assert c.artifact.url == f"http://127.0.0.1:{pyindex.port}/files/tinyalpha-1.0-py3-none-any.whl"


def test_other_formats_and_missing_files_say_which_command_makes_a_lock(tmp_path):
    poetry = write(tmp_path / "poetry.lock", "[[package]]\nname = 'x'\n[metadata]\ncontent-hash = 'abc'\n")
    assert lines_of(read_lock(str(poetry))[1]) == [
        f"{poetry}:1: this is a Poetry lock, which onboard does not read: `poetry export --format requirements.txt "
        "--output requirements.txt` and name it as `python.requirements`, or move the dependencies to [project] "
        "in pyproject.toml and run `uv lock`"]
    pipenv = write(tmp_path / "Pipfile.lock", '{"_meta": {}}\n')
    assert "pipenv requirements --hash" in lines_of(read_lock(str(pipenv))[1])[0]
    reqs = write(tmp_path / "requirements.txt", "x==1\n")
    assert "name it as `python.requirements`" in lines_of(read_lock(str(reqs), kind="lock")[1])[0]
    lonely = write(tmp_path / "lonely" / "uv.lock", "version = 1\n")
    assert lines_of(read_lock(str(lonely))[1]) == [
        f"{lonely}: no pyproject.toml beside it ({tmp_path / 'lonely' / 'pyproject.toml'}): uv.lock is the lock "
        "of a project; make one with `uv init --bare`, add the dependencies (`uv add NAME`), then `uv lock`"]
    gone = tmp_path / "nope" / "uv.lock"
    assert lines_of(read_lock(str(gone))[1]) == [f"{gone}: no such file: make it with `uv lock` (in the project's "
                                                 "directory)"]


UV_LOCK = """\
version = 1
revision = 3
requires-python = ">=3.8"

[[package]]
name = "app"
version = "0"
source = { virtual = "." }
dependencies = [
    { name = "fromgit" },
    { name = "nohash" },
    { name = "onlymac" },
]

[[package]]
name = "fromgit"
version = "1.0"
source = { git = "https://example.org/fromgit?rev=main#0123abcd" }

[[package]]
name = "nohash"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://files.example.org/nohash-1.0-py3-none-any.whl" },
]

[[package]]
name = "onlymac"
version = "1.0"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://files.example.org/onlymac-1.0-cp312-cp312-macosx_11_0_arm64.whl", hash = "sha256:%s" },
]
""" % H1


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


def test_lock_entries_nix_cannot_pin_are_problems_at_their_line(tmp_path):
    p = project(tmp_path / "p", '"fromgit", "nohash", "onlymac"')
    (p / "uv.lock").write_text(UV_LOCK)
    lock, problems = read_lock(str(p / "uv.lock"))
    f = str(p / "uv.lock")
    url_line = line_of(UV_LOCK, '    { url = "https://files.example.org/nohash')
    assert lines_of(problems) == [f"{f}:{url_line}: nohash 1.0: `nohash-1.0-py3-none-any.whl` has no hash in uv.lock, so "
                                  "it cannot be pinned; make the lock again with `uv lock`"]
    assert lock is not None
    _, problems = select(lock, Target(python="3.12"))
    git_line, nohash_line, mac_line = (line_of(UV_LOCK, f'name = "{n}"') for n in ("fromgit", "nohash", "onlymac"))
    assert lines_of(problems) == [
        f"{f}:{git_line}: fromgit 1.0 is from git (https://example.org/fromgit?rev=main#0123abcd): uv.lock has no hash "
        "Nix can pin it by; depend on a released version from an index (or a download URL) and run `uv lock`",
        f"{f}:{nohash_line}: nohash 1.0: no file fits CPython 3.12 on x86_64-linux (glibc 2.35) (it has no files) and it has "
        "no sdist; pick a version that has one (`uv lock --upgrade-package nohash`)",
        f"{f}:{mac_line}: onlymac 1.0: no file fits CPython 3.12 on x86_64-linux (glibc 2.35) (it has "
        "onlymac-1.0-cp312-cp312-macosx_11_0_arm64.whl) and it has no sdist; pick a version that has one "
        "(`uv lock --upgrade-package onlymac`)",
    ]


def test_a_broken_uv_lock_is_a_problem_at_its_line(tmp_path):
    p = project(tmp_path / "p", "")
    (p / "uv.lock").write_text('version = 1\n[[package]]\nname = "app"\nversion = \n')
    lock, problems = read_lock(str(p / "uv.lock"))
    assert lock is None and len(problems) == 1
    assert str(problems[0]).startswith(f"{p / 'uv.lock'}:4:") and "not valid TOML" in str(problems[0])
