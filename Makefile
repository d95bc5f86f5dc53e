# The two commands of README.md:  `make serve`  and  `make test`.
# Both create the virtual environment and install everything on first use.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test install prepare train eval bench lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned exactly: the CPU build is on local disk; a range pulls CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

prepare: install
	$(VENV)/bin/pulse prepare

serve: prepare
	$(VENV)/bin/pulse serve

test: install
	$(VENV)/bin/pytest -m "slow or not slow"

train: install
	$(PY) -m training.train_all

eval: install
	$(PY) -m pip install --quiet -e '.[dev,eval]'
	$(PY) -m eval.heads
	$(PY) -m eval.embedders
	$(PY) -m eval.tune_topics
	$(PY) -m eval.topics

bench: install
	$(PY) -m eval.speed

lint: install
	$(VENV)/bin/ruff check service training eval tests

clean:
	rm -rf $(VENV)
