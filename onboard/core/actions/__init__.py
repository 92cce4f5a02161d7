"""Generic actions: files, directories and links (files), marked blocks in text files
(blocks), commands (commands), and helpers for actions that change users, groups and
processes (system). Actions of a capability live with it (onboard.core.nixinstall.actions,
onboard.core.integrations.actions); onboard.core.action_kinds lists every module.
"""
