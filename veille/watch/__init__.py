"""What a company watches (watch.yaml): its schema, X filtered-stream rules, in-process matchers.

watch.yaml declares brands (with aliases and official accounts), competitors, partners,
suppliers, sector items (deliberate broad listening, optionally sampled), topics (keywords,
optionally per language) and the languages of interest. `load_watch` validates it and raises
`WatchConfigError` naming the file and the field.

It compiles two ways, from the same terms:
- `compile_rules` gives tagged X filtered-stream rules for the entries and the sector items
  (`brand:Acme`, `sector:Telecoms`, ...), splitting long OR-lists so that no rule passes X's
  length limit; `rule_scope` says what each reads (X bills every post). Topics give no rule;
- `WatchMatcher` finds, in a post, the entries, sector items and topics it concerns (folded:
  case- and accent-insensitive, on word boundaries), so that posts from any source are tagged
  alike.

The package, by concern: `config` (the schema and its loading), `rules` (the X rule compiler),
`matcher` (the in-process matcher). Import from `veille.watch`.
"""

from veille.watch.config import (
    ALL_LANGUAGES,
    ENTRY_KINDS,
    Handle,
    Lang,
    SectorItem,
    Term,
    Topic,
    WatchConfig,
    WatchConfigError,
    WatchEntry,
    default_watch_path,
    load_watch,
    parse_watch,
)
from veille.watch.matcher import EntryMatch, WatchMatcher
from veille.watch.rules import (
    X_MAX_RULE_LENGTH,
    X_MAX_RULES,
    Rule,
    RuleKind,
    RuleScope,
    compile_rules,
    parse_rule_tag,
    rule_scope,
    rule_tag,
)

__all__ = [
    "ALL_LANGUAGES",
    "ENTRY_KINDS",
    "X_MAX_RULES",
    "X_MAX_RULE_LENGTH",
    "EntryMatch",
    "Handle",
    "Lang",
    "Rule",
    "RuleKind",
    "RuleScope",
    "SectorItem",
    "Term",
    "Topic",
    "WatchConfig",
    "WatchConfigError",
    "WatchEntry",
    "WatchMatcher",
    "compile_rules",
    "default_watch_path",
    "load_watch",
    "parse_rule_tag",
    "parse_watch",
    "rule_scope",
    "rule_tag",
]
