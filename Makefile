# yolo-kfp: two commands do all set-up on a fresh machine:
#   make demo   - install, then run the whole pipeline locally on the built-in sample
#   make test   - install, then lint and run the test suite (what CI runs)
SHELL := /bin/bash
# Python: the versions yolo-kfp supports, oldest first (pyproject.toml's requires-python says the same;
# tests/test_python_versions.py checks that they agree).
PYTHONS := 3.11 3.12 3.13
# The full install (.venv: train and dev extras, the whole suite) uses PYTHON when it is set; else Python
# 3.11 when the machine has it (CI's: torch's wheels lie on its local disk for 3.11 only, other versions
# download several GB); else the newest supported Python on the machine. Found as python3.X on PATH, else
# as pyenv's install of 3.X (its shim refuses a version that is not selected). `make test-pythons` runs
# the light install (no torch) on the other supported versions the machine has.
FULL_PYTHON_ORDER := 3.11 3.13 3.12
PYENV_ROOT ?= $(HOME)/.pyenv
# python_for,V: the path of a working Python V, or nothing.
python_for = $(shell for c in python$(1) $$(ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python$(1) 2>/dev/null \
  | sort -rV); do v=$$($$c -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.executable)' 2>/dev/null) \
  && [ "$${v%% *}" = "$(1)" ] && { echo "$${v#* }"; break; }; done)
version_of = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
comma := ,
SUPPORTED := $(subst $() $(),$(comma) ,$(PYTHONS))
ifeq ($(origin PYTHON),undefined)
# Found once, when a recipe first needs it (make clean and friends start no interpreter).
PYTHON = $(eval PYTHON := $(firstword $(foreach v,$(FULL_PYTHON_ORDER),$(call python_for,$(v)))))$(PYTHON)
else ifneq ($(filter python3.%,$(PYTHON)),)
# PYTHON=python3.X whose pyenv shim refuses (3.X installed but not selected): pyenv's install of 3.X.
override PYTHON := $(or $(if $(call version_of,$(PYTHON)),$(PYTHON)),$(call python_for,$(PYTHON:python%=%)),$(PYTHON))
endif
PYTHON_VERSION = $(eval PYTHON_VERSION := $(if $(PYTHON),$(call version_of,$(PYTHON))))$(PYTHON_VERSION)
# One line and stop, in the recipes that make a venv (and at once for PYTHON=... on the command line).
check_python = $(if $(filter $(PYTHONS),$(PYTHON_VERSION)),,$(error $(if $(PYTHON),PYTHON=$(PYTHON) is \
  $(if $(PYTHON_VERSION),Python $(PYTHON_VERSION),not a working Python),no supported Python found (python3.X \
  on PATH or pyenv)): yolo-kfp supports Python $(SUPPORTED); install one or set PYTHON=/path/to/python3.X))
ifeq ($(origin PYTHON),command line)
$(check_python)
endif
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Security scanners live in their own venv: their pins (checkov's many) never meet the project's (kfp's).
SCAN_VENV ?= .venv-scan
SCAN_BIN := $(SCAN_VENV)/bin
SCAN_STAMP := $(SCAN_VENV)/.installed
# A real KServe ModelServer for predict --url's test (tests/predict/test_predict_url.py), in its own venv:
# kserve 0.21 needs protobuf >= 6.33.5, which kfp's pins in .venv refuse. About 40 s and 400 MB, once.
KSERVE_VENV ?= .venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.installed
IMAGE_REGISTRY ?= ghcr.io/yolo-kfp
IMAGE_TAG ?= $(shell git rev-parse --short=7 HEAD 2>/dev/null || echo dev)
export YOLO_OFFLINE := 1

.PHONY: install demo test test-fast test-pythons test-containers lint compile pretrained-sample bench study-real images push-images lint-docker validate-k8s scan scan-install kserve-install pin-images clean

install: $(STAMP)
$(STAMP): pyproject.toml
	$(check_python)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/yolo-kfp run-local

test: $(STAMP) $(KSERVE_STAMP) lint lint-docker validate-k8s scan
	$(BIN)/python -m pytest -n 2 -m "not gpu and not container" -q
	@$(MAKE) --no-print-directory test-containers
	@$(MAKE) --no-print-directory test-pythons

# The images built from docker/*.Dockerfile and the whole pipeline run in them (tests/containers), when a
# Docker engine answers (`docker/engine.sh start` starts one; .ci/run does). One process: the tests share
# one build (cold: about 6 min on 2 cores, then the layer cache; docs/kubeflow.md "Building the images").
test-containers: $(STAMP)
	@if host=$$(docker/engine.sh host 2>/dev/null); then \
	  DOCKER_HOST=$$host $(BIN)/python -m pytest -m container -q -p no:cacheprovider tests/containers; \
	else echo "== container tests skipped: no Docker engine answers (docker/engine.sh start or bash .ci/run starts one)"; fi

# The light install (base and test extras: no torch) on each supported Python other than the full one's,
# in $(VENV)-py3.X: the data stages, the CLI and `compile` (the tests below import no torch;
# tests/test_python_versions.py checks it). A version the machine lacks is skipped with a line saying so.
# On 2 cores: about 45 s to make each venv (downloads from the index), then about 65 s of tests.
LIGHT_TESTS := tests/convert tests/split tests/stats tests/plan tests/test_cli.py \
  tests/pipelines/test_config.py tests/pipelines/test_compiled_pipeline.py
OTHER_PYTHONS = $(filter-out $(PYTHON_VERSION),$(PYTHONS))
test-pythons:
	@$(MAKE) -k --no-print-directory $(addprefix test-py,$(OTHER_PYTHONS))

test-py%:
	$(eval light_python := $(if $(filter $(PYTHONS),$*),$(call python_for,$*)))
	@if [ -z "$(light_python)" ]; then echo "== Python $*: not on this machine (python$* on PATH or pyenv), skipped"; \
	  exit 0; fi; set -e; venv=$(VENV)-py$*; \
	if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	  echo "== Python $*: light install into $$venv ($(light_python))"; \
	  $(light_python) -m venv $$venv; \
	  $$venv/bin/pip install -q --disable-pip-version-check --no-compile -e '.[test]'; touch $$venv/.installed; fi; \
	if $$venv/bin/python -c 'import torch' 2>/dev/null; then \
	  echo "torch is installed in $$venv: not a light install, remove $$venv" >&2; exit 1; fi; \
	echo "== Python $*: light tests, compile"; \
	$$venv/bin/python -m pytest -n 2 -q -p no:cacheprovider -m "not gpu and not slow and not e2e" $(LIGHT_TESTS); \
	out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	env -u IMAGE_REGISTRY -u IMAGE_TAG $$venv/bin/yolo-kfp compile --out "$$out/pipeline.yaml"

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

# Every benchmark, every ratio the median of interleaved pairs (< 15 min on 2 CPUs; what was shortened
# to fit: docs/benchmarks.md). `python -m benchmarks.run_all --smoke` is the CI check (tests/bench).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# The real-data transfer study (docs/transfer.md): YOLOv8s fall detector -> voc-helmet, 5 variants and
# 4 other settings x 3 seeds at 12 epochs; frozen vs auto at the plan's own 32 epochs; the second
# target (voc-other, person); then the synthetic study from a YOLOv8s task-A backbone (pre-trained
# once). About 1 h 45 min on 2 CPUs; needs ../shared (models/fall-yolov8s, data/voc-helmet, voc-other).
study-real: $(STAMP)
	$(BIN)/python -m benchmarks.transfer_real --explore
	$(BIN)/python -m benchmarks.transfer_real --length-check
	$(BIN)/python -m benchmarks.transfer_real --target voc-other
	$(BIN)/python -m benchmarks.transfer --size-check

# GIT_SHA = IMAGE_TAG: the data image compiles the pipeline for this registry/tag and submits it
# as the pipeline version of that name. Optional: BASE_IMAGE (another Python 3.11 Debian base), CA_BUNDLE
# (a TLS-intercepting proxy's CA, passed as a build secret), PIP_CONF (a pip.conf with a mirror's index-url,
# the build secret `pip`), WHEELS_IMAGE (an image of wheels pip prefers;
# with buildx: BUILD_OPTS="--build-context wheels=DIR"), BUILD_OPTS="--build-arg PIP_NO_INDEX=1" (air-gapped).
# docs/kubeflow.md "Building the images"; `make push-images` pushes both.
images:
	IMAGE_REGISTRY=$(IMAGE_REGISTRY) IMAGE_TAG=$(IMAGE_TAG) docker/engine.sh build data train

push-images:
	docker push $(IMAGE_REGISTRY)/yolo-kfp-data:$(IMAGE_TAG)
	docker push $(IMAGE_REGISTRY)/yolo-kfp-train:$(IMAGE_TAG)

lint-docker: $(STAMP)
	$(BIN)/hadolint --failure-threshold info docker/*.Dockerfile

validate-k8s: $(STAMP)
	@for k in $$(find k8s -name kustomization.yaml -exec dirname {} \; | sort); do \
	  echo "== $$k"; kubectl kustomize $$k | $(BIN)/kubernetes-validate --strict --quiet - || exit 1; done

kserve-install: $(KSERVE_STAMP)
$(KSERVE_STAMP): requirements-kserve.txt
	$(check_python)
	$(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/pip install -q --disable-pip-version-check --no-compile -r requirements-kserve.txt
	touch $(KSERVE_STAMP)

scan-install: $(SCAN_STAMP)
$(SCAN_STAMP): requirements-scan.txt
	$(check_python)
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
PINNED_TAGS := python:3.11.13-slim-bookworm \
  quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z
pin-images:
	@for ref in $(PINNED_TAGS); do \
	  if command -v crane >/dev/null; then digest=$$(crane digest "$$ref"); \
	  else digest=$$(docker buildx imagetools inspect "$$ref" --format '{{json .Manifest.Digest}}' | tr -d '"'); fi; \
	  echo "$$ref@$$digest"; done

clean:
	rm -rf runs .pytest_cache .ruff_cache
