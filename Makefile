# scanflow: the two commands of the README, plus a few conveniences.
PY ?= python3
STAMP := .scanflow/.installed

.PHONY: run test test-fast install lint bench clean

## run: install what is missing, then run the whole pipeline on the embedded broker
##      with the bundled demo market, API and dashboard (Ctrl-C stops everything)
run: install
	$(PY) -m scanflow up

## test: the whole suite, unit + embedded-broker integration + Apache Kafka tier
test: install
	@$(PY) -m scanflow.brokers.kafka fetch || { \
	  if [ -n "$$CI" ]; then echo "error: Apache Kafka jars could not be fetched (Java 17 + Maven needed)"; exit 1; \
	  else echo "note: Apache Kafka jars unavailable here; the kafka tier will skip with its reason"; fi; }
	$(PY) -m pytest -q -p no:cacheprovider

## test-fast: unit tests only (no broker)
test-fast: install
	$(PY) -m pytest -q -m unit

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@mkdir -p .scanflow && touch $(STAMP)

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: install
	$(PY) -m scanflow bench detectors
	$(PY) -m scanflow bench lake
	$(PY) -m scanflow bench pipeline

clean:
	rm -rf .scanflow lake .pytest_cache .mypy_cache .ruff_cache
