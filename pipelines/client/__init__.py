"""Talk to the Kubeflow Pipelines API, one module per verb, through ``kfp.Client``'s public methods only.

- ``connect``: where and as whom (``Connection``), a bounded health probe, one-line API errors.
- ``submit``: version naming, run parameters, pipeline/version/experiment ensure, start a run.
- ``schedule``: five-field cron to KFP's six, create or replace a recurring run.
- ``runs``: the last runs with state, duration and what they published.

No class here subclasses ``kfp.Client`` and nothing reads its underscore attributes
(tests/delivery/test_delivery_client_api.py checks both), so a kfp SDK upgrade cannot break us
through its internals.
"""
