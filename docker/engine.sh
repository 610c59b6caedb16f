#!/usr/bin/env bash
# Start, find or stop the Docker engine the container tests and CI use, and make the local base image.
#
#   docker/engine.sh start   # find an engine that answers, else install Debian's docker.io and start one
#   docker/engine.sh host    # print the DOCKER_HOST of an engine that answers (exit 1 when none does)
#   docker/engine.sh base    # make the local base image (Debian bookworm, Python 3.11) unless present
#   docker/engine.sh wheels  # an image of the torch wheels pip on this host finds (see WHEELS below)
#   docker/engine.sh build NAME...  # docker/NAME.Dockerfile -> $IMAGE_REGISTRY/yolo-kfp-NAME:$IMAGE_TAG
#   docker/engine.sh images [NAME...]  # base + wheels + build (data and train) on them, with this host's CA
#   docker/engine.sh stop    # stop the engine this script started (an engine it found is left alone)
#
# `build` reads IMAGE_REGISTRY and IMAGE_TAG (required), and optionally BASE_IMAGE, WHEELS_IMAGE,
# CA_BUNDLE (a file passed as the build secret `ca`, never stored in an image), PIP_CONF (a pip.conf
# passed as the secret `pip`: a mirror's index-url and credentials), BUILD_NETWORK (default
# host: an engine without a bridge has no other network), BUILD_OPTS (more `docker build` options) and
# BUILD_CACHE_KEEP (the build cache kept after a build, default 20GB). `make images` calls it; `images` is what the
# container tests and CI run (local base, local wheels, the CA bundle this host's Python trusts).
#
# Why a private engine: CI machines have no Docker service and reach no image registry. Debian's
# docker.io runs without iptables or a bridge (containers use host networking), as root. Its data root
# lives outside the clone so the layer cache survives between runs on the same machine.
# Why a local base: no registry is reachable, so the pinned python:3.11 base cannot be pulled; the base
# is made from Debian's own packages (mmdebstrap, ~25 s) and passed to the Dockerfiles as BASE_IMAGE.
# Settings (environment): YOLO_KFP_DOCKER_ROOT (data root), YOLO_KFP_DOCKER_RUN (socket and pidfile),
# YOLO_KFP_BASE_IMAGE (name of the local base image).
set -euo pipefail

DATA_ROOT="${YOLO_KFP_DOCKER_ROOT:-/var/lib/yolo-kfp-docker}"
RUN_DIR="${YOLO_KFP_DOCKER_RUN:-/run/yolo-kfp-docker}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
LOCAL_BASE="${YOLO_KFP_BASE_IMAGE:-yolo-kfp-base:bookworm}"
# The wheels the train image takes from a local folder when this host's pip finds them there (a wheel
# cache, an air-gapped mirror): several GB that would otherwise be downloaded on every cold build. The
# pins are pyproject.toml's (`train` extra); the image is named after them, so new pins make a new one.
WHEELS="$(grep -oE '"torch(vision)?==[^"]+"' "${REPO}/pyproject.toml" | tr -d '"' | tr '\n' ' ')"
LOCAL_WHEELS="${YOLO_KFP_WHEELS_IMAGE:-yolo-kfp-wheels:$(echo "$WHEELS" | tr -cs 'A-Za-z0-9.' '-' | sed 's/-$//')}"
SOCKET="${RUN_DIR}/docker.sock"
PIDFILE="${RUN_DIR}/dockerd.pid"
LOG="${RUN_DIR}/dockerd.log"
# Packages of the local base: what python:3.11-slim-bookworm gives the Dockerfiles (python3.11 with venv and
# ensurepip, the CA store) and nothing more, so a library the real base lacks is missing here too.
BASE_PACKAGES="ca-certificates,python3,python3-venv"

log() { echo "engine.sh: $*" >&2; }

answers() {  # answers HOST: the engine at HOST replies to `docker version`
  DOCKER_HOST="$1" timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

find_host() {  # print the first engine that answers: DOCKER_HOST, ours, the system's
  local host
  for host in "${DOCKER_HOST:-}" "unix://${SOCKET}" unix:///var/run/docker.sock; do
    if [ -n "$host" ] && answers "$host"; then echo "$host"; return 0; fi
  done
  return 1
}

install_engine() {
  if command -v dockerd >/dev/null && command -v mmdebstrap >/dev/null; then return 0; fi
  if [ "$(id -u)" != 0 ]; then log "dockerd/mmdebstrap missing and not root: install docker.io and mmdebstrap"; exit 1; fi
  log "installing docker.io and mmdebstrap (apt-get)"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io mmdebstrap >&2
}

start() {
  local host
  if host="$(find_host)"; then log "engine answers at ${host}"; echo "$host"; return 0; fi
  install_engine
  mkdir -p "$DATA_ROOT" "$RUN_DIR"
  log "starting dockerd (data root ${DATA_ROOT}, socket ${SOCKET}, log ${LOG})"
  # setsid: the engine outlives this script; `stop` ends it by its pidfile.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none --data-root "$DATA_ROOT" \
    --exec-root "${RUN_DIR}/exec" -H "unix://${SOCKET}" --pidfile "$PIDFILE" >"$LOG" 2>&1 </dev/null &
  for _ in $(seq 60); do
    if answers "unix://${SOCKET}"; then echo "unix://${SOCKET}"; return 0; fi
    sleep 1
  done
  log "dockerd did not answer within 60 s; its log: ${LOG}"; tail -20 "$LOG" >&2; exit 1
}

stop() {
  [ -f "$PIDFILE" ] || { log "no engine started by this script"; return 0; }
  local pid; pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$PIDFILE"; log "engine stopped"
}

base() {
  local host; host="$(find_host)" || { log "no engine answers: run docker/engine.sh start"; exit 1; }
  export DOCKER_HOST="$host"
  if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then echo "$LOCAL_BASE"; return 0; fi
  command -v mmdebstrap >/dev/null || install_engine
  local work; work="$(mktemp -d)"; trap 'rm -rf "$work"' RETURN
  log "making ${LOCAL_BASE} with mmdebstrap (Debian bookworm minbase)"
  mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" bookworm "${work}/rootfs.tar" >&2
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' "${work}/rootfs.tar" "$LOCAL_BASE" >/dev/null
  echo "$LOCAL_BASE"
}

wheels() {  # the wheels of $WHEELS as pip on this host resolves them (its own index and find-links)
  local host; host="$(find_host)" || { log "no engine answers: run docker/engine.sh start"; exit 1; }
  export DOCKER_HOST="$host"
  if docker image inspect "$LOCAL_WHEELS" >/dev/null 2>&1; then echo "$LOCAL_WHEELS"; return 0; fi
  local work; work="$(mktemp -d)"; trap 'rm -rf "$work"' RETURN
  # The host's pip resolves for the host, so its Python must be the images' (3.11 on x86_64 Linux).
  if ! python3 -c 'import platform, sys; sys.exit(sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64")'; then
    log "python3 here is not 3.11 on x86_64: no local wheels, the build downloads torch"; echo scratch; return 0
  fi
  log "collecting ${WHEELS}with this host's pip into ${LOCAL_WHEELS}"
  # shellcheck disable=SC2086  # WHEELS is a list of requirements
  if ! python3 -m pip download --quiet --dest "$work" --only-binary=:all: $WHEELS >&2; then
    log "pip here could not collect ${WHEELS}(no pip, or no index): the build downloads torch"; echo scratch; return 0
  fi
  tar -C "$work" -c . | docker import - "$LOCAL_WHEELS" >/dev/null
  echo "$LOCAL_WHEELS"
}

build_cli() {  # a docker build command with BuildKit: buildx, else a CLI with BuildKit built in (< 23)
  if docker buildx version >/dev/null 2>&1; then echo "docker buildx build --load"; return 0; fi
  local cli version
  for cli in docker /usr/bin/docker; do
    version="$("$cli" version --format '{{.Client.Version}}' 2>/dev/null)" || continue
    if [ "${version%%.*}" -lt 23 ]; then echo "env DOCKER_BUILDKIT=1 $cli build"; return 0; fi
  done
  log "no docker CLI here builds with BuildKit: install the buildx plugin (or Debian's docker.io)"; exit 1
}

build() {
  : "${IMAGE_REGISTRY:?set IMAGE_REGISTRY}" "${IMAGE_TAG:?set IMAGE_TAG}"
  local args=(--network "${BUILD_NETWORK:-host}" --build-arg "GIT_SHA=${IMAGE_TAG}")
  [ -z "${BASE_IMAGE:-}" ] || args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
  [ -z "${WHEELS_IMAGE:-}" ] || args+=(--build-arg "WHEELS_IMAGE=${WHEELS_IMAGE}")
  [ -z "${CA_BUNDLE:-}" ] || args+=(--secret "id=ca,src=${CA_BUNDLE}")
  [ -z "${PIP_CONF:-}" ] || args+=(--secret "id=pip,src=${PIP_CONF}")
  # shellcheck disable=SC2206  # BUILD_OPTS: further `docker build` options, split on spaces
  args+=(${BUILD_OPTS:-})
  local cmd name; cmd="$(build_cli)"
  for name in "$@"; do
    [ "$name" != data ] || args+=(--build-arg "IMAGE_REGISTRY=${IMAGE_REGISTRY}")
    log "building ${IMAGE_REGISTRY}/yolo-kfp-${name}:${IMAGE_TAG} (docker/${name}.Dockerfile)"
    # shellcheck disable=SC2086  # cmd is a command with its options
    $cmd "${args[@]}" -f "${REPO}/docker/${name}.Dockerfile" -t "${IMAGE_REGISTRY}/yolo-kfp-${name}:${IMAGE_TAG}" "$REPO"
  done
  # The images these tags named before are now untagged: remove them, and keep the build cache to its
  # most recently used BUILD_CACHE_KEEP, or a persistent data root grows by GBs with every rebuild of the
  # train image's dependencies (measured: 71 GB after eight builds).
  docker image prune --force >/dev/null
  docker builder prune --force --keep-storage "${BUILD_CACHE_KEEP:-20GB}" >/dev/null
}

host_ca() {  # the CA bundle this host's clients trust (a TLS-intercepting proxy's CA is in it)
  local ca
  for ca in "${SSL_CERT_FILE:-}" "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}" \
    "$(python3 -c 'import ssl; print(ssl.get_default_verify_paths().cafile or "")' 2>/dev/null)"; do
    if [ -n "$ca" ] && [ -s "$ca" ]; then echo "$ca"; return 0; fi
  done
}

images() {
  local host; host="$(find_host)" || { log "no engine answers: run docker/engine.sh start"; exit 1; }
  export DOCKER_HOST="$host"
  local names=("$@"); [ $# -gt 0 ] || names=(data train)
  BASE_IMAGE="$(base)" WHEELS_IMAGE="$(wheels)" CA_BUNDLE="${CA_BUNDLE-$(host_ca)}" build "${names[@]}"
}

case "${1:-}" in
  start) start ;;
  host) find_host ;;
  base) base ;;
  wheels) wheels ;;
  build) shift; build "$@" ;;
  images) shift; images "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start|host|base|wheels|build NAME...|images|stop" >&2; exit 2 ;;
esac
