#!/bin/sh
# Create the buckets the pipeline uses and, when the pipeline's access key is not the root user,
# a MinIO user limited to those buckets. Idempotent: safe to run on every apply/sync.
set -eu
# Credentials and endpoint come from the two Secrets mounted as files (never environment values).
PIPELINE_DIR="${PIPELINE_DIR:-/etc/yolo-kfp/minio}"
ROOT_DIR="${ROOT_DIR:-/etc/yolo-kfp/minio-root}"
read_key() { [ -f "$1/$2" ] && cat "$1/$2" || printf '%s' "${3:-}"; }
MINIO_ENDPOINT="$(read_key "${PIPELINE_DIR}" MINIO_ENDPOINT)"
MINIO_SECURE="$(read_key "${PIPELINE_DIR}" MINIO_SECURE true)"
MINIO_ACCESS_KEY="$(read_key "${PIPELINE_DIR}" MINIO_ACCESS_KEY)"
MINIO_SECRET_KEY="$(read_key "${PIPELINE_DIR}" MINIO_SECRET_KEY)"
MINIO_ROOT_USER="$(read_key "${ROOT_DIR}" MINIO_ROOT_USER)"
MINIO_ROOT_PASSWORD="$(read_key "${ROOT_DIR}" MINIO_ROOT_PASSWORD)"
scheme=https
case "${MINIO_SECURE:-true}" in false|False|0|no) scheme=http ;; esac
mc() { command mc --config-dir /tmp/mc --quiet "$@"; }

tries=0
until mc alias set store "${scheme}://${MINIO_ENDPOINT}" "${MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD}" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "${tries}" -ge 60 ]; then
    echo "MinIO at ${scheme}://${MINIO_ENDPOINT} not reachable or root credentials refused after 5 minutes" >&2
    exit 1
  fi
  sleep 5
done

for bucket in ${BUCKETS}; do
  mc mb --ignore-existing "store/${bucket}"
done

if [ "${MINIO_ACCESS_KEY}" != "${MINIO_ROOT_USER}" ]; then
  mc admin policy create store yolo-kfp-pipeline /setup/pipeline-policy.json
  mc admin user add store "${MINIO_ACCESS_KEY}" "${MINIO_SECRET_KEY}"
  mc admin policy attach store yolo-kfp-pipeline --user "${MINIO_ACCESS_KEY}" 2>/dev/null \
    || echo "policy yolo-kfp-pipeline already attached to the pipeline user"
fi
echo "buckets ready: ${BUCKETS}"
