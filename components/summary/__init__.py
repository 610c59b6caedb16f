"""Stage ``summary``: the run's outcome in one Markdown page, written by the pipeline's exit handler."""
