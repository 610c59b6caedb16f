# syntax=docker/dockerfile:1
# CUDA image for train, validate and export: the package with its `train` extra (torch 2.14.1,
# torchvision 0.29.1, ultralytics 8.4.x, onnx, onnxsim, onnxruntime) on the official PyTorch runtime.
#
#   docker build -f docker/train.Dockerfile --build-arg GIT_SHA=$(git rev-parse --short=7 HEAD) \
#     -t ghcr.io/yolo-kfp/yolo-kfp-train:$(git rev-parse --short=7 HEAD) .
#
# TORCH_IMAGE must ship torch 2.14.1 on Python 3.11 (pyproject requires >=3.11,<3.12) so pip keeps the
# image's CUDA build; the build fails below if it does not. The tag is unverified here (no Docker or
# registry access on our machines): check it, then pin it by digest, where Docker exists.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG TORCH_IMAGE=pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime

# Builder: only our pure-Python wheel (no compilers or sources reach the runtime image).
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY components/ components/
COPY pipelines/ pipelines/
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

FROM ${TORCH_IMAGE}
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
