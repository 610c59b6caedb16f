"""Validation stage: mAP, per-class AP, confusion matrix, PR curve and the publishing gate."""
