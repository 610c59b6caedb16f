"""KFP component: the exit handler's run summary (runs also when a task failed)."""

from kfp import dsl
from kfp.dsl import Markdown, Output, PipelineTaskFinalStatus

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def summarize_run(
    status: PipelineTaskFinalStatus,
    checkpoint_root: str,
    run_id: str,
    run_summary: Output[Markdown],
):
    """Say how the run ended: status, gate verdict, and the published version or why there is none.

    Args:
        status: the run's final status (KFP fills it in for an exit handler).
        checkpoint_root: where the run's records live (``<checkpoint_root>/<run_id>/``).
        run_id: the pipeline job id.
        run_summary: the summary page.
    """
    from pathlib import Path

    from components._shared.run_records import record_root
    from components.summary.core import summarize_run

    root = record_root(checkpoint_root, run_id)
    summarize_run(status.state, status.error_message or "", run_id, root, Path(run_summary.path))
