# The two commands a fresh machine needs:  make demo   and   make test
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)

.PHONY: setup system demo test lint typecheck pytest bench clean

setup:
ifndef UV
	python3 -m pip install --quiet "uv>=0.5"
endif
	uv sync --frozen

# Debian packages the tests use for real (Chromium, mkfs.fat/mtools, Java 17 for Spark).
system:
	bash scripts/system-deps.sh

demo: setup
	uv run kaitiaki demo --out demo

lint: setup
	uv run ruff check .
	uv run ruff format --check .

typecheck: setup
	uv run mypy

pytest: setup system
	uv run pytest -n 2

test: lint typecheck pytest

bench: setup
	uv run python benchmarks/bench_hash.py
	uv run python benchmarks/bench_scan.py
	uv run python benchmarks/bench_index.py

clean:
	rm -rf demo .venv .mypy_cache .ruff_cache .pytest_cache
