"""Keep secrets out of everything evalkit stores or shows.

An endpoint may echo the credentials it was sent (a 401 body that repeats the Authorization
header, an answer that quotes it). Every string of a sample is redacted before it is stored or
cached: every value of an environment variable that the suite names for a key (`api_key_env`,
`auth_env`), any piece of such a value of FRAGMENT characters or more (a message cut short may end
inside the key), and anything shaped like an OpenAI key or a bearer token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)

REDACTED = "[redacted]"
FRAGMENT = 12  # a piece of a secret this long is redacted too
_SHAPED = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|(?<=Bearer )[A-Za-z0-9_\-.=+/]{8,}")


class Redactor:
    def __init__(self, secrets: Iterable[str]):
        # longest first, so a key that contains another is replaced whole
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        # what a text must contain for any of them to be in it: each secret's pieces of FRAGMENT characters
        self._pieces = {s[i:i + FRAGMENT] for s in self._secrets for i in range(max(1, len(s) - FRAGMENT + 1))}
        # a secret JSON writes escaped would not be found in JSON text by its pieces: check such ones the slow way
        self._escaped = any(c in s for s in self._secrets for c in '"\\') or any(not s.isprintable()
                                                                              for s in self._secrets)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for secret in self._secrets:
            text = _fragments(text, secret)
        return _SHAPED.sub(REDACTED, text)

    def needed(self, json_text: str) -> bool:
        """Whether anything in this JSON text could be redacted: a cheap look (C-level searches)
        before the walk of every string, which most samples do not need."""
        return self._escaped or bool(_SHAPED.search(json_text)) or any(p in json_text for p in self._pieces)

    def record(self, record: T) -> T:
        """A pydantic record with every string redacted; the record itself when nothing is to redact."""
        if not self.needed(record.model_dump_json()):
            return record
        return type(record).model_validate(self.deep(record.model_dump(mode="json")))

    def deep(self, value: Any) -> Any:
        """Every string in a JSON-like value, redacted (dict keys too)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return value


def _fragments(text: str, secret: str) -> str:
    """The text with every run of FRAGMENT or more characters that also stands in the secret replaced."""
    if len(secret) < FRAGMENT:
        return text
    start = 0
    while start <= len(secret) - FRAGMENT:
        piece = secret[start:start + FRAGMENT]
        at = text.find(piece)
        if at < 0:
            start += 1
            continue
        length = FRAGMENT  # grow the match as far as text and secret agree
        while (start + length < len(secret) and at + length < len(text)
               and text[at + length] == secret[start + length]):
            length += 1
        text = text[:at] + REDACTED + text[at + length:]
    return text


def named_secrets(configs: Iterable[Any]) -> set[str]:
    """The values of the environment variables named by `*_env` keys anywhere in these configs."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, str(name))
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and key.endswith("_env") and os.environ.get(value):
            found.add(os.environ[value])

    for config in configs:
        walk(config.model_dump(mode="json") if hasattr(config, "model_dump") else config)
    return found
