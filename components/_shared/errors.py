"""The error types every stage raises. The CLI alone catches them: one line on stderr, exit code 2."""

from components._shared.redact import redact


class YoloKfpError(Exception):
    """Base error: its message is one line that names the bad value, the file and the fix.

    URI user-info and secret environment values become ``***`` when the error is made (``redact``).
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class DatasetError(YoloKfpError):
    """The input data is unusable (nothing to convert, malformed dataset YAML, unknown class with --strict)."""


class StorageError(YoloKfpError):
    """An object store or file system operation failed after retries."""


class ConfigError(YoloKfpError):
    """A parameter is out of range or names something that does not exist."""


class GateFailed(YoloKfpError):
    """The quality gate refused a model (raised only where failing the gate must stop the run)."""
