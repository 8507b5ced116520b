"""Masking of secrets in report text before it leaves the machine (in a prompt, a PR or a report).

Error reports carry whatever the application had at hand: connection strings with passwords, bearer tokens,
cookies, API keys, card numbers. The fixer needs none of them to fix the bug, and the AI vendor must not get
them, so they are replaced by `[MASKED]` (keys kept, so the model still sees which value was involved).

Then the server's scrubbing rules run again, with the project's own fields (`project_rules`, from the
project's `scrubbing.effective` in the API): they ran at ingest, but a report stored before a rule existed
gets it here. A project's safe fields are exempt from the key rules on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from logcenter.projects.schemas import ProjectRead
from logcenter.scrub import DEFAULT as SERVER_RULES
from logcenter.scrub import Scrubber, ScrubRules

MASK = "[MASKED]"

# Names whose values are secrets, in JSON keys, query strings, headers and `key=value` text.
SECRET_KEY = (
    r"(?:passw(?:or)?d|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"auth(?:orization)?|cookie|set-cookie|session(?:[_-]?id)?|credentials?|client[_-]?secret|dsn)"
)
_SECRET_KEY_NAME = re.compile(rf"^[\w.-]*{SECRET_KEY}[\w.-]*$", re.IGNORECASE)

# Every quantifier is bounded and every pattern anchored on a literal or a bounded run, so that masking stays
# linear in the length of hostile text (a report is attacker-controlled: no regex may backtrack on it).
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # user:password@ in URLs
    (re.compile(r"(?<=://)([^/\s:@]{1,200}):([^/\s@]{1,500})@"), rf"\1:{MASK}@"),
    # Authorization: Bearer xyz / Basic xyz / token xyz
    (re.compile(r"(?i)\b(bearer|basic|token)\s{1,10}[A-Za-z0-9._~+/=\-]{8,4096}"), rf"\1 {MASK}"),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{5,4096}"), MASK),
    # Vendor tokens: GitHub, GitLab, Slack, AWS access key ids, OpenAI / Anthropic style keys, Google API keys
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})"), MASK),
    (re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,255}"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,255}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_\-]{20,255}"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), MASK),
]

# key=value, key: value, "key": "value": a bounded key run right before the separator, checked for a secret
# name by a function (one alternation inside an unbounded run would backtrack quadratically).
_PAIR = re.compile(
    r"(?<![\w.-])([\"']?)([\w.-]{1,64})([\"']?[ \t]{0,5}[:=][ \t]{0,5})"
    r"(\"[^\"\n]{0,4096}\"|'[^'\n]{0,4096}'|[^\s,;&\"')}\]]{1,4096})"
)
_SECRET_IN_KEY = re.compile(SECRET_KEY, re.IGNORECASE)


def _normal(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "")


def project_rules(project: ProjectRead) -> Scrubber:
    """The server's scrubbing rules as they apply to this project's reports, always on: a project that
    keeps its reports unscrubbed (where the server allows it) still sends the AI vendor no secrets."""
    effective = project.scrubbing.effective
    return ScrubRules(
        enabled=True,
        fields=tuple(effective.sensitive_fields),
        safe_fields=tuple(effective.safe_fields),
        ip_addresses=effective.scrub_ip_addresses,
    ).scrubber()


_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]{0,40}PRIVATE KEY-----")


def _mask_pem(value: str) -> str:
    """PEM private key blocks, up to their END line or the end of the text (one pass)."""
    parts, pos = [], 0
    while (begin := _PEM_BEGIN.search(value, pos)) is not None:
        end = _PEM_END.search(value, begin.end())
        parts += [value[pos : begin.start()], MASK]
        if end is None:
            return "".join(parts)
        pos = end.end()
    return "".join(parts) + value[pos:] if parts else value


_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return MASK
    return match.group(0)


class Masker:
    """Masks the built-in secret patterns plus any configured regexes (`LOGCENTER_AGENT_MASK_PATTERNS`) and
    the exact values of the agent's own secrets."""

    def __init__(
        self,
        extra_patterns: Iterable[str] = (),
        known_secrets: Iterable[str] = (),
        rules: Scrubber = SERVER_RULES,
    ) -> None:
        self._extra = list(extra_patterns)
        self._patterns = list(_PATTERNS)
        self._patterns += [(re.compile(p), MASK) for p in self._extra]
        self._known = sorted({s for s in known_secrets if len(s) >= 4}, key=len, reverse=True)
        self._rules = rules

    def with_rules(self, rules: Scrubber) -> Masker:
        """The same masking, then these scrubbing rules (a project's: `project_rules`) instead of the
        server's defaults."""
        return Masker(self._extra, self._known, rules)

    def _safe(self, key: str) -> bool:
        return _normal(key) in self._rules.safe_fields

    def _mask_pair(self, match: re.Match[str]) -> str:
        key = match.group(2)
        if not _SECRET_IN_KEY.search(key) or match.group(4).strip("\"'") == MASK or self._safe(key):
            return match.group(0)
        return f"{match.group(1)}{key}{match.group(3)}{MASK}"

    def text(self, value: str) -> str:
        for secret in self._known:
            value = value.replace(secret, MASK)
        value = _mask_pem(value)
        for pattern, replacement in self._patterns:
            value = pattern.sub(replacement, value)
        value = _PAIR.sub(self._mask_pair, value)
        # Then the server's scrubbing rules (logcenter/scrub.py) again: they ran at ingest, but a report
        # stored before they existed, or with them off, gets them here.
        return self._rules.text(_CARD.sub(_mask_card, value))

    def data(self, value: Any) -> Any:
        """A JSON value with secret-named keys' values masked (the agent's key rules, then the server's) and
        every string masked."""
        return self._rules.scrub(self._data(value))

    def _data(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    MASK
                    if isinstance(k, str)
                    and _SECRET_KEY_NAME.match(k)
                    and v not in (None, "")
                    and not self._safe(k)
                    else self._data(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value
