"""The actions for shell, direnv and editor integration, one module each.

- jsonc_edit.JsoncEdit: set keys / add array items in a JSON-with-comments file (VS Code
  settings), keeping everything else byte for byte and reverting only its own keys.
- generated_file.GeneratedFile: a file onboard writes whole and recognises as its own.
- direnv_allow.DirenvAllow: `direnv allow DIR` with `direnv deny DIR` as undo, leaving no
  directory of direnv's behind that did not exist before (and direnv_allowed: is it allowed).
- systemd_user_units.SystemdUserUnits: user unit files, enabled with `systemctl --user`,
  disabled and removed on revert.
- plan_note.PlanNote: a line in the plan that says something the user should know (a
  fallback, a missing tool). It changes nothing and emits a Notice when checked.

The modules are listed in onboard.core.action_kinds; importing this package imports none of them.
"""
