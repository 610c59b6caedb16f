# CUDA image for train, validate and export: the package with its `train` extra (torch 2.14.1,
# torchvision 0.29.1, ultralytics 8.4.x, onnx, onnxsim, onnxruntime) on the same pinned Python base as
# the data image. torch's CUDA wheels carry their CUDA and cuDNN libraries (nvidia-* wheels), so no
# vendor CUDA image is needed; a step below fails the build when the versions stated here differ.
#
#   DOCKER_BUILDKIT=1 docker build --network host -f docker/train.Dockerfile \
#     --build-arg GIT_SHA=$(git rev-parse --short=7 HEAD) \
#     -t ghcr.io/yolo-kfp/yolo-kfp-train:$(git rev-parse --short=7 HEAD) .
#
# (`make images` runs exactly this; docs/kubeflow.md "Building the images" has the proxy/CA and
# air-gapped variants.) BuildKit is required (RUN --mount); no `# syntax=` line, so no frontend image is
# pulled. Build inputs (BASE_IMAGE, secrets `ca` and `pip`, stage `wheels`, PIP_NO_INDEX) are those of
# docker/data.Dockerfile. The `wheels` folder is worth it here: torch and its nvidia-* wheels are ~3 GB.
#
# What the cluster needs: torch 2.14.1 is built for CUDA 13.0 (torch.version.cuda == "13.0", wheel
# 2.14.1 with nvidia-cuda-runtime 13.0.x and cuDNN 9 for CUDA 13), so GPU nodes need an NVIDIA
# driver >= 580 (the minimum for any CUDA 13.x application on Linux; `nvidia-smi` shows it) and the
# NVIDIA device plugin or GPU Operator advertising nvidia.com/gpu. With an older driver torch warns that
# the driver is too old and torch.cuda.is_available() is False.
# The CUDA libraries are in the image; the node supplies only the driver. Export and ONNX validation run
# this image too, on CPU pods (no GPU requested): see docs/kubeflow.md for why there is no CPU-only image.
# checkov:skip=CKV_DOCKER_2: batch image (KFP tasks, Jobs): Kubernetes ignores a Docker HEALTHCHECK and
# every container here runs to completion; there is no long-running service to probe.
# checkov:skip=CKV_DOCKER_7: the `wheels` stage is FROM ${WHEELS_IMAGE}, empty `scratch` unless a build
# names a local image of wheels (air-gapped); the base image is pinned by digest in ARG BASE_IMAGE.

ARG BASE_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
ARG WHEELS_IMAGE=scratch

FROM ${WHEELS_IMAGE} AS wheels

# Builder: our wheel and the venv with every dependency (no compilers or sources reach the runtime image).
FROM ${BASE_IMAGE} AS deps
ARG PIP_NO_INDEX=0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# python3 (not python): a Debian base has no `python` command. The CA bundle, when given, reaches pip only
# in the RUNs that download (a secret mount is never part of a layer).
# 1. the dependencies alone, read from pyproject.toml (base and `train` extra): this layer, GBs, is
#    rebuilt when they change, not on every change of our code. torch and torchvision come from the
#    `wheels` folder alone when it holds torch (pip would otherwise take the index's copy of the same
#    version); then ultralytics' opencv-python is swapped for the headless build of the same version
#    (no X11/GL libs).
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca,required=false --mount=type=secret,id=pip,required=false \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi \
    && if [ -s /run/secrets/pip ]; then export PIP_CONFIG_FILE=/run/secrets/pip; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['train']))" > /tmp/requirements.txt \
    && if compgen -G '/wheels/torch-*.whl' > /dev/null; then grep -E '^torch(vision)?==' /tmp/requirements.txt \
       | /opt/venv/bin/pip install --no-index --find-links /wheels -r /dev/stdin; fi \
    && /opt/venv/bin/pip install --find-links /wheels -r /tmp/requirements.txt \
    && OPENCV_VERSION="$(/opt/venv/bin/python -c 'import importlib.metadata as m; print(m.version("opencv-python"))')" \
    && /opt/venv/bin/pip uninstall -y opencv-python \
    && /opt/venv/bin/pip install --find-links /wheels "opencv-python-headless==${OPENCV_VERSION}"
# 2. our wheel, built in a stage of its own: the runtime stage copies the dependencies' venv unchanged
#    (one cached layer of GBs) and installs only this wheel on top, so a code change rebuilds MBs.
FROM deps AS builder
ARG PIP_NO_INDEX=0
COPY README.md ./
COPY components/ components/
COPY pipelines/ pipelines/
RUN --mount=type=secret,id=ca,required=false --mount=type=secret,id=pip,required=false \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi \
    && if [ -s /run/secrets/pip ]; then export PIP_CONFIG_FILE=/run/secrets/pip; fi \
    && /opt/venv/bin/pip wheel --no-deps --find-links /wheels --wheel-dir /dist .

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    YOLO_OFFLINE=1 \
    YOLO_CONFIG_DIR=/tmp/Ultralytics \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/home/app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Non-root user in group 0; the KFP launcher writes artifacts under /gcs, /minio and /s3 (kubeflow/pipelines#5673).
RUN useradd --uid 1000 --gid 0 --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /gcs /minio /s3 \
    && chown 1000:0 /gcs /minio /s3 /home/app \
    && chmod 0775 /gcs /minio /s3 /home/app
# The dependencies' venv unchanged (a layer of GBs reused until pyproject.toml changes), then our wheel.
COPY --from=deps /opt/venv /opt/venv
RUN --mount=type=bind,from=builder,source=/dist,target=/dist \
    /opt/venv/bin/pip install --no-cache-dir --no-deps --no-index /dist/yolo_kfp-*.whl
# The versions this image promises (docs/kubeflow.md and the GPU nodes' driver minimum depend on them).
ARG PYTHON_VERSION=3.11
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
ARG CUDA_VERSION=13.0
ARG CUDNN_VERSION=9
# Prove it in the image that ships (docker/check_versions.py): the stated Python, torch, torchvision, CUDA
# and cuDNN (the cuDNN library loads without a GPU), cv2 imports without libGL, ultralytics and our CLI
# import offline. No weights, fonts or datasets are fetched: YOLO_OFFLINE=1 and nothing calls the network.
USER 1000
RUN --mount=type=bind,source=docker/check_versions.py,target=/tmp/check_versions.py \
    python /tmp/check_versions.py python="${PYTHON_VERSION}" torch="${TORCH_VERSION}" \
      torchvision="${TORCHVISION_VERSION}" cuda="${CUDA_VERSION}" cudnn="${CUDNN_VERSION}" \
    && rm -rf /tmp/Ultralytics /tmp/matplotlib
# Last, as it changes with every build.
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="yolo-kfp-train" \
      org.opencontainers.image.description="yolo-kfp training, validation and ONNX export (CUDA)" \
      org.opencontainers.image.revision="${GIT_SHA}"
ENV GIT_SHA=${GIT_SHA}
WORKDIR /home/app
CMD ["yolo-kfp", "--help"]
