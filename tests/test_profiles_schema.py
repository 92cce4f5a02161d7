"""Profile schema: every problem at once as file:line:col, did-you-mean, pins, extends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from onboard.core.profiles import suggest
from onboard.core.profiles.hashes import nix32_decode, nix32_encode, sha256_to_sri, sri_to_nix32
from onboard.core.profiles.loader import check_profile, list_profiles, load_profile, profile_dirs
from onboard.core.schema import SchemaError, parse_yaml
from tests.conftest import ROOT, run_onboard
from tests.support.tree import snapshot

REV = "50ab793786d9de88ee30ec4e4c24fb4236fc2674"
NAR = "sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g="
PIN = f"nixpkgs:\n  rev: {REV}\n  narHash: {NAR}\n"


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text)
    return p


def messages(path: Path) -> list[str]:
    profile, problems = check_profile(str(path))
    return [str(p) for p in problems]


def errors_of(path: Path) -> list[str]:
    with pytest.raises(SchemaError) as exc:
        load_profile(str(path))
    return [str(p) for p in exc.value.problems if p.level == "error"]


# -- YAML level -------------------------------------------------------------------------------

def test_yaml_syntax_error_is_located_at_the_parsers_mark(tmp_path):
    f = write(tmp_path, "broken.yaml", "name: broken\nnixpkgs:\n  rev: [unclosed\npackages:\n  - hello\n")
    assert errors_of(f) == [
        f"{f}:4:9: YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 3, column 8)"]


def test_tab_indentation_says_so(tmp_path):
    f = write(tmp_path, "tabs.yaml", PIN + "packages:\n\t- hello\n")
    [msg] = errors_of(f)
    assert msg.startswith(f"{f}:5:1: YAML syntax error:") and "indent with spaces, not tabs" in msg


def test_duplicate_keys_are_reported_with_both_lines(tmp_path):
    f = write(tmp_path, "dup.yaml", PIN + "packages: [hello]\nenv:\n  A: x\n  A: y\npackages: [jq]\n")
    assert errors_of(f) == [
        f"{f}:7:3: duplicate key `A` (first at line 6); YAML keeps only the last one: remove one of them",
        f"{f}:8:1: duplicate key `packages` (first at line 4); YAML keeps only the last one: remove one of them",
    ]


def test_merge_keys_overriding_is_not_a_duplicate():
    r = parse_yaml("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  x: 3\n", "m.yaml")
    assert r.problems == []
    assert r.root.to_python() == {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 2}}


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2.5, true, null, ~, 'x']\nc: {d: e}\n",
    "x: &anchor\n  - 1\n  - {k: v}\ny: *anchor\n",
    "base: &b {p: 1}\nchild:\n  <<: *b\n  q: 2\n",
    "when: 2024-01-02\nbin: !!binary aGVsbG8=\nset: !!set {a, b}\n",
    "v: 3.10\noct: 0o17\nhex: 0x1f\nyes_: yes\nOn: off\n",
    "- 1\n- two\n",
    "text: |\n  line one\n   line two\nfolded: >-\n  a\n  b\n",
])
def test_values_are_what_safe_load_gives(text):
    r = parse_yaml(text, "s.yaml")
    assert r.problems == []
    assert r.root.to_python() == yaml.safe_load(text)


def test_unsafe_tags_are_refused_not_executed(tmp_path):
    f = write(tmp_path, "evil.yaml", PIN + "description: !!python/object/apply:os.system ['touch pwned']\n")
    msgs = messages(f)
    assert any(m.startswith(f"{f}:4:14: cannot read this value") for m in msgs), msgs
    assert not (tmp_path / "pwned").exists()


def test_empty_file_and_not_a_mapping(tmp_path):
    e = write(tmp_path, "empty.yaml", "# nothing\n")
    assert errors_of(e) == [f"{e}:1:1: empty profile: expected a mapping with at least `nixpkgs` and `packages`"]
    s = write(tmp_path, "seq.yaml", "- hello\n")
    assert errors_of(s) == [f"{s}:1:1: profile: expected a mapping (key: value lines), got a list"]


def test_second_document_is_an_error(tmp_path):
    f = write(tmp_path, "two.yaml", PIN + "---\npackages: [x]\n")
    assert errors_of(f) == [f"{f}:4:1: a second YAML document (`---`): this file must hold exactly one"]


# -- keys and types --------------------------------------------------------------------------

def test_unknown_keys_get_did_you_mean_and_every_problem_comes_at_once(tmp_path):
    f = write(tmp_path, "typo.yaml", "name: typo\npakages:\n  - hello\nshell_hook: echo\nenvv: {}\n")
    msgs = errors_of(f)
    assert len(msgs) == 4
    assert msgs[0].startswith(f"{f}:1:1: no `nixpkgs` pin")
    assert msgs[1].startswith(f"{f}:2:1: unknown key `pakages`; did you mean `packages`?")
    assert msgs[2] == f"{f}:4:1: unknown key `shell_hook`: did you mean `shellHook`?"
    assert msgs[3].startswith(f"{f}:5:1: unknown key `envv`; did you mean `env`?")


def test_nested_unknown_keys(tmp_path):
    f = write(tmp_path, "n.yaml", PIN + "python:\n  version: '3.12'\n  requirments: r.txt\n"
                                        "editors:\n  vscode:\n    extentions: []\nservices:\n  postgres: true\n")
    msgs = errors_of(f)
    assert msgs[0].startswith(f"{f}:6:3: unknown key `python.requirments`; did you mean `requirements`?")
    assert msgs[1].startswith(f"{f}:9:5: unknown key `editors.vscode.extentions`; did you mean `extensions`?")
    assert msgs[2] == f"{f}:11:3: unknown key `services.postgres`: did you mean `postgresql`?"


def test_wrong_types_say_what_was_expected(tmp_path):
    f = write(tmp_path, "types.yaml", PIN + "\n".join([
        "packages: hello",
        "env: [A, B]",
        "allowUnfree: 'yes'",
        "scripts:",
        "  test: [pytest]",
        "description: 42",
        "python: {version: [3]}",
        "unfree: google-chrome",
        "services: {redis: {port: 99999}}",
    ]) + "\n")
    assert errors_of(f) == [
        f"{f}:4:11: packages: expected a list, got text; write it as a list: [hello] or one `- item` per line",
        f"{f}:5:6: env: expected a mapping (key: value lines), got a list",
        f"{f}:6:14: allowUnfree: expected true or false, got text",
        f"{f}:8:9: scripts.test: expected text, got a list",
        f"{f}:9:14: description: expected text, got a number (42); quote it if you meant the text: \"42\"",
        f"{f}:10:19: python.version: expected text, got a list",
        f"{f}:11:9: unfree: expected a list, got text; write it as a list: [google-chrome] or one `- item` per line",
        f"{f}:12:26: services.redis.port: 99999 is out of range (1..65535)",
    ]


def test_env_values_numbers_as_written_booleans_refused_names_checked(tmp_path):
    f = write(tmp_path, "env.yaml", PIN + "packages: [hello]\nenv:\n  PORT: 5432\n  RATIO: 1.10\n"
                                          "  DEBUG: yes\n  9LIVES: x\n  PATH: /bin\n  name: x\n")
    assert errors_of(f) == [
        f"{f}:8:10: env.DEBUG: expected text, got a boolean (yes); quote it if you meant the text: \"yes\"",
        f"{f}:9:3: env: `9LIVES` is not a valid name; a variable name is letters, digits and '_', "
        "not starting with a digit",
        f"{f}:10:3: env: `PATH` cannot be set here: the shell builds PATH from `packages` and `scripts`; "
        "add packages or scripts instead",
        f"{f}:11:3: env: `name` is an argument of mkShell, not a variable; choose another name or "
        "export it in shellHook",
    ]
    ok = write(tmp_path, "envok.yaml", PIN + "env:\n  PORT: 5432\n  RATIO: 1.10\n  V: '3.10'\n")
    assert load_profile(str(ok)).env == {"PORT": "5432", "RATIO": "1.10", "V": "3.10"}


def test_python_version_is_read_as_written(tmp_path):
    f = write(tmp_path, "py.yaml", PIN + "python:\n  version: 3.10\n")
    p = load_profile(str(f))
    assert p.python.version == "3.10" and p.packages == ["python310"]
    g = write(tmp_path, "py2.yaml", PIN + "python: 3.12.4\n")
    assert errors_of(g) == [f"{g}:4:9: python: `3.12.4`: give the minor version only (like 3.12); the "
                            "patch release is whatever the pinned package set has"]


def test_requirements_must_exist_relative_to_the_profile(tmp_path):
    f = write(tmp_path, "req.yaml", PIN + "python:\n  version: '3.12'\n  requirements: reqs/missing.txt\n")
    assert errors_of(f) == [f"{f}:6:17: python.requirements: no such file: {tmp_path}/reqs/missing.txt "
                            "(the path is relative to the profile's directory)"]
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "missing.txt").write_text("# hashed lines only (uv export --hashes)\n")
    p = load_profile(str(f))
    assert p.python.requirements == str(tmp_path / "reqs" / "missing.txt")
    assert p.watched_files() == [str(f), str(tmp_path / "reqs" / "missing.txt")]


@pytest.mark.parametrize("venv", [".", "..", "../x", "/opt/venv", "~/venv", "a/../../b"])
def test_venv_must_stay_inside_the_project(tmp_path, venv):
    f = write(tmp_path, "v.yaml", PIN + f"python:\n  version: '3.12'\n  venv: '{venv}'\n")
    [msg] = errors_of(f)
    assert msg.startswith(f"{f}:6:9: python.venv: `{venv}` must be a directory inside the project"), msg


def test_name_must_match_the_file(tmp_path):
    f = write(tmp_path, "web.yaml", "name: webapp\n" + PIN)
    assert errors_of(f) == [f"{f}:1:7: name `webapp` differs from the file name `web.yaml`: profiles are "
                            "found by file name; rename the file to webapp.yaml or write `name: web`"]


def test_file_name_must_be_a_usable_name(tmp_path):
    f = write(tmp_path, "my profile.yaml", PIN)
    assert errors_of(f) == [f"{f}:1:1: the file name `my profile.yaml` is not a usable profile name; rename "
                            "the file: use letters, digits, '.', '_' and '-', starting with a letter or digit"]


def test_non_text_keys_are_refused_with_a_quote_hint(tmp_path):
    f = write(tmp_path, "k.yaml", PIN + "env:\n  ON: 1\n")
    assert errors_of(f) == [f"{f}:5:3: env: a name must be text, got a boolean (ON); quote it: \"ON\""]


# -- packages --------------------------------------------------------------------------------

def test_package_syntax_case_and_typos(tmp_path):
    f = write(tmp_path, "pk.yaml", PIN + "packages:\n  - Python312\n  - postgressql_16\n  - 'foo bar'\n"
                                         "  - pkgs.hello\n  - python312Packages.nunpy\n  - nodejs_23\n"
                                         "  - some-rare-tool\n  - python312Packages.numpy\n")
    profile, problems = check_profile(str(f))
    assert [str(p) for p in problems] == [
        f"{f}:5:5: packages: no package `Python312` (names are case-sensitive); did you mean `python312`?",
        f"{f}:6:5: packages: `postgressql_16` is not a package onboard knows; did you mean `postgresql_16`? "
        "If `postgressql_16` is right (onboard's list is not all of nixpkgs), add it under `unlisted:` in this "
        "profile: `unlisted: [postgressql_16]`",
        f"{f}:7:5: packages: `foo bar` is not a package attribute path; one package per list item; a package "
        "is an attribute path of the package set, like `postgresql_16` or `python312Packages.numpy` "
        "(letters, digits, _ - + ', parts joined by dots)",
        f"{f}:8:5: packages: write `hello`, without the `pkgs.` prefix",
        f"{f}:9:5: packages: `python312Packages.nunpy` is not a package onboard knows; "
        "did you mean `python312Packages.numpy`? If `python312Packages.nunpy` is right (onboard's list is not "
        "all of nixpkgs), add it under `unlisted:` in this profile: `unlisted: [python312Packages.nunpy]`",
    ]
    assert profile is None


def test_mistyped_detection_rules():
    assert suggest.looks_mistyped("python311") == ("ok", None)  # another version, not a slip
    assert suggest.looks_mistyped("nodejs_23") == ("ok", None)
    assert suggest.looks_mistyped("yq") == ("ok", None)  # too short to guess
    assert suggest.looks_mistyped("chromium") == ("ok", None)
    assert suggest.looks_mistyped("chormium") == ("typo", "chromium")
    assert suggest.looks_mistyped("Redis") == ("case", "redis")
    assert suggest.looks_mistyped("haskellPackages.aeson") == ("ok", None)
    assert suggest.did_you_mean("shell_hook", ["shellHook", "scripts"]) == "shellHook"
    assert suggest.did_you_mean("zzz", ["shellHook"]) is None


def test_duplicate_package_is_a_warning_and_kept_once(tmp_path):
    f = write(tmp_path, "d.yaml", PIN + "packages: [hello, jq, hello]\n")
    p, problems = check_profile(str(f))
    assert [str(x) for x in problems] == [f"{f}:4:23: warning: `hello` is listed twice (first at line 4)"]
    assert p.packages == ["hello", "jq"]


# -- pins ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pin, expected", [
    ("nixpkgs: nixos-unstable\n", "1:10: nixpkgs: `nixos-unstable` is a branch: it moves"),
    ("nixpkgs: github:NixOS/nixpkgs/nixos-24.05\n", "1:10: nixpkgs: `nixos-24.05` is a branch"),
    (f"nixpkgs: github:NixOS/nixpkgs/{REV}\n", "1:10: nixpkgs: a commit alone is not a pin"),
    (f"nixpkgs:\n  rev: nixos-24.11\n  narHash: {NAR}\n", "2:8: nixpkgs.rev: `nixos-24.11` is a branch"),
    (f"nixpkgs:\n  rev: 50ab793\n  narHash: {NAR}\n",
     "2:8: nixpkgs.rev: `50ab793` is a short commit id; give all 40 hex digits"),
    (f"nixpkgs:\n  rev: {REV}\n", "2:3: nixpkgs: missing `narHash`"),
    (f"nixpkgs:\n  rev: {REV}\n  narHash: sha256-abc\n", "3:12: nixpkgs.narHash: `sha256-abc` is not a sha256 hash"),
    (f"nixpkgs:\n  ref: nixos-24.11\n  rev: {REV}\n  narHash: {NAR}\n",
     "2:3: unknown key `nixpkgs.ref`: a branch or tag moves; Pin the package set to a commit"),
    ("nixpkgs:\n  url: https://github.com/NixOS/nixpkgs/archive/nixos-24.11.tar.gz\n  sha256: " + NAR + "\n",
     "2:8: nixpkgs.url: `nixos-24.11` is a branch"),
    ("nixpkgs:\n  url: https://channels.nixos.org/nixos-24.11/nixexprs.tar.xz\n  sha256: " + NAR + "\n",
     "2:8: nixpkgs.url: a channel URL always serves the channel's newest release"),
    (f"nixpkgs:\n  url: https://example.org/n.tar.gz\n  rev: {REV}\n  sha256: {NAR}\n",
     "2:3: nixpkgs: give either rev + narHash (a GitHub commit) or url + sha256 (a tarball), not both"),
    ("nixpkgs: {}\n", "1:10: nixpkgs: empty pin"),
])
def test_bad_pins(tmp_path, pin, expected):
    f = write(tmp_path, "pin.yaml", pin)
    msgs = errors_of(f)
    assert msgs[0].startswith(f"{f}:{expected}"), msgs
    if "branch" in expected:
        assert "Pin the package set to a commit" in msgs[0]


def test_good_pins_are_normalised(tmp_path):
    f = write(tmp_path, "a.yaml", f"nixpkgs:\n  rev: {REV.upper()}\n  narHash: {NAR}\n  lastModified: 1751274312\n")
    pin = load_profile(str(f)).nixpkgs
    assert (pin.kind, pin.owner, pin.repo, pin.rev, pin.nar_hash, pin.last_modified) == \
        ("github", "NixOS", "nixpkgs", REV, NAR, 1751274312)
    b32 = "1s2gr5rcyqvpr58vxdcb095mdhblij9bfzaximrva2243aal3dgx"
    g = write(tmp_path, "b.yaml", f"nixpkgs:\n  url: https://example.org/{REV}.tar.gz\n  sha256: {b32}\n")
    pin = load_profile(str(g)).nixpkgs
    assert (pin.kind, pin.url, pin.sha256, pin.nar_hash) == ("tarball", f"https://example.org/{REV}.tar.gz", NAR, NAR)


def test_hash_conversions_match_nix():
    # the base32 form is what `nix hash to-base32 --type sha256 sha256-/bVB...` printed
    b32 = "1s2gr5rcyqvpr58vxdcb095mdhblij9bfzaximrva2243aal3dgx"
    assert sri_to_nix32(NAR) == b32
    assert sha256_to_sri(b32) == NAR
    assert sha256_to_sri("sha256:" + b32) == NAR
    raw = bytes(range(32))
    assert nix32_decode(nix32_encode(raw)) == raw
    assert sha256_to_sri(raw.hex()) == "sha256-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert sha256_to_sri("sha256-AAAA") is None and sha256_to_sri("x" * 52) is None


@pytest.mark.skipif(not subprocess.run(["sh", "-c", "command -v nix"], capture_output=True).stdout,
                    reason="needs nix")
def test_hash_conversion_agrees_with_real_nix():
    sri = "sha256-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    out = subprocess.run(["nix", "hash", "to-base32", "--type", "sha256", sri],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == sri_to_nix32(sri)


# -- extends ---------------------------------------------------------------------------------

def test_extends_merges_base_then_child(tmp_path):
    (tmp_path / "r.txt").write_text("# nothing locked yet\n")
    write(tmp_path, "base.yaml", PIN + "packages: [git, jq]\nenv: {A: base, B: base}\nshellHook: echo base\n"
                                      "scripts: {t: base-t, u: base-u}\nunfree: [vscode]\nallowUnfree: true\n"
                                      "python: {version: '3.11', requirements: r.txt}\neditors: {vim: true}\n")
    c = write(tmp_path, "child.yaml", "extends: base\ndescription: kid\npackages: [jq, redis]\n"
                                      "env: {B: child, C: child}\nshellHook: echo child\nscripts: {u: child-u}\n"
                                      "unfree: [google-chrome]\npython: {version: '3.12'}\n")
    p = load_profile(str(c))
    assert p.name == "child" and p.extends == "base" and p.description == "kid"
    assert p.sources == [str(c), str(tmp_path / "base.yaml")]
    assert p.packages == ["python312", "git", "jq", "redis"]
    assert p.env == {"A": "base", "B": "child", "C": "child"}
    assert p.shell_hook == "echo base\necho child\n"
    assert p.scripts == {"t": "base-t", "u": "child-u"}
    assert p.unfree == ["vscode", "google-chrome"] and p.allow_unfree is True
    assert (p.python.version, p.python.requirements) == ("3.12", str(tmp_path / "r.txt"))
    assert p.editors == {"vim": True}
    assert p.nixpkgs.rev == REV
    assert p.watched_files() == [str(c), str(tmp_path / "base.yaml"), str(tmp_path / "r.txt")]


def test_extends_cycles_name_the_cycle(tmp_path):
    a = write(tmp_path, "a.yaml", PIN + "extends: b\n")
    write(tmp_path, "b.yaml", "extends: c\n")
    c = write(tmp_path, "c.yaml", "extends: a\n")
    assert errors_of(a) == [f"{c}:1:10: extends: cycle: a -> b -> c -> a; a profile cannot extend "
                            "itself, directly or through others"]
    s = write(tmp_path, "self.yaml", PIN + "extends: self\n")
    assert errors_of(s) == [f"{s}:4:10: extends: cycle: self -> self; a profile cannot extend itself, "
                            "directly or through others"]


def test_extends_unknown_base_suggests(tmp_path):
    write(tmp_path, "base.yaml", PIN)
    c = write(tmp_path, "c.yaml", "extends: bsae\n")
    [msg] = errors_of(c)
    assert msg.startswith(f"{c}:1:10: extends: no base profile named `bsae`; did you mean `base`?")
    assert "available: base, c" in msg


def test_problems_in_the_base_are_reported_in_the_base_file(tmp_path):
    b = write(tmp_path, "base.yaml", PIN + "packages: hello\n")
    c = write(tmp_path, "c.yaml", "extends: base\nenv: {X: [1]}\n")
    assert errors_of(c) == [
        f"{c}:2:10: env.X: expected text, got a list",
        f"{b}:4:11: packages: expected a list, got text; write it as a list: [hello] or one `- item` per line",
    ]


def test_unfree_needs_allow_unfree(tmp_path):
    f = write(tmp_path, "u.yaml", PIN + "unfree: [vscode]\n")
    assert errors_of(f) == [f"{f}:4:9: unfree lists packages but allowUnfree is not true: add "
                            "`allowUnfree: true` to allow exactly those"]
    g = write(tmp_path, "v.yaml", PIN + "allowUnfree: true\n")
    p = load_profile(str(g))
    assert p.unfree_policy() == "all" and "allows every unfree package" in p.warnings[0]


def test_native_python_keys_without_a_lock_are_a_warning_not_silence(tmp_path):
    f = write(tmp_path, "n.yaml", PIN + "python:\n  version: \"3.12\"\n  libraries: [zlib]\n")
    p = load_profile(str(f))
    assert p.warnings == ["python.libraries applies to the packages of a lock, and this profile has none: "
                          "ignored (add `python.lock: uv.lock`, or remove it)"]
    g = write(tmp_path, "m.yaml", PIN + "python:\n  version: \"3.12\"\n  libraries: [zlib]\n"
                                        "  build_inputs: [postgresql]\n")
    assert "python.libraries, python.build_inputs apply" in load_profile(str(g)).warnings[0]


# -- finding profiles ------------------------------------------------------------------------

def test_profile_dirs_order(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    (proj / "profiles").mkdir(parents=True)
    (proj / "src" / "deep").mkdir(parents=True)
    extra = tmp_path / "extra"
    monkeypatch.setenv("ONBOARD_PROFILES_DIR", f"{extra}{os.pathsep}{tmp_path / 'missing'}")
    assert profile_dirs(proj / "src" / "deep") == [extra, tmp_path / "missing", proj / "profiles"]
    monkeypatch.delenv("ONBOARD_PROFILES_DIR")
    assert proj / "profiles" not in profile_dirs(tmp_path / "elsewhere")


def test_list_profiles_earlier_dir_wins_and_broken_files_are_listed(tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    d1.mkdir()
    d2.mkdir()
    write(d1, "web.yaml", PIN + "description: first\n")
    write(d2, "web.yaml", PIN + "description: second\n")
    write(d2, "bad.yaml", "a: [\n")
    infos = list_profiles([d1, d2])
    assert [(i.name, i.description) for i in infos] == [("bad", ""), ("web", "first")]
    assert infos[0].problem.startswith(f"{d2}/bad.yaml:2:1: YAML syntax error")
    assert infos[1].shadowed == [str(d2 / "web.yaml")]


def test_not_found_lists_where_and_what(tmp_path):
    write(tmp_path, "python-web.yaml", PIN)
    with pytest.raises(SchemaError) as exc:
        load_profile("pyhton-web", [tmp_path])
    assert str(exc.value) == (f"no profile named `pyhton-web`; did you mean `python-web`? (looked in: "
                              f"{tmp_path}); available: python-web")


# -- shipped profiles ------------------------------------------------------------------------

SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_profile_validates_without_warnings(path):
    profile, problems = check_profile(str(path))
    assert problems == [] and profile is not None
    assert profile.nixpkgs.kind == "github" and len(profile.nixpkgs.rev) == 40


def test_shipped_examples_cover_the_issue():
    names = {p.stem for p in SHIPPED}
    assert {"base", "python-web", "science", "frontend"} <= names
    web = load_profile(str(ROOT / "profiles" / "python-web.yaml"))
    assert "python312" in web.packages and web.python.lock
    assert {"fastapi", "uvicorn", "psycopg-binary"} <= {c.name for c in web.python.selection.chosen}
    # PostgreSQL and Redis are services: their packages join the environment, their ports and
    # DATABASE_URL/REDIS_URL are the services' (exported at entry), not fixed in env
    assert web.services["postgresql"]["package"] == "postgresql_16" and "redis" in web.services
    assert not {"DATABASE_URL", "PGPORT", "REDIS_URL"} & set(web.env)
    from onboard.core.profiles.render import render_profile

    flake = render_profile(web)["flake.nix"]
    assert "postgresql_16" in flake and "redis" in flake
    sci = load_profile(str(ROOT / "profiles" / "science.yaml"))
    assert {"python312Packages.numpy", "python312Packages.scipy"} <= set(sci.packages)
    assert "BLAS" in sci.description and "diamond" in sci.description
    fe = load_profile(str(ROOT / "profiles" / "frontend.yaml"))
    assert {"chromium", "chromedriver"} <= set(fe.packages)
    assert fe.unfree_policy() == "listed" and fe.unfree == ["google-chrome"]


# -- CLI -------------------------------------------------------------------------------------

def test_cli_validate_reports_all_files_and_writes_nothing(tmp_path, isolated_home):
    good = ROOT / "profiles" / "science.yaml"
    bad1 = write(tmp_path, "typo.yaml", "name: typo\npakages:\n  - hello\n")
    bad2 = write(tmp_path, "broken.yaml", "name: broken\nnixpkgs:\n  rev: [unclosed\n")
    before_home, before_tmp = snapshot(isolated_home), snapshot(tmp_path)
    r = run_onboard("profiles", "validate", str(good), str(bad1), str(bad2))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert f"{bad1}:2:1: unknown key `pakages`; did you mean `packages`? (allowed: name, description, " \
           "extends, nixpkgs, packages, python, env, shellHook, scripts, allowUnfree, unfree, editors, " \
           "services, unlisted)" in lines
    assert any(line.startswith(f"{bad2}:4:1: YAML syntax error") for line in lines), lines
    assert "3 profiles checked: 1 ok, 2 with problems" in r.stderr
    assert snapshot(isolated_home) == before_home and snapshot(tmp_path) == before_tmp

    r = run_onboard("profiles", "validate", str(good), "--json")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["files"][0]["profile"] == "science"


def test_cli_validate_strict_makes_warnings_fatal(tmp_path):
    f = write(tmp_path, "w.yaml", PIN + "packages: [cromiun]\n")  # two edits away: only a warning
    assert run_onboard("profiles", "validate", str(f)).returncode == 0
    r = run_onboard("profiles", "validate", "--strict", str(f))
    assert r.returncode == 1 and "did you mean `chromium`?" in r.stdout


def test_cli_list_and_show(tmp_path):
    r = run_onboard("profiles", "list", "--json", cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [p["name"] for p in doc["profiles"]] == sorted(p.stem for p in SHIPPED)
    assert isinstance(doc["generations"], list)
    r = run_onboard("profiles", cwd=str(ROOT))
    assert r.returncode == 0 and "python-web" in r.stdout
    r = run_onboard("profiles", "show", "frontend", cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    assert "unfree:       allowed one by one: google-chrome" in r.stdout
    r = run_onboard("profiles", "schema")
    assert r.returncode == 0 and "narHash: sha256-" in r.stdout and "allowUnfree" in r.stdout
    r = run_onboard("profiles", "show", "fronted", cwd=str(ROOT))
    assert r.returncode == 1 and "did you mean `frontend`?" in r.stderr


def test_loading_a_profile_does_not_import_heavy_modules_until_needed():
    code = ("import sys; import onboard.core.profiles.loader, onboard.core.profiles.model, "
            "onboard.core.profiles.render; print('yaml' in sys.modules, 'rich' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    assert r.stdout.split() == ["False", "False"], r.stderr


# -- what PyYAML and the checks used to say badly ----------------------------------------------

def test_a_key_indented_deeper_than_the_one_above_says_which(tmp_path):
    f = write(tmp_path, "ind.yaml", f"nixpkgs:\n  rev: {REV}\n    narHash: {NAR}\npackages: [hello]\n")
    assert errors_of(f) == [f"{f}:3:5: `narHash` is indented deeper than `rev` (line 2): keys of one mapping "
                            "start in the same column; move `narHash` left to line up with `rev`"]


def test_a_tab_is_said_in_plain_words(tmp_path):
    f = write(tmp_path, "tab.yaml", f"nixpkgs:\n\trev: {REV}\npackages: [hello]\n")
    assert errors_of(f) == [f"{f}:2:1: YAML syntax error: a tab here; indent with spaces, not tabs"]


def test_an_empty_name_says_it_is_empty(tmp_path):
    f = write(tmp_path, "web.yaml", 'name: ""\n' + PIN + "packages: [hello]\n")
    assert errors_of(f) == [f"{f}:1:7: name is empty: write `name: web` (the file name without .yaml)"]


def test_a_40_character_rev_that_is_not_hex_is_not_called_a_branch(tmp_path):
    bad = REV[:-1] + "z"
    f = write(tmp_path, "rev.yaml", f"nixpkgs:\n  rev: {bad}\n  narHash: {NAR}\npackages: [hello]\n")
    [msg] = errors_of(f)
    assert "branch" not in msg
    assert msg == (f"{f}:2:8: nixpkgs.rev: `{bad}` is not a commit id: a commit id is 40 hexadecimal digits "
                   "(0-9, a-f), and `z` (character 40) is not one; copy the commit id again")


def test_extends_with_a_path_suggests_the_name_and_causes_nothing_else(tmp_path):
    write(tmp_path, "base.yaml", PIN + "packages: [jq]\n")
    f = write(tmp_path, "child.yaml", "extends: ./base.yaml\npackages: [hello]\n")
    assert messages(f) == [f"{f}:1:10: extends: `./base.yaml` is a path; give the profile's name: "
                           "`extends: base`"]


def test_allow_unfree_packages_suggests_unfree(tmp_path):
    f = write(tmp_path, "u.yaml", PIN + "allowUnfreePackages: [vscode]\npackages: [hello]\n")
    [msg] = errors_of(f)
    assert msg.startswith(f"{f}:4:1: unknown key `allowUnfreePackages`: did you mean `unfree`?"), msg


def test_each_folder_is_listed_once_in_looked_in(tmp_path, monkeypatch):
    d = tmp_path / "profiles"
    d.mkdir()
    f = write(d, "child.yaml", PIN + "extends: nosuch\npackages: [hello]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONBOARD_PROFILES_DIR", f"{d}{os.pathsep}{tmp_path}/profiles/../profiles")
    [msg] = [m for m in messages(f) if "looked in" in m]
    looked = msg.split("(looked in: ", 1)[1].split(")", 1)[0].split(", ")
    assert len(looked) == len({os.path.realpath(p.split(" (")[0]) for p in looked}), looked


def test_a_package_one_edit_from_a_known_one_fails_and_says_how_to_keep_it(tmp_path):
    f = write(tmp_path, "t.yaml", PIN + "packages: [ripgerp]\n")
    [msg] = errors_of(f)
    assert "did you mean `ripgrep`?" in msg and "`unlisted: [ripgerp]`" in msg
    f = write(tmp_path, "t.yaml", PIN + "unlisted: [ripgerp]\npackages: [ripgerp]\n")
    assert messages(f) == []
