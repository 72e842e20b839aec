# cliff: the two commands a newcomer needs are `make demo` and `make test`.
# Both create (or reuse) a virtual environment in $(VENV) and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
BUILD_DEPS := "setuptools>=77" "numpy>=2.0" onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0
SOURCES := $(shell find csrc -name '*.c' -o -name '*.h') setup.py

.PHONY: all build demo test test-fast bench clean distclean

all: build

$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(BUILD_DEPS)
	$(PIP) install --no-build-isolation -e .
	touch $@

$(VENV)/.test: $(VENV)/.base pyproject.toml
	$(PIP) install -e '.[test]' --no-build-isolation
	touch $@

# Incremental rebuild of the C core in the source tree (the editable install points here).
cliff/_core.stamp: $(SOURCES) $(VENV)/.base
	$(PY) setup.py -q build_ext --inplace -j 2
	touch $@

build: cliff/_core.stamp

demo: build
	$(PY) -m cliff demo

test: build $(VENV)/.test
	$(PY) -m pytest -q tests

# Everything but the tests marked slow (HR48 parity, the notebook): for quick iterations.
test-fast: build $(VENV)/.test
	$(PY) -m pytest -q -m "not slow" tests

$(VENV)/.bench: $(VENV)/.test pyproject.toml
	$(PIP) install -e '.[test,bench]' --no-build-isolation
	touch $@

bench: build $(VENV)/.bench
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build cliff/_core*.so cliff/_core.stamp

distclean: clean
	rm -rf $(VENV) *.egg-info
