# Two commands do all the set-up on a fresh machine (Python 3.11 and PyPI reachable):
#   make train   creates .venv, installs fastgrad, trains the MNIST CNN on the bundled data
#   make test    creates .venv if missing, installs the test extras, runs the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: train train-distributed test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,plots,scripts]"
	touch $@

train: $(VENV)/.installed
	$(BIN)/python scripts/train_mnist_cnn.py $(ARGS)

# NP processes (default 2) train data-parallel under MPI's launcher; ARGS as for train.
NP ?= 2
train-distributed: $(VENV)/.installed
	$(BIN)/mpiexec -n $(NP) $(BIN)/python scripts/train_mnist_cnn.py --distributed $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only \
		--benchmark-autosave --benchmark-json=benchmarks/latest.json $(ARGS)
	$(BIN)/python scripts/benchmark_report.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
