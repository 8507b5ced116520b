"""Data scrubbing: secrets and personal data in a report become `[Filtered]` before anything is stored.

Error reports carry what the application had at hand: request bodies with passwords, `Authorization` and
`Cookie` headers, tokens in query strings, card numbers in messages. Sentry's server-side scrubbing (Relay's
default PII rules) removes them before storage; this does the same, so that they reach neither the database,
nor the pages, nor the AI the repair agent hands a bug to (the agent runs the same rules on its prompt).

Two kinds of rule, as in Relay:
- by key: in any JSON object of the report (context, request data, headers, cookies, query strings, user,
  contexts, extra, tags, breadcrumbs' data), the value of a key that contains a sensitive word (`password`,
  `token`, `cookie`, ...) is replaced whole, whatever its type;
- by value: in every string (messages and stack traces included) card numbers that pass the Luhn check, PEM
  private keys, the password of `scheme://user:password@host` URLs, sensitive `name=value` pairs of query
  strings and `Bearer` / `Basic` credentials are replaced; IP addresses too when asked.

Keys in `safe_fields` are never scrubbed (a `token_count` that is just a number, say).

The rules are the server's (`LOGCENTER_SCRUB_*`) combined with the project's own, as Sentry's organisation
and project "Security & Privacy" settings combine: `ScrubRules.with_project` says how.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

FILTERED = "[Filtered]"
MAX_DEPTH = 300  # past the 254 levels a report can be stored with (ingest/sentry/payload.py)
TOO_DEEP = f"[nested deeper than {MAX_DEPTH} levels: dropped]"

# Relay's @password rule plus what Sentry's "Additional Sensitive Fields" users add most: matched as parts
# of the lower-cased key with - and _ removed, so `X-Api-Key`, `api_key` and `apiKey` all match `apikey`.
DEFAULT_FIELDS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "auth",
    "credential",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "creditcard",
    "cardnumber",
    "cvv",
    "cvc",
    "ssn",
)

_MAX_VERDICTS = 10_000  # keys, and short strings, whose answers are remembered
_SHORT = 200
_NUMBER_CHARS = frozenset("0123456789-")
_SCALARS = frozenset({int, float, bool, type(None)})
# ASCII digits: a card number is written in them. Then bounded by neither a digit nor a dash (_card).
_CARD = re.compile(r"[0-9]{4}(?:[ -]?[0-9]){9,15}")
_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
# Objects this close to the top are first tested whole (Scrubber._clean): a subtree with nothing to filter is
# kept as it is instead of walked.
_TESTED_LEVELS = 2
# The body stops at the next BEGIN, so many BEGINs without an END cost one pass, not one pass each.
_PEM = re.compile(
    r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:(?!-----BEGIN).)*?-----END[A-Z ]*PRIVATE KEY-----",
    re.DOTALL | re.IGNORECASE,
)
_URL_AUTH = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)(?P<user>[^:@/\s]*):(?P<password>[^@/\s]+)@", re.I
)
_CREDENTIAL_WORDS = ("bearer", "basic", "token")  # _BEARER's, lower-cased
_BEARER = re.compile(r"\b(?P<kind>Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}(?![:\w])", re.IGNORECASE)
# Keys that hold an IP address in Sentry's interfaces (user.ip_address, request.env.REMOTE_ADDR).
_IP_KEYS = ("ipaddress", "remoteaddr", "xforwardedfor", "xrealip", "clientip")


def _normal(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


# Issuer prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay): with the Luhn check they keep
# millisecond timestamps and other long numbers from being taken for cards.
_ISSUER = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|30[0-5]|36|38|62")


def _card(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    if (start and text[start - 1] in _NUMBER_CHARS) or (end < len(text) and text[end] in _NUMBER_CHARS):
        return match.group()  # part of a longer number
    digits = re.sub(r"\D", "", match.group())
    if 13 <= len(digits) <= 19 and _ISSUER.match(digits) and _luhn(digits):
        return FILTERED
    return match.group()


def _may_hold_card(value: str) -> bool:
    """Whether 13 digits follow each other, spaces and dashes left out: a test in C, at a twentieth of the
    cost of the card regex's scan of a long text."""
    raw = value.encode("utf-8", "surrogatepass").translate(_AS_ZERO, b" -")
    return b"0000000000000" in raw


@dataclass(frozen=True, slots=True)
class Scrubber:
    """The rules of one server (LOGCENTER_SCRUB_*); `scrub` never mutates what it is given."""

    enabled: bool = True
    fields: tuple[str, ...] = DEFAULT_FIELDS
    safe_fields: frozenset[str] = frozenset({"author"})
    ip_addresses: bool = False
    _query: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _verdicts: dict[str, bool] = field(init=False, repr=False, compare=False)
    _texts: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Every `name=value` or `name: value` pair (query strings, form bodies, cookies, code, JSON or YAML
        # text), each name checked as a key is. A match starts only at the start of a name, so the scan stays
        # linear in the text; `:` counts but not `://`; a quoted value runs to its closing quote.
        name = r"(?<![\w.\-\[\]])(?P<name>[\w.\-\[\]]{3,})"
        separator = r"(?P<sep>[\"']?[ \t]*(?:=|:(?!//))[ \t]*(?P<quote>[\"'])?)"
        # A bare value runs to a delimiter, never to a `=` or `:`: so it cannot swallow the next pair
        # (`name:token=abc`), and one pair is one match (re.sub's C loop, no Python loop per pair).
        bare = r"(?:(?:Bearer|Basic|Token)\s+)?[^&;=:\s#\"',}]+=*(?=[&;:\s#\"',}]|$)"
        value = rf"(?P<value>(?(quote)[^\"'\n]*|{bare}))"
        object.__setattr__(self, "_query", re.compile(name + separator + value, re.IGNORECASE))
        object.__setattr__(self, "_verdicts", {})
        object.__setattr__(self, "_texts", {})

    @classmethod
    def from_settings(
        cls, extra: Iterable[str], safe: Iterable[str], ip_addresses: bool, enabled: bool = True
    ) -> Scrubber:
        return cls(
            enabled=enabled,
            fields=DEFAULT_FIELDS + tuple(_normal(f) for f in extra if f.strip()),
            safe_fields=frozenset({"author", *(_normal(f) for f in safe if f.strip())}),
            ip_addresses=ip_addresses,
        )

    def sensitive(self, key: str) -> bool:
        """Whether a key's value is scrubbed; remembered per key (reports repeat the same few keys)."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            name = _normal(key)
            verdict = name not in self.safe_fields and (
                (self.ip_addresses and name in _IP_KEYS) or any(word in name for word in self.fields)
            )
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def _pair(self, match: re.Match[str]) -> str:
        if self.sensitive(match["name"]):
            return f"{match['name']}{match['sep']}{FILTERED}"
        if match["quote"]:  # a quoted value may hold pairs of its own: "https://x/?token=abc"
            return f"{match['name']}{match['sep']}{self._query.sub(self._pair, match['value'])}"
        return match.group()

    def text(self, value: str) -> str:
        """A string with the value rules applied. Short strings repeat from report to report (SDK names,
        versions, integrations, URLs), so their answers are remembered."""
        if len(value) < (7 if self.ip_addresses else 9) or not self.enabled:
            return value  # "a://b:c@d", "token=abc" (or "1.2.3.4"): nothing shorter to scrub
        if len(value) > _SHORT:
            return self._text(value)
        done = self._texts.get(value)
        if done is None:
            done = self._text(value)
            if len(self._texts) >= _MAX_VERDICTS:
                self._texts.clear()
            self._texts[value] = done
        return done

    def _text(self, value: str) -> str:
        # Each rule's regex runs only when a plain substring test (C speed) says it might match.
        low = value.lower()
        if "private key" in low:
            value = _PEM.sub(FILTERED, value)
        if "://" in low and "@" in low:
            value = _URL_AUTH.sub(lambda m: f"{m['scheme']}{m['user']}:{FILTERED}@", value)
        # A pair needs its `=` or `:`, and a sensitive word somewhere.
        if ("=" in low or ":" in low) and self._has_word(low):
            value = self._query.sub(self._pair, value)
        if any(map(low.__contains__, _CREDENTIAL_WORDS)):
            value = _BEARER.sub(lambda m: f"{m['kind']} {FILTERED}", value)
        if _may_hold_card(value):
            value = _CARD.sub(_card, value)
        if self.ip_addresses:
            value = _IPV6.sub(FILTERED, _IPV4.sub(FILTERED, value))
        return value

    def scrub(self, value: Any, depth: int = 0) -> Any:
        """A JSON value (dicts, lists, strings, numbers) with both kinds of rule applied: a copy, or the value
        itself when no rule applies to it. Past MAX_DEPTH levels a value is dropped rather than walked (a
        report may nest thousands of levels)."""
        if not self.enabled:
            return value
        if isinstance(value, str):
            return self.text(value)
        if not isinstance(value, (dict, list)):
            return value
        if depth < _TESTED_LEVELS and self._clean(value):
            return value
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, list):
            # [name, value] pairs: Sentry's form of headers, query strings and cookies.
            if len(value) == 2 and isinstance(value[0], str) and self.sensitive(value[0]):
                return [value[0], FILTERED]
            return [self._item(item, depth) for item in value]
        out = {}
        # Every node of every report passes here: the common cases (a plain key, a string or a number) are
        # decided inline, without a call each.
        verdicts = self._verdicts
        for key, item in value.items():
            if type(key) is str:
                sensitive = verdicts.get(key)
                if sensitive is None:
                    sensitive = self.sensitive(key)
            else:
                sensitive = isinstance(key, str) and self.sensitive(key)
            if sensitive and item is not None and item != "":
                out[key] = FILTERED
            else:
                out[key] = self._item(item, depth)
        return out

    def _clean(self, value: dict[Any, Any] | list[Any]) -> bool:
        """Whether no rule can apply anywhere in `value`, keys included, judged on its JSON text with the
        substring tests `_text` makes: a few microseconds, where walking it costs several times that, and
        most of a report (SDK, runtime, trace) has nothing to filter."""
        if self.ip_addresses:
            return False
        try:
            text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except orjson.JSONEncodeError:  # not JSON, or nested past orjson's limit: walked (MAX_DEPTH)
            return False
        low = text.lower()
        return not (
            self._has_word(low)
            or "private key" in low
            or ("://" in low and "@" in low)
            or any(map(low.__contains__, _CREDENTIAL_WORDS))
            or _may_hold_card(text)
        )

    def _has_word(self, low: str) -> bool:
        """Whether a sensitive word is in this lower-cased text, `-` and `_` left out as keys are compared
        (`_normal`); the words are searched in C (map, not a generator)."""
        return any(map(low.replace("_", "").replace("-", "").__contains__, self.fields))

    def _item(self, item: Any, depth: int) -> Any:
        kind = type(item)
        if kind is str:
            return self.text(item)
        if kind in _SCALARS:
            return item
        return self.scrub(item, depth + 1)


DEFAULT = Scrubber()


@dataclass(frozen=True, slots=True)
class ScrubRules:
    """What is configurable of a Scrubber, as written: the server's settings, or those combined with a
    project's. Hashable, so that projects with the same rules share one Scrubber (and its memory)."""

    enabled: bool = True
    fields: tuple[str, ...] = ()  # sensitive key names added to DEFAULT_FIELDS
    safe_fields: tuple[str, ...] = ()
    ip_addresses: bool = False

    def scrubber(self) -> Scrubber:
        return Scrubber.from_settings(self.fields, self.safe_fields, self.ip_addresses, enabled=self.enabled)

    def with_project(
        self,
        *,
        fields: Iterable[str] = (),
        safe_fields: Iterable[str] = (),
        ip_addresses: bool | None = None,
        enabled: bool | None = None,
        allow_off: bool = False,
    ) -> ScrubRules:
        """These rules with a project's: its sensitive and safe fields are added to the server's, its IP
        choice (None: the server's) replaces the server's. A project may turn scrubbing on; it turns
        scrubbing off only when the server allows that (`allow_off`), else its `False` is ignored."""
        if enabled is None or (enabled is False and self.enabled and not allow_off):
            enabled = self.enabled
        return ScrubRules(
            enabled=enabled,
            fields=_union(self.fields, fields),
            safe_fields=_union(self.safe_fields, safe_fields),
            ip_addresses=self.ip_addresses if ip_addresses is None else ip_addresses,
        )


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    """Both lists in order, stripped, without blanks or repeats (as the rules compare them)."""
    seen: dict[str, str] = {}
    for name in (*first, *second):
        name = name.strip()
        if name and _normal(name) not in seen:
            seen[_normal(name)] = name
    return tuple(seen.values())
