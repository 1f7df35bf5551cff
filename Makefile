# The two commands a fresh machine needs:  make demo   and   make test
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)

.PHONY: setup system assets fixtures demo federation-demo serve docs test lint typecheck pytest fuzz bench bench-api bench-robust clean

setup:
ifndef UV
	python3 -m pip install --quiet "uv>=0.5"
endif
	uv sync --frozen

# The web app's front-end bundle (Chart.js, d3-geo, world-atlas), built from npm, never committed.
WEB := src/kaitiaki/web/frontend
ASSETS := src/kaitiaki/web/static/dist/dashboard.js
$(ASSETS): $(WEB)/package.json $(WEB)/package-lock.json $(wildcard $(WEB)/src/*)
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build

assets: $(ASSETS)

# Debian packages the tests use for real (Chromium, mkfs.fat/mtools, Java 17 for Spark).
system:
	bash scripts/system-deps.sh

demo: setup
	uv run kaitiaki demo --out demo

# Two installations on one machine, sharing only files: refer, receive, work, report back, signed.
federation-demo: setup
	bash scripts/federation-demo.sh federation-demo

# The operation room in a browser, on a demo operation (benign sample, simulated records).
serve: setup assets
	uv run kaitiaki serve --demo demo-web

# The documentation site into site/ (strict: a broken link or anchor fails it); the reference
# pages are generated from the code as it builds. tests/docs also runs every example on it.
docs: setup
	NO_MKDOCS_2_WARNING=1 uv run mkdocs build --strict

lint: setup
	uv run ruff check .
	uv run ruff format --check .

typecheck: setup
	uv run mypy

# Fixtures other projects publish (tests/external/sources.toml), fetched once into .cache/:
# a failed fetch is reported here and fails the tests that need it (skipped outside CI).
fixtures: setup
	-uv run python tests/external/fetch.py

pytest: setup system assets fixtures
	uv run pytest -n 2

test: lint typecheck pytest

# The fuzz suite at length: thousands of random examples per parser of outside data (minutes);
# `make test` runs the same tests with a few fixed examples each. FUZZ_EXAMPLES sets how many.
FUZZ_EXAMPLES ?= 2000
fuzz: setup system
	HYPOTHESIS_PROFILE=fuzz KAITIAKI_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) uv run pytest -n 2 tests/fuzz tests/hostile --hypothesis-show-statistics

bench: setup
	uv run python benchmarks/bench_hash.py
	uv run python benchmarks/bench_scan.py
	uv run python benchmarks/bench_index.py

# kaitiaki's HMA-compatible lookups against HMA itself (../shared/anchors/hma), same bank, same load:
# needs PostgreSQL at 127.0.0.1:5432 and the Debian packages `make system` adds (wrk, libjemalloc2,
# libpq-dev); HMA's venv is made once under ~/.cache/kaitiaki-bench. Options in BENCH_API_ARGS,
# e.g. make bench-api BENCH_API_ARGS="--hashes 10000000 --duration 60".
BENCH_API_ARGS ?=
bench-api: setup system
	uv run python benchmarks/bench_api.py $(BENCH_API_ARGS)

# Recall of PDQ, PDQ with trimmed views, the robust signal, perception and imagehash on AugLy's
# edits of benign photos (scikit-image, scikit-learn, Debian's wallpaper packages), at a
# false-match rate of 1e-5; and the cost. BENCH_ROBUST_ARGS, e.g. "--quick" or "--tiles 2".
BENCH_ROBUST_ARGS ?= --tiles 2
bench-robust: setup
	bash scripts/bench-robust-deps.sh
	uv run --group bench python benchmarks/bench_robust.py $(BENCH_ROBUST_ARGS)

clean:
	rm -rf demo demo-web .venv .mypy_cache .ruff_cache .pytest_cache
