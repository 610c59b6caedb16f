# yolo-kfp: two commands do all set-up on a fresh machine:
#   make demo   - install, then run the whole pipeline locally on the built-in sample
#   make test   - install, then lint and run the test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IMAGE_REGISTRY ?= ghcr.io/yolo-kfp
IMAGE_TAG ?= $(shell git rev-parse --short=7 HEAD 2>/dev/null || echo dev)
export YOLO_OFFLINE := 1

.PHONY: install demo test test-fast lint compile pretrained-sample bench images lint-docker validate-k8s clean

install: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/yolo-kfp run-local

test: $(STAMP) lint
	$(BIN)/python -m pytest -m "not gpu" -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not gpu and not slow and not e2e" -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

compile: $(STAMP)
	$(BIN)/yolo-kfp compile

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

clean:
	rm -rf runs .pytest_cache .ruff_cache
