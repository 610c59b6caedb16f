"""What the compiled pipeline needs from Kubeflow Pipelines: the SDK it is built with, the backend it runs on."""

from __future__ import annotations

from dataclasses import dataclass

KFP_SDK = "2.17.3"  # kfp and kfp-kubernetes, pinned in pyproject.toml


@dataclass(frozen=True)
class BackendFeature:
    """A feature of the compiled pipeline and the oldest KFP backend that honours it.

    ``required``: an older backend runs the pipeline wrongly (submit refuses), else loses a convenience (warns).
    """

    feature: str
    since: str
    older: str
    required: bool = True


BACKEND_FEATURES: tuple[BackendFeature, ...] = (
    BackendFeature("GPU requests from pipeline parameters (accelerator type and count)", "2.4.0",
                   "drops them silently: training runs on the CPU"),
    BackendFeature("node selector from a pipeline parameter", "2.5.0",
                   "ignores it: GPU tasks may land on any node"),
    BackendFeature("task retries (preempted GPU pods resume from checkpoints)", "2.5.0",
                   "does not retry: a preemption fails the run"),
    BackendFeature("retry backoff (60 s, doubling; deadline covering 4 attempts of 48 h)", "2.14.0",
                   "retries at once", required=False),
    BackendFeature("optional Secret as environment (MINIO_* from yolo-kfp-minio)", "2.15.0",
                   "makes the Secret mandatory or drops the variables"),
    BackendFeature("run workspace (one ReadWriteMany PVC per run holding the data, dsl.WORKSPACE_PATH_PLACEHOLDER)",
                   "2.15.0", "creates no workspace: the data tasks get the unreplaced placeholder as a path "
                   "and later tasks do not find the data"),
    BackendFeature("failed runs deleted after 3 days, their workspace PVC with them (ttl_seconds_after_failure)",
                   "2.17.0", "keeps a failed run's 50Gi workspace PVC until someone deletes it", required=False),
)  # fmt: skip

# Multi-node training (nodes > 1) creates Kubeflow Trainer v2 TrainJobs (trainer.kubeflow.org/v1alpha1)
# on the ClusterTrainingRuntime torch-distributed. Trainer v2.2 and v2.3 are not API-compatible; the
# TrainJob is rendered and validated against v2.3.0's CRD (tests/train, ../shared/specs).
TRAINER_MIN = "2.3.0"


def _key(version: str) -> tuple[int, ...]:
    """``2.15.0`` -> (2, 15, 0); ``v2.5.0-rc.1`` -> (2, 5, 0); unparsable parts count as 0."""
    parts = []
    for piece in version.strip().lstrip("vV").split("-")[0].split(".")[:3]:
        parts.append(int(piece) if piece.isdigit() else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def version_at_least(found: str, needed: str) -> bool:
    """Whether release ``found`` is ``needed`` or newer (semantic version, pre-release suffix ignored)."""
    return _key(found) >= _key(needed)


BACKEND_MIN = max((f.since for f in BACKEND_FEATURES if f.required), key=_key)


def backend_table() -> str:
    """``BACKEND_FEATURES`` as the Markdown table docs/kubeflow.md carries (a test keeps the two equal)."""
    rows = [
        "| Feature of the compiled pipeline | KFP backend since | What an older backend does | submit/schedule |",
        "|---|---|---|---|",
    ]
    for f in BACKEND_FEATURES:
        rows.append(f"| {f.feature} | {f.since} | {f.older} | {'refuse' if f.required else 'warn'} |")
    rows.append(
        f"| multi-node training (nodes > 1): Kubeflow Trainer TrainJob | Kubeflow Trainer {TRAINER_MIN} | "
        "v2.2 and older: a different TrainJob API, the TrainJob is refused or misread | not checked: "
        "only nodes > 1 needs it |"
    )
    return "\n".join(rows)
