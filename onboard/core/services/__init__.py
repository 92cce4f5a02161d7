"""Services of a profile (PostgreSQL, Redis, a command of your own), owned by a small
per-project supervisor that onboard starts itself. The design is in docs/services.md.

- registry.py   the service kinds (the one list: the schema, the plan, the CLI and the TUI read it)
- schema.py     `services:` of a profile, checked with positions
- model.py      a profile's services as data, in start order
- state.py      where a project's services keep their state, data, logs and sockets
- ports.py      free loopback ports, and who holds a port
- envfile.py    the variables the shell gets at entry (warm path: os only)
- kinds/        what is particular to each kind: its command, its readiness probe, its variables
- supervisor.py the supervisor process: starts, watches and stops the services
- control.py    up, down, status, logs, restart, reset: what the front ends call
"""
