# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CASE   := fixtures/valid/example-grade3-deep.json
OUT    := out

.PHONY: run test lint typecheck fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[render]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,render]'
	touch $@ $(VENV)/.installed-run

## run: install and run the main job on the bundled example case
run: $(VENV)/.installed-run
	mkdir -p $(OUT)
	$(BIN)/icans-interop check $(CASE)
	$(BIN)/icans-interop grade $(CASE)
	$(BIN)/icans-interop report $(CASE) --sr $(OUT)/example-sr.dcm --fhir $(OUT)/example-r4.json
	$(BIN)/icans-interop report $(CASE) --fhir $(OUT)/example-r5.json --fhir-version R5
	$(BIN)/icans-interop validate $(OUT)/example-sr.dcm $(OUT)/example-r4.json
	$(BIN)/icans-interop validate $(OUT)/example-r5.json
	$(BIN)/icans-interop template -o $(OUT)/questionnaire-r4.json
	$(BIN)/icans-interop template --prefill $(CASE) -o $(OUT)/example-response.json
	$(BIN)/icans-interop extract $(OUT)/example-response.json --to sr -o $(OUT)/example-from-form-sr.dcm
	$(BIN)/icans-interop render $(CASE) -o $(OUT)/example-report.html
	$(BIN)/icans-interop render $(CASE) --format pdf -o $(OUT)/example-report.pdf

## test: install with test extras, lint, type-check and run the whole suite
test: $(VENV)/.installed-test lint typecheck
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check icans_interop tests bench tools
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

## fuzz: long hypothesis + mutation fuzzing of the validators (10,000 inputs per format)
fuzz: $(VENV)/.installed-test
	FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_sr_fuzz.py tests/test_fhir_fuzz.py

## bench: speed against the peers (ratios printed)
bench: $(VENV)/.installed-test
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
