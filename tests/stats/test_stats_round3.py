"""A hand-edited dataset.yaml (read by split/stats/train/plan through ``load_dataset``) and images the trainer
would drop or rewrite, found by stats (hostile inputs round 3, issue 24)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image
from test_stats import write_dataset

from components._shared.dataset import load_dataset
from components._shared.errors import DatasetError
from components.stats.core import dataset_stats

REPO = Path(__file__).resolve().parents[2]


def _edit(yaml_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    data.update(changes)
    yaml_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return yaml_path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"names": None}, "'names' must be a list of class names or an id -> name mapping"),
        ({"names": 3}, "'names' must be a list of class names or an id -> name mapping"),
        ({"names": "star"}, "one class per character"),
        ({"names": {0: "a", "1": "b"}}, "keys must be the integers 0..1"),
        ({"names": ["a", None]}, "class 1 is None"),
        ({"names": ["a", "b\nc"]}, "one line"),
        ({"train": ["train.txt", "val.txt"]}, "'train' must be one list file"),
        ({"path": "/etc", "train": "passwd", "val": "passwd"}, "outside the dataset folder"),
        ({"train": "../../../../../../etc/passwd"}, "outside the dataset folder"),
    ],
    ids=["null", "int", "string", "mixed-keys", "null-name", "newline", "train-list", "path-etc", "dotdot"],
)
def test_load_dataset_refuses_a_hand_edited_yaml_in_one_line(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    """It refuses names that are not a list/mapping of one-line names (names: "star" would train s, t, a,
    r), a train list, and any location outside the dataset folder, with one line naming the file."""
    data_yaml = _edit(write_dataset(tmp_path / "ds"), **changes)
    with pytest.raises(DatasetError) as err:
        load_dataset(data_yaml)
    assert message in str(err.value) and str(data_yaml) in str(err.value)
    assert "\n" not in str(err.value)


def test_load_dataset_refuses_a_yaml_alias_bomb_at_once(tmp_path: Path) -> None:
    """It refuses a dataset.yaml built from aliases (billions of names once expanded) in one line,
    before anything walks it."""
    import time

    data_yaml = write_dataset(tmp_path / "ds")
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    bomb += "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    data_yaml.write_text(bomb + "train: train.txt\nval: val.txt\nnames: *i\n", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(DatasetError, match="alias") as err:
        load_dataset(data_yaml)
    assert time.monotonic() - started < 2 and str(data_yaml) in str(err.value)


def test_stats_cli_refuses_a_yaml_pointing_at_etc_without_reading_it(tmp_path: Path) -> None:
    """It exits 2 with one line and writes no report holding /etc/passwd lines."""
    data_yaml = _edit(write_dataset(tmp_path / "ds"), path="/etc", train="passwd", val="passwd")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "stats",
            "--dataset",
            str(data_yaml),
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "root:" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_stats_counts_images_the_trainer_would_drop_or_rewrite(tmp_path: Path) -> None:
    """It reports a 5x5 image and a JPEG without its end marker (truncated or with trailing bytes) as
    problems with their own warning codes."""
    data_yaml = write_dataset(tmp_path / "ds")
    images = tmp_path / "ds" / "images"
    Image.new("RGB", (5, 5)).save(images / "a.png")
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (9, 9, 9)).save(buf, format="JPEG")
    (images / "b.png").write_bytes(buf.getvalue() + b"trailing")  # a JPEG under a .png name, as found
    dataset_stats(data_yaml, tmp_path / "out")
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    assert stats["problems"]["too_small_images"] == ["images/a.png"]
    assert stats["problems"]["jpeg_without_end_marker"] == ["images/b.png"]
    codes = {w["code"] for w in stats["warnings"]}
    assert {"too_small_images", "jpeg_without_end_marker"} <= codes
