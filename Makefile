# yolo-kfp: two commands do all set-up on a fresh machine:
#   make demo   - install, then run the whole pipeline locally on the built-in sample
#   make test   - install, then lint and run the test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Security scanners live in their own venv: their pins (checkov's many) never meet the project's (kfp's).
SCAN_VENV ?= .venv-scan
SCAN_BIN := $(SCAN_VENV)/bin
SCAN_STAMP := $(SCAN_VENV)/.installed
IMAGE_REGISTRY ?= ghcr.io/yolo-kfp
IMAGE_TAG ?= $(shell git rev-parse --short=7 HEAD 2>/dev/null || echo dev)
export YOLO_OFFLINE := 1

.PHONY: install demo test test-fast lint compile pretrained-sample bench images lint-docker validate-k8s scan scan-install pin-images clean

install: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/yolo-kfp run-local

test: $(STAMP) lint lint-docker validate-k8s scan
	$(BIN)/python -m pytest -m "not gpu" -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not gpu and not slow and not e2e" -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The committed pipeline and component specs name the default images (the project version's tag);
# `yolo-kfp compile --image-registry R --image-tag T --out F` compiles for other images.
compile: $(STAMP)
	env -u IMAGE_REGISTRY -u IMAGE_TAG $(BIN)/yolo-kfp compile
	env -u IMAGE_REGISTRY -u IMAGE_TAG $(BIN)/python -m pipelines.component_specs

pretrained-sample: $(STAMP)
	$(BIN)/python -m pipelines.pretrain_sample

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# GIT_SHA = IMAGE_TAG: the data image compiles the pipeline for this registry/tag and submits it
# as the pipeline version of that name.
images:
	docker build -f docker/data.Dockerfile --build-arg GIT_SHA=$(IMAGE_TAG) \
	  --build-arg IMAGE_REGISTRY=$(IMAGE_REGISTRY) -t $(IMAGE_REGISTRY)/yolo-kfp-data:$(IMAGE_TAG) .
	docker build -f docker/train.Dockerfile --build-arg GIT_SHA=$(IMAGE_TAG) \
	  -t $(IMAGE_REGISTRY)/yolo-kfp-train:$(IMAGE_TAG) .

lint-docker: $(STAMP)
	$(BIN)/hadolint --failure-threshold info docker/*.Dockerfile

validate-k8s: $(STAMP)
	@for k in $$(find k8s -name kustomization.yaml -exec dirname {} \; | sort); do \
	  echo "== $$k"; kubectl kustomize $$k | $(BIN)/kubernetes-validate --strict --quiet - || exit 1; done

scan-install: $(SCAN_STAMP)
$(SCAN_STAMP): requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_BIN)/pip install -q --disable-pip-version-check --no-compile -r requirements-scan.txt
	touch $(SCAN_STAMP)

# zizmor on the workflows (any finding fails); checkov on every rendered kustomization and on docker/
# (settings in .checkov.yaml, skips inline with their reasons: docs/kubeflow.md "Supply chain and scanners").
scan: $(SCAN_STAMP)
	$(SCAN_BIN)/zizmor --offline --no-progress .github/workflows/
	@rendered=$$(mktemp -d) && trap 'rm -rf "$$rendered"' EXIT && \
	for k in $$(find k8s -name kustomization.yaml -exec dirname {} \; | sort); do \
	  kubectl kustomize $$k > "$$rendered/$$(echo $$k | tr / _).yaml" || exit 1; done && \
	echo "== checkov: rendered kustomizations" && \
	$(SCAN_BIN)/checkov --framework kubernetes -d "$$rendered"
	@echo "== checkov: docker/"
	$(SCAN_BIN)/checkov --framework dockerfile -d docker

# Base images and third-party images pinned by digest: print the registry's current digest of each tag
# (needs Docker with buildx, or crane). Paste them into docker/*.Dockerfile and k8s/base/kustomization.yaml.
PINNED_TAGS := python:3.11.13-slim-bookworm pytorch/pytorch:2.14.1-cuda13.0-cudnn9-runtime \
  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z
pin-images:
	@for ref in $(PINNED_TAGS); do \
	  if command -v crane >/dev/null; then digest=$$(crane digest "$$ref"); \
	  else digest=$$(docker buildx imagetools inspect "$$ref" --format '{{json .Manifest.Digest}}' | tr -d '"'); fi; \
	  echo "$$ref@$$digest"; done

clean:
	rm -rf runs .pytest_cache .ruff_cache
