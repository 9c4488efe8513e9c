"""Schemathesis hooks for `make test`: behave as a real client does where the document
cannot say it.

An `Idempotency-Key` names one request: a client sends a fresh key with every new request
(and the same key only when it retries that request). Generated keys repeat across
different bodies, which the API rightly refuses (`idempotency_key_reused`), so each valid
generated key is replaced by a fresh one. An invalid key (negative testing) is left as it
is, so its refusal is still checked.
"""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and VALID_KEY.match(headers[name]):
            headers[name] = uuid.uuid4().hex
