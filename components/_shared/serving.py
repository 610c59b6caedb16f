"""Where the production model is served (``k8s/overlays/serving``) and how a promotion reaches it.

KServe's storage initializer copies the Triton repository into a predictor pod once, when the pod
starts: promoting a model changes what the *next* pods load. Changing an annotation of the predictor's
pod template (``spec.predictor.annotations``, KServe v1beta1) starts new pods, which load the new
production version; the old ones go when the new ones are ready.
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
