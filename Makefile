# Peyman: `make dev` serves the API locally, `make test` runs every test.
# Both install what is missing (Python venvs with pinned tools) and stop what they start.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := moto localstripe cfn-lint checkov aws-sam-cli schemathesis
# The tests' stack listens on other ports than `make dev`, so both can run at once.
# Its sweeper runs every second, takes outbox entries after 2 s and retries a failing timer
# or refund at once, three times, so tests of expiry, lost follow-ups and poison items
# finish in seconds.
TEST_PORTS := PORT=3100 MOTO_PORT=5100 LOCALSTRIPE_PORT=8520 ZARINPAL_PORT=8530 LOCAL_SCHEDULE_SECONDS=1 REFUND_CHECK_SECONDS=2 \
	RETRY_FIRST_SECONDS=0 RETRY_ATTEMPTS=3
# The contract tests' stack, beside the tests' one: ports of its own, and no sweep (nothing
# schemathesis checks waits for a timer, and each sweep is moto's work).
CONTRACT_PORTS := PORT=3200 MOTO_PORT=5200 LOCALSTRIPE_PORT=8620 ZARINPAL_PORT=8630 LOCAL_SCHEDULE_SECONDS=86400

# Clippy lints every crate of the workspace as it compiles: clippy-driver stands in for
# rustc there (the dependencies still get rustc), so a build is also the lint, with every
# warning an error, and nothing compiles twice for it. Every cargo below shares it, so
# they share what was built.
export RUSTC_WORKSPACE_WRAPPER := $(shell dirname "$$(rustup which rustc 2>/dev/null || command -v rustc)")/clippy-driver
export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

.PHONY: dev test check docs tools browser build lint lint-openapi lint-template stack-tests stack-contract against-stack calls contract walkthrough bench package package-build package-check redrive clean

# One venv per tool: installed together they downgrade one another.
$(VENV)/%/.installed: infra/requirements/%.txt
	rm -rf $(VENV)/$*
	$(PYTHON) -m venv $(VENV)/$*
	$(VENV)/$*/bin/pip install --quiet --disable-pip-version-check --no-compile -r $<
	touch $@

# sam, with its telemetry off and its weekly call to PyPI for a newer version already
# "done" (its state lives in the venv, checked as of 2100): nothing here calls out.
SAM_STATE := $(VENV)/aws-sam-cli/state/metadata.json
SAM := SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR=$(CURDIR)/$(VENV)/aws-sam-cli/state $(VENV)/aws-sam-cli/bin/sam
$(SAM_STATE): $(VENV)/aws-sam-cli/.installed
	mkdir -p $(dir $@)
	echo '{"lastVersionCheck": 4102444800.0, "telemetryEnabled": false}' > $@  # a float: sam ignores an integer here

tools: $(foreach t,$(TOOLS),$(VENV)/$(t)/.installed) $(SAM_STATE)


build:
	cargo build --workspace --all-targets

dev: $(VENV)/moto/.installed $(VENV)/localstripe/.installed
	cargo build -p peyman-local
	infra/local/stack.sh

# The inner loop, on a warm tree: format, the linted build, and every test that needs no
# stack (the rules', the core crate's and the gateway's unit tests, the structure tests,
# the verifier's mutations).
check: lint
	cargo test --workspace --exclude peyman-e2e

# Writes again what is generated from the code: docs/lifecycles.md (the transition tables)
# and docs/errors.md (the problem codes); the rules' tests fail when either differs.
docs:
	UPDATE_DOCS=1 cargo test -q -p peyman-rules -- the_lifecycle_document the_error_document the_event_schemas

lint: build
	cargo fmt --all --check

# Redocly's recommended rules over the API document (tests/frontend/redocly.yaml names each
# rule turned off, with its reason); the linter is pinned by tests/frontend's lock file.
$(VENV)/frontend/.installed: tests/frontend/package.json tests/frontend/package-lock.json
	rm -rf $(VENV)/frontend && mkdir -p $(VENV)/frontend
	cp tests/frontend/package.json tests/frontend/package-lock.json $(VENV)/frontend/
	cd $(VENV)/frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# No telemetry and no check for a newer version: nothing make test runs calls out.
lint-openapi: $(VENV)/frontend/.installed
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_SUPPRESS_NOTIFICATIONS=true \
	  $(VENV)/frontend/node_modules/.bin/redocly lint infra/openapi.yaml --config tests/frontend/redocly.yaml

lint-template: $(VENV)/cfn-lint/.installed $(VENV)/checkov/.installed $(SAM_STATE)
	$(VENV)/cfn-lint/bin/cfn-lint infra/template.yaml
	$(VENV)/checkov/bin/checkov --skip-download --quiet --compact -f infra/template.yaml
	$(SAM) validate --lint --template-file infra/template.yaml

# The packet page's test renders it in headless Chromium: installed from Debian (with the
# Noto fonts for Persian) where it is missing and we may (root, as in CI); elsewhere that
# test says it skipped.
browser:
	@if command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-core >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-core; \
	else echo "chromium is not installed and cannot be here: the packet page's browser test will skip"; fi

# Every check, in timed phases, ending with a table of each phase's time (infra/test.sh).
test:
	infra/test.sh

# The tests against their own local stack (started and stopped around them): the Rust
# tests and the walk-through; and schemathesis against a stack of its own (infra/test.sh
# runs both at once), so its thousands of cases meet no test's data (moto reads an index
# by scanning the whole table).
stack-tests: $(VENV)/moto/.installed $(VENV)/localstripe/.installed
	$(TEST_PORTS) infra/local/stack.sh $(MAKE) --no-print-directory against-stack

stack-contract: $(VENV)/moto/.installed $(VENV)/localstripe/.installed $(VENV)/schemathesis/.installed
	$(CONTRACT_PORTS) infra/local/stack.sh $(MAKE) --no-print-directory contract

# Runs inside infra/local/stack.sh (PORT and PEYMAN_API set): every Rust test (four at a
# time: moto serves one request at a time), then the walk-through.
against-stack:
	cargo test --workspace --no-fail-fast -- --test-threads 4
	$(MAKE) --no-print-directory walkthrough
	$(MAKE) --no-print-directory calls

# What the functions asked of AWS in this stack's run, as moto's IAM check saw it: fails if
# any call was outside its function's policy (infra/local/calls.py). Runs inside stack.sh.
calls:
	$(VENV)/moto/bin/python infra/local/calls.py

# Schemathesis with every check (but API Gateway's own answer to an undeclared method)
# and 100 examples an operation, a fixed seed, through its examples, coverage, fuzzing and
# stateful phases (the document's links walk create -> read -> accept -> order).
# infra/schemathesis/ holds its config (each exception with its reason) and a hook that
# gives every request a fresh Idempotency-Key, as a client does. Runs inside stack.sh.
contract:
	BUYER_TOKEN=$$(sed -n 's/^export BUYER_TOKEN=//p' .run/$$PORT/gateway.log) \
	SUPPORT_TOKEN=$$(sed -n 's/^export SUPPORT_TOKEN=//p' .run/$$PORT/gateway.log) \
	SCHEMATHESIS_HOOKS=peyman_hooks PYTHONPATH=infra/schemathesis \
		$(VENV)/schemathesis/bin/schemathesis --config-file infra/schemathesis/schemathesis.toml \
		run infra/openapi.yaml --url "$$PEYMAN_API" --checks all --exclude-checks unsupported_method \
		--max-examples 100 --generation-deterministic
	$(MAKE) --no-print-directory calls

# docs/walkthrough.md, run as written against the stack (inside stack.sh): once in the
# Stripe deployment, once in the Zarinpal one. The demo users' tokens are the gateway's.
walkthrough:
	export BUYER_TOKEN=$$(sed -n 's/^export BUYER_TOKEN=//p' .run/$$PORT/gateway.log) \
		SELLER_TOKEN=$$(sed -n 's/^export SELLER_TOKEN=//p' .run/$$PORT/gateway.log) \
		SUPPORT_TOKEN=$$(sed -n 's/^export SUPPORT_TOKEN=//p' .run/$$PORT/gateway.log); \
	$(PYTHON) tests/walkthrough.py docs/walkthrough.md stripe && \
	PEYMAN_API=$$PEYMAN_ZARINPAL_API LOCAL_STACK_NAME=peyman-zarinpal $(PYTHON) tests/walkthrough.py docs/walkthrough.md zarinpal

# Cold init per function (release binaries through our runtime-API emulator), the first
# call against the tenth in one process, the warm instructions per call of the hot routes
# against the local stack, latency figures through the local gateway, and the export
# builder's peak memory for a 2 GiB packet (printed, never asserted; the export takes a
# few minutes against moto).
BENCH_FUNCTIONS := orders-api offers-api offer-decisions payments-webhook sweeper export-builder
bench: $(VENV)/moto/.installed $(VENV)/localstripe/.installed
	cargo build --release $(foreach f,$(BENCH_FUNCTIONS),-p $(f))
	cd bench/peer-node && npm ci --no-audit --no-fund && npm run build
	cargo run --release -p peyman-bench --bin cold-start
	cargo build -p peyman-local
	$(TEST_PORTS) infra/local/stack.sh cargo bench -p peyman-e2e --bench warm
	$(TEST_PORTS) infra/local/stack.sh cargo bench -p peyman-e2e --bench api
	$(TEST_PORTS) infra/local/stack.sh cargo bench -p peyman-e2e --bench export
	$(TEST_PORTS) LOCAL_SCHEDULE_SECONDS=86400 infra/local/stack.sh cargo bench -p peyman-e2e --bench capacity
	cargo bench -p peyman-e2e --bench partitions

# Deployable artifacts: one `cargo lambda build --release` (cargo-lambda pinned in .venv)
# builds every function of the template, laid out in .aws-sam/build as `sam build` would
# (a bootstrap per function and a template pointing at them), for arm64 where its Rust
# target is installed and x86_64 otherwise; then every function is checked to hold an
# executable bootstrap and each zip's size is printed (over 2.5 MB fails). `sam deploy`
# uploads what this built (see docs/operations.md).
package: package-build package-check

package-build: $(VENV)/cargo-lambda/.installed
	$(PYTHON) infra/ops/package.py --build-only

package-check:
	$(PYTHON) infra/ops/package.py --check-only

# Moves a dead-letter queue's messages back to their source queue (see infra/ops/redrive.py);
# the stack's outputs name both URLs. Locally, AWS_ENDPOINT_URL points it at moto.
redrive: $(VENV)/moto/.installed
	@test -n "$(DLQ)" -a -n "$(TO)" || { echo "usage: make redrive DLQ=<dead-letter queue URL> TO=<source queue URL>"; exit 2; }
	$(VENV)/moto/bin/python infra/ops/redrive.py --dlq "$(DLQ)" --to "$(TO)"

clean:
	rm -rf target .run .aws-sam $(VENV)
