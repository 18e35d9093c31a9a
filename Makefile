# dsn: everyday commands. `make help` lists them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch/torchvision pins that install from this project's machines' local disk; change freely elsewhere
TORCH ?= torch==2.14.1 torchvision==0.29.1
DATA ?= ../shared/data/mvtec_ad
CATEGORY ?= bottle
WEIGHTS ?= ../shared/weights/squeezenet1_1_imagenet.pth
# more settings for train, sweep, test and test-slow: make train ARGS="model=knn seed=1"
ARGS ?=

.PHONY: help install system-deps test test-slow lint format train sweep clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install:  ## create .venv and install dsn with everything it needs (torch first)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e '.[dev]'

# what the suite's real-service tests start: a single-node SLURM with accounting (tests/slurm_cluster.py)
SYSTEM_DEPS := slurm-wlm slurmdbd munge mariadb-server chromium

system-deps:  ## Debian packages the suite needs: SLURM (scheduler tests), chromium (the HTML report test); as root, CI runs it
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_DEPS)

test:  ## the test suite (its measured time: README, "Test")
	$(BIN)/python -m pytest -q $(ARGS)

test-slow:  ## the tests marked slow (real-data accuracy checks, minutes each)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

lint:  ## ruff: lint and format check (as CI runs them)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:  ## ruff: fix what it can and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train:  ## train DifferSqueezeNet on $(CATEGORY) under $(DATA) with local weights $(WEIGHTS)
	$(BIN)/dsn-train data.root=$(DATA) data.category=$(CATEGORY) model.features.weights=$(WEIGHTS) $(ARGS)

sweep:  ## the paper's random search (20 trials, resumable) for DifferSqueezeNet on $(CATEGORY)
	$(BIN)/dsn-train -m hparams_search=paper_random data.root=$(DATA) data.category=$(CATEGORY) model.features.weights=$(WEIGHTS) $(ARGS)

clean:  ## remove run logs, caches and build leftovers (keeps .venv)
	rm -rf logs .cache build *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
