"""onboard's terminal UI (Textual). It renders the core's events and asks questions; all work
is done by the core, called from worker threads. Entry point: onboard.tui.launch.run_tui."""
