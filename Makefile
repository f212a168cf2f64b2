# dipflow — `make run` runs the system, `make test` runs the tests. Both install what they need.
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := .local/uv/bin/uv
PY := .venv/bin/python
DIPFLOW := .venv/bin/dipflow
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test test-unit bench bench-backbone profile drill fuzz load load-capacity demo lint format infra-up infra-down clean

$(UV):
	python3 -m venv .local/uv
	.local/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

tests/compose/node_modules/.package-lock.json: tests/compose/package-lock.json
	npm ci --prefix tests/compose --silent --no-audit --no-fund

services/web/node_modules/.package-lock.json: services/web/package-lock.json
	npm ci --prefix services/web --silent --no-audit --no-fund

## install: Python workspace (uv, from uv.lock), the Kafka jars (Maven Central), the Compose schema and chart.js
## for the web pages (npm), and Debian's chromium for the browser tests (apt, as root; never a browser download).
## The Python is compiled to bytecode here, once: where bytecode is not written at import (PYTHONDONTWRITEBYTECODE=1,
## as in many containers) every process would otherwise compile all it imports at each start (3-4 s of CPU a service)
install: $(UV) tests/compose/node_modules/.package-lock.json services/web/node_modules/.package-lock.json
	$(UV) sync --all-packages --frozen --quiet --compile-bytecode
	$(PY) -m compileall -q shared/src services/*/src >/dev/null
	$(DIPFLOW) infra fetch
	@command -v chromium >/dev/null || if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "chromium is missing: the browser tests will fail until 'sudo apt-get install chromium'"; fi

## run: Kafka + PostgreSQL + the four services on fixed ports; Ctrl-C stops everything
run: install
	$(DIPFLOW) run --keycloak

## test: the whole suite against real Kafka and PostgreSQL (started on free ports unless TEST_* are set)
test: install lint
	$(PY) -m pytest -n $${TEST_WORKERS:-2} --dist loadfile

test-unit: install
	$(PY) -m pytest tests/unit

## bench: the whole pipeline against the machine's limit: throughput, latency, replay, memory, cold start
bench: install
	$(PY) -m bench.pipeline

## profile: one offered rate with py-spy on each service, CPU per process and database waits (bench/results/profile/)
profile: install
	$(PY) -m bench.profile --rate $${RATE:-300} --seconds 20

## bench-backbone: the outbox relay and the idempotent consumer alone, against a raw producer and consumer
bench-backbone: install
	$(PY) -m bench.backbone

## drill: 2,000 generated journeys through SIGKILLs of 2 instances of each service and restarts, then a
## reconciliation (prints the counts); REPLICAS=N instances; CLUSTER=3 runs three Kafka nodes and kills leaders
drill: install
	$(PY) -m bench.drill --journeys 2000 --kills 10 --replicas $${REPLICAS:-2} --cluster $${CLUSTER:-1}

## fuzz: schemathesis against every service's OpenAPI, 1,000 generated cases per operation (counts in .local/fuzz/);
## a new seed each run, printed first: DIPFLOW_FUZZ_SEED=<seed> make fuzz replays it
fuzz: install
	DIPFLOW_FUZZ_EXAMPLES=$${DIPFLOW_FUZZ_EXAMPLES:-1000} DIPFLOW_FUZZ_SEED=$${DIPFLOW_FUZZ_SEED:-random} \
		$(PY) -m pytest tests/integration/test_fuzz_openapi.py

## load: 200 requests/s of mixed reads and writes on the whole system for 5 min; errors, latency, memory bound
load: install
	$(PY) -m bench.load --rate 200 --duration 300

## load-capacity: rising request rates on fresh systems until one does not hold (the capacity), then twice the
## capacity: shed requests answered 503 within 100 ms, accepted p99 ≤ 1 s, memory flat, accepted writes exact
load-capacity: install
	$(PY) -m bench.capacity

## demo: with `make run` going (another terminal), replay a generated day at a London custody suite
demo: install
	$(DIPFLOW) demo

## lint: ruff check, ruff format --check, mypy (strict on shared/ and services/), import-linter's layer contracts,
## the Kubernetes overlays rendered and checked against the API schemas (offline, under 2 s)
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy shared/src services/*/src tests/
	.venv/bin/lint-imports
	$(PY) -m tests.support.k8s_manifests

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

## infra-up / infra-down: the servers alone, in the background (Kafka 9092, PostgreSQL 55432)
infra-up: install
	$(DIPFLOW) infra up

infra-down: install
	$(DIPFLOW) infra down

clean: infra-down
	rm -rf .local/run .local/test-infra
