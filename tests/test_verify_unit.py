"""onboard verify's pieces without Nix: hash forms, both JSON shapes of `nix path-info`,
store path names, the comparison's groups, and records it refuses."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from onboard.core.verify import nixstore
from onboard.core.verify.compare import compare
from onboard.core.verify.record import MAGIC, RECORD_VERSION, VerifyError, load_record
from tests.conftest import ROOT

SRI = "sha256-g+EBjKQS00iSV6uQZfjFQKsLV8PNssIwiQkpg5s6UwU="


def test_nar_hashes_are_kept_in_one_form():
    # the same hash as Nix 2.8's path-info prints it (SRI) and as older Nix did (nix32), and hex
    assert nixstore.sri(SRI) == SRI
    raw = bytes(range(32))
    assert nixstore.sri("sha256:" + raw.hex()) == "sha256-" + base64.b64encode(raw).decode()


def test_nix32_matches_nix_itself():
    r = subprocess.run(["nix", "--extra-experimental-features", "nix-command", "hash", "to-base32", SRI],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("needs nix")
    assert nixstore.sri("sha256:" + r.stdout.strip()) == SRI


def test_both_shapes_of_path_info():
    old = [{"path": "/nix/store/a", "narHash": SRI}]
    new = {"/nix/store/a": {"narHash": SRI}}
    assert nixstore.path_infos(old) == {"/nix/store/a": old[0]}
    assert nixstore.path_infos(new) == new


@pytest.mark.parametrize("path,nv", [
    ("/nix/store/xdlzr1zrfgy27mhq0a3fl38g1j9hjn02-hello-2.12", ("hello", "2.12")),
    ("/nix/store/xdlzr1zrfgy27mhq0a3fl38g1j9hjn02-postgresql-16.3-dev", ("postgresql", "16.3-dev")),
    ("/nix/store/xdlzr1zrfgy27mhq0a3fl38g1j9hjn02-stdenv-standin", ("stdenv-standin", "")),
    ("/nix/store/xdlzr1zrfgy27mhq0a3fl38g1j9hjn02-tinyalpha-1.0-py3-none-any.whl", ("tinyalpha", "1.0-py3-none-any.whl")),
])
def test_names_and_versions_from_store_paths(path, nv):
    assert nixstore.name_version(path) == nv


def _rec(**over):
    r = {"format": MAGIC, "version": RECORD_VERSION, "pin": {"rev": "a"}, "profile": {"name": "web"},
         "closure": {"/nix/store/" + "a" * 32 + "-hello-2.12": SRI}, "context": {"nix": "2.8.0"},
         "system": "x86_64 linux", "python": None}
    r.update(over)
    return r


def test_a_different_nix_is_context_unless_strict():
    a, b = _rec(), _rec(context={"nix": "2.24.0"})
    assert compare(a, b).same and compare(a, b).context
    assert not compare(a, b, strict=True).same


def test_a_changed_version_is_named_as_the_package():
    b = _rec(closure={"/nix/store/" + "b" * 32 + "-hello-2.13": SRI})
    c = compare(_rec(), b)
    assert [(d.group, d.what, d.here, d.there) for d in c.differences] == [("package", "hello", "2.12", "2.13")]


def test_a_machine_local_path_is_not_compared_by_its_nar_hash():
    env = "/nix/store/" + "e" * 32 + "-onboard-web-env"
    other = "sha256-" + base64.b64encode(b"x" * 32).decode()
    a = _rec(closure={**_rec()["closure"], env: SRI})
    b = _rec(closure={**_rec()["closure"], env: other})
    c = compare(a, b)
    assert [(d.group, d.what) for d in c.differences] == [("store path", env)]  # unlabelled: a difference
    a["local"] = {"machine_local": {env: "the shell's record of its build (nix print-dev-env --profile)"}}
    c = compare(a, b)  # labelled by either record: said as machine-local, not counted
    assert c.same and any(env in n and "machine-local" in n for n in c.notes)
    assert compare(b, a).same
    hello = next(iter(_rec()["closure"]))
    b["closure"][hello] = other  # any other path still counts
    assert [(d.group, d.what) for d in compare(a, b).differences] == [("store path", hello)]


def test_records_it_refuses(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(VerifyError) as e:
        load_record(str(bad))
    assert e.value.code == 2 and "not a record" in e.value.message
    bad.write_text(json.dumps(_rec(version=RECORD_VERSION + 1)))
    with pytest.raises(VerifyError) as e:
        load_record(str(bad))
    assert e.value.code == 2 and "newer" in e.value.message
    bad.write_text("not json")
    r = subprocess.run([sys.executable, "-m", "onboard", "verify", "web", "--against", str(bad)],
                       capture_output=True, text=True, cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin",
                                                                              "HOME": str(tmp_path),
                                                                              "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "not JSON" in r.stderr and "Error" not in r.stderr
