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
TEST_PORTS := PORT=3100 MOTO_PORT=5100 LOCALSTRIPE_PORT=8520 LOCAL_SCHEDULE_SECONDS=1 OUTBOX_GRACE_SECONDS=2 \
	RETRY_FIRST_SECONDS=0 RETRY_ATTEMPTS=3

.PHONY: dev test tools build lint lint-template against-stack bench zip redrive clean

# One venv per tool: installed together they downgrade one another.
$(VENV)/%/.installed: infra/requirements/%.txt
	rm -rf $(VENV)/$*
	$(PYTHON) -m venv $(VENV)/$*
	$(VENV)/$*/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

tools: $(foreach t,$(TOOLS),$(VENV)/$(t)/.installed)

build:
	cargo build --workspace --all-targets

dev: $(VENV)/moto/.installed $(VENV)/localstripe/.installed
	cargo build -p peyman-local
	infra/local/stack.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# sam's telemetry would call out; it is off for every sam command here.
lint-template: $(VENV)/cfn-lint/.installed $(VENV)/checkov/.installed $(VENV)/aws-sam-cli/.installed
	$(VENV)/cfn-lint/bin/cfn-lint infra/template.yaml
	$(VENV)/checkov/bin/checkov --skip-download --quiet --compact -f infra/template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/aws-sam-cli/bin/sam validate --lint --template-file infra/template.yaml

test: tools build lint lint-template
	$(TEST_PORTS) infra/local/stack.sh $(MAKE) --no-print-directory against-stack

# Runs inside infra/local/stack.sh (PORT and PEYMAN_API set): every Rust test, then
# schemathesis with every check (but API Gateway's own answer to an undeclared method)
# and 100 examples an operation, a fixed seed, through its examples, coverage, fuzzing
# and stateful phases (the document's links walk create -> read -> accept -> order).
# infra/schemathesis/ holds its config (each exception with its reason) and a hook that
# gives every request a fresh Idempotency-Key, as a client does.
against-stack:
	cargo test --workspace --no-fail-fast
	BUYER_TOKEN=$$(sed -n 's/^export BUYER_TOKEN=//p' .run/$$PORT/gateway.log) \
	SUPPORT_TOKEN=$$(sed -n 's/^export SUPPORT_TOKEN=//p' .run/$$PORT/gateway.log) \
	SCHEMATHESIS_HOOKS=peyman_hooks PYTHONPATH=infra/schemathesis \
		$(VENV)/schemathesis/bin/schemathesis --config-file infra/schemathesis/schemathesis.toml \
		run infra/openapi.yaml --url "$$PEYMAN_API" --checks all --exclude-checks unsupported_method \
		--max-examples 100 --generation-deterministic

# Latency figures through the local gateway (printed, never asserted).
bench: $(VENV)/moto/.installed $(VENV)/localstripe/.installed
	cargo build -p peyman-local
	$(TEST_PORTS) infra/local/stack.sh cargo bench -p peyman-e2e --bench api

# Lambda deployment packages (bootstrap zips) under target/lambda/.
zip: $(VENV)/cargo-lambda/.installed
	PATH="$(CURDIR)/$(VENV)/cargo-lambda/bin:$$PATH" cargo lambda build --release --output-format zip \
		$$(rustup target list --installed | grep -q aarch64-unknown-linux-gnu && echo --arm64 || echo --x86-64) \
		$(foreach f,$(wildcard functions/*),--bin $(notdir $(f)))

# Moves a dead-letter queue's messages back to their source queue (see infra/ops/redrive.py);
# the stack's outputs name both URLs. Locally, AWS_ENDPOINT_URL points it at moto.
redrive: $(VENV)/moto/.installed
	@test -n "$(DLQ)" -a -n "$(TO)" || { echo "usage: make redrive DLQ=<dead-letter queue URL> TO=<source queue URL>"; exit 2; }
	$(VENV)/moto/bin/python infra/ops/redrive.py --dlq "$(DLQ)" --to "$(TO)"

clean:
	rm -rf target .run $(VENV)
