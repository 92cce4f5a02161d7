"""The contract every action kind keeps, checked for every kind in the engine's registry.

- It round-trips through to_dict/from_dict (what the receipt stores is enough to rebuild it).
- Executed by the engine and then reverted from its receipt, it leaves the scratch tree it
  worked on byte for byte as it was. Kinds that need root (users, the group, a real /nix) run
  in a private mount namespace (tests/support/install_ns.py: an empty /nix, a copy of /etc, a
  temporary HOME); the nix-daemon units go to a scratch unit folder.

A kind whose fields are all plain file parameters (path, content, marker, ...) is built
generically. Every other kind needs an entry in EXAMPLES below; a registered kind without
one fails test_every_registered_kind_has_an_example, so no action is added without coverage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from onboard.core import action_kinds
from onboard.core.actions.commands import RunCommand
from onboard.core.actions.files import Symlink
from onboard.core.engine.action import Action, action_from_dict
from onboard.core.engine.kinds import kind_class, registered_kinds
from onboard.core.engine.plan import Plan, apply_plan, revert_receipt
from onboard.core.engine.receipt import load_receipt
from onboard.core.integrations.actions.direnv_allow import DirenvAllow
from onboard.core.integrations.actions.jsonc_edit import JsoncEdit
from onboard.core.integrations.actions.plan_note import PlanNote
from onboard.core.integrations.actions.systemd_user_units import SystemdUserUnits
from onboard.core.nixinstall.actions.build_group import CreateGroup
from onboard.core.nixinstall.actions.build_users import BuildUsers
from onboard.core.nixinstall.actions.daemon_process import DaemonProcess
from onboard.core.nixinstall.actions.fetch_tarball import FetchTarball
from onboard.core.nixinstall.actions.nix_tree import NixTree
from onboard.core.nixinstall.actions.nixpkgs_config import NixpkgsConfig
from onboard.core.nixinstall.actions.systemd_units import SystemdUnits
from tests.conftest import have
from tests.support import tree
from tests.support.standin import BASE, STANDIN

ROOT = Path(__file__).resolve().parent.parent
#: what the engine itself writes (receipts, backups, the lock): not part of the scratch tree
STATE = ".local/state/onboard"

#: fields a generically built kind may have, and the value it gets (None: its default)
GENERIC_FIELDS = {"path": None, "content": "a line onboard adds\n", "marker": "contract", "comment": "#",
                  "position": "append", "mode": None, "owner": "", "group": "", "summary": "",
                  "signature": "", "remove_contents": False}


def onboard_kinds() -> dict[str, type[Action]]:
    """The registry's kinds that onboard defines (tests register fakes of their own)."""
    return {k: c for k, c in registered_kinds().items() if c.__module__.startswith("onboard.")}


def is_generic(cls: type[Action]) -> bool:
    return {f.name for f in dataclasses.fields(cls)} <= set(GENERIC_FIELDS)


def generic_example(cls: type[Action], t: Path) -> list[Action]:
    params = {f.name: GENERIC_FIELDS[f.name] for f in dataclasses.fields(cls)
              if GENERIC_FIELDS[f.name] is not None}
    params["path"] = str(t / "generic" / cls.kind / "item")  # its parent directories are new too
    return [cls(**params)]


# -- examples ------------------------------------------------------------------------------------

@dataclass
class Example:
    """Actions built on a scratch tree `t`; `setup` puts there what must exist before."""

    build: Callable[[Path], list[Action]] = lambda t: []
    setup: Callable[[Path], None] = lambda t: None
    needs: tuple[str, ...] = ()  # commands that must be on PATH
    #: run in a private mount namespace: "plan" (these actions) or "single-user" (the planner's
    #: single-user install of the test release tarball: every kind of a real install)
    namespace: str = ""
    slow: bool = False
    served: dict[str, bytes] = field(default_factory=dict)  # url path -> bytes (a local HTTP server)
    #: environment variables the example runs with (t -> {name: value})
    env: Callable[[Path], dict[str, str]] = lambda t: {}


DAEMON = ("import socket, sys, time\n"
          "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
          "s.bind(sys.argv[1])\n"
          "s.listen()\n"
          "time.sleep(600)\n")
TARBALL_BYTES = b"not really a tarball\n" * 100
JSONC = '{\n  // the user\'s own comment\n  "editor.tabSize": 2,\n  "files.exclude": {}\n}\n'


def _seed(files: dict[str, str]) -> Callable[[Path], None]:
    def setup(t: Path) -> None:
        for rel, text in files.items():
            p = t / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if text.endswith("/"):
                p.mkdir(exist_ok=True)
            else:
                p.write_text(text)
    return setup


def _fake_systemctl(t: Path) -> None:
    bindir = t.parent / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "systemctl").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "systemctl").chmod(0o755)


def _env_step(t: Path) -> Action:
    from onboard.core.profiles.build import location
    from onboard.core.profiles.env_step import BuildProfileEnv

    project = str(t / "project")
    return BuildProfileEnv(profile="base", project=project, directory=location("base", project))


EXAMPLES: dict[str, Example] = {
    "symlink": Example(build=lambda t: [Symlink(path=str(t / "links" / "here"), points_to=str(t / "there"))],
                       setup=_seed({"there": "the link's target\n"})),
    "command": Example(build=lambda t: [RunCommand(argv=["touch", str(t / "made")], undo=["rm", str(t / "made")])],
                       needs=("touch", "rm")),
    "jsonc-edit": Example(build=lambda t: [JsoncEdit(path=str(t / "settings.json"),
                                                     values={"nix.enableLanguageServer": True},
                                                     items={"recommendations": ["jnoortheen.nix-ide"]})],
                          setup=_seed({"settings.json": JSONC})),
    "direnv-allow": Example(build=lambda t: [DirenvAllow(project=str(t / "project"))],
                            setup=_seed({"project/.envrc": "export CONTRACT=1\n"}), needs=("direnv",)),
    "systemd-user-units": Example(
        build=lambda t: [SystemdUserUnits(unit_dir=str(t / "systemd" / "user"),
                                          units={"contract.service": "[Service]\nExecStart=/bin/true\n"},
                                          enable=["contract.service"])],
        setup=_fake_systemctl),
    "note": Example(build=lambda t: [PlanNote(message="nothing changes")]),
    "nix-download": Example(build=lambda t: [FetchTarball(url="{served}/nix/release.tar.xz",
                                                          sha256=hashlib.sha256(TARBALL_BYTES).hexdigest(),
                                                          dest=str(t / "cache" / "nix" / "release.tar.xz"),
                                                          size=len(TARBALL_BYTES))],
                            served={"/nix/release.tar.xz": TARBALL_BYTES}),
    "nix-tree": Example(build=lambda t: [NixTree(root=str(t / "nix"),
                                                 dirs=[str(t / "nix" / "var" / "nix" / "db")],
                                                 home=str(t / "home"), home_items=[".nix-profile"])],
                        setup=_seed({"home/": "/"})),
    "nixpkgs-config": Example(build=lambda t: [NixpkgsConfig(path=str(t / "nixpkgs" / "config.nix"),
                                                             lines=["allowUnfree = true;"])],
                              setup=_seed({"nixpkgs/config.nix": "{\n  # mine\n  allowBroken = false;\n}\n"})),
    "systemd-units": Example(build=lambda t: [SystemdUnits(unit_dir=str(t / "systemd" / "system"),
                                                           profile=str(t / "profile"),
                                                           proxy={"https_proxy": "http://proxy.test:3128"},
                                                           start=False)],
                             # /etc/systemd is always there: the action removes only the unit folder
                             setup=_seed({"profile/": "/", "systemd/": "/"})),
    "daemon-process": Example(build=lambda t: [DaemonProcess(program=sys.executable,
                                                             args=["-c", DAEMON, str(t / "run" / "d.sock"),
                                                                   "onboard-contract-daemon"],
                                                             pidfile=str(t / "run" / "d.pid"),
                                                             socket=str(t / "run" / "d.sock"),
                                                             log=str(t / "log" / "d.log"),
                                                             name="onboard-contract-daemon")],
                              # the daemon's directories belong to the Nix tree, not to it
                              setup=_seed({"run/": "/", "log/": "/"})),
    # a real build of a stand-in profile; Nix's own caches go outside the compared trees
    "profile-env": Example(build=lambda t: [_env_step(t)], setup=_seed({"project/profiles/base.yaml": BASE}),
                           env=lambda t: {"XDG_CACHE_HOME": str(t.parent / "cache"),
                                          "ONBOARD_NIXPKGS_OVERRIDE": str(STANDIN)},
                           needs=("nix",)),
    "group": Example(build=lambda t: [CreateGroup(name="nixbld", gid=30000)],
                     namespace="plan", needs=("unshare", "groupadd"), slow=True),
    "build-users": Example(build=lambda t: [CreateGroup(name="nixbld", gid=30000),
                                            BuildUsers(count=2, first_uid=30001, gid=30000)],
                           namespace="plan", needs=("unshare", "useradd"), slow=True),
}
#: the kinds of a real install, each executed with the test release tarball in one run
for _kind in ("nix-unpack", "nix-store-paths", "nix-load-db", "nix-profile", "nix-conf-block", "nix-self-test"):
    EXAMPLES[_kind] = Example(namespace="single-user", needs=("unshare", "nix", "patchelf", "xz"), slow=True)


def example(kind: str) -> Example:
    cls = kind_class(kind)
    if kind in EXAMPLES:
        return EXAMPLES[kind]
    assert is_generic(cls), f"no example of the action kind {kind!r}: add one to EXAMPLES"
    return Example(build=lambda t: generic_example(cls, t))


# -- the registry --------------------------------------------------------------------------------


def test_every_registered_kind_has_an_example():
    kinds = onboard_kinds()
    assert len(kinds) >= 24
    missing = sorted(k for k, cls in kinds.items() if k not in EXAMPLES and not is_generic(cls))
    assert missing == [], f"action kinds without an example in {__name__}.EXAMPLES: {missing}"
    unknown = sorted(set(EXAMPLES) - set(kinds))
    assert unknown == [], f"examples of kinds nobody registers: {unknown}"


def test_every_module_that_registers_actions_is_in_the_one_list():
    listed = {m.__name__ for m in action_kinds.MODULES}
    defining = set()
    for path in (ROOT / "onboard").rglob("*.py"):
        if "\n@register\n" in path.read_text():
            defining.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert defining - listed == set(), "modules missing from onboard/core/action_kinds.py"
    assert listed - defining == set()


def test_an_unknown_kind_is_a_clear_error():
    from onboard.core.engine.action import ActionError

    with pytest.raises(ActionError, match="unknown action kind 'no-such-kind'") as err:
        action_from_dict({"kind": "no-such-kind", "params": {}})
    assert "another version of onboard" in err.value.hint


def test_a_fresh_process_finds_every_kind_from_a_receipt_alone():
    """Nothing imported but the engine: the loader onboard.core hands it finds the kinds."""
    import subprocess

    code = ("import sys\n"
            "from onboard.core.engine.action import action_from_dict\n"
            "assert 'onboard.core.action_kinds' not in sys.modules\n"
            f"for k in {sorted(onboard_kinds())!r}:\n"
            "    assert action_from_dict({'kind': k, 'params': {}}).kind == k\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.stdout.strip() == "ok", r.stderr


# -- round trip ----------------------------------------------------------------------------------


def round_trip(action: Action) -> None:
    data = action.to_dict()
    again = action_from_dict(json.loads(json.dumps(data)))  # as the receipt stores it
    assert type(again) is type(action)
    assert again == action
    assert again.to_dict() == data
    assert again.id() == action.id()


@pytest.mark.parametrize("kind", sorted(onboard_kinds()))
def test_round_trips_through_its_dict(kind, tmp_path):
    cls = kind_class(kind)
    round_trip(cls())
    for action in example(kind).build(tmp_path):
        round_trip(action)


# -- execute, then revert ------------------------------------------------------------------------


def _skip_unless(ex: Example) -> None:
    missing = [c for c in ex.needs if not have(c)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def _run_local(kind: str, ex: Example, t: Path, home: Path, monkeypatch) -> None:
    t.mkdir()
    ex.setup(t)
    (home / STATE).mkdir(parents=True, exist_ok=True)
    for k, v in ex.env(t).items():
        monkeypatch.setenv(k, v)
    if (t.parent / "bin").is_dir():
        monkeypatch.setenv("PATH", f"{t.parent / 'bin'}{os.pathsep}{os.environ['PATH']}")
    server = None
    if ex.served:
        from tests.support.install_server import TarballServer

        server = TarballServer().__enter__()
        for url_path, data in ex.served.items():
            server.state.files[url_path] = data
    try:
        actions = ex.build(t)
        if server:
            for a in actions:
                if isinstance(a, FetchTarball):
                    a.url = a.url.format(served=server.url("").rstrip("/"))
        assert kind in {a.kind for a in actions}
        before = {"tree": tree.snapshot(t), "home": tree.snapshot(home, ignore=(STATE,))}
        out = apply_plan(Plan("contract", actions))
        assert out.ok, out.errors
        receipt = load_receipt("contract")
        if not kind_class(kind).changes_machine:  # a note: said, never a step of the receipt
            assert receipt is None or not any(e.kind == kind for e in receipt.entries)
        else:
            assert receipt is not None
            assert any(e.kind == kind for e in receipt.entries)
        if receipt is not None:
            reverted = revert_receipt(receipt)
            assert reverted.ok, reverted.errors
        after = {"tree": tree.snapshot(t), "home": tree.snapshot(home, ignore=(STATE,))}
        for where in before:
            assert tree.diff(before[where], after[where]) == [], f"{kind}: {where} changed"
    finally:
        if server:
            server.__exit__(None, None, None)


DRIVER = r"""
import json, os, sys
from onboard.core.engine.action import action_from_dict
from onboard.core.engine.plan import Plan, apply_plan, revert_receipt
from onboard.core.engine.receipt import load_receipt

spec = json.loads(sys.argv[1])
if spec["namespace"] == "single-user":
    from onboard.core.choices import Choices
    from onboard.core.nixinstall.planner import MachineView, plan_nix_install

    plan = plan_nix_install(Choices(mode="single", tarball=spec["tarball"], sha256=spec["sha256"]),
                            view=MachineView(environ={"PATH": os.environ["PATH"]}))
    plan.name = "contract"
else:
    plan = Plan("contract", [action_from_dict(d) for d in spec["actions"]])
for a in plan.actions:
    again = action_from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a and type(again) is type(a), a.kind
out = apply_plan(plan)
result = {"kinds": [a.kind for a in plan.actions], "apply": out.errors}
if out.ok:
    rev = revert_receipt(load_receipt("contract"))
    result["revert"] = rev.errors
print("RESULT=" + json.dumps(result))
"""


def _run_namespace(kind: str, ex: Example, tmp_path: Path) -> None:
    import subprocess

    from tests.support.install_ns import Sandbox

    spec: dict = {"namespace": ex.namespace}
    if ex.namespace == "single-user":
        from tests.support.install_tarball import get_tarball

        tb = get_tarball()
        spec.update(tarball=str(tb.path), sha256=tb.sha256)
    else:
        spec["actions"] = [a.to_dict() for a in ex.build(tmp_path)]
    sb = Sandbox(tmp_path / "sb")
    try:
        (sb.home / STATE).mkdir(parents=True)
        driver = sb.base / "driver.py"
        driver.write_text(DRIVER)
        trees = {"nix": sb.nix, "etc": sb.etc, "home": sb.home}

        def snap() -> dict:
            return {k: tree.snapshot(p, ignore=(STATE,) if k == "home" else ()) for k, p in trees.items()}

        before = snap()
        r = subprocess.run(sb.argv(sys.executable, str(driver), json.dumps(spec)), env=sb.env(),
                           capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                           cwd=str(sb.home))
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT=")]
        assert lines, r.stderr[-3000:]
        result = json.loads(lines[-1][len("RESULT="):])
        wanted = {kind}
        if ex.namespace == "single-user":  # one real install covers every kind mapped to it
            wanted = {k for k, e in EXAMPLES.items() if e.namespace == "single-user"}
        assert wanted <= set(result["kinds"]), result["kinds"]
        assert result["apply"] == [], result
        assert result["revert"] == [], result
        after = snap()
        for where in before:
            assert tree.diff(before[where], after[where]) == [], f"{kind}: {where} changed"
    finally:
        sb.cleanup()


def _params():
    out = []
    for kind in sorted(onboard_kinds()):
        ex = EXAMPLES.get(kind)
        if ex is not None and ex.namespace == "single-user" and kind != "nix-self-test":
            continue  # one real install covers them all (the self-test is its last action)
        marks = [pytest.mark.slow] if ex is not None and ex.slow else []
        out.append(pytest.param(kind, marks=marks, id=kind))
    return out


@pytest.mark.parametrize("kind", _params())
def test_execute_then_revert_leaves_the_tree_as_it_was(kind, tmp_path, isolated_home, monkeypatch):
    ex = example(kind)
    _skip_unless(ex)
    if ex.namespace:
        if os.geteuid() != 0:
            pytest.skip("needs root (a mount namespace)")
        _run_namespace(kind, ex, tmp_path)
    else:
        _run_local(kind, ex, tmp_path / "tree", isolated_home, monkeypatch)
