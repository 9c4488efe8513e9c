"""Signs webhook payloads the way Stripe does, with Stripe's own Python library.

Reads JSON lines from stdin, each {"payload": "...", "secret": "...", "timestamp": N},
and prints for each the Stripe-Signature header made by
stripe.WebhookSignature.generate_signature_header.
"""

import json
import sys

import stripe

for line in sys.stdin:
    request = json.loads(line)
    print(
        stripe.WebhookSignature.generate_signature_header(
            request["payload"], request["secret"], timestamp=request["timestamp"]
        ),
        flush=True,
    )
