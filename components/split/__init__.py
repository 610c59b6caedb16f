"""Stage 2: split a converted YOLO folder into a self-contained train/val[/test] dataset."""
