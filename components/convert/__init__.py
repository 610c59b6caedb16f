"""convert: Pascal VOC trees -> YOLO dataset folder (images, labels, classes.txt, report.json)."""
