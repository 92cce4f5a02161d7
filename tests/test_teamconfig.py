"""The team config (onboard.yaml): found from the current directory upwards, validated like
profiles (every problem at once, file:line:col, did-you-mean), and applied to Choices."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from onboard.core.choices import Choices
from onboard.core.schema import SchemaError
from onboard.core.teamconfig import (apply_to_choices, check_team_config, default_profile, find_team_config,
                                     load_team_config)

ROOT = Path(__file__).resolve().parent.parent
KEY = "cache.example.org-1:" + "A" * 43 + "="  # 32 bytes of base64


def team_repo(tmp_path: Path, text: str, profiles: tuple[str, ...] = ("web", "science")) -> Path:
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".git").mkdir()
    for p in profiles:
        (repo / "profiles" / f"{p}.yaml").write_text(f"name: {p}\n")
    (repo / "onboard.yaml").write_text(textwrap.dedent(text))
    return repo


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SchemaError) as exc:
        load_team_config(path=path)
    return [str(p) for p in exc.value.problems]


VALID = f"""\
    version: 1
    team: Data Platform
    default_profile: web
    nix:
      version: "2.24.9"
      mirror: https://mirror.example.org/nix/
      sha256:
        "2.24.9-x86_64-linux": sha256-PAd55IeNEonPP7sVjsXqm99h37m076xrOwtr7FukzxM=
        2.24.9-aarch64-linux: c57c2830bb407e02dacdf2b63c49cde273f905075b579f6d9a6114c669301f33
      mode: daemon
    binary_cache:
      substituters: [https://cache.example.org]
      trusted_public_keys: ["{KEY}"]
    editors: [vscode, neovim]
    loader: lorri
"""


def test_the_shipped_example_is_valid_and_names_a_real_profile():
    team = load_team_config(path=ROOT / "onboard.yaml")
    assert team is not None and not team.warnings
    assert (Path(team.profiles_dir) / f"{team.default_profile}.yaml").is_file()
    assert team.loader in ("direnv", "lorri", "none")


def test_valid_config_loads_every_field(tmp_path):
    repo = team_repo(tmp_path, VALID)
    team = load_team_config(start=repo / "profiles")  # found upwards from a subdirectory
    assert team is not None
    assert team.path == str(repo / "onboard.yaml")
    assert (team.team, team.default_profile, team.loader) == ("Data Platform", "web", "lorri")
    assert team.profiles_dir == str((repo / "profiles").resolve())
    assert (team.nix_version, team.install_mode) == ("2.24.9", "daemon")
    assert team.nix_mirror == "https://mirror.example.org/nix"  # trailing slash dropped
    # every spelling of a sha256 becomes 64 hex digits
    assert team.nix_sha256 == {
        "2.24.9-x86_64-linux": "3c0779e4878d1289cf3fbb158ec5ea9bdf61dfb9b4efac6b3b0b6bec5ba4cf13",
        "2.24.9-aarch64-linux": "c57c2830bb407e02dacdf2b63c49cde273f905075b579f6d9a6114c669301f33",
    }
    assert team.binary_cache.substituters == ["https://cache.example.org"]
    assert team.binary_cache.trusted_public_keys == [KEY]
    assert team.editors == ["vscode", "neovim"]
    assert team.tarball_url("x86_64-linux") == \
        "https://mirror.example.org/nix/nix-2.24.9/nix-2.24.9-x86_64-linux.tar.xz"
    overlay = team.nix_table_overlay()
    assert overlay["default"] == "2.24.9"
    assert overlay["url_template"].format(version="2.24.9", system="aarch64-linux") == \
        "https://mirror.example.org/nix/nix-2.24.9/nix-2.24.9-aarch64-linux.tar.xz"
    assert overlay["versions"]["2.24.9"]["aarch64-linux"]["sha256"].startswith("c57c28")
    assert overlay["nix_conf"] == {"substituters": ["https://cache.example.org"], "trusted-public-keys": [KEY]}


def test_apply_fills_only_what_is_open(tmp_path, monkeypatch):
    monkeypatch.delenv("ONBOARD_TEAM_PROFILE", raising=False)
    team = load_team_config(path=team_repo(tmp_path, VALID) / "onboard.yaml")
    c = Choices()
    applied = apply_to_choices(team, c, system="x86_64-linux")
    assert c.profile == "web" and c.mode == "daemon" and c.nix_version == "2.24.9"
    assert c.tarball == "https://mirror.example.org/nix/nix-2.24.9/nix-2.24.9-x86_64-linux.tar.xz"
    assert c.sha256 == "3c0779e4878d1289cf3fbb158ec5ea9bdf61dfb9b4efac6b3b0b6bec5ba4cf13"
    assert c.components == ["lorri", "vscode", "neovim"]
    assert set(applied) == {"profile", "mode", "nix_version", "tarball", "sha256", "components"}
    c.validate()

    # what the user chose wins; fields named in keep are never touched
    c2 = Choices(profile="science", tarball="/srv/nix.tar.xz", components=["vim"])
    applied2 = apply_to_choices(team, c2, keep={"mode"}, system="x86_64-linux")
    assert (c2.profile, c2.tarball, c2.components, c2.mode) == ("science", "/srv/nix.tar.xz", ["vim"], "single")
    assert c2.sha256 == "" and applied2 == {}


def test_profile_from_the_environment_wins(tmp_path, monkeypatch):
    team = load_team_config(path=team_repo(tmp_path, VALID) / "onboard.yaml")
    monkeypatch.setenv("ONBOARD_TEAM_PROFILE", "science")
    assert default_profile(team) == "science"
    c = Choices()
    apply_to_choices(None, c)  # no team config at all: the bootstrap's --profile still counts
    assert c.profile == "science"


def test_finding_stops_at_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.delenv("ONBOARD_TEAM_CONFIG", raising=False)
    monkeypatch.delenv("ONBOARD_DEFAULT_TEAM_CONFIG", raising=False)
    (tmp_path / "onboard.yaml").write_text("team: above the repository\n")
    project = tmp_path / "other-repo" / "src"
    project.mkdir(parents=True)
    (tmp_path / "other-repo" / ".git").mkdir()
    assert find_team_config(project) is None
    assert load_team_config(start=project) is None
    # the launcher's fallback is used only when nothing is found
    repo = team_repo(tmp_path, VALID)
    monkeypatch.setenv("ONBOARD_DEFAULT_TEAM_CONFIG", str(repo / "onboard.yaml"))
    assert find_team_config(project) == repo / "onboard.yaml"
    monkeypatch.setenv("ONBOARD_DEFAULT_TEAM_CONFIG", str(tmp_path / "moved-away.yaml"))
    assert find_team_config(project) is None
    # an explicit variable that names nothing is an error, not a silent fallback
    monkeypatch.setenv("ONBOARD_TEAM_CONFIG", str(tmp_path / "typo.yaml"))
    with pytest.raises(SchemaError, match="no such file"):
        find_team_config(project)


def test_unknown_keys_are_fatal_with_did_you_mean_at_their_position(tmp_path):
    repo = team_repo(tmp_path, """\
        team: Data Platform
        default_profil: web
        nix:
          verison: "2.24.9"
        binary_cache:
          substituter: [https://cache.example.org]
        loader: direnv
    """)
    assert problems_of(repo / "onboard.yaml") == [
        f"{repo}/onboard.yaml:2:1: unknown key `default_profil`; did you mean `default_profile`? "
        "(allowed: version, team, default_profile, profiles, nix, binary_cache, editors, loader, python)",
        f"{repo}/onboard.yaml:4:3: unknown key `nix.verison`; did you mean `version`? "
        "(allowed: version, mirror, sha256, mode)",
        f"{repo}/onboard.yaml:6:3: unknown key `binary_cache.substituter`; did you mean `substituters`? "
        "(allowed: substituters, trusted_public_keys)",
    ]


def test_every_problem_at_once_wrong_types_and_bad_values(tmp_path):
    repo = team_repo(tmp_path, """\
        version: 2
        team: 5
        default_profile: wbe
        profiles: profiles
        nix:
          version: latest
          mirror: htps://mirror.example.org/nix
          sha256:
            "2.24.9-x86_64-linx": 3c0779e4878d1289cf3fbb158ec5ea9bdf61dfb9b4efac6b3b0b6bec5ba4cf13
            "2.24.9-aarch64-linux": not-a-hash
          mode: multi
        binary_cache:
          substituters: https://cache.example.org
          trusted_public_keys: [cache.example.org-1:short]
        editors: vim
        loader: lori
    """)
    f = f"{repo}/onboard.yaml"
    got = problems_of(repo / "onboard.yaml")
    assert got == [
        f"{f}:1:10: version: this onboard reads team config version 1, not 2; update onboard or write `version: 1`",
        f"{f}:2:7: team: expected text, got a number (5); quote it if you meant the text: \"5\"",
        f"{f}:3:18: default_profile: no profile `wbe` in {(repo / 'profiles').resolve()}; did you mean `web`?; "
        "available: science, web",
        f"{f}:6:12: nix.version: `latest` is not valid; a Nix release like 2.24.9",
        f"{f}:7:11: nix.mirror: `htps://mirror.example.org/nix`: the scheme must be https://, http://, file://; "
        "did you mean `https://`?",
        f"{f}:9:5: nix.sha256: `2.24.9-x86_64-linx` is not VERSION-SYSTEM, like 2.24.9-x86_64-linux; "
        "did you mean `2.24.9-x86_64-linux`? (systems: x86_64-linux, aarch64-linux, i686-linux, armv7l-linux, "
        "armv6l-linux, riscv64-linux, x86_64-darwin, aarch64-darwin)",
        f"{f}:10:29: nix.sha256.2.24.9-aarch64-linux: `not-a-hash` is not a SHA-256 (64 hex digits, or "
        "sha256-... as Nix prints it)",
        f"{f}:11:9: nix.mode: `multi` is not one of single, daemon (single-user, or multi-user with nix-daemon)",
        f"{f}:13:17: binary_cache.substituters: expected a list, got text; write it as a list: "
        "[https://cache.example.org] or one `- item` per line",
        f"{f}:14:25: binary_cache.trusted_public_keys: `cache.example.org-1:short` is not a Nix public key: "
        "expected NAME:BASE64 of 32 bytes, like cache.example.org-1:AbC...= (as `nix key "
        "convert-secret-to-public` prints it)",
        f"{f}:15:10: editors: expected a list, got text; write it as a list: [vim] or one `- item` per line",
        f"{f}:16:9: loader: `lori` is not one of direnv, lorri, none; did you mean `lorri`? "
        "(how the environment loads when you cd into a project)",
    ]


@pytest.mark.parametrize("mirror, message", [
    ("mirror.example.org/nix", "is not a URL: write it with its scheme, like https://mirror.example.org/nix"),
    ("https:///nix", "has no host name"),
    ("https://mirror.example.org/nix/nix-2.24.9/nix-2.24.9-x86_64-linux.tar.xz",
     "give the mirror's base URL (laid out like https://releases.nixos.org/nix), not one tarball's URL"),
    ("file://relative/path", "a file:// URL needs an absolute path"),
    ("https://mirror.example.org/nix?token=1", "a base URL takes no ?query or #fragment"),
    ("https://mirror example.org", "is not a URL (no spaces allowed)"),
])
def test_bad_mirror_urls(tmp_path, mirror, message):
    repo = team_repo(tmp_path, f"default_profile: web\nnix:\n  mirror: \"{mirror}\"\n")
    got = problems_of(repo / "onboard.yaml")
    assert len(got) == 1 and got[0].startswith(f"{repo}/onboard.yaml:3:11: nix.mirror: ") and message in got[0]


def test_warnings_do_not_stop_loading(tmp_path):
    repo = team_repo(tmp_path, """\
        default_profile: web
        nix:
          version: 2.24
          mirror: http://mirror.internal/nix
        editors: [vim, vim]
    """)
    team, problems = check_team_config(repo / "onboard.yaml")
    assert team is not None and all(p.level == "warning" for p in problems)
    assert [str(p).split(": ", 2)[1] for p in problems] == ["warning", "warning", "warning"]
    assert team.nix_version == "2.24" and team.editors == ["vim"]
    assert team.nix_mirror == "http://mirror.internal/nix"


def test_cache_without_keys_and_a_missing_profiles_dir(tmp_path):
    repo = team_repo(tmp_path, """\
        default_profile: web
        profiles: team-profiles
        binary_cache:
          substituters: [https://cache.example.org, "ftp://cache.example.org"]
    """)
    f = f"{repo}/onboard.yaml"
    assert problems_of(repo / "onboard.yaml") == [
        f"{f}:2:11: profiles: no such directory: {(repo / 'team-profiles').resolve()} (the path is relative "
        f"to {f})",
        f"{f}:4:3: binary_cache: give the cache's `trusted_public_keys` too: Nix ignores what an untrusted "
        "cache offers",
        f"{f}:4:45: binary_cache.substituters: `ftp://cache.example.org`: the scheme must be https://, http://, "
        "s3://, file://, ssh://, ssh-ng://",
    ]


def test_yaml_errors_and_empty_files(tmp_path):
    repo = team_repo(tmp_path, "team: [unclosed\n")
    got = problems_of(repo / "onboard.yaml")
    assert len(got) == 1 and got[0].startswith(f"{repo}/onboard.yaml:2:1: YAML syntax error")
    (repo / "onboard.yaml").write_text("")
    assert problems_of(repo / "onboard.yaml") == [
        f"{repo}/onboard.yaml:1:1: empty team config: expected a mapping with at least `default_profile`"]
    (repo / "onboard.yaml").write_text("- a list\n")
    assert problems_of(repo / "onboard.yaml") == [
        f"{repo}/onboard.yaml:1:1: team config: expected a mapping (key: value lines), got a list"]
    with pytest.raises(SchemaError, match="is a directory"):
        load_team_config(path=repo)


def test_importing_it_costs_nothing():
    code = "import sys, onboard.core.teamconfig; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
