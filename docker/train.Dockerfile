# syntax=docker/dockerfile:1
# CUDA image for train, validate and export: the package with its `train` extra (torch 2.14.1,
# torchvision 0.29.1, ultralytics 8.4.x, onnx, onnxsim, onnxruntime) on the official PyTorch runtime.
#
#   docker build -f docker/train.Dockerfile --build-arg GIT_SHA=$(git rev-parse --short=7 HEAD) \
#     -t ghcr.io/yolo-kfp/yolo-kfp-train:$(git rev-parse --short=7 HEAD) .
#
# The runtime base must ship torch 2.14.1 on Python 3.11 (pyproject requires >=3.11,<3.12) so pip keeps the
# image's CUDA build; the build fails below if it does not. The tag is unverified here (no Docker or
# registry access on our machines): check it, then pin it by digest, where Docker exists.
#
# What the cluster needs: torch 2.14.1 is built for CUDA 13.0 (torch.version.cuda == "13.0", wheel
# 2.14.1+cu130 with nvidia-cuda-runtime 13.0.x and cuDNN 9 for CUDA 13), so GPU nodes need an NVIDIA
# driver >= 580 (the minimum for any CUDA 13.x application on Linux; `nvidia-smi` shows it) and the
# NVIDIA device plugin or GPU Operator advertising nvidia.com/gpu. With an older driver torch warns that
# the driver is too old and torch.cuda.is_available() is False.
# The CUDA libraries are in the image; the node supplies only the driver. Export and ONNX validation run
# this image too, on CPU pods (no GPU requested): see docs/kubeflow.md for why there is no CPU-only image.
#
# Bases, written out in each FROM so scanners see them: the Python builder is pinned by digest (tag
# python:3.11.13-slim-bookworm kept for humans); the PyTorch runtime by its release tag only, as no published
# digest of it could be checked yet. `make pin-images` prints the registry's current digest of every base tag
# (docs/kubeflow.md, "Supply chain and scanners"): append the runtime's (@sha256:...) and verify both before
# a release.
# checkov:skip=CKV_DOCKER_2: batch image (KFP tasks, Jobs): Kubernetes ignores a Docker HEALTHCHECK and
# every container here runs to completion; there is no long-running service to probe.

# Builder: only our pure-Python wheel (no compilers or sources reach the runtime image).
FROM python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1 AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY components/ components/
COPY pipelines/ pipelines/
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

FROM pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="yolo-kfp-train" \
      org.opencontainers.image.description="yolo-kfp training, validation and ONNX export (CUDA)" \
      org.opencontainers.image.revision="${GIT_SHA}"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    YOLO_OFFLINE=1 \
    YOLO_CONFIG_DIR=/tmp/Ultralytics \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/home/app \
    GIT_SHA=${GIT_SHA}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=builder /wheels /tmp/wheels
# 1. the wheel with the train extra (torch/torchvision already in the image satisfy the pins);
# 2. swap ultralytics' opencv-python for the headless build of the same version (no X11/GL libs);
# 3. prove it: torch is the image's 2.14.1, cv2 imports without libGL, ultralytics imports offline.
#    No weights, fonts or datasets are fetched: YOLO_OFFLINE=1 and nothing here calls the network.
RUN WHEEL="$(find /tmp/wheels -name 'yolo_kfp-*.whl' -print -quit)" \
    && python -m pip install "yolo-kfp[train] @ file://${WHEEL}" \
    && OPENCV_VERSION="$(python -c 'import importlib.metadata as m; print(m.version("opencv-python"))')" \
    && python -m pip uninstall -y opencv-python \
    && python -m pip install "opencv-python-headless==${OPENCV_VERSION}" \
    && python -c "import torch, torchvision, cv2, ultralytics, onnx, onnxruntime, components, pipelines.cli; \
assert torch.__version__.startswith('2.14.1'), torch.__version__; print('torch', torch.__version__, 'cv2', cv2.__version__)" \
    && rm -rf /tmp/wheels /tmp/Ultralytics /tmp/matplotlib
# Non-root user in group 0; the KFP launcher writes artifacts under /gcs, /minio and /s3 (kubeflow/pipelines#5673).
RUN useradd --uid 1000 --gid 0 --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /gcs /minio /s3 \
    && chown 1000:0 /gcs /minio /s3 /home/app \
    && chmod 0775 /gcs /minio /s3 /home/app
USER 1000
WORKDIR /home/app
CMD ["yolo-kfp", "--help"]
