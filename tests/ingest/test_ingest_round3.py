"""ingest, hostile inputs round 3 (issue 24): a symlink in a local source that leaves the tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components._shared.errors import DatasetError
from components.ingest.core import IngestConfig, ingest

CFG = IngestConfig(progress=False)


def _voc(root: Path) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "Annotations" / "a.xml").write_text("<annotation><filename>a.jpg</filename></annotation>")
    (root / "JPEGImages" / "a.jpg").write_bytes(b"\xff\xd8\xff")
    return root


def test_ingest_refuses_a_file_symlink_that_leaves_the_source_tree(tmp_path: Path) -> None:
    """It refuses, in one line naming the link, a symlink to a file outside the source folder, instead of
    hard-linking that file (e.g. a private key) into the workspace; nothing is written."""
    src = _voc(tmp_path / "src")
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE")
    (src / "JPEGImages" / "b.jpg").symlink_to(secret)
    with pytest.raises(DatasetError, match=r"JPEGImages/b\.jpg.*outside the source folder") as err:
        ingest(str(src), tmp_path / "out", CFG)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert os.stat(secret).st_nlink == 1


def test_ingest_follows_a_file_symlink_that_stays_inside_the_tree(tmp_path: Path) -> None:
    """It keeps following a link to a file inside the source folder (a copy of the target, as before)."""
    src = _voc(tmp_path / "src")
    (src / "extra").mkdir()
    (src / "extra" / "b.jpg").write_bytes(b"\xff\xd8\xffB")
    (src / "JPEGImages" / "b.jpg").symlink_to(Path("..") / "extra" / "b.jpg")
    ingest(str(src), tmp_path / "out", CFG)
    out = tmp_path / "out" / "JPEGImages" / "b.jpg"
    assert out.read_bytes() == b"\xff\xd8\xffB" and not out.is_symlink()
