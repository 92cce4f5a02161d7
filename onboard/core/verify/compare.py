"""Two records compared: what differs, grouped and ranked from cause to effect (the pin, the
profile, the Python lock, a package's version, a store path, a file in the venv). A different
onboard, Nix or system release is context, and counts only when strict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from onboard.core.verify.nixstore import name_version

#: the groups, in the order they are said (the first is the likeliest cause)
RANKS = ("pin", "system", "profile", "lock", "package", "python package", "store path", "venv file", "context")


@dataclass
class Difference:
    group: str  # one of RANKS
    what: str  # the thing that differs (a package's name, a path)
    here: str  # its value in this record ("" when absent)
    there: str  # its value in the other record ("" when absent)

    def sentence(self) -> str:
        if not self.here:
            return f"{self.what}: only in the other record ({self.there})"
        if not self.there:
            return f"{self.what}: only here ({self.here})"
        return f"{self.what}: {self.here} here, {self.there} there"

    def to_dict(self) -> dict:
        return {"group": self.group, "what": self.what, "here": self.here, "there": self.there}


@dataclass
class Comparison:
    differences: list[Difference] = field(default_factory=list)
    context: list[Difference] = field(default_factory=list)  # said, not counted unless strict
    notes: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.differences

    def groups(self) -> list[tuple[str, list[Difference]]]:
        return [(g, [d for d in self.differences if d.group == g]) for g in RANKS
                if any(d.group == g for d in self.differences)]

    def to_dict(self) -> dict:
        return {"same": self.same, "differences": [d.to_dict() for d in self.differences],
                "context": [d.to_dict() for d in self.context], "notes": self.notes}


def _flat(prefix: str, value: object, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k in sorted(value):
            _flat(f"{prefix}.{k}" if prefix else str(k), value[k], out)
    elif isinstance(value, list):
        out[prefix] = ", ".join(str(v) for v in value)
    else:
        out[prefix] = "" if value is None else str(value)


def _dict_diff(group: str, label: str, a: object, b: object) -> list[Difference]:
    fa: dict[str, str] = {}
    fb: dict[str, str] = {}
    _flat("", a, fa)
    _flat("", b, fb)
    out = []
    for k in sorted(set(fa) | set(fb)):
        va, vb = fa.get(k, ""), fb.get(k, "")
        if va != vb:
            out.append(Difference(group, f"{label} {k}".strip(), va or "(none)", vb or "(none)"))
    return out


def _packages(closure: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in closure:
        name, version = name_version(path)
        out.setdefault(name, set()).add(version)
    return out


def _store(here: dict, there: dict, local: frozenset[str] = frozenset()) -> list[Difference]:
    """`local`: paths either record labels machine-local (their NAR hashes are not compared)."""
    out: list[Difference] = []
    pa, pb = _packages(here), _packages(there)
    moved: set[str] = set()
    for name in sorted(set(pa) | set(pb)):
        va, vb = pa.get(name, set()), pb.get(name, set())
        if va != vb:
            moved.add(name)
            out.append(Difference("package", name, " ".join(sorted(v or "-" for v in va)),
                                  " ".join(sorted(v or "-" for v in vb))))
    for path in sorted(set(here) & set(there)):
        if here[path] != there[path] and path not in local:
            out.append(Difference("store path", path, f"NAR {here[path]}", f"NAR {there[path]}"))
    by_a = {name_version(p): p for p in here if p not in there}
    by_b = {name_version(p): p for p in there if p not in here}
    for nv in sorted(set(by_a) | set(by_b)):
        if nv[0] in moved:
            continue  # said as the package's version
        out.append(Difference("store path", " ".join(x for x in nv if x), by_a.get(nv, ""), by_b.get(nv, "")))
    return out


def _python(here: object, there: object, notes: list[str]) -> list[Difference]:
    a = here if isinstance(here, dict) else {}
    b = there if isinstance(there, dict) else {}
    if not a and not b:
        return []
    if not a or not b:
        return [Difference("lock", "Python lock", str(a.get("lock", "")), str(b.get("lock", "")))]
    out: list[Difference] = []
    if a.get("lock") != b.get("lock"):
        out.append(Difference("lock", "Python lock identity", str(a.get("lock", "")), str(b.get("lock", ""))))
    ka, kb = a.get("packages") or {}, b.get("packages") or {}
    for name in sorted(set(ka) | set(kb)):
        if ka.get(name) != kb.get(name):
            out.append(Difference("python package", name, ka.get(name, ""), kb.get(name, "")))
    if a.get("lock") != b.get("lock"):
        notes.append("the venvs' files are not compared: the locks differ")
        return out
    fa, fb = a.get("files") or {}, b.get("files") or {}
    for rel in sorted(set(fa) | set(fb)):
        if fa.get(rel) != fb.get(rel):
            out.append(Difference("venv file", rel, fa.get(rel, "") and f"sha256 {fa[rel][:16]}",
                                  fb.get(rel, "") and f"sha256 {fb[rel][:16]}"))
    return out


def compare(here: dict, there: dict, strict: bool = False) -> Comparison:
    """What differs between this machine's record and another's (`there`)."""
    c = Comparison()
    pin_a, pin_b = dict(here.get("pin") or {}), dict(there.get("pin") or {})
    c.differences += _dict_diff("pin", "nixpkgs", pin_a, pin_b)
    if here.get("system") != there.get("system"):
        c.differences.append(Difference("system", "system", str(here.get("system", "")), str(there.get("system", ""))))
    pa, pb = dict(here.get("profile") or {}), dict(there.get("profile") or {})
    for doc in (pa, pb):
        if isinstance(doc.get("resolved"), dict):
            doc["resolved"] = {k: v for k, v in doc["resolved"].items() if k != "nixpkgs"}  # said as the pin
    c.differences += _dict_diff("profile", "profile", pa, pb)
    ra, rb = here.get("rendered") or {}, there.get("rendered") or {}
    if ra.get("files") and rb.get("files"):
        c.differences += _dict_diff("profile", "rendered file", ra["files"], rb["files"])
    elif ra.get("digest") != rb.get("digest"):
        c.differences.append(Difference("profile", "rendered files", str(ra.get("digest", ""))[:16],
                                        str(rb.get("digest", ""))[:16]))
    py = _python(here.get("python"), there.get("python"), c.notes)
    if any(d.group == "lock" for d in py):  # what the lock renders is said as the lock
        c.differences = [d for d in c.differences
                         if not d.what.startswith(("rendered file python.nix", "rendered file python/"))]
    c.differences += py
    local = frozenset(p for rec in (here, there) for p in ((rec.get("local") or {}).get("machine_local") or {}))
    c.differences += _store(here.get("closure") or {}, there.get("closure") or {}, local)
    for path in sorted(local):
        a, b = (here.get("closure") or {}).get(path), (there.get("closure") or {}).get(path)
        if a and b and a != b:
            c.notes.append(f"{path}: machine-local (the shell's record of its build, which carries the time "
                           "it was made), so its NAR hash is not compared")
    c.differences.sort(key=lambda d: RANKS.index(d.group))
    c.context = _dict_diff("context", "", here.get("context") or {}, there.get("context") or {})
    if strict:
        c.differences += c.context
        c.context = []
    da = (here.get("shell") or {}).get("drv") or []
    db = (there.get("shell") or {}).get("drv") or []
    if da != db:
        c.notes.append("the dev shell's derivation differs (" + ", ".join(da) + " here, "
                       + ", ".join(db) + " there): a hint, the outputs above are what counts")
    for side, rec in (("this", here), ("the other", there)):
        env = rec.get("environment") or {}
        if env.get("fallback"):
            c.notes.append(f"{side} record is of a last good environment (a rebuild had failed)")
        if env.get("generation"):
            c.notes.append(f"{side} record is of generation {env['generation']} (held)")
    return c
