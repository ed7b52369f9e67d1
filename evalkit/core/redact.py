"""Keep secrets out of everything evalkit stores or shows.

An endpoint may echo the credentials it was sent (a 401 body that repeats the Authorization
header). Error texts and answers are redacted before a sample is stored: every value of an
environment variable that the suite names for a key (`api_key_env`, `auth_env`), and anything
shaped like an OpenAI key or a bearer token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_SHAPED = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|(?<=Bearer )[A-Za-z0-9_\-.=+/]{8,}")


class Redactor:
    def __init__(self, secrets: Iterable[str]):
        # longest first, so a key that contains another is replaced whole
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _SHAPED.sub(REDACTED, text)


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
