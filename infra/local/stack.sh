#!/usr/bin/env bash
# The local stack, all on 127.0.0.1: moto (DynamoDB, S3, SQS), localstripe (the Stripe
# API, which sends signed webhooks to the gateway) and the gateway; with
# PAYMENT_PROVIDER=zarinpal, our Zarinpal stand-in and a gateway that pays through it.
# Commands (the tests) get both providers: the gateway on PORT pays through localstripe,
# a second one on ZARINPAL_GATEWAY_PORT (PEYMAN_ZARINPAL_API; its own table, bucket and
# queues) through the stand-in. A third, on CLOCK_GATEWAY_PORT (PEYMAN_CLOCK_API), is a
# deployment whose order and dispute windows are seconds long, so the tests watch its own
# sweeper auto-complete, close review windows, accept silent cancellations and mark
# unanswered disputes as production's would days later.
#   stack.sh            start them, print the demo tokens, serve until Ctrl-C
#   stack.sh CMD ARGS   start them, run CMD against them, stop; exits with CMD's status
# All are stopped by the PIDs saved here, however this script ends.
set -euo pipefail
cd "$(dirname "$0")/../.."

MOTO_PORT=${MOTO_PORT:-5000}
PORT=${PORT:-3000}
LOCALSTRIPE_PORT=${LOCALSTRIPE_PORT:-8420}
ZARINPAL_PORT=${ZARINPAL_PORT:-8430}
ZARINPAL_GATEWAY_PORT=${ZARINPAL_GATEWAY_PORT:-$((PORT + 1))}
CLOCK_GATEWAY_PORT=${CLOCK_GATEWAY_PORT:-$((PORT + 2))}
run_dir=".run/$PORT"
mkdir -p "$run_dir"

# moto checks IAM (moto_server.py): this script, the gateway's provisioning and the tests
# use the administrator's key it writes at start; each function runs as its own user.
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export PORT PEYMAN_API="http://127.0.0.1:$PORT"
# localstripe takes any sk_ key; the signing secret is the one registered with it below.
export STRIPE_API_BASE="http://127.0.0.1:$LOCALSTRIPE_PORT" STRIPE_SECRET_KEY=sk_test_local
export STRIPE_WEBHOOK_SECRET=whsec_local PEYMAN_PYTHON="$PWD/.venv/localstripe/bin/python"
# Our stand-in for Zarinpal (no local sandbox exists): any 36-character merchant id.
export ZARINPAL_API_BASE="http://127.0.0.1:$ZARINPAL_PORT" ZARINPAL_MERCHANT_ID=00000000-0000-0000-0000-000000000000
# Its refund service, on the same stand-in, for this merchant's (made-up) access token.
export ZARINPAL_GRAPHQL_URL="$ZARINPAL_API_BASE/api/v4/graphql/" ZARINPAL_ACCESS_TOKEN=zarinpal-local-access-token

stop() {
  for name in gateway gateway-zarinpal gateway-clock zarinpal localstripe moto; do
    if [[ -f "$run_dir/$name.pid" ]]; then
      kill "$(cat "$run_dir/$name.pid")" 2>/dev/null || true
      rm -f "$run_dir/$name.pid"
    fi
  done
}
trap stop EXIT
trap 'exit 130' INT TERM

# Polls until $2 is true or 30 s pass; no fixed sleeps.
wait_for() {
  local what=$1 check=$2 pid_file=$3
  for _ in $(seq 1 300); do
    if eval "$check"; then return 0; fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      echo "$what exited during start:" >&2; cat "$run_dir/$what.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$what did not start within 30 s:" >&2; cat "$run_dir/$what.log" >&2; return 1
}

rm -f "$run_dir/administrator.json"
MOTO_ADMIN_KEY_FILE="$run_dir/administrator.json" .venv/moto/bin/python infra/local/moto_server.py \
  -H 127.0.0.1 -p "$MOTO_PORT" >"$run_dir/moto.log" 2>&1 &
echo $! >"$run_dir/moto.pid"
wait_for moto "curl -sf -o /dev/null http://127.0.0.1:$MOTO_PORT/_peyman/calls" "$run_dir/moto.pid"
AWS_ACCESS_KEY_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKeyId"])' "$run_dir/administrator.json")
AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["SecretAccessKey"])' "$run_dir/administrator.json")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

.venv/localstripe/bin/python infra/local/localstripe_server.py "$LOCALSTRIPE_PORT" >"$run_dir/localstripe.log" 2>&1 &
echo $! >"$run_dir/localstripe.pid"
wait_for localstripe "curl -sf -o /dev/null -X POST $STRIPE_API_BASE/_config/webhooks/peyman \
  -d url=$PEYMAN_API/v1/webhooks/payments/stripe -d secret=$STRIPE_WEBHOOK_SECRET" "$run_dir/localstripe.pid"

# The Zarinpal stand-in: for every command run against the stack (the tests), and for
# `make dev` when PAYMENT_PROVIDER=zarinpal.
if [[ $# -gt 0 || "${PAYMENT_PROVIDER:-stripe}" == zarinpal ]]; then
  python3 infra/local/zarinpal_server.py "$ZARINPAL_PORT" >"$run_dir/zarinpal.log" 2>&1 &
  echo $! >"$run_dir/zarinpal.pid"
  wait_for zarinpal "curl -s -o /dev/null -X POST $ZARINPAL_API_BASE/pg/v4/payment/unVerified.json -d '{}'" "$run_dir/zarinpal.pid"
fi

"${CARGO_TARGET_DIR:-target}"/debug/peyman-local >"$run_dir/gateway.log" 2>&1 &
echo $! >"$run_dir/gateway.pid"
wait_for gateway "grep -q '^ready' '$run_dir/gateway.log'" "$run_dir/gateway.pid"

if [[ $# -gt 0 ]]; then
  # A payer who does not come back is verified by the sweeper after 10 s (120 s in a
  # deployment), so a test's own callback comes first.
  export PEYMAN_ZARINPAL_API="http://127.0.0.1:$ZARINPAL_GATEWAY_PORT"
  PAYMENT_PROVIDER=zarinpal PORT=$ZARINPAL_GATEWAY_PORT PEYMAN_API=$PEYMAN_ZARINPAL_API \
    LOCAL_STACK_NAME=peyman-zarinpal RECONCILE_AFTER_SECONDS=10 \
    "${CARGO_TARGET_DIR:-target}"/debug/peyman-local >"$run_dir/gateway-zarinpal.log" 2>&1 &
  echo $! >"$run_dir/gateway-zarinpal.pid"

  # The clock stack: every window a few seconds (dispute after completion: twenty, so a test
  # can open one after an auto-completion), paid through localstripe, which sends it
  # the same events as the first gateway (each acts only on its own intents).
  export PEYMAN_CLOCK_API="http://127.0.0.1:$CLOCK_GATEWAY_PORT"
  curl -sf -o /dev/null -X POST "$STRIPE_API_BASE/_config/webhooks/peyman-clock" \
    -d url="$PEYMAN_CLOCK_API/v1/webhooks/payments/stripe" -d secret="$STRIPE_WEBHOOK_SECRET"
  PORT=$CLOCK_GATEWAY_PORT PEYMAN_API=$PEYMAN_CLOCK_API LOCAL_STACK_NAME=peyman-clock \
    LOCAL_PARAMETER_OVERRIDES="AutoCompleteSeconds=4 CancellationResponseSeconds=4 ReviewWindowSeconds=4 DisputeResponseSeconds=4 DisputeAfterCompletionSeconds=20 AmendmentResponseSeconds=4 PaymentWindowSeconds=20" \
    "${CARGO_TARGET_DIR:-target}"/debug/peyman-local >"$run_dir/gateway-clock.log" 2>&1 &
  echo $! >"$run_dir/gateway-clock.pid"
  wait_for gateway-zarinpal "grep -q '^ready' '$run_dir/gateway-zarinpal.log'" "$run_dir/gateway-zarinpal.pid"
  wait_for gateway-clock "grep -q '^ready' '$run_dir/gateway-clock.log'" "$run_dir/gateway-clock.pid"
fi

if [[ $# -eq 0 ]]; then
  sed -n '1,/^ready/p' "$run_dir/gateway.log"
  echo "moto on http://127.0.0.1:$MOTO_PORT, localstripe on $STRIPE_API_BASE; logs in $run_dir/. Ctrl-C stops all."
  if [[ "${PAYMENT_PROVIDER:-stripe}" == zarinpal ]]; then
    echo "Payments go through our Zarinpal stand-in on $ZARINPAL_API_BASE (not Zarinpal: see the README)."
  fi
  echo "export STRIPE_API_BASE=$STRIPE_API_BASE STRIPE_SECRET_KEY=$STRIPE_SECRET_KEY"
  echo "export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
  tail -n +1 -f "$run_dir/gateway.log" --pid "$(cat "$run_dir/gateway.pid")" | grep -v '^export\|^ready\|^Peyman\|^Demo' || true
else
  "$@"
fi
