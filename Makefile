# cliff: the two commands a newcomer needs are `make demo` and `make test`.
# Both create (or reuse) a virtual environment in $(VENV) and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# not -q: a first `make test` shows what it installs instead of minutes of silence
PIP := $(PY) -m pip --disable-pip-version-check
# pip shows what it installs, without progress bars in logs
export PIP_PROGRESS_BAR := off
BUILD_DEPS := "setuptools>=77" "numpy>=2.0" onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0
SOURCES := $(shell find csrc -name '*.c' -o -name '*.h') setup.py

.PHONY: all build demo test test-slow test-all bench clean distclean fuzz fuzz-ci asan

all: build

# The editable install does not build the core (CLIFF_NO_EXT=1): cliff/_core.stamp builds it
# once, in place, where the editable install finds it.
$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "== cliff: installing the build dependencies (setuptools, numpy, oneDNN) into $(VENV)"
	$(PIP) install $(BUILD_DEPS)
	@echo "== cliff: installing cliff (editable, Python side; the C core is built next)"
	CLIFF_NO_EXT=1 $(PIP) install --no-build-isolation -e .
	touch $@

$(VENV)/.test: $(VENV)/.base pyproject.toml
	@echo "== cliff: installing the test dependencies (the [test] extra: pytest, torch, ...)"
	CLIFF_NO_EXT=1 $(PIP) install -e '.[test]' --no-build-isolation
	touch $@

# Incremental rebuild of the C core in the source tree (the editable install points here).
cliff/_core.stamp: $(SOURCES) $(VENV)/.base
	@echo "== cliff: compiling the C core (csrc/, once; again only when a source changes)"
	$(PY) setup.py -q build_ext --inplace -j 2
	touch $@

build: cliff/_core.stamp

demo: build
	$(PY) -m cliff demo

# The suite without the tests marked slow (HR48 parity, real Ray/Dask clusters, the notebook):
# the README's test command. `make test-slow` runs the slow ones; CI runs both.
test: build $(VENV)/.test
	$(PY) -m pytest -q -m "not slow" tests

test-slow: build $(VENV)/.test
	$(PY) -m pytest -q -m slow tests

test-all: build $(VENV)/.test
	$(PY) -m pytest -q tests
# Coverage-guided fuzzing of every reader (atheris/libFuzzer; docs/security.md). New inputs go
# to build/fuzz/<target>, the committed corpus is only read. FUZZ_SECONDS per target.
FUZZ_TARGETS := unpickle checkpoint smpl mean_params keypoints boxes
FUZZ_SECONDS ?= 120
fuzz: build $(VENV)/.test
	$(PY) fuzz/refuse.py
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/$$t; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  $(PY) fuzz/fuzz_readers.py $$t -max_total_time=$(FUZZ_SECONDS) -timeout=2 \
	    -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix=build/fuzz/$$t- \
	    build/fuzz/$$t fuzz/corpus/valid/$$t \
	    fuzz/corpus/hostile/$$t 2>&1 | grep -E "^(fuzz|stat::number_of_executed_units|==|INFO: Running|Done)|Error|error" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# The CI's short pass: every hostile file refused (< 1 s, 3 GiB address space), then each
# fuzzer for FUZZ_SECONDS.
fuzz-ci: FUZZ_SECONDS = 12
fuzz-ci: fuzz

# The core built with AddressSanitizer + UndefinedBehaviorSanitizer in a copy of the tree
# (build/asan; the normal build is untouched), then the C-facing tests with small inputs.
# libstdc++ is preloaded with libasan so that C++ exceptions thrown by OpenCV (the tests'
# reference) find ASan's __cxa_throw interceptor; --capture=sys keeps sanitizer reports on
# the terminal.
ASAN_DIR := build/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_TESTS := tests/test_crop.py tests/test_smpl.py tests/test_geometry.py tests/test_render.py \
              tests/test_model.py tests/test_c_api.py tests/test_crop_bedlam.py tests/test_smplx.py tests/test_winograd.py \
              tests/test_crop_skimage.py tests/test_crop_mmhuman3d.py tests/test_streams.py \
              tests/test_branch_streams.py tests/test_pose_prior.py tests/test_upright_prior.py
asan: $(VENV)/.test
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
	cp -r cliff csrc tests fuzz setup.py pyproject.toml README.md $(ASAN_DIR)/
	rm -f $(ASAN_DIR)/cliff/_core*.so $(ASAN_DIR)/cliff/_core.stamp
	cd $(ASAN_DIR) && CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  $(abspath $(PY)) setup.py -q build_ext --inplace -j 2
	cd $(ASAN_DIR) && ldd cliff/_core*.so | grep -q libasan && export \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" \
	  ASAN_OPTIONS=detect_leaks=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 && \
	  $(abspath $(PY)) -c "import cliff, os; assert cliff.__file__.startswith(os.getcwd()), cliff.__file__" && \
	  $(abspath $(PY)) -m pytest -q -p no:cacheprovider --capture=sys -x -m "not slow" $(ASAN_TESTS)


$(VENV)/.bench: $(VENV)/.test pyproject.toml
	$(PIP) install -e '.[test,bench]' --no-build-isolation
	touch $@

bench: build $(VENV)/.bench
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build cliff/_core*.so cliff/_core.stamp

# also the stand-in files cliff caches (`cliff cache` lists them): $$XDG_CACHE_HOME/cliff or
# ~/.cache/cliff
distclean: clean
	rm -rf $(VENV) *.egg-info
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/cliff"
