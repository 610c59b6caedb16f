# CPU image for the data stages (convert, split, stats, ingest, publish) and the submitter
# (`yolo-kfp submit|schedule|runs`, used by the CronJob and the Argo CD PostSync Job).
# Light base install plus the `predict` extra (ONNX Runtime for `yolo-kfp predict`): no torch, no CUDA.
#
#   DOCKER_BUILDKIT=1 docker build --network host -f docker/data.Dockerfile \
#     --build-arg GIT_SHA=$(git rev-parse --short=7 HEAD) --build-arg IMAGE_REGISTRY=ghcr.io/yolo-kfp \
#     -t ghcr.io/yolo-kfp/yolo-kfp-data:$(git rev-parse --short=7 HEAD) .
#
# (`make images` runs exactly this for both images; docs/kubeflow.md "Building the images" has the
# proxy/CA and air-gapped variants.) BuildKit is required (RUN --mount); no `# syntax=` line, so no
# frontend image is pulled: the built-in Dockerfile frontend of Docker >= 20.10 reads this file.
#
# GIT_SHA must equal the tag both images are pushed with: it is the image tag of the pipeline compiled
# into this image (/opt/pipeline/yolo_transfer.yaml), the IMAGE_TAG the image runs with (so an in-cluster
# `yolo-kfp submit` refuses any package for other images) and the pipeline version name. ':latest' is
# refused by `yolo-kfp compile`, so the build fails without a real tag (the default `unknown` builds, but
# names no pushed image: always pass GIT_SHA).
#
# Build inputs, all optional:
# - BASE_IMAGE: any Debian-based image with python3.11 and its venv module. The default is pinned by
#   digest (tag python:3.11.13-slim-bookworm kept for humans); `make pin-images` prints the registry's
#   current digest (docs/kubeflow.md, "Supply chain and scanners"): refresh and verify it before a release.
#   The CI builds from a local Debian bookworm base instead (docker/engine.sh base: no registry there).
# - secret `ca`: a CA bundle for a TLS-intercepting proxy, used by pip in the RUN that downloads and never
#   stored in a layer (`--secret id=ca,src=/path/to/ca.crt`).
# - secret `pip`: a pip.conf (e.g. `index-url` of a local mirror, with its credentials), used like `ca`.
# - stage `wheels`: a folder of wheels pip prefers to the index (`--build-context wheels=DIR` with buildx,
#   or WHEELS_IMAGE=an image holding them); PIP_NO_INDEX=1 for an air-gapped build from that folder only.
# checkov:skip=CKV_DOCKER_2: batch image (KFP tasks, Jobs): Kubernetes ignores a Docker HEALTHCHECK and
# every container here runs to completion; there is no long-running service to probe.
# checkov:skip=CKV_DOCKER_7: the `wheels` stage is FROM ${WHEELS_IMAGE}, empty `scratch` unless a build
# names a local image of wheels (air-gapped); the base image is pinned by digest in ARG BASE_IMAGE.

ARG BASE_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
ARG WHEELS_IMAGE=scratch

FROM ${WHEELS_IMAGE} AS wheels

FROM ${BASE_IMAGE} AS deps
ARG IMAGE_REGISTRY=ghcr.io/yolo-kfp
ARG GIT_SHA=unknown
ARG PIP_NO_INDEX=0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# python3 (not python): a Debian base has no `python` command. The CA bundle, when given, reaches pip only
# in the RUNs that download (a secret mount is never part of a layer).
# 1. the dependencies alone, read from pyproject.toml: this layer is rebuilt when they change, not on
#    every change of our code;
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca,required=false --mount=type=secret,id=pip,required=false \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi \
    && if [ -s /run/secrets/pip ]; then export PIP_CONFIG_FILE=/run/secrets/pip; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['predict']))" > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --find-links /wheels -r /tmp/requirements.txt
# 2. our wheel, built in a stage of its own: the runtime stage copies the dependencies' venv unchanged
#    (one cached layer) and installs only this wheel on top, so a code change rebuilds MBs, not the venv.
FROM deps AS builder
ARG PIP_NO_INDEX=0
ARG IMAGE_REGISTRY=ghcr.io/yolo-kfp
ARG GIT_SHA=unknown
COPY README.md ./
COPY components/ components/
COPY pipelines/ pipelines/
RUN --mount=type=secret,id=ca,required=false --mount=type=secret,id=pip,required=false \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi \
    && if [ -s /run/secrets/pip ]; then export PIP_CONFIG_FILE=/run/secrets/pip; fi \
    && /opt/venv/bin/pip wheel --no-deps --find-links /wheels --wheel-dir /dist . \
    && /opt/venv/bin/pip install --no-deps /dist/yolo_kfp-*.whl \
    && /opt/venv/bin/python -c "import kfp, minio, components, pipelines.cli"
# The pipeline this image submits, compiled for the images of this very build (same registry and tag),
# so `yolo-kfp submit` in the CronJob/PostSync Job never starts a run on other images.
RUN mkdir -p /opt/pipeline \
    && /opt/venv/bin/yolo-kfp compile --image-registry "${IMAGE_REGISTRY}" --image-tag "${GIT_SHA}" \
       --out /opt/pipeline/yolo_transfer.yaml

FROM ${BASE_IMAGE}
# YOLO_CONFIG_DIR/MPLCONFIGDIR/HOME under writable paths: any UID (OpenShift) can run the image.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    YOLO_OFFLINE=1 \
    YOLO_CONFIG_DIR=/tmp/Ultralytics \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/home/app \
    YOLO_KFP_PACKAGE=/opt/pipeline/yolo_transfer.yaml
# Non-root user in group 0; the KFP launcher writes artifacts under /gcs, /minio and /s3 (kubeflow/pipelines#5673).
RUN useradd --uid 1000 --gid 0 --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /gcs /minio /s3 \
    && chown 1000:0 /gcs /minio /s3 /home/app \
    && chmod 0775 /gcs /minio /s3 /home/app
# The dependencies' venv unchanged (a layer reused until pyproject.toml changes), then our wheel on top.
COPY --from=deps /opt/venv /opt/venv
RUN --mount=type=bind,from=builder,source=/dist,target=/dist \
    /opt/venv/bin/pip install --no-cache-dir --no-deps --no-index /dist/yolo_kfp-*.whl
COPY --from=builder /opt/pipeline /opt/pipeline
# Last, as they change with every build: GIT_SHA names the pipeline version `yolo-kfp submit` uploads from
# inside the cluster; IMAGE_REGISTRY and IMAGE_TAG are the images its package runs (submit checks
# /opt/pipeline/yolo_transfer.yaml against them).
ARG IMAGE_REGISTRY=ghcr.io/yolo-kfp
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="yolo-kfp-data" \
      org.opencontainers.image.description="yolo-kfp CPU stages and submitter" \
      org.opencontainers.image.revision="${GIT_SHA}"
ENV GIT_SHA=${GIT_SHA} \
    IMAGE_REGISTRY=${IMAGE_REGISTRY} \
    IMAGE_TAG=${GIT_SHA}
USER 1000
WORKDIR /home/app
CMD ["yolo-kfp", "--help"]
