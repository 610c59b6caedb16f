"""Keep credentials out of every message: error lines, log lines, tracebacks in a pod's log.

Credentials reach a message by two roads: a URI that carries them (``http://user:pass@minio:9000``,
``s3://user:pass@bucket/key``), echoed back in "cannot reach ..." or "invalid bucket ...", and the value
of a secret environment variable (``MINIO_SECRET_KEY``, ``KFP_TOKEN``...) quoted by a library.
``redact`` replaces the user-info of any ``scheme://user-info@`` with ``***`` and every known secret
value with ``***``. It is applied where messages leave the process: ``YoloKfpError`` redacts its own
message (so the CLI's error line and a component's traceback are clean), and the logging set-up
redacts every formatted record.
"""

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
    """``text`` with URI user-info and the values of secret environment variables replaced by ``***``.

    Args:
        text: a message.
        environ: where secret values are looked up; ``os.environ`` by default.
    """
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    for secret in secret_values(os.environ if environ is None else environ):
        text = text.replace(secret, MASK)
    return text


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The secret strings of ``environ``, longest first: secret-named variables' values and the
    user-info (and its password) of endpoint variables."""
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
