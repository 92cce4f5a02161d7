"""onboard export container: the writer's bytes and format (fast), bad input (exit 2, nothing
written), and end to end on real Nix with a package set whose bash and hello run inside an
image (tests/support/container_set.py): two exports with every onboard cache removed in
between are the same bytes; podman loads and runs the image (with runc and a containers.conf
and storage of the test's own: the host's podman storage is never touched); umoci unpacks it
and its command runs in a chroot; an empty store in a private mount namespace builds it all
again and gives the same digest."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from onboard.core.container import export as ex
from onboard.core.container import image as img
from onboard.core.container import tarwriter as tw
from tests.support import container_set, standin

ROOT = standin.ROOT
PIN = """nixpkgs:
  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674
  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=
"""
BOX = "name: box\n" + PIN + "packages: [hello, bashInteractive]\nenv:\n  WHO: \"it's box\"\n  MULTI: |\n    a\n    b\n"


def _env(home: Path, override: Path, **extra: str) -> dict[str, str]:
    env = standin.nix_env(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".state"),
                          XDG_CONFIG_HOME=str(home / ".config"), PYTHONPATH=str(ROOT), NO_COLOR="1",
                          ONBOARD_NIXPKGS_OVERRIDE=str(override))
    for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "ONBOARD_NIX_BACKEND", "CI"):
        env.pop(k, None)
    env.update(extra)
    return env


def _onboard(*args: str, cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "onboard", *args], capture_output=True, text=True, env=env,
                          cwd=str(cwd), timeout=300, stdin=subprocess.DEVNULL)


def _project(p: Path, body: str = BOX, name: str = "box") -> Path:
    (p / "profiles").mkdir(parents=True)
    (p / ".git").mkdir()
    (p / "profiles" / f"{name}.yaml").write_text(body)
    return p


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as t:
        return {m.name: (t.extractfile(m).read() if m.isfile() else b"") for m in t.getmembers()}  # type: ignore[union-attr]


# -- the writer ------------------------------------------------------------------------------

def test_the_tar_writer_is_deterministic_and_readable(tmp_path):
    tree = tmp_path / "nix" / "store" / ("a" * 32 + "-thing")
    deep = tree / ("d" * 90) / ("e" * 40)
    deep.mkdir(parents=True)
    (deep / "long-name-file").write_bytes(b"x" * 1000)
    (tree / "run").write_text("#!/bin/sh\n")
    os.chmod(tree / "run", 0o751)
    os.symlink("/" + "t" * 120, tree / "far")
    (tree / "hard").write_text("same")
    os.link(tree / "hard", tree / "hard2")

    def write() -> bytes:
        buf = io.BytesIO()
        tw.write_entries(tw.layer_entries(str(tree)), buf.write)
        return buf.getvalue()

    first = write()
    os.utime(tree / "run", (12345, 12345))
    assert write() == first  # times are not archived
    with tarfile.open(fileobj=io.BytesIO(first)) as t:
        ms = t.getmembers()
    names = [m.name for m in ms]
    rel = str(tree.relative_to("/"))
    parts = rel.split("/")
    assert names[:len(parts)] == ["/".join(parts[:i + 1]) for i in range(len(parts))]  # parents first
    assert names == sorted(names, key=lambda n: n.split("/"))
    by = {m.name: m for m in ms}
    long = f"{rel}/{'d' * 90}/{'e' * 40}/long-name-file"
    assert by[long].size == 1000 and by[long].mode == 0o444
    assert by[f"{rel}/run"].mode == 0o555
    assert by[f"{rel}/far"].linkname == "/" + "t" * 120
    assert by[f"{rel}/hard2"].isfile() and not by[f"{rel}/hard2"].islnk()  # no hard links
    assert {(m.uid, m.gid, m.mtime, m.uname, m.gname) for m in ms} == {(0, 0, 1, "", "")}


def test_layers_put_the_most_depended_on_paths_first_and_group_past_the_limit():
    s = "/nix/store/"
    refs = {s + "app": [s + "lib", s + "libc"], s + "lib": [s + "libc"], s + "libc": [], s + "tool": [s + "libc"]}
    assert img.group_layers(list(refs), refs) == [[s + "libc"], [s + "lib"], [s + "app"], [s + "tool"]]
    grouped = img.group_layers(list(refs), refs, max_layers=3)
    assert grouped == [[s + "libc"], sorted([s + "lib", s + "app", s + "tool"])]
    assert sum(len(g) for g in grouped) == 4


def test_the_variables_env_sh_exports_are_read_back():
    from onboard.core.profiles.envsh import EnvModel, render_env_script

    model = EnvModel(variables={"WHO": ("exported", "it's \"x\"\nline 2"), "LOCAL": ("var", "no"),
                                "PATH": ("exported", "/nix/store/a/bin"), "ARR": ("array", ["a'b", "c"]),
                                "AS": ("associative", {"k": "v"}), "NIX_BUILD_CORES": ("exported", "2"),
                                "ZED": ("exported", "")},
                     functions={"f": "f ()\n{\n echo 'WHO=no'\n}"})
    got = ex.exported_vars(render_env_script(model, "p"))
    assert got == {"WHO": "it's \"x\"\nline 2", "PATH": "/nix/store/a/bin", "NIX_BUILD_CORES": "2", "ZED": ""}
    env = ex.image_env(got, img.User(), "p")
    assert "NIX_BUILD_CORES=2" not in env and "HOME=/home/dev" in env and env == sorted(env)


@pytest.mark.parametrize("tag,ok", [("web", True), ("web:dev", True), ("registry.local:5000/team/web:1.0", True),
                                    ("Web", False), ("web:", False), ("-web", False), ("web dev", False)])
def test_tags_are_checked(tag, ok):
    if ok:
        assert ex.check_tag(tag) == tag
    else:
        with pytest.raises(ex.ContainerError) as e:
            ex.check_tag(tag)
        assert e.value.code == 2 and "is not an image name" in e.value.message


# -- bad input: exit 2, nothing written -------------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["--out", "DIR"], "is a directory"),
    (["--out", "EXISTS"], "exists"),
    (["--out", "NOPARENT/x.tar"], "does not exist"),
    (["--out", "x.tar", "--tag", "Bad Tag"], "is not an image name"),
    (["--out", "x.tar", "--cmd", "'unclosed"], "is not a command line"),
    (["--out", "x.tar", "--runtime-only"], "--runtime-only is for `onboard export archive`"),
])
def test_bad_input_is_exit_2_and_writes_nothing(tmp_path, args, needle):
    p = _project(tmp_path / "p")
    (tmp_path / "DIR").mkdir()
    (tmp_path / "EXISTS").write_text("keep me")
    args = [str(tmp_path / a) if a in ("DIR", "EXISTS") or a.startswith("NOPARENT") else a for a in args]
    before = sorted(os.listdir(tmp_path))
    r = _onboard("export", "container", "box", *args, cwd=p, env=_env(tmp_path / "home", standin.STANDIN))
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr, r.stderr
    assert "Error" not in r.stderr and "Traceback" not in r.stderr
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "EXISTS").read_text() == "keep me"


def test_no_profile_and_no_active_one_is_said(tmp_path):
    p = _project(tmp_path / "p")
    r = _onboard("export", "container", "--out", str(tmp_path / "x.tar"), cwd=p, env=_env(tmp_path / "h", standin.STANDIN))
    assert r.returncode == 2 and "no active profile" in r.stderr and "onboard export container NAME" in r.stderr
    assert not (tmp_path / "x.tar").exists()


def test_archive_flags_refuse_container_options(tmp_path):
    p = _project(tmp_path / "p")
    r = _onboard("export", "archive", "box", "--out", str(tmp_path / "a"), "--tag", "x", cwd=p,
                 env=_env(tmp_path / "home", standin.STANDIN))
    assert r.returncode == 2 and "--tag is for `onboard export container`" in r.stderr


def test_a_profile_that_does_not_load_is_said_at_its_line(tmp_path):
    p = _project(tmp_path / "p", "name: box\n" + PIN + "packges: [hello]\n")
    r = _onboard("export", "container", "box", "--out", str(tmp_path / "x.tar"), cwd=p,
                 env=_env(tmp_path / "home", standin.STANDIN))
    assert r.returncode == 2, r.stderr
    assert "box.yaml:5:1" in r.stderr and "did you mean `packages`?" in r.stderr
    assert not (tmp_path / "x.tar").exists()


# -- end to end --------------------------------------------------------------------------------

needs_nix = pytest.mark.skipif(not standin.have_nix(), reason="needs nix")


@pytest.fixture(scope="module")
def boxset(tmp_path_factory):
    return container_set.make(tmp_path_factory.mktemp("set") / "pkgs")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, boxset):
    """The box profile exported twice, every onboard cache removed in between."""
    base = tmp_path_factory.mktemp("box")
    home = base / "home"
    p = _project(base / "p")
    env = _env(home, boxset)
    r1 = _onboard("export", "container", "box", "--out", str(base / "one.tar"), cwd=p, env=env)
    assert r1.returncode == 0, r1.stdout + r1.stderr
    shutil.rmtree(home / ".cache" / "onboard")
    r2 = _onboard("--json", "export", "container", "box", "--out", str(base / "two.tar"), cwd=p, env=env)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert "build the shell of profile box" in r2.stderr  # rebuilt: the cache was gone
    r3 = _onboard("export", "container", "box", "--out", str(base / "three.tar"), cwd=p, env=env)
    assert r3.returncode == 0, r3.stdout + r3.stderr
    return {"base": base, "p": p, "env": env, "one": base / "one.tar", "two": base / "two.tar", "out1": r1.stdout,
            "doc": json.loads(r2.stdout)}


@pytest.mark.slow
@needs_nix
def test_two_exports_are_the_same_bytes_and_a_valid_oci_archive(exported):
    one, two = exported["one"].read_bytes(), exported["two"].read_bytes()
    assert one == two
    # the third used the layer digests the second wrote down: the same bytes without hashing them
    assert (exported["base"] / "three.tar").read_bytes() == one
    doc = exported["doc"]
    assert doc["digest"] in exported["out1"] and f"size: {len(one)} bytes" in exported["out1"]
    m = _members(exported["one"])
    assert json.loads(m["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(m["index.json"])
    desc = index["manifests"][0]
    assert desc["digest"] == doc["digest"] and desc["annotations"]["org.opencontainers.image.ref.name"] == \
        "onboard-box:latest"
    for name, data in m.items():  # every blob is named by its content
        if name.startswith("blobs/sha256/") and data:
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1], name
    manifest = json.loads(m["blobs/sha256/" + doc["digest"].split(":")[1]])
    config = json.loads(m["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    cfg = config["config"]
    assert cfg["User"] == "1000:1000" and cfg["WorkingDir"] == "/work"
    assert "WHO=it's box" in cfg["Env"] and "MULTI=a\nb\n" in cfg["Env"]
    assert not any(e.startswith(("NIX_BUILD_CORES=", "HOME=/tmp", "TMPDIR=")) for e in cfg["Env"])
    assert cfg["Cmd"][0].endswith("-bash-interactive-5-boxed/bin/bash")
    assert len(manifest["layers"]) == doc["layers"] == doc["paths"] + 1
    # one store path per layer, nothing else but its parents; the last layer is onboard's own
    layers = manifest["layers"]
    for layer in layers[:-1]:
        with tarfile.open(fileobj=io.BytesIO(m["blobs/sha256/" + layer["digest"].split(":")[1]])) as t:
            tops = {n.split("/")[2] for n in t.getnames() if n.count("/") >= 2 and n.startswith("nix/store/")}
        assert len(tops) == 1
    with tarfile.open(fileobj=io.BytesIO(m["blobs/sha256/" + layers[-1]["digest"].split(":")[1]])) as t:
        own = {x.name: x for x in t.getmembers()}
        passwd = t.extractfile("etc/passwd").read().decode()  # type: ignore[union-attr]
    assert "dev:x:1000:1000:" in passwd and ":/home/dev:/nix/store/" in passwd
    assert own["work"].uid == 1000 and own["tmp"].mode == 0o1777
    # no host metadata anywhere: not the project's path, the home, the user running the test
    for data in m.values():
        assert str(exported["p"]).encode() not in data and str(exported["base"]).encode() not in data


#: podman as root keeps a few run-time files in /run whatever its configuration says (its network
#: directory): each podman, and onboard --load, runs in a mount namespace with /run of its own
PRIVATE_RUN = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount -t tmpfs onboard-test-run /run && exec "$@"', "sh")


def _podman_env(base: Path) -> dict[str, str]:
    # everything podman keeps goes under `base`: its storage, its run-time files, its events, its networks
    (base / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
        f'events_logger = "file"\nevents_logfile_path = "{base}/events.log"\ntmp_dir = "{base}/libpod"\n'
        f'[network]\nnetwork_config_dir = "{base}/networks"\n')
    (base / "storage.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/graph"\n'
                                       f'runroot = "{base}/run"\n')
    env = dict(os.environ)
    env.update(CONTAINERS_CONF=str(base / "containers.conf"), CONTAINERS_STORAGE_CONF=str(base / "storage.conf"),
               XDG_RUNTIME_DIR=str(base / "xdg"), TMPDIR=str(base))
    (base / "xdg").mkdir(mode=0o700)
    return env


def _podman_works(env: dict[str, str]) -> str:
    """"" when podman can run a container here, else why not."""
    if not shutil.which("podman") or not shutil.which("runc"):
        return "podman or runc is not installed (tests/run installs them)"
    r = subprocess.run([*PRIVATE_RUN, "podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], capture_output=True, text=True,
                       env=env, timeout=120)
    if r.returncode != 0:
        return "podman cannot start here: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return ""


@pytest.mark.slow
@needs_nix
def test_podman_loads_it_and_a_command_sees_the_profile(exported, tmp_path):
    base = Path(tempfile.mkdtemp(prefix="ob-podman-", dir="/tmp"))
    try:
        env = _podman_env(base)
        why = _podman_works(env)
        if why:
            pytest.skip(f"{why}; test_umoci_unpacks_it_and_its_command_runs_in_a_chroot runs the image instead")
        # --load: onboard hands it to podman (docker, when on PATH too, is not asked first)
        r = _onboard("export", "container", "box", "--load", "--tag", "box-test:1", cwd=exported["p"],
                     env={**exported["env"], **{k: env[k] for k in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF",
                                                                  "XDG_RUNTIME_DIR")}},
                     prefix=PRIVATE_RUN)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "loaded into podman: localhost/box-test:1" in r.stdout, r.stdout
        assert "digest: sha256:" in r.stdout and "size: " in r.stdout
        assert not [f for f in os.listdir(exported["p"]) if f.endswith(".tar")]  # --load alone keeps no file
        got = subprocess.run([*PRIVATE_RUN, "podman", "image", "inspect", "box-test:1", "--format", "{{.Digest}}"],
                             capture_output=True, text=True, env=env, timeout=120)
        # the same image as the exported archive (only the tag differs, which is not in the manifest)
        assert got.stdout.strip() == exported["doc"]["digest"], got.stdout + got.stderr
        r = subprocess.run([*PRIVATE_RUN, "podman", "run", "--rm", "--network", "none", "box-test:1", "bash", "-c",
                            'echo "$WHO|$USER|$PWD|$HOME"; hello; [ -w /work ] && echo writable'],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["it's box|dev|/work|/home/dev", "Hello, world!", "writable"]
        r = subprocess.run([*PRIVATE_RUN, "podman", "run", "--rm", "-i", "--network", "none", "box-test:1"], input="echo $0 $WHO\n",
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.stdout.strip().endswith("bash it's box"), r.stdout + r.stderr  # the default command: the shell
    finally:
        subprocess.run([*PRIVATE_RUN, "podman", "rmi", "-a", "-f"], capture_output=True, env=_env_only(base), timeout=120)
        subprocess.run(["chmod", "-R", "u+w", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _env_only(base: Path) -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(base / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(base / "storage.conf"), "XDG_RUNTIME_DIR": str(base / "xdg")}


def run_unpacked(archive: Path, work: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """umoci unpack, then the command with the image's environment, user and working directory
    in a chroot of the unpacked root (the fallback for machines where podman cannot run)."""
    layout = work / "layout"
    layout.mkdir()
    with tarfile.open(archive) as t:
        t.extractall(layout)
    index = json.loads((layout / "index.json").read_text())
    ref = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
    rootless = ["--rootless"] if os.getuid() != 0 or os.environ.get("ONBOARD_TEST_USERNS") else []
    r = subprocess.run(["umoci", "unpack", *rootless, "--image", f"{layout}:{ref}", str(work / "bundle")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    spec = json.loads((work / "bundle" / "config.json").read_text())["process"]
    root = str(work / "bundle" / "rootfs")
    uid = spec["user"]["uid"] if not rootless else 0  # only uid 0 exists in a user namespace of one uid
    env = dict(e.split("=", 1) for e in spec["env"])

    def enter() -> None:
        os.chroot(root)
        os.chdir(spec["cwd"])
        if uid:
            os.setgroups([])
            os.setgid(spec["user"]["gid"])
            os.setuid(uid)

    return subprocess.run(argv, capture_output=True, text=True, env=env, preexec_fn=enter, timeout=120)


@pytest.mark.slow
@needs_nix
@pytest.mark.skipif(not shutil.which("umoci"), reason="umoci is not installed (tests/run installs it)")
def test_umoci_unpacks_it_and_its_command_runs_in_a_chroot(exported, tmp_path):
    r = run_unpacked(exported["one"], tmp_path, ["bash", "-c", 'echo "$WHO|$USER|$PWD"; hello'])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["it's box|dev|/work", "Hello, world!"]


NS = r"""#!/bin/bash
set -e
mount --bind "$SB_NIX" /nix
set +e
"$@"
"""


@pytest.mark.slow
@needs_nix
@pytest.mark.skipif(os.geteuid() != 0, reason="needs (namespace) root for a private mount namespace")
def test_an_empty_store_builds_it_again_and_gives_the_same_digest(exported, boxset):
    base = Path(tempfile.mkdtemp(prefix="ob-store2-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    try:
        (base / "nix").mkdir()
        (base / "ns.sh").write_text(NS)
        p2 = base / "elsewhere" / "project"
        p2.parent.mkdir()
        shutil.copytree(exported["p"], p2)
        env = _env(base / "home", boxset, SB_NIX=str(base / "nix"))
        env.pop("NIX_REMOTE", None)
        r = _onboard("--json", "export", "container", "box", "--out", str(base / "img.tar"), cwd=p2, env=env,
                     prefix=("unshare", "--mount", "--propagation", "private", "bash", str(base / "ns.sh")))
        assert r.returncode == 0, r.stdout + r.stderr
        assert os.listdir(base / "nix" / "store"), "the export did not use the empty store"
        assert json.loads(r.stdout)["digest"] == exported["doc"]["digest"]
        assert (base / "img.tar").read_bytes() == exported["one"].read_bytes()
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
@needs_nix
def test_dry_run_builds_and_writes_nothing_and_cmd_must_be_in_the_image(exported, tmp_path):
    p, env = exported["p"], exported["env"]
    r = _onboard("--dry-run", "export", "container", "box", "--out", str(tmp_path / "d.tar"), cwd=p, env=env)
    assert r.returncode == 0, r.stderr
    assert "would:" in r.stdout and "store paths in" in r.stdout and "nothing was built or written" in r.stdout
    assert not (tmp_path / "d.tar").exists()
    r = _onboard("export", "container", "box", "--out", str(tmp_path / "c.tar"), "--cmd", "python3 -m http.server",
                 cwd=p, env=env)
    assert r.returncode == 2 and "python3 is not in the image" in r.stderr, r.stderr
    assert not (tmp_path / "c.tar").exists()
    r = _onboard("--json", "export", "container", "box", "--out", str(tmp_path / "c.tar"), "--cmd", "hello --x",
                 cwd=p, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["cmd"] == ["hello", "--x"]
    # --load with neither podman nor docker on PATH: said, exit 1, the archive kept
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("nix", "bash", "git"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bare / tool)  # type: ignore[arg-type]
    r = _onboard("export", "container", "box", "--out", str(tmp_path / "l.tar"), "--load", cwd=p,
                 env={**env, "PATH": str(bare)})
    assert r.returncode == 1 and "neither podman nor docker is on PATH" in r.stderr, r.stderr
    assert (tmp_path / "l.tar").is_file()


@pytest.mark.slow
@needs_nix
def test_the_flakes_python_env_is_built_once_gc_rooted_and_its_bin_put_first(tmp_path, monkeypatch):
    from onboard.core.profiles import cache
    from onboard.core.python import storeenv

    flake = tmp_path / cache.RENDERED
    flake.mkdir()
    (flake / "python.nix").write_text("# the lock's expressions (not read by this flake)\n")
    (flake / "flake.nix").write_text("""{
  outputs = { self }: {
    packages.%s.python-env = derivation {
      name = "python-env"; system = "%s"; builder = "/bin/bash";
      PATH = "/usr/bin:/bin"; stamp = "%s";
      args = [ "-c" "mkdir -p $out/bin; echo x > $out/bin/python; echo home = x > $out/pyvenv.cfg; true" ];
    };
  };
}
""" % (ex.nix_system(), ex.nix_system(), tmp_path.name))
    monkeypatch.delenv("ONBOARD_NIXPKGS_OVERRIDE", raising=False)
    m = cache.Manifest()
    m.key, m.backend = "k1", "flake"
    events: list = []
    path = ex._python_env(str(tmp_path), m, events.append)
    assert path.startswith("/nix/store/") and path.endswith("-python-env")
    assert os.path.realpath(tmp_path / storeenv.LINK) == path  # its GC root, beside the environment
    assert any(getattr(e, "description", "").startswith("build the store-built Python environment") for e in events)
    # found again without Nix while the environment is the same
    monkeypatch.setenv("PATH", str(tmp_path / "no-nix-here"))
    events.clear()
    assert ex._python_env(str(tmp_path), m, events.append) == path and not events
    env = ex.image_env({"PATH": "/nix/store/a/bin"}, img.User(), "p", path)
    assert f"PATH={path}/bin:/nix/store/a/bin" in env and f"VIRTUAL_ENV={path}" in env
    # another environment (another key) builds again, and fails plainly with no Nix to build it
    m.key = "k2"
    with pytest.raises(ex.ContainerError) as e:
        ex._python_env(str(tmp_path), m, events.append)
    assert "cannot build the store-built Python environment (python-env)" in e.value.message
    assert ex._python_env(str(tmp_path / "none"), m, events.append) == ""
    m.backend = "nix-shell"
    with pytest.raises(ex.ContainerError) as e:
        ex._python_env(str(tmp_path), m, events.append)
    assert "needs the `nix` command with flakes" in e.value.message


@pytest.mark.slow
@needs_nix
def test_a_layer_digest_cache_that_does_not_fit_is_not_trusted(exported, tmp_path):
    cache = exported["base"] / "home" / ".cache" / "onboard" / "containers" / "layers"
    entries = sorted(cache.iterdir())
    assert entries, "the exports wrote no layer digests"
    for f in entries:
        digest, size = f.read_text().split()
        f.write_text(f"{digest} {int(size) + 512}\n")  # a size the layer does not have
    r = _onboard("export", "container", "box", "--out", str(tmp_path / "again.tar"), cwd=exported["p"],
                 env=exported["env"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again.tar").read_bytes() == exported["one"].read_bytes()
    manifest = json.loads(_members(tmp_path / "again.tar")["blobs/sha256/" + exported["doc"]["digest"][7:]])
    real = {(x["digest"], x["size"]) for x in manifest["layers"]}
    for f in entries:  # written down again, right
        digest, size = f.read_text().split()
        assert (digest, int(size)) in real


def test_gzip_layers_have_a_fixed_header_and_name_their_uncompressed_digest(tmp_path):
    import gzip

    tree = tmp_path / "nix" / "store" / ("b" * 32 + "-thing")
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "x").write_bytes(b"y" * 200_000)
    spec = img.Spec(profile="p", arch="amd64", closure={str(tree): "sha256-x"}, references={}, roots=[str(tree)],
                    env=["A=b"], cmd=[], tag="p:1", gzip=True)
    outs = []
    for name in ("a.tar", "b.tar"):
        with open(tmp_path / name, "w+b") as fh:
            outs.append(img.write_image(spec, fh, cache=img.DigestCache(str(tmp_path / "cache"))))
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert not (tmp_path / "cache").exists()  # gzip layers are never taken from the cache
    m = _members(tmp_path / "a.tar")
    manifest = json.loads(m["blobs/sha256/" + outs[0].digest[7:]])
    config = json.loads(m["blobs/sha256/" + manifest["config"]["digest"][7:]])
    for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"]):
        assert layer["mediaType"] == img.LAYER_GZIP
        blob = m["blobs/sha256/" + layer["digest"][7:]]
        assert blob[:3] == b"\x1f\x8b\x08" and blob[3] & 0x08 == 0 and blob[4:8] == b"\0\0\0\0"  # no name, mtime 0
        assert "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() == diff_id


@pytest.mark.slow
@needs_nix
def test_the_closure_is_asked_of_nix_once_and_before_the_command_line_is_parsed(exported, tmp_path):
    spy = tmp_path / "spy"
    spy.mkdir()
    real = shutil.which("nix")
    assert real
    (spy / "nix").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "calls"}\nexec {real} "$@"\n')
    (spy / "nix").chmod(0o755)
    env = {**exported["env"], "PATH": f"{spy}:{exported['env']['PATH']}"}
    # another `nix` is another environment: the first export builds it again, the second does not
    r = _onboard("export", "container", "box", "--out", str(tmp_path / "w.tar"), cwd=exported["p"], env=env)
    assert r.returncode == 0, r.stderr
    (tmp_path / "calls").unlink()
    r = _onboard("--json", "export", "container", "box", "--out", str(tmp_path / "x.tar"), cwd=exported["p"], env=env)
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 1 and "path-info -r --json" in calls[0], "\n".join(calls)
    assert (tmp_path / "x.tar").read_bytes() == exported["one"].read_bytes()
    # started early and not taken (the command stops at a usage error): killed, not left running
    code = ("import sys\nfrom onboard.core.container import early\nfrom onboard.core.verify import early as v\n"
            "early.start(['container', 'box'])\n"
            "print(' '.join(str(procs['query'].pid) for _r, _c, _o, procs in v.STARTED))\nsys.exit(2)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(exported["p"]),
                       timeout=120)
    pids = [int(x) for x in r.stdout.split()]
    assert len(pids) == 1, r.stdout + r.stderr
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
