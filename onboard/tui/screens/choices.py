"""Choices: a hub of every answer, each revisited with Enter. It edits exactly the `Choices`
object that `onboard apply --answers FILE` replays."""

from __future__ import annotations

from typing import Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from onboard.core.choices import LOADERS
from onboard.core.integrations.editors import registry as editor_registry
from onboard.core.modes import MODES
from onboard.tui.messages import ProfilesLoaded
from onboard.tui.screens.base import StepScreen
from onboard.tui.screens.checks import MODE_NAMES
from onboard.tui.widgets.bars import KeyBar, TitleBar

HOOKS = (("none", "none: no shell hook"), ("direnv", "direnv: the shell loads as you cd into the project"),
         ("lorri", "lorri: direnv with lorri's background builds"))
EDITORS = tuple((e.id, e.label) for e in editor_registry.EDITORS)
FIELDS = ("mode", "source", "profile", "hook", "editors", "unfree", "project")
LABELS = {"mode": "Install mode", "source": "Nix release", "cache": "Binary cache", "profile": "Profile", "hook": "Shell hook",
          "editors": "Editors", "unfree": "Unfree packages", "project": "Project folder", "demo": "Demo folder"}
#: the Choices fields each row edits: a row the user changes is theirs, no longer the team config's
TEAM_FIELDS = {"mode": ("mode",), "source": ("tarball", "sha256", "nix_version"), "profile": ("profile",),
               "hook": ("components",), "editors": ("components",)}


def split_list(value: str) -> list[str]:
    return [v.strip() for v in value.replace(" ", ",").split(",") if v.strip()]


def check_unfree(value: str) -> str:
    bad = [v for v in split_list(value)
           if not all(ch.isalnum() or ch in "-_." for ch in v) or v[0] in ".-"]
    return f"not a package attribute name: {', '.join(bad)}" if bad else ""


def check_project(value: str) -> str:
    import os

    v = os.path.expanduser(value.strip())
    if not v:
        return ""
    if not os.path.isabs(v):
        return "give an absolute path (or ~/...)"
    if os.path.exists(v) and not os.path.isdir(v):
        return f"{v} is a file, not a folder"
    return ""


PROXY_HELP = ("Set the proxy in the environment and start onboard again, e.g.\n\n"
              "  export HTTPS_PROXY=http://proxy.example:3128\n  onboard\n\n"
              "The checks then test the release host through it, and a daemon-mode install passes it to "
              "nix-daemon (uninstall removes that setting again).")


def source_build_time() -> str:
    """Roughly how long packages take to build from source here (no binary cache)."""
    import os

    cores = os.cpu_count() or 1
    low, high = (1, 4) if cores <= 2 else (1, 2) if cores <= 8 else (0, 1)
    first = "less than an hour" if low == 0 else f"about {low} to {high} hours"
    return (f"{first} on this machine's {cores} core(s) for a first environment (Nix builds its compilers "
            "first), minutes for later changes that reuse them")


def team_caches(team: object, unreachable_host: str) -> list[str]:
    """The binary caches the team config names, other than the one that cannot be reached."""
    cache = getattr(team, "binary_cache", None)
    subs = list(getattr(cache, "substituters", []) or [])
    return [u for u in subs if unreachable_host not in u]


def check_tarball(value: str) -> str:
    import os

    v = os.path.expanduser(value.strip())
    if not v:
        return "give the tarball's path"
    if not os.path.isabs(v):
        return "give an absolute path (or ~/...)"
    if not os.path.isfile(v):
        return f"there is no file {v}"
    return ""


def check_sha256(value: str) -> str:
    v = value.strip().lower()
    if v and (len(v) != 64 or any(ch not in "0123456789abcdef" for ch in v)):
        return "a SHA-256 is 64 hex digits (0-9, a-f)"
    return ""


class ChoicesScreen(StepScreen):
    STEP = "3/6 Choices"
    HELP = ("Every answer for this setup, in one place. Move with the arrows and press Enter to change "
            "one; come back here any time before Apply with Esc. Press n (or the button) to review the "
            "plan: it lists every change before anything runs. These answers are saved after the run "
            "and can be replayed with `onboard apply --answers FILE`.")
    BINDINGS = [
        Binding("enter", "edit", "Change", key_display="Enter"),
        Binding("n", "review", "Review plan"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, focus: str = "") -> None:
        super().__init__()
        self.open_first = focus  # a row to open at once (after a failed download: "source")

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Your choices: Enter changes the highlighted one, n reviews the plan.", classes="lead")
        yield _Hub(id="hub", classes="box")
        yield Static("", id="missing", classes="lead")
        with Horizontal(classes="buttons"):
            yield Button("Review the plan", id="review", variant="primary", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        st = self.app.state
        c = self.app.choices()
        self.app.apply_recommendation()
        self.app.prepare_plan()  # made ahead: the Plan screen then shows it at once
        self.refresh_hub()
        self.query_one("#hub", OptionList).focus()
        if self.open_first:
            self.call_after_refresh(self.edit, self.open_first)
        if st.profiles is None and not c.demo_dir:
            self.run_worker(self._load_profiles, thread=True, exclusive=True, group="profiles",
                            exit_on_error=False)

    # -- profiles, off the loop ----------------------------------------------------------------
    def _load_profiles(self) -> None:
        try:
            profiles = list(self.app.services.list_profiles())
        except Exception as exc:
            self.post_message(ProfilesLoaded([], error=str(exc)))
            return
        self.post_message(ProfilesLoaded(profiles))

    def on_profiles_loaded(self, message: ProfilesLoaded) -> None:
        st = self.app.state
        st.profiles, st.profiles_error = message.profiles, message.error
        self.refresh_hub()

    # -- the hub -------------------------------------------------------------------------------
    def values(self) -> dict[str, str]:
        st = self.app.state
        c = self.app.choices()
        hook = next((h for h in LOADERS if h in c.components), "none")
        editors = [e for e, _ in EDITORS if e in c.components]
        mode = MODE_NAMES.get(c.mode, c.mode)
        if st.recommendation:
            rec = st.recommendation[0]
            mode += " (recommended)" if rec == c.mode else f" (recommended: {MODE_NAMES.get(rec, rec)})"
        profile = c.profile or "none"
        if st.profiles is None and not c.demo_dir:
            profile += " (loading the list...)"
        elif st.profiles_error and not c.profile:
            profile += " (no list: " + st.profiles_error + ")"
        return {
            "mode": mode, "profile": profile, "hook": hook,
            "editors": ", ".join(editors) or "none",
            "unfree": ", ".join(c.allow_unfree) or "none (only free packages)",
            "project": c.project_dir or "none",
            "source": self.source_text(),
            "cache": self.cache_text(),
        }

    def source_text(self) -> str:
        c = self.app.choices()
        if c.mode == "skip":
            return "none (Nix is left as it is)"
        where = c.tarball or "the official release host (releases.nixos.org)"
        if c.tarball and "tarball" in c.team_applied:
            where = "the team mirror: " + c.tarball
        elif c.tarball and not c.tarball.startswith(("http:", "https:")):
            where = "a local file: " + c.tarball
        down = self.app.state.unreachable("net-releases")
        if down and not (c.tarball and not c.tarball.startswith(("http:", "https:"))):
            where += " (UNREACHABLE from here: Enter for what works)"
        return where

    def cache_text(self) -> str:
        """Only when the checks could not reach the binary cache: what happens instead."""
        if not self.app.state.unreachable("net-cache"):
            return ""
        teams = team_caches(self.app.state.team, self.cache_host())
        if teams:
            return f"cache.nixos.org UNREACHABLE; the team's cache {teams[0]} can be used (Enter: how)"
        return "UNREACHABLE: packages build from source, which takes long (Enter: how long, what works)"

    def cache_host(self) -> str:
        c = self.app.state.check("net-cache")
        return str((c.details or {}).get("host", "") if c else "") or "cache.nixos.org"

    def refresh_hub(self) -> None:
        hub = self.query_one("#hub", OptionList)
        keep = hub.highlighted
        values = self.values()
        hub.clear_options()
        c = self.app.choices()
        if c.demo_dir:
            t = Text()
            t.append(f"{LABELS['demo']:<17}", style="bold")
            t.append(f"{c.demo_dir} (DEMO: the plan only touches this folder)")
            hub.add_option(Option(t, id="demo", disabled=True))
        for key in FIELDS + ("cache",):
            if key == "cache" and not values["cache"]:
                continue  # shown only when the cache cannot be reached: then there is a choice
            t = Text()
            t.append(f"{LABELS[key]:<17}", style="bold")
            t.append(values[key])
            hub.add_option(Option(t, id=key))
        first = 1 if c.demo_dir else 0
        hub.highlighted = keep if keep is not None and keep >= first else first
        self.query_one("#missing", Static).update(self.missing())

    def missing(self) -> Text:
        c = self.app.choices()
        notes = []
        if c.demo_dir:
            notes.append("Demo mode: the plan makes harmless changes inside the demo folder only.")
        else:
            if not c.profile:
                notes.append("No profile: the plan sets up Nix and hooks, but there is no shell to enter yet.")
            if ("direnv" in c.components or "lorri" in c.components or
                    any(e in c.components for e, _ in EDITORS)) and not c.project_dir:
                notes.append("Shell hook and editors need a project folder.")
        try:
            c.validate()
        except ValueError as exc:
            notes.append(f"Not valid yet: {exc}")
        return Text("\n".join(notes))

    # -- editing -------------------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.edit(event.option.id or "")

    def action_edit(self) -> None:
        hub = self.query_one("#hub", OptionList)
        if hub.highlighted is not None:
            self.edit(hub.get_option_at_index(hub.highlighted).id or "")

    def edit(self, key: str) -> None:
        from onboard.tui.screens import dialogs as d

        st = self.app.state
        c = self.app.choices()
        if key == "mode":
            rec = st.recommendation[0] if st.recommendation else ""
            opts = [(m, MODE_NAMES[m] + ("  (recommended)" if m == rec else ""))
                    for m in (mode.id for mode in MODES)]
            note = ("single-user: Nix owned by you, no root needed after /nix exists. multi-user: a "
                    "nix-daemon and build users, needs root.")
            if st.recommendation and st.recommendation[1]:
                note += f"\nRecommended because: {st.recommendation[1]}"
            self.app.push_screen(d.PickDialog("Install mode", opts, c.mode, note), self._set_mode)
        elif key == "profile":
            names = [(p.name, f"{p.name}: {p.description}".rstrip(": ")) for p in (st.profiles or [])]
            note = "" if names else ("No team profiles were found" +
                                     (f" ({st.profiles_error})" if st.profiles_error else "") + ".")
            self.app.push_screen(d.PickDialog("Profile", [("", "none")] + names, c.profile, note),
                                 self._set_profile)
        elif key == "hook":
            current = next((h for h in LOADERS if h in c.components), "none")
            self.app.push_screen(d.PickDialog("Shell hook", HOOKS, current,
                                              "Loads the profile's shell as you cd into the project."),
                                 self._set_hook)
        elif key == "editors":
            self.app.push_screen(d.MultiDialog("Editors to configure", EDITORS,
                                               [e for e, _ in EDITORS if e in c.components],
                                               "Each gets the direnv integration for the project."),
                                 self._set_editors)
        elif key == "unfree":
            self.app.push_screen(d.TextDialog(
                "Unfree packages to allow", ", ".join(c.allow_unfree),
                "Allowed one by one, by attribute name (e.g. vscode, google-chrome). Empty: none.",
                "comma-separated names", check_unfree), self._set_unfree)
        elif key == "source":
            self.edit_source()
        elif key == "cache":
            self.edit_cache()
        elif key == "project":
            self.app.push_screen(d.TextDialog(
                "Project folder", c.project_dir,
                "Where the .envrc and editor settings go (absolute path). Empty: none.",
                "/home/you/src/project", check_project), self._set_project)

    def edit_source(self) -> None:
        from onboard.tui.screens import dialogs as d

        st = self.app.state
        team = st.team
        opts = [("official", "the official release host (releases.nixos.org)")]
        mirror = getattr(team, "nix_mirror", "") if team is not None else ""
        if mirror:
            opts.append(("mirror", f"the team mirror ({mirror})"))
        opts += [("file", "a local tarball (a file you copied here), checked by its SHA-256"),
                 ("proxy", "through a proxy (how to set one)"), ("stop", "stop here: quit, nothing changed")]
        down = st.unreachable("net-releases")
        note = (f"The checks could not reach the release host: {down}." if down
                else "Where the Nix release tarball comes from.")
        self.app.push_screen(d.PickDialog("Nix release", opts, "", note), self._set_source)

    def edit_cache(self) -> None:
        from onboard.tui.screens import dialogs as d

        st = self.app.state
        c = self.app.choices()
        down = st.unreachable("net-cache")
        teams = team_caches(st.team, self.cache_host())
        opts = []
        if teams:
            where = ("the plan writes it to nix.conf" if c.mode != "skip" else
                     "with Nix left as it is, add `extra-substituters = " + teams[0] + "` to nix.conf yourself")
            opts.append(("team", f"the team's binary cache {teams[0]} ({where})"))
        opts += [("source", f"build from source: {source_build_time()}"),
                 ("proxy", "through a proxy (how to set one)"), ("stop", "stop here: quit, nothing changed")]
        note = (f"The checks could not reach the binary cache: {down}. Without a cache, Nix builds every "
                "package of the environment from its source code on this machine.")
        self.app.push_screen(d.PickDialog("Binary cache", opts, "team" if teams else "source", note),
                             self._set_cache)

    def _set_cache(self, value: Optional[str]) -> None:
        from onboard.tui.screens import dialogs as d

        if value == "proxy":
            self.app.push_screen(d.TextScreen("Through a proxy", PROXY_HELP))
        elif value == "stop":
            self.app.action_quit_app()
            return
        self._changed()

    def _set_source(self, value: Optional[str]) -> None:
        from onboard.tui.screens import dialogs as d

        c = self.app.choices()
        team = self.app.state.team
        if value == "official":
            c.tarball, c.sha256 = "", ""
            self._mine("source")
        elif value == "mirror" and team is not None:
            from onboard.core.choices import complete

            for f in TEAM_FIELDS["source"]:
                setattr(c, f, "")
                c.team_applied.pop(f, None)
            complete(c, keep={"mode", "profile", "components"}, team=team)
        elif value == "file":
            self.app.push_screen(d.TextDialog("Local Nix tarball", "", "The path of nix-VERSION-SYSTEM.tar.xz "
                                              "(absolute).", "/home/you/nix-2.24.9-x86_64-linux.tar.xz",
                                              check_tarball), self._set_tarball)
            return
        elif value == "proxy":
            self.app.push_screen(d.TextScreen("Through a proxy", PROXY_HELP))
        elif value == "stop":
            self.app.action_quit_app()
            return
        self._changed()

    def _set_tarball(self, value: Optional[str]) -> None:
        if not value:
            return
        import os

        from onboard.tui.screens import dialogs as d

        c = self.app.choices()
        c.tarball = os.path.expanduser(value)
        self._mine("source")
        self.app.push_screen(d.TextDialog("SHA-256 of the tarball", c.sha256, "64 hex digits, from the "
                                          "team or the release page (empty: only for a version onboard "
                                          "knows).", "3c0779e4...", check_sha256), self._set_sha256)

    def _set_sha256(self, value: Optional[str]) -> None:
        if value is not None:
            self.app.choices().sha256 = value.lower()
        self._changed()

    def _mine(self, key: str) -> None:
        """The user changed this row: it is no longer the team config's (as on the command line)."""
        c = self.app.choices()
        for f in TEAM_FIELDS.get(key, ()):
            c.team_applied.pop(f, None)

    def _changed(self) -> None:
        self.refresh_hub()
        self.app.prepare_plan()  # the plan for the new answers, made while the user looks

    def _set_mode(self, value: Optional[str]) -> None:
        if value:
            c = self.app.choices()
            c.mode = value
            self.app.state.mode_chosen = True
            self._mine("mode")
        self._changed()

    def _set_profile(self, value: Optional[str]) -> None:
        if value is not None:
            self.app.choices().profile = value
            self._mine("profile")
        self._changed()

    def _set_hook(self, value: Optional[str]) -> None:
        if value is not None:
            c = self.app.choices()
            c.components = [x for x in c.components if x not in LOADERS]
            if value != "none":
                c.components.insert(0, value)
            self._mine("hook")
        self._changed()

    def _set_editors(self, value: Optional[list[str]]) -> None:
        if value is not None:
            c = self.app.choices()
            hooks = [x for x in c.components if x in LOADERS]
            c.components = hooks + [e for e, _ in EDITORS if e in value]
            self._mine("editors")
        self._changed()

    def _set_unfree(self, value: Optional[str]) -> None:
        if value is not None:
            self.app.choices().allow_unfree = split_list(value)
        self._changed()

    def _set_project(self, value: Optional[str]) -> None:
        if value is not None:
            import os

            self.app.choices().project_dir = os.path.expanduser(value) if value else ""
        self._changed()

    # -- onwards -------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "review":
            self.action_review()

    def action_review(self) -> None:
        c = self.app.choices()
        try:
            c.validate()
        except ValueError as exc:
            self.notify(f"Not valid yet: {exc}", severity="error", timeout=6)
            return
        self.app.show_plan()


class _Hub(OptionList):
    """The answers: Enter changes the highlighted one (and the footer says so)."""

    BINDINGS = [Binding("enter", "screen.edit", "Change", key_display="Enter")]
