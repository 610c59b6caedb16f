"""Strict JSON-Schema validation of custom resources against their CRD's openAPIV3Schema.

A CRD schema allows unknown fields by default only where it says so (``x-kubernetes-preserve-unknown-fields``
or an ``additionalProperties`` map); everywhere else the API server prunes them silently. ``strict`` turns
that into an error, so a misspelt field fails a test here instead of vanishing on a cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"
TRAINJOB_CRD = SPECS / "kubeflow-trainer-v2.3.0" / "trainer.kubeflow.org_trainjobs.yaml"


def strict(schema: Any) -> Any:
    """The schema with additionalProperties: false wherever it lists properties and allows nothing else."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_validator(crd_path: Path, version: str) -> Any:
    """A ``jsonschema`` validator of one version of a CRD, unknown fields refused (types, enums, formats)."""
    import jsonschema

    crd = yaml.safe_load(Path(crd_path).read_text(encoding="utf-8"))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return jsonschema.Draft7Validator(strict(served["schema"]["openAPIV3Schema"]))


def errors(validator: Any, document: Any) -> list[str]:
    """Every schema violation of ``document`` as ``[path]: message``."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
