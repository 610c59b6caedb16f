"""Build tiny Pascal VOC trees in tmp_path, one file at a time (valid or hostile)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}


class VocTree:
    """A VOC folder under construction: ``Annotations/`` and ``JPEGImages/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "Annotations").mkdir(parents=True)
        (root / "JPEGImages").mkdir(parents=True)

    def image(self, name: str, size: tuple[int, int] = (100, 50), data: bytes | None = None) -> Path:
        """Write ``JPEGImages/<name>``: a real image in the format its suffix names, or raw ``data``."""
        path = self.root / "JPEGImages" / name
        if data is None:
            buf = io.BytesIO()
            Image.new("RGB", size, (90, 120, 150)).save(buf, format=_FORMATS[path.suffix.lower()])
            data = buf.getvalue()
        path.write_bytes(data)
        return path

    def xml_text(self, stem: str, text: str | bytes) -> Path:
        """Write ``Annotations/<stem>.xml`` verbatim."""
        path = self.root / "Annotations" / f"{stem}.xml"
        if isinstance(text, str):
            text = text.encode("utf-8")
        path.write_bytes(text)
        return path

    def annotation(
        self,
        stem: str,
        objects: Sequence[dict[str, object]] = (),
        size: tuple[object, object] | None = (100, 50),
        filename: str | None = None,
        extra: str = "",
    ) -> Path:
        """Write a VOC annotation; each object is ``{"name", "box": (xmin, ymin, xmax, ymax), "difficult"}``."""
        return self.xml_text(stem, voc_xml(filename or f"{stem}.jpg", objects, size, extra))


def voc_xml(
    filename: str, objects: Sequence[dict[str, object]], size: tuple[object, object] | None, extra: str = ""
) -> str:
    """Pascal VOC annotation text as labelImg writes it (values inserted verbatim)."""
    size_xml = ""
    if size is not None:
        size_xml = f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
    parts = []
    for obj in objects:
        name = f"<name>{obj['name']}</name>" if "name" in obj else ""
        box = obj.get("box")
        box_xml = ""
        if box is not None:
            xmin, ymin, xmax, ymax = box  # type: ignore[misc]
            box_xml = f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>"
        parts.append(
            f"<object>{name}<pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>{int(bool(obj.get('difficult')))}</difficult>{box_xml}{obj.get('inner', '')}</object>"
        )
    return (
        f"<annotation><folder>JPEGImages</folder><filename>{filename}</filename>"
        f"<owner><name>Some Owner</name></owner>{size_xml}{extra}{''.join(parts)}</annotation>"
    )
