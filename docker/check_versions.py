"""Fail the train image's build when its Python, torch, torchvision, CUDA or cuDNN differ from the stated.

Run by docker/train.Dockerfile in the image that ships (``python check_versions.py KEY=VERSION ...``).
A stated version matches itself, any longer version it prefixes (``3.11`` matches ``3.11.2``, ``9``
matches cuDNN ``9.24.0``) and its local builds (``2.14.1`` matches ``2.14.1+cu130``), so the Dockerfile states exactly as much as it promises. Importing the
modules the tasks import is part of the check: cv2 without libGL, ultralytics offline.
"""

from __future__ import annotations

import platform
import sys


def installed() -> dict[str, str]:
    """The versions this interpreter runs with; ``none`` for a CPU-only torch."""
    import cv2  # noqa: F401  (headless OpenCV must import: no X11/GL libraries in the image)
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import torch
    import torchvision
    import ultralytics  # noqa: F401

    import pipelines.cli  # noqa: F401  (our package, with every stage's CLI)

    cudnn = torch.backends.cudnn.version() if torch.version.cuda else None  # 92400 for cuDNN 9.24.0
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda or "none",
        "cudnn": f"{cudnn // 10000}.{cudnn // 100 % 100}.{cudnn % 100}" if cudnn else "none",
    }


def differences(stated: dict[str, str], have: dict[str, str]) -> dict[str, tuple[str, str]]:
    """``{name: (installed, stated)}`` for each stated version the installed one does not match."""
    return {
        name: (have.get(name, "missing"), want)
        for name, want in stated.items()
        if have.get(name) != want and not have.get(name, "").startswith((want + ".", want + "+"))
    }


def main(argv: list[str]) -> int:
    """Compare ``NAME=VERSION`` arguments with what is installed; a one-line reason and 1 when they differ."""
    stated = dict(arg.split("=", 1) for arg in argv)
    have = installed()
    wrong = differences(stated, have)
    sys.stdout.write("image versions: " + ", ".join(f"{k} {v}" for k, v in have.items()) + "\n")
    if wrong:
        detail = "; ".join(f"{k} is {h}, the Dockerfile states {w}" for k, (h, w) in wrong.items())
        sys.stderr.write(f"versions differ from docker/train.Dockerfile: {detail}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
