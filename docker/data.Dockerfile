# syntax=docker/dockerfile:1
# CPU image for the data stages (convert, split, stats, ingest, publish) and the submitter
# (`yolo-kfp submit|schedule|runs`, used by the CronJob and the Argo CD PostSync Job).
# Light base install only: kfp, minio, pyyaml, matplotlib... no torch, no CUDA.
#
#   docker build -f docker/data.Dockerfile --build-arg GIT_SHA=$(git rev-parse --short=7 HEAD) \
#     --build-arg IMAGE_REGISTRY=ghcr.io/yolo-kfp -t ghcr.io/yolo-kfp/yolo-kfp-data:$(git rev-parse --short=7 HEAD) .
#
# GIT_SHA must equal the tag both images are pushed with: it is the IMAGE_TAG of the pipeline compiled
# into this image (/opt/pipeline/yolo_transfer.yaml) and the version name `yolo-kfp submit` uses.
#
# Pin the base by digest in production (docker buildx imagetools inspect python:3.11.13-slim-bookworm).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
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
    && IMAGE_REGISTRY="${IMAGE_REGISTRY}" IMAGE_TAG="${GIT_SHA}" \
       /opt/venv/bin/yolo-kfp compile --out /opt/pipeline/yolo_transfer.yaml

FROM ${PYTHON_IMAGE}
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="yolo-kfp-data" \
      org.opencontainers.image.description="yolo-kfp CPU stages and submitter" \
      org.opencontainers.image.revision="${GIT_SHA}"
# GIT_SHA names the pipeline version `yolo-kfp submit` uploads from inside the cluster.
# YOLO_CONFIG_DIR/MPLCONFIGDIR/HOME under writable paths: any UID (OpenShift) can run the image.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    YOLO_OFFLINE=1 \
    YOLO_CONFIG_DIR=/tmp/Ultralytics \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/home/app \
    GIT_SHA=${GIT_SHA} \
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
