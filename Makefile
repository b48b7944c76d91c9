# Two commands, each setting up what it needs in .venv first (skipped when already done):
#   make demo   transcribe the bundled sample with the demonstration model and print the text
#   make test   install everything (extras, plugins, beam search, espeak-ng) and run the whole
#               test suite, `ruff check` and `ruff format --check`
# A stamp file per set-up step, newer than the pyproject.toml files it read, marks it done.

PYTHON ?= python3
VENV ?= .venv
# torch first, pinned, before anything that depends on it: a plain `torch` requirement pulls a
# multi-GB CUDA build. Where the index serves CUDA builds (PyPI on Linux), the CPU build:
#   make demo TORCH_PIP_ARGS='--index-url https://download.pytorch.org/whl/cpu'
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=

BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q
DEMO_OUT := out/demo
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

.PHONY: demo test
.DEFAULT_GOAL := demo

demo: $(VENV)/.stamp-demo
	$(BIN)/asr-pipeline transcribe examples/espeak_ru_sample.flac \
		--model tests/fixtures/espeak-ru-tiny --stages vad,ctc,numbers,casing \
		-f txt -o $(DEMO_OUT) --overwrite
	@cat $(DEMO_OUT)/espeak_ru_sample.txt

# pytest exits 5 when it collected no tests: a broken run, not a pass.
test: $(VENV)/.stamp-test espeak-ng
	@status=0; $(BIN)/python -m pytest -q || status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

$(VENV)/.stamp-torch: | $(BIN)/python
	$(PIP) $(TORCH_PIP_ARGS) '$(TORCH)'
	@touch $@

# What the demo runs: recognition and VAD.
$(VENV)/.stamp-demo: pyproject.toml $(VENV)/.stamp-torch
	$(PIP) -e '.[asr,vad]'
	@touch $@

# Everything: the dev extra (every extra the tests use), both plugins, and beam search without
# pyctcdecode's numpy<2 pin (it runs on numpy 2); kenlm compiles from source, about 90 s.
$(VENV)/.stamp-test: pyproject.toml $(wildcard plugins/*/pyproject.toml) $(VENV)/.stamp-torch
	$(PIP) -e '.[dev]' $(foreach plugin,$(wildcard plugins/*/),-e '$(plugin)')
	$(PIP) --no-deps 'pyctcdecode>=0.5'
	$(PIP) 'pygtrie>=2.1' kenlm
	@touch $@ $(VENV)/.stamp-demo

# Some tests synthesise speech with espeak-ng; they are skipped without it.
.PHONY: espeak-ng
espeak-ng:
	@command -v espeak-ng >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q espeak-ng >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q espeak-ng >/dev/null 2>&1; }; }; } || \
	echo "warning: espeak-ng is not installed (apt-get install espeak-ng as root);" \
	     "the speech-synthesis tests will be skipped" >&2
