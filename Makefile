PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench emulator clean browser lock image-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tpu-bot demo

test: $(STAMP) browser
	$(BIN)/ruff check bot tpu_emulator localslack devstack tests bench scripts
	$(BIN)/ruff format --check bot tpu_emulator localslack devstack tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

# The browser tests drive Debian's Chromium; install it when we can (root with apt), else they skip.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "could not install chromium: the browser tests will be skipped"; \
	else echo "chromium is not installed and cannot be here: the browser tests will be skipped"; fi

lint: $(STAMP)
	$(BIN)/ruff format bot tpu_emulator localslack devstack tests bench scripts
	$(BIN)/ruff check --fix bot tpu_emulator localslack devstack tests bench scripts

# The image's hash-locked requirements, from pyproject.toml: deploy/requirements.txt (the product's
# dependencies with the postgres extra) and deploy/requirements-build.txt (the build backend).
# Resolves against PyPI (or UV_DEFAULT_INDEX); keeps the pins it can unless LOCK_FLAGS=--upgrade.
# Commit both files; tests/unit/test_deploy.py fails while they lag behind pyproject.toml.
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes \
	--native-tls --quiet --custom-compile-command "make lock" $(LOCK_FLAGS)
lock: $(STAMP)
	$(UV_COMPILE) pyproject.toml --extra postgres --output-file deploy/requirements.txt
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV_COMPILE) - --output-file deploy/requirements-build.txt

# Builds deploy/Dockerfile with buildah on a Debian base and runs it with podman (root; .ci/run).
image-check: $(STAMP)
	scripts/image_check.sh

bench: $(STAMP)
	$(BIN)/python bench/emulator_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
