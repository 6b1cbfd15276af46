"""X's search and filtered-stream query language, as far as the fake needs it: parse, then match.

`parse_query(text)` returns a tree of `Term`, `And`, `Or` and `Not` nodes, or raises `QueryError`;
`node.matches(target)` tells whether a post (`Target.of(...)`, see `Post.target`) matches.

Supported, as X documents them: keywords, `"exact phrases"`, `#hashtag`, `$cashtag`, `@handle`
(the post mentions it), `from:` and `to:` (a username or a user id), `lang:xx`, `sample:N` (kept
when `post id % 100 < N`, so that it is deterministic), `is:retweet|reply|quote`,
`has:hashtags|cashtags|mentions|links|media`; implicit AND by whitespace, `OR` (upper case only),
parentheses, and `-` negating a term, phrase or group. AND binds tighter than OR, as on X
(`a OR b c` is `a OR (b c)`).

Matching is case-insensitive (`str.casefold`) on whole tokens: text is split on anything that is
not a letter, a digit or `_`, as X tokenizes on punctuation, and a keyword or phrase matches its
tokens in sequence (`orbital` matches "Orbital's" and "#Orbital", not "@orbital_care" nor
"Orbitals"). Accents are not folded: X does not promise it either. Hashtags, cashtags and
mentions come from the post's `entities` and from its text.

Refused, as X refuses them: unbalanced parentheses or quotes, OR with nothing on one side, empty
groups or phrases, a term with nothing to match (`-`), a query without a positive term that can
stand alone (only negations, or only `lang:`, `sample:`, `is:`, `has:`, which X accepts only in
conjunction with another term); also, unlike X, the operators the fake does not implement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"\w+")
_LEXEME = re.compile(
    r'\s*(?:(?P<neg>-)?(?:(?P<open>\()|"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))|(?P<close>\)))'
)
_QUOTE = '"'
_OPERATOR = re.compile(r"(?P<name>[a-z_]+):(?P<value>.+)")
_TAGS = {"#": "hashtags", "$": "cashtags", "@": "mentions"}
_FACETS = {
    "is": frozenset({"retweet", "reply", "quote"}),
    "has": frozenset({"hashtags", "cashtags", "mentions", "links", "media"}),
}
_CONJUNCTION_REQUIRED = frozenset({"lang", "sample", "is", "has"})


class QueryError(ValueError):
    """The query does not parse; the message says why and where, as X's 400 does."""


@dataclass(frozen=True)
class Target:
    """What a query matches a post against, all case-folded."""

    id: int
    tokens: tuple[str, ...]
    tags: Mapping[str, frozenset[str]]
    """`#`, `$` and `@`: the post's hashtags, cashtags and mentioned usernames."""
    author: frozenset[str]
    reply_to: frozenset[str]
    lang: str
    facets: frozenset[str]
    """`is:reply`, `has:links`, ...: what the `is:` and `has:` operators find."""

    @classmethod
    def of(cls, post_id: int, data: Mapping[str, Any], includes: Mapping[str, Any]) -> Target:
        """The target of an X post (`data`), its users found in `includes.users`."""
        text = str((data.get("note_tweet") or {}).get("text") or data.get("text", "")).casefold()
        entities = data.get("entities") or {}
        names = {u["id"]: str(u.get("username", "")).casefold() for u in includes.get("users", [])}

        def tagged(sign: str, kind: str, key: str) -> frozenset[str]:
            found = re.findall(rf"(?<!\w){re.escape(sign)}(\w+)", text)
            return frozenset(found) | {str(e[key]).casefold() for e in entities.get(kind, [])}

        def user(user_id: Any) -> frozenset[str]:
            """The user's id and, when `includes` has it, username."""
            if user_id is None:
                return frozenset()
            return frozenset({str(user_id), names.get(user_id, str(user_id))})

        tags = {
            "#": tagged("#", "hashtags", "tag"),
            "$": tagged("$", "cashtags", "tag"),
            "@": tagged("@", "mentions", "username"),
        }
        refs = {r.get("type") for r in data.get("referenced_tweets", [])}
        facets = {
            "is:retweet": "retweeted" in refs,
            "is:quote": "quoted" in refs,
            "is:reply": "replied_to" in refs or "in_reply_to_user_id" in data,
            "has:links": bool(entities.get("urls")) or "http://" in text or "https://" in text,
            "has:media": bool((data.get("attachments") or {}).get("media_keys")),
        } | {f"has:{_TAGS[sign]}": bool(found) for sign, found in tags.items()}
        return cls(
            id=post_id,
            tokens=tuple(_WORD.findall(text)),
            tags=tags,
            author=user(data.get("author_id")),
            reply_to=user(data.get("in_reply_to_user_id")),
            lang=str(data.get("lang", "")).casefold(),
            facets=frozenset(name for name, present in facets.items() if present),
        )


@dataclass(frozen=True)
class Term:
    """One operand: `op` is `word` (a keyword or phrase: its tokens), `#`, `$`, `@` or an
    operator name (`from`, `lang`, ...)."""

    op: str
    value: str | tuple[str, ...]

    @property
    def standalone(self) -> bool:
        return self.op not in _CONJUNCTION_REQUIRED

    def matches(self, t: Target) -> bool:
        if isinstance(self.value, tuple):
            return _contains(t.tokens, self.value)
        match self.op:
            case "#" | "$" | "@":
                return self.value in t.tags[self.op]
            case "from":
                return self.value in t.author
            case "to":
                return self.value in t.reply_to
            case "lang":
                return self.value == t.lang
            case "sample":
                return t.id % 100 < int(self.value)
            case _:  # is:, has:
                return f"{self.op}:{self.value}" in t.facets


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]

    @property
    def standalone(self) -> bool:
        return any(p.standalone for p in self.parts)

    def matches(self, t: Target) -> bool:
        return all(p.matches(t) for p in self.parts)


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]

    @property
    def standalone(self) -> bool:
        return all(p.standalone for p in self.parts)

    def matches(self, t: Target) -> bool:
        return any(p.matches(t) for p in self.parts)


@dataclass(frozen=True)
class Not:
    part: Node
    standalone = False

    def matches(self, t: Target) -> bool:
        return not self.part.matches(t)


Node = Term | And | Or | Not


def parse_query(text: str) -> Node:
    """The query's tree; QueryError when X would refuse it (see the module docstring)."""
    node = _Parser(_lex(text)).parse()
    if not node.standalone:
        raise QueryError(
            "the query needs at least one positive term that can stand alone "
            "(not only negations, nor only lang:, sample:, is:, has:)"
        )
    return node


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "(", ")", "OR", "phrase", "word"
    text: str
    negated: bool
    at: int


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    pos = 0
    while text[pos:].strip():
        m = _LEXEME.match(text, pos)
        if m is None:  # only an unclosed quote stops the lexer
            raise QueryError(f"unbalanced quote at position {text.index(_QUOTE, pos)}")
        negated, at = m["neg"] is not None, pos + len(m[0]) - len(m[0].lstrip())
        if m["open"] is not None:
            out.append(_Lexeme("(", "(", negated, at))
        elif m["close"] is not None:
            out.append(_Lexeme(")", ")", False, at))
        elif m["phrase"] is not None:
            out.append(_Lexeme("phrase", m["phrase"], negated, at))
        elif m["word"] == "OR" and not negated:
            out.append(_Lexeme("OR", "OR", False, at))
        else:
            out.append(_Lexeme("word", m["word"], negated, at))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary+; unary := -? (group | term)."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self.lexemes = lexemes
        self.i = 0

    def parse(self) -> Node:
        node = self._or()
        if self.i < len(self.lexemes):  # only a ')' stops the top level early
            raise QueryError(f"unbalanced parentheses: ')' at position {self.lexemes[self.i].at}")
        return node

    def _peek(self) -> _Lexeme | None:
        return self.lexemes[self.i] if self.i < len(self.lexemes) else None

    def _or(self) -> Node:
        parts = [self._and()]
        while (lexeme := self._peek()) is not None and lexeme.kind == "OR":
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Node:
        parts: list[Node] = []
        while (lexeme := self._peek()) is not None and lexeme.kind not in ("OR", ")"):
            parts.append(self._unary())
        if not parts:
            where = f"'{lexeme.text}' at position {lexeme.at}" if lexeme else "the end"
            raise QueryError(f"a clause is missing before {where}")
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _unary(self) -> Node:
        lexeme = self.lexemes[self.i]
        self.i += 1
        if lexeme.kind == "(":
            node = self._or()
            close = self._peek()
            if close is None or close.kind != ")":
                raise QueryError(f"unbalanced parentheses: '(' at position {lexeme.at}")
            self.i += 1
        elif lexeme.kind == "phrase":
            node = _keyword(lexeme)
        else:
            node = _operand(lexeme)
        return Not(node) if lexeme.negated else node


def _operand(lexeme: _Lexeme) -> Term:
    word = lexeme.text
    if word[0] in _TAGS and _WORD.fullmatch(word[1:]):
        return Term(word[0], word[1:].casefold())
    m = _OPERATOR.fullmatch(word)
    if m is None:
        return _keyword(lexeme)
    name, value = m["name"], m["value"].casefold()
    if name in ("from", "to"):
        return Term(name, value.removeprefix("@"))
    if name == "lang":
        return Term(name, value)
    if name == "sample" and value.isdigit() and 1 <= int(value) <= 100:
        return Term(name, value)
    if value in _FACETS.get(name, ()):
        return Term(name, value)
    raise QueryError(f"operator '{word}' at position {lexeme.at} is invalid or not in fakex")


def _keyword(lexeme: _Lexeme) -> Term:
    tokens = tuple(_WORD.findall(lexeme.text.casefold()))
    if not tokens:
        raise QueryError(f"nothing to match in '{lexeme.text}' at position {lexeme.at}")
    return Term("word", tokens)


def _contains(tokens: tuple[str, ...], run: tuple[str, ...]) -> bool:
    """Whether `run` occurs in `tokens` as consecutive tokens."""
    n = len(run)
    return any(tokens[i : i + n] == run for i, t in enumerate(tokens) if t == run[0])
