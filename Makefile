# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ROLE ?= buyer
SUB ?= B-1


.PHONY: system-run system-test install kafka-jars check run test test-fast token order mails demo contracts asyncapi chaos bench bench-quick bench-replay bench-shards bench-export clean

system-run:  ## Debian packages make run needs (Java, Maven, python3-venv), installed when missing
	@bash tools/ensure_packages.sh run

system-test:  ## ... and what the tests add (PostgreSQL, Chromium and its driver)
	@bash tools/ensure_packages.sh test

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements.lock -e ".[test]"
	touch $(STAMP)

install: $(STAMP)  ## Python environment with the pinned packages

kafka-jars: install  ## fetch the Kafka broker jars from Maven Central (once, cached)
	$(PY) -m infra.kafka fetch

run: system-run kafka-jars  ## the whole system locally: Kafka, dispute API + relay, notification, refund
	$(PY) -m tools.run_local

# Test files run on this many processes at once (pytest-xdist; 0: all in this one). Each
# worker starts its own Kafka and PostgreSQL when its first test needs them; a file stays on
# one worker, so its module fixtures are set up once. Most of a run is waiting (brokers,
# deadlines, back-offs, subprocesses starting): two workers use the second core.
TEST_WORKERS ?= 2
# Files are handed out in this order (--no-loadscope-reorder): the end-to-end files, a few
# minutes each, first, so that the many short ones fill in beside them instead of the long
# ones ending the run one after the other.
TEST_PATHS ?= tests/e2e tests/integration tests/component tests/unit

test: system-test kafka-jars check  ## the layering and types, then every tier against a real Kafka broker and PostgreSQL started for the run (TEST_WORKERS=2 processes)
	$(PY) -m pytest -ra -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS) $(TEST_PATHS)

check: install  ## import-linter contracts (the layering) and mypy (strict on the domain); part of make test
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m mypy

test-fast: install  ## unit and component tests only (no servers)
	$(PY) -m pytest -ra tests/unit tests/component

token: install  ## print a bearer token: make token ROLE=seller SUB=S-1
	@$(PY) -m tools.dev token --role $(ROLE) --sub $(SUB)

order: install  ## publish a sample paid, delivered order O-1 (buyer B-1, seller S-1, item I-1, 100.00 USD)
	$(PY) -m tools.dev order

mails: install  ## the e-mails the local SMTP sink received while `make run` is going
	@$(PY) -c "import json, urllib.request; [print(m['to'], '|', m['subject']) for m in json.load(urllib.request.urlopen('http://127.0.0.1:8026/messages'))]"

demo: install  ## against a running `make run`: three orders, one dispute from opening to refund over HTTP; prints the timeline, the refund and the e-mails
	@$(PY) -m tools.demo

contracts: install  ## JSON Schema of every contract into contracts/schema/ (a test checks they are current)
	$(PY) -m tools.gen_docs contracts

asyncapi: install  ## AsyncAPI document of every service into docs/asyncapi/ (a test checks they are current)
	$(PY) -m tools.gen_docs asyncapi

chaos: system-test kafka-jars  ## the whole platform under load while a seeded injector kills its processes and restarts Kafka and PostgreSQL; then the fault ledger, printed and in .run/chaos/ledger.json (about 7 min; CHAOS_DURATION, CHAOS_RATE, CHAOS_SEED)
	$(PY) -m tools.chaos

bench: kafka-jars  ## what users feel (HTTP commands, relay, end to end, replay, RSS) beside same-run baselines: bench/results.json (a few minutes)
	$(PY) -m benchmarks.bench

bench-quick: kafka-jars  ## the same benchmark at smaller sizes (under 2 minutes)
	$(PY) -m benchmarks.bench --quick

bench-replay: install  ## projection rebuild, audit export and verify over 100k then 1M stored events: events/s beside a raw scan, peak RSS (own durable PostgreSQL; 3-4 min on a 2-core machine; QUICK=1: 10k/50k)
	$(PY) -m benchmarks.replay $(if $(QUICK),--quick) --json bench/replay.json

bench-shards: kafka-jars  ## in-process commands/s with one event store shard beside two on one durable PostgreSQL (minutes)
	$(PY) -m benchmarks.shards

bench-export: bench-replay  ## the export's peak memory at 100k vs 1M events: now part of bench-replay

clean:
	rm -rf .run var .pytest_cache
