# All set-up happens here: `make demo` and `make test` work on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean gpu-check

$(BIN)/resnet-deploy: pyproject.toml constraints-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints-dev.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints-dev.txt -e '.[dev]'
	touch $@

# IMAGES=path/to/folder classifies your own images (default: the shared CIFAR-10 test JPEGs).
IMAGES ?=

demo: $(BIN)/resnet-deploy
	$(BIN)/resnet-deploy doctor
	$(BIN)/resnet-deploy demo $(IMAGES)

test: $(BIN)/resnet-deploy
	$(BIN)/ruff check resnet_deploy tests benchmarks scripts
	$(BIN)/python -m pytest -q

# On a machine with an NVIDIA GPU and PyTorch with CUDA (no network): every GPU-only check,
# results in $(OUT)/gpu-acceptance.json and .log. WHEELS=scripts/wheels installs from that folder first.
OUT ?= gpu-acceptance
WHEELS ?=
gpu-check:
	$(PY) scripts/gpu_acceptance.py $(OUT) $(if $(WHEELS),--wheels $(WHEELS))

lint: $(BIN)/resnet-deploy
	$(BIN)/ruff check resnet_deploy tests benchmarks scripts
	$(BIN)/ruff format --check resnet_deploy tests benchmarks scripts

clean:
	rm -rf $(VENV) export/* engines/* calib/*
