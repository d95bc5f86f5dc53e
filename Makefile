# The two commands of README.md:  `make serve`  and  `make test`.
# Both create the virtual environment and install everything on first use.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve test install browser prepare train eval bench lint clean

# The browser tests drive Debian's Chromium (no browser download at test time); a CJK font
# so that screenshots show Chinese text.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned exactly: the CPU build is on local disk; a range pulls CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(CHROMIUM) $(CJK_FONT):
	$(SUDO) apt-get update -qq
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei

browser: $(CHROMIUM) $(CJK_FONT)

prepare: install
	$(VENV)/bin/pulse prepare

serve: prepare
	$(VENV)/bin/pulse serve

test: install browser
	$(VENV)/bin/pytest -m "slow or not slow"

train: install
	$(PY) -m training.train_all

eval: install
	$(PY) -m pip install --quiet -e '.[dev,eval]'
	$(PY) -m eval.heads
	$(PY) -m eval.intent_sources
	$(PY) -m eval.zh_reviews
	$(PY) -m eval.inews
	$(PY) -m eval.chat_oof
	$(PY) -m eval.encoder_tuning
	$(PY) -m eval.embedders
	$(PY) -m eval.tune_topics
	$(PY) -m eval.topics
	$(PY) -m eval.fewshot
	$(PY) -m eval.chat_flags
	$(PY) -m eval.redaction
	$(PY) -m eval.operators
	$(PY) -m eval.feedback

bench: install
	$(PY) -m eval.speed
	$(PY) -m eval.load
	$(PY) -m eval.faults
	$(PY) -m eval.trust

lint: install
	$(VENV)/bin/ruff check service training eval tests

clean:
	rm -rf $(VENV)
