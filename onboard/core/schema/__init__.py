"""The schema layer every YAML file onboard reads is checked with: profiles and the team config.

- source: YAML parsed with the file, line and column of every node (`parse_yaml`,
  `read_yaml`), and `Problem`, one thing wrong at a place in a file;
- checker: `Checker`, typed getters that record problems instead of raising, and
  `SchemaError`, every problem at once when a file cannot be used;
- suggest: did-you-mean for unknown keys and names.

Importing this package does not import yaml: only parsing a file does.
"""

from onboard.core.schema.checker import Checker, SchemaError, Where
from onboard.core.schema.source import (ALIAS_BUDGET, MAX_BYTES, Mark, ParseResult, Problem, YNode, YPair,
                                        parse_yaml, read_yaml, type_name)
from onboard.core.schema.suggest import did_you_mean, suffix

__all__ = ["Checker", "SchemaError", "Where", "Problem", "Mark", "YNode", "YPair", "ParseResult",
           "parse_yaml", "read_yaml", "type_name", "MAX_BYTES", "ALIAS_BUDGET", "did_you_mean", "suffix"]
