"""Training stage: YOLOv5 transfer learning with a verified frozen backbone (Ultralytics behind components._yolo)."""
