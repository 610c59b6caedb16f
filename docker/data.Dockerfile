# syntax=docker/dockerfile:1
# CPU image for the data stages (convert, split, stats, ingest, publish) and the submitter
# (`yolo-kfp submit|schedule|runs`, used by the CronJob and the Argo CD PostSync Job).
# Light base install only: kfp, minio, pyyaml, matplotlib... no torch, no CUDA.
#
#   docker build -f docker/data.Dockerfile --build-arg GIT_SHA=$(git rev-parse --short=7 HEAD) \
#     --build-arg IMAGE_REGISTRY=ghcr.io/yolo-kfp -t ghcr.io/yolo-kfp/yolo-kfp-data:$(git rev-parse --short=7 HEAD) .
#
# GIT_SHA must equal the tag both images are pushed with: it is the image tag of the pipeline compiled
# into this image (/opt/pipeline/yolo_transfer.yaml), the IMAGE_TAG the image runs with (so an in-cluster
# `yolo-kfp submit` refuses any package for other images) and the pipeline version name. ':latest' is
# refused by `yolo-kfp compile`, so the build fails without a real tag (the default `unknown` builds, but
# names no pushed image: always pass GIT_SHA).
#
# Base pinned by digest, written out in each FROM so scanners see it (tag python:3.11.13-slim-bookworm kept
# for humans). `make pin-images` prints the registry's current digest of every base tag (docs/kubeflow.md,
# "Supply chain and scanners"): refresh and verify it before a release.
# checkov:skip=CKV_DOCKER_2: batch image (KFP tasks, Jobs): Kubernetes ignores a Docker HEALTHCHECK and
# every container here runs to completion; there is no long-running service to probe.

FROM python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1 AS builder
ARG IMAGE_REGISTRY=ghcr.io/yolo-kfp
ARG GIT_SHA=unknown
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY components/ components/
COPY pipelines/ pipelines/
# Build our wheel, then install it with its pinned dependencies into a venv the runtime stage copies.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install /wheels/yolo_kfp-*.whl \
    && /opt/venv/bin/python -c "import kfp, minio, components, pipelines.cli"
# The pipeline this image submits, compiled for the images of this very build (same registry and tag),
# so `yolo-kfp submit` in the CronJob/PostSync Job never starts a run on other images.
RUN mkdir -p /opt/pipeline \
    && /opt/venv/bin/yolo-kfp compile --image-registry "${IMAGE_REGISTRY}" --image-tag "${GIT_SHA}" \
       --out /opt/pipeline/yolo_transfer.yaml

FROM python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
ARG IMAGE_REGISTRY=ghcr.io/yolo-kfp
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="yolo-kfp-data" \
      org.opencontainers.image.description="yolo-kfp CPU stages and submitter" \
      org.opencontainers.image.revision="${GIT_SHA}"
# GIT_SHA names the pipeline version `yolo-kfp submit` uploads from inside the cluster; IMAGE_REGISTRY and
# IMAGE_TAG are the images its package runs (submit checks /opt/pipeline/yolo_transfer.yaml against them).
# YOLO_CONFIG_DIR/MPLCONFIGDIR/HOME under writable paths: any UID (OpenShift) can run the image.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    YOLO_OFFLINE=1 \
    YOLO_CONFIG_DIR=/tmp/Ultralytics \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/home/app \
    GIT_SHA=${GIT_SHA} \
    IMAGE_REGISTRY=${IMAGE_REGISTRY} \
    IMAGE_TAG=${GIT_SHA} \
    YOLO_KFP_PACKAGE=/opt/pipeline/yolo_transfer.yaml
# Non-root user in group 0; the KFP launcher writes artifacts under /gcs, /minio and /s3 (kubeflow/pipelines#5673).
RUN useradd --uid 1000 --gid 0 --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /gcs /minio /s3 \
    && chown 1000:0 /gcs /minio /s3 /home/app \
    && chmod 0775 /gcs /minio /s3 /home/app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/pipeline /opt/pipeline
USER 1000
WORKDIR /home/app
CMD ["yolo-kfp", "--help"]
