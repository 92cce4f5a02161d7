"""An existing Nix (version, mode, binaries, where it came from) and who owns /nix."""

from __future__ import annotations

import os
import re
import stat

from onboard.core.doctor.model import Check, CheckResult, Inputs, check

SOURCES = {"onboard": "installed by onboard", "distro": "from the distribution's package",
           "official": "from the official installer", "unknown": "origin unknown"}


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@check("nix", "Existing Nix")
def check_nix(c: Check, inp: Inputs) -> CheckResult:
    facts = inp.nix()
    if facts is None:
        return c.result("ok", "no Nix yet: onboard will install it", present=False)
    details = {"present": True, "version": facts.version, "mode": facts.mode, "source": facts.source,
               "binaries": facts.binaries, "store_owner": facts.store_owner,
               "store_group": facts.store_group, "nix_conf": facts.nix_conf}
    names = ", ".join(sorted(facts.binaries)) or "no binaries"
    if not facts.binaries:
        return c.result("warn", f"{inp.nix_root}/store exists but no nix binary was found",
                        "a half-removed install? `onboard install` repairs it, or remove "
                        f"{inp.nix_root} to start clean", **details)
    nix = facts.binaries.get("nix", "")
    if not nix:
        return c.result("warn", f"Nix tools without the `nix` binary ({names})",
                        "install a Nix 2.4 or newer; onboard can install one", **details)
    if not facts.version:
        return c.result("warn", f"{nix} did not answer `nix --version`",
                        f"check {nix} runs; reinstall Nix if it is broken", **details)
    where = f"{SOURCES.get(facts.source, facts.source)}, {facts.mode}-user" if facts.mode != "unknown" \
        else SOURCES.get(facts.source, facts.source)
    text = f"Nix {facts.version} at {nix} ({where})"
    if _version_tuple(facts.version) < (2, 4):
        return c.result("warn", f"{text}: older than 2.4, no flakes or `nix` command",
                        "onboard falls back to shell.nix; upgrade Nix for flakes", **details)
    return c.result("ok", text, **details)


@check("nix-dir", "/nix ownership")
def check_nix_dir(c: Check, inp: Inputs) -> CheckResult:
    import grp
    import pwd

    root = inp.nix_root
    try:
        lst = os.lstat(root)
    except FileNotFoundError:
        return c.result("ok", f"{root} does not exist yet: onboard creates it (root needed once)",
                        exists=False)
    except OSError as exc:
        return c.result("fail", f"cannot inspect {root}: {exc.strerror}",
                        f"check the permissions of {os.path.dirname(root) or '/'}", exists=None)
    details: dict = {"exists": True, "symlink": stat.S_ISLNK(lst.st_mode)}
    try:
        st = os.stat(root)
    except OSError as exc:
        return c.result("fail", f"{root} is a dangling symlink ({exc.strerror})",
                        f"remove {root} or point it at an existing directory", **details)
    if not stat.S_ISDIR(st.st_mode):
        return c.result("fail", f"{root} is not a directory", f"move {root} away", **details)

    def name(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def group(gid: int) -> str:
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)

    me = inp.uid if inp.uid is not None else os.geteuid()
    store = os.path.join(root, "store")
    try:
        sst = os.stat(store)
    except OSError:
        sst = None
    details.update(owner=name(st.st_uid), group=group(st.st_gid), mode=oct(st.st_mode & 0o7777),
                   store_owner=name(sst.st_uid) if sst else "", store_group=group(sst.st_gid) if sst else "",
                   store_mode=oct(sst.st_mode & 0o7777) if sst else "")
    owner_uid = sst.st_uid if sst else st.st_uid
    what = f"{store}" if sst else f"{root} (no store yet)"
    if owner_uid == 0:
        if sst and sst.st_mode & 0o1000 == 0 and sst.st_mode & 0o020:
            return c.result("warn", f"{what} is group-writable without the sticky bit",
                            f"run `sudo chmod 1775 {store}`", **details)
        return c.result("ok", f"{what} owned by root" + (f":{details['store_group']}" if sst else ""),
                        **details)
    if owner_uid == me:
        return c.result("ok", f"{what} owned by you ({name(me)}): single-user layout", **details)
    return c.result("fail", f"{what} is owned by {name(owner_uid)}, not by you or root",
                    f"run onboard as {name(owner_uid)}, or `sudo chown -R {name(me)} {root}` to take "
                    "over a single-user install", **details)
