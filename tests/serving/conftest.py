"""Fixtures: a moto S3 server on loopback and MINIO_* pointing at it (see tests/storage/moto_s3.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))

from moto_s3 import bucket, moto_endpoint, s3, s3_env  # noqa: E402, F401
