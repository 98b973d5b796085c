# All set-up happens here: `make demo` and `make test` work on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

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
	$(BIN)/ruff check resnet_deploy tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(BIN)/resnet-deploy
	$(BIN)/ruff check resnet_deploy tests benchmarks
	$(BIN)/ruff format --check resnet_deploy tests benchmarks

clean:
	rm -rf $(VENV) export/* engines/* calib/*
