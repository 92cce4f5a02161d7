"""The command-line front end: one module per command (cmd_*.py), all rendering events."""
