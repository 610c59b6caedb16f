"""Boxes, labels and scores drawn on an image (Pillow only: predict runs in the light install)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# a fixed colour per class index (Ultralytics-like palette), so one class looks the same in every image
PALETTE = (
    (255, 56, 56), (0, 194, 255), (255, 157, 151), (72, 249, 10), (255, 178, 29), (146, 204, 23),
    (61, 219, 134), (26, 147, 52), (0, 212, 187), (44, 153, 168), (52, 69, 147), (100, 115, 255),
    (0, 24, 236), (132, 56, 255), (82, 0, 133), (203, 56, 255), (255, 149, 200), (255, 55, 199),
)  # fmt: skip


def class_name(classes: tuple[str, ...], index: float) -> str:
    """The name of class ``index``, or the index itself when the model's output names no such class."""
    i = int(index)
    return classes[i] if 0 <= i < len(classes) else str(i)


def draw_detections(image: np.ndarray, dets: np.ndarray, classes: tuple[str, ...]) -> Image.Image:
    """``image`` (HWC RGB) with each detection's box and a ``name 0.87`` label above it.

    Args:
        image: the original image.
        dets: ``(n, 6)`` rows ``x1 y1 x2 y2 score class`` in its pixels.
        classes: names by class index.
    """
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    side = max(min(im.size), 1)
    width = max(1, round(side / 300))  # a line that stays visible on large photos and small crops
    font = ImageFont.load_default(size=max(10, round(side / 40)))
    for x1, y1, x2, y2, score, cls in dets.tolist():
        colour = PALETTE[int(cls) % len(PALETTE)]
        name = class_name(classes, cls)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text = f"{name} {score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top + 2
        ty = y1 - th if y1 - th >= 0 else y1  # inside the box when there is no room above it
        draw.rectangle((x1, ty, x1 + tw + 2, ty + th), fill=colour)
        draw.text((x1 + 1, ty - top + 1), text, fill=(255, 255, 255), font=font)
    return im
