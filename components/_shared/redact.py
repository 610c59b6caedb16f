"""Keep credentials out of messages and log records: URI user-info and secret env values become ``***``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "***"
# words in an environment variable's name that make its value a secret (as pipelines.config refuses
# them as parameter names)
SECRET_ENV_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "ACCESS_KEY", "CREDENTIAL")
# variables that hold an endpoint, whose user-info (when someone put a password there) is a secret too
ENDPOINT_ENV = ("MINIO_ENDPOINT", "KFP_HOST", "KF_PIPELINES_ENDPOINT")
_NOT_SECRET_SUFFIXES = ("_PATH", "_FILE", "_DIR")  # KF_PIPELINES_SA_TOKEN_PATH names a file, not a token
_MIN_SECRET_LEN = 6  # a shorter value would mask ordinary words ("true", port numbers)
# scheme://user-info@ where user-info runs to the authority's last "@" (a raw "@" in a password)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#]*)@")


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with URI user-info and secret values of ``environ`` (default ``os.environ``) replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    for secret in secret_values(os.environ if environ is None else environ):
        text = text.replace(secret, MASK)
    return text


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The secret strings of ``environ``, longest first: secret-named values and endpoint user-info."""
    found: set[str] = set()
    for name, value in environ.items():
        value = value.strip()
        upper = name.upper()
        if any(w in upper for w in SECRET_ENV_WORDS) and not upper.endswith(_NOT_SECRET_SUFFIXES):
            found.add(value)
        elif name in ENDPOINT_ENV and "@" in value:
            userinfo = value.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[0]
            found.update((userinfo, userinfo.partition(":")[2]))
    return sorted((s for s in found if len(s) >= _MIN_SECRET_LEN), key=len, reverse=True)


def has_userinfo(uri: str) -> bool:
    """True when ``uri`` carries user-info (``scheme://user[:password]@host``)."""
    return bool(_USERINFO.match(uri.strip()))
