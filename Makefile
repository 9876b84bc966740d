# Two commands on a fresh machine: `make run` (install + start the app) and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APP_STAMP := $(VENV)/.installed-app
PORT    ?= 8501

.PHONY: run test install browser demo-data bench train-default evaluate-default shipped-eval clean

# What each target needs (pyproject.toml's groups): the app, or everything with the test tools.
$(APP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[app,published]"
	$(BIN)/python -m pip install --quiet --no-deps geoclip==1.3.0  # its pins would downgrade transformers
	touch $(APP_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[app,collect,analysis,published,dev]"
	$(BIN)/python -m pip install --quiet --no-deps geoclip==1.3.0  # GeoCLIP's MLP, location encoder, gallery (MIT)
	touch $(STAMP) $(APP_STAMP)

install: $(STAMP)

## Start the web app on the bundled default model (assets/models/default.pt), offline.
run: $(APP_STAMP)
	$(BIN)/streamlit run app/main.py --server.port $(PORT)

## Debian's Chromium for the browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

## Install everything and run the whole test suite.
test: $(STAMP) browser
	$(BIN)/python -m pytest

## An openly licensed demo set for a clone without data: 300 test images of OSV-5M (CC BY-SA 4.0, from
## Mapillary) from the Hugging Face Hub into data/demo/, resumable, with its attribution (needs internet).
demo-data: $(APP_STAMP)
	$(BIN)/python -m model.collect demo --n 300 --out data/demo

## Benchmarks (print figures; not tests).
bench: $(STAMP)
	$(BIN)/python -m model.bench

## Reproduce the shipped default model (see README) and its test-split evaluation.
train-default: $(STAMP)
	$(BIN)/python -m model.train $$($(BIN)/python -m model.recipes) --out runs/default
	cp runs/default/model.pt assets/models/default.pt

evaluate-default: $(STAMP)
	$(BIN)/python -m model.evaluate --checkpoint assets/models/default.pt --split test --out runs/eval-default

## Regenerate the evaluation shipped with the default model (assets/models/default.eval: predictions and
## metrics, no images), which Explore opens in seconds; run it after changing default.pt or the test split.
shipped-eval: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m model.evaluate --checkpoint assets/models/default.pt --split test --cache '' --out runs/shipped-eval
	OMP_NUM_THREADS=1 $(BIN)/python -m model.audit --checkpoint assets/models/default.pt --split test --out runs/shipped-eval
	$(BIN)/python -m app.common.shipped --checkpoint assets/models/default.pt --split test --from runs/shipped-eval

clean:
	rm -rf runs .pytest_cache tests/artifacts
