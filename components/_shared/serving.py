"""Where the production model is served (``k8s/overlays/serving``) and how a promotion reaches it.

KServe copies the model into a pod when it starts: a promotion reaches running predictors only through
new pods (``rollout_patch`` changes a pod-template annotation).
"""

from __future__ import annotations

import json

SERVING_NAMESPACE = "yolo-kfp"  # k8s/overlays/serving/kustomization.yaml
SERVING_ISVC = "yolo-transfer"  # k8s/overlays/serving/inferenceservice.yaml
ROLLOUT_ANNOTATION = "yolo-kfp/production-version"


def rollout_patch(version: str) -> dict[str, object]:
    """The merge patch of the InferenceService that rolls its predictors onto ``version``."""
    return {"spec": {"predictor": {"annotations": {ROLLOUT_ANNOTATION: version}}}}


def rollout_command(version: str, *, namespace: str = SERVING_NAMESPACE, isvc: str = SERVING_ISVC) -> str:
    """The one line that rolls the serving predictors onto ``version`` (a new pod template, new pods)."""
    patch = json.dumps(rollout_patch(version), separators=(",", ":"))
    return f"kubectl -n {namespace} patch inferenceservice {isvc} --type merge -p '{patch}'"
