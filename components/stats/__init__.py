"""Stage 3: dataset statistics, warnings, HTML report and the recommended training plan."""
