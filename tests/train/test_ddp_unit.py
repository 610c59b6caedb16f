"""The torchrun world as the train stage reads it, and what ranks other than 0 may (not) do; no training."""

from __future__ import annotations

from pathlib import Path

import pytest

from components._shared.errors import ConfigError
from components._yolo.ddp import World, device_index, run_on_main, share_files, world_from_env
from components.train.checkpoints import CheckpointSync
from components.train.core import TrainConfig, _check_world, _rank_proof


def test_world_is_a_single_process_without_torchrun() -> None:
    """It is World() when WORLD_SIZE is unset or 1, whatever else is set."""
    assert world_from_env({}) == World()
    assert world_from_env({"WORLD_SIZE": "1", "RANK": "0"}) == World()
    assert not World().distributed and World().is_main


def test_world_reads_torchrun_variables() -> None:
    """It takes the global and local ranks and sizes from torchrun's environment."""
    env = {"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"}
    world = world_from_env(env)
    assert world == World(size=8, rank=5, local_rank=1, local_size=4)
    assert world.distributed and not world.is_main


@pytest.mark.parametrize(
    "env",
    [
        {"WORLD_SIZE": "two"},
        {"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"},
        {"WORLD_SIZE": "2"},
    ],
)
def test_world_refuses_broken_torchrun_variables(env: dict[str, str]) -> None:
    """It raises a one-line ConfigError for a non-number or a rank outside the world."""
    with pytest.raises(ConfigError, match="torchrun"):
        world_from_env(env)


def test_device_index_gives_each_local_rank_its_gpu() -> None:
    """It maps local rank i to the i-th listed GPU, None on the CPU, and refuses too few GPUs or mps."""
    assert device_index("cpu", 3) is None
    assert device_index("0,1,2,3", 2) == 2
    assert device_index("cuda:4,5", 1) == 5
    with pytest.raises(ConfigError, match="local rank 1"):
        device_index("0", 1)
    with pytest.raises(ConfigError, match="mps"):
        device_index("mps", 0)


def test_batch_must_split_evenly_over_the_world() -> None:
    """It refuses a global batch that is not a positive multiple of the world size (or -1, automatic)."""
    world = World(size=4, rank=0, local_rank=0, local_size=2)
    _check_world(TrainConfig(batch=16), world)
    _check_world(TrainConfig(batch=-1), World())  # a single process keeps -1
    for batch in (-1, 2, 6):
        with pytest.raises(ConfigError, match="multiple of 4"):
            _check_world(TrainConfig(batch=batch), world)


def test_run_on_main_without_a_group_just_calls() -> None:
    """It returns the function's result, and lets its error through, in a single process."""
    assert run_on_main(World(), lambda: 42) == 42
    with pytest.raises(ConfigError, match="boom"):
        run_on_main(World(), lambda: (_ for _ in ()).throw(ConfigError("boom")))


def test_share_files_without_a_group_lists_what_exists(tmp_path: Path) -> None:
    """It reports the names that exist on rank 0 and copies nothing."""
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "last.pt").write_bytes(b"x")
    assert share_files(tmp_path, ["weights/last.pt", "initial_state.pt"]) == ["weights/last.pt"]


def test_checkpoint_sync_on_other_ranks_neither_restores_nor_uploads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It leaves the store to rank 0: restore returns False without a download, upload writes nothing."""
    store = tmp_path / "store"
    rank0 = CheckpointSync(str(store))
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"checkpoint")
    rank0.upload(ckpt, 1)
    assert (store / "last.pt").is_file()

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    other = CheckpointSync(str(store))
    restored = tmp_path / "restored.pt"
    assert other.restore(restored) is False
    assert not restored.exists()
    (store / "last.pt").unlink()
    other.upload(ckpt, 2, force=True)
    assert not (store / "last.pt").exists() and other.uploaded_epoch is None


def test_rank_proof_fails_a_rank_whose_frozen_tensors_moved() -> None:
    """It names the check that failed on that rank, and passes a rank whose checks are all identical."""
    same = {"identical": True, "tensors": 3}
    moved = {"identical": False, "tensors": 3, "mismatched": ["model.0.conv.weight"]}
    ok = _rank_proof({"rank": 0, "start_vs_input": same, "live_vs_start": same, "ema_vs_start": same})
    bad = _rank_proof({"rank": 1, "start_vs_input": same, "live_vs_start": moved, "ema_vs_start": same})
    assert ok["verified"] and not ok["failed"]
    assert not bad["verified"] and bad["failed"] == ["live_vs_start"] and bad["rank"] == 1
