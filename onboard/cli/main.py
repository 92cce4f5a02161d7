"""`onboard` entry point.

The warm paths (`--version`, `shell` with a fresh cache) return before argparse or
anything heavy is imported; every command module imports its heavy dependencies
inside `run()`.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: importing typing is not free on the warm path
if TYPE_CHECKING:
    import argparse
    from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# command name -> module (each has HELP, register(parser) and run(args, out) -> int)
COMMANDS: dict[str, str] = {
    "doctor": "onboard.cli.cmd_doctor",
    "install": "onboard.cli.cmd_install",
    "plan": "onboard.cli.cmd_plan",
    "apply": "onboard.cli.cmd_apply",
    "uninstall": "onboard.cli.cmd_uninstall",
    "status": "onboard.cli.cmd_status",
    "profiles": "onboard.cli.cmd_profiles",
    "shell": "onboard.cli.cmd_shell",
    "switch": "onboard.cli.cmd_switch",
    "rollback": "onboard.cli.cmd_rollback",
    "gc": "onboard.cli.cmd_gc",
    "envrc": "onboard.cli.cmd_envrc",
    "lock": "onboard.cli.cmd_lock",
    "verify": "onboard.cli.cmd_verify",
    "export": "onboard.cli.cmd_export",
    "import": "onboard.cli.cmd_import",
    "tui": "onboard.cli.cmd_tui",
    "services": "onboard.cli.cmd_services",
}

EPILOG = """\
exit codes:
  0    ok
  1    failed (the message says what, why and what to do; the log file is named)
  2    usage error (unknown command, bad option or value)
  130  interrupted (Ctrl-C); the receipt keeps what was done, run again to finish
       or `onboard uninstall` to undo it

Run `onboard` with no argument on a terminal for the guided setup.
"""


def _global_options(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """The same flags before or after the command. On a command's parser their default is
    SUPPRESS, so `onboard --dry-run apply` keeps the --dry-run given before the command."""
    import argparse

    kw: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    g = parser.add_argument_group("global options")
    g.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout", **kw)
    g.add_argument("--yes", "-y", action="store_true", help="answer yes to every question", **kw)
    g.add_argument("--dry-run", action="store_true", help="show what would change; change nothing", **kw)
    g.add_argument("--verbose", "-v", action="store_true", help="show every log line", **kw)
    g.add_argument("--no-color", action="store_true", help="no colours (also: NO_COLOR=1)", **kw)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. With `only` (a command's name), only that command's module is
    imported: the others are not needed to parse its words, and importing every module
    costs a noticeable share of a short command's run."""
    import argparse
    import importlib

    from onboard import __version__

    parser = argparse.ArgumentParser(
        prog="onboard", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="From a bare machine to your team's pinned Nix dev shell, reversibly.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"onboard {__version__}")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in COMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
        mod.register(p)
        _global_options(p, top=False)
        p.set_defaults(_module=mod, _command=name)
    return parser


def _command_word(args_list: list[str]) -> str | None:
    """The command named on the line (global flags take no values, so it is the first word
    that is not a flag), or None when there is none or it is unknown (then the full parser
    lists the commands)."""
    for word in args_list:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _stdio_is_tty() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list in (["--version"], ["-V"]):
        from onboard import __version__

        sys.stdout.write(f"onboard {__version__}\n")
        return EXIT_OK
    if args_list and args_list[0] == "shell":
        from onboard.cli.fastpath import shell_fast

        rc = shell_fast(args_list[1:])
        if rc is not None:
            return rc
    if args_list and args_list[0] == "verify":  # Nix's checks run while the rest starts up
        from onboard.core.verify.early import start

        start(args_list[1:])
    if _command_word(args_list) == "export":  # an image's closure query runs while the rest starts up
        from onboard.core.container.early import start as start_export

        start_export(args_list[args_list.index("export") + 1:])
    if not args_list and _stdio_is_tty() and not os.environ.get("CI"):
        from onboard.tui.launch import run_tui

        return run_tui()
    parser = build_parser(_command_word(args_list))
    if not args_list:
        parser.print_help()
        return EXIT_OK
    args = parser.parse_args(args_list)
    if not getattr(args, "_module", None):
        parser.print_help()
        return EXIT_USAGE
    # the words after the command as typed (global flags take no values, so the first
    # word equal to the command is it)
    args.words = args_list[args_list.index(args._command) + 1:]
    from onboard.cli.output import Output

    out = Output.from_args(args)
    try:
        return int(args._module.run(args, out) or 0)
    except KeyboardInterrupt:
        out.error("interrupted", "run the command again to finish, or `onboard uninstall` to undo")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head -1`): stop quietly, as other tools do
        return _stdout_closed()
    except Exception as exc:  # a bug: say so, keep the traceback in a log file
        return out.crash(exc)


def entry() -> int:
    try:
        rc = main()
        sys.stdout.flush()  # what is still buffered goes now, where a closed pipe can be handled
        return rc
    except KeyboardInterrupt:
        sys.stderr.write("onboard: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _stdout_closed()
    except SystemExit:  # argparse printed help or a usage error and exits: the same for its output
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_closed()
        raise


def _stdout_closed() -> int:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_FAILED
