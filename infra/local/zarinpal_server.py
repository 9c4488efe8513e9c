"""A local stand-in for Zarinpal's payment gateway (API v4), on 127.0.0.1 and in memory.

Zarinpal ships no local sandbox, so this is ours, written from its documentation
(zarinpal.com/docs/paymentGateway): it is not Zarinpal, and it models only what Peyman
uses.

- POST /pg/v4/payment/request.json: a payment of `amount` for `merchant_id`, answered
  with an `authority` (code 100), or code -9 with the invalid fields.
- GET /pg/StartPay/{authority}: the payer's page, with "pay" and "cancel"; each redirects
  the browser to the request's `callback_url` with `Authority` and `Status=OK|NOK`, as
  the gateway does (POST .../pay and .../cancel do the same without a browser).
- POST /pg/v4/payment/verify.json: 100 the first time for a paid authority (with
  `ref_id`, `card_pan`, `card_hash`, `fee`), 101 after that; -50 for an amount other
  than the one requested, -51 for an authority not paid (or cancelled), -54 for an
  unknown one, -11/-9 for a wrong merchant or missing fields.
- POST /pg/v4/payment/unVerified.json: the merchant's paid authorities not yet verified.
- POST /api/v4/graphql/: the refund service's `AddRefund` mutation only, for the bearer
  token in ZARINPAL_ACCESS_TOKEN. The transaction (`session_id`) is named by the
  `ref_id` its verify call answered; refunds of at least 20,000 Rials, up to what was
  paid, by CARD or PAYA. A refusal is a GraphQL error (HTTP 200); a wrong token is 401.
- GET /_stand-in/verify-calls/{authority}: ours, not Zarinpal's: every amount a verify
  call for that authority carried, so tests can see what Peyman sent.
- GET /_stand-in/refunds/{session_id}: ours: every AddRefund the transaction took, and
  how many calls named it (refused ones too).
- POST /_stand-in/refunds/drop?amount=N: ours: from now on an AddRefund of exactly N is
  recorded (it happened) and its connection closed with no answer, as a lost answer or a
  crash after the call looks to Peyman.

Not modelled: the verify deadline after which Zarinpal returns unverified money to the
payer, fees other than a fixed one, IRT amounts, the refund service's other queries and
its refund states after the answer, card-holder restrictions, wages (split payments),
and any authentication beyond the merchant id and the access token. That `session_id`
is the verify answer's `ref_id` is our reading of the documentation, not confirmed.

    zarinpal_server.py PORT
"""

import html
import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlparse

PAYMENTS = {}  # authority -> payment
VERIFY_CALLS = {}  # authority -> the amounts verify calls carried
REFUNDS = {}  # session_id (a verified payment's ref_id) -> the refunds it took
REFUND_CALLS = {}  # session_id -> how many AddRefund calls named it, refused ones too
DROPPED_AMOUNTS = set()  # AddRefund amounts answered with a closed connection
ACCESS_TOKEN = os.environ.get("ZARINPAL_ACCESS_TOKEN", "")
MIN_REFUND = 20_000
LOCK = threading.Lock()


def error(code, message, validations=None):
    return {"data": [], "errors": {"code": code, "message": message, "validations": validations or []}}


class Gateway(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("zarinpal: " + fmt % args + "\n")

    def answer(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("location", location)
        self.send_header("content-length", "0")
        self.end_headers()

    def body(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None

    def do_GET(self):
        parts = urlparse(self.path).path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] == ["pg", "StartPay"]:
            payment = PAYMENTS.get(parts[2])
            if payment is None:
                return self.answer(404, error(-54, "Invalid authority."))
            page = (
                '<!DOCTYPE html><html lang="fa" dir="rtl"><meta charset="utf-8">'
                f"<title>پرداخت (stand-in)</title><h1>{payment['amount']} ریال</h1>"
                f"<p>{html.escape(payment['description'])}</p>"
                f'<form method="post" action="/pg/StartPay/{parts[2]}/pay"><button>pay</button></form>'
                f'<form method="post" action="/pg/StartPay/{parts[2]}/cancel"><button>cancel</button></form>'
            )
            payload = page.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            return self.wfile.write(payload)
        if len(parts) == 3 and parts[:2] == ["_stand-in", "verify-calls"]:
            with LOCK:
                return self.answer(200, {"amounts": list(VERIFY_CALLS.get(parts[2], []))})
        if len(parts) == 3 and parts[:2] == ["_stand-in", "refunds"]:
            with LOCK:
                return self.answer(200, {"refunds": list(REFUNDS.get(parts[2], [])),
                                         "calls": REFUND_CALLS.get(parts[2], 0)})
        self.answer(404, error(-12, "Not found."))

    def do_POST(self):
        path = urlparse(self.path).path.strip("/")
        parts = path.split("/")
        if len(parts) == 4 and parts[:2] == ["pg", "StartPay"] and parts[3] in ("pay", "cancel"):
            with LOCK:
                payment = PAYMENTS.get(parts[2])
                if payment is None:
                    return self.answer(404, error(-54, "Invalid authority."))
                if payment["state"] == "requested":
                    payment["state"] = "paid" if parts[3] == "pay" else "cancelled"
                status = "OK" if payment["state"] in ("paid", "verified") else "NOK"
            query = urlencode({"Authority": parts[2], "Status": status})
            sep = "&" if "?" in payment["callback_url"] else "?"
            return self.redirect(payment["callback_url"] + sep + query)
        if path == "_stand-in/refunds/drop":
            query = dict(p.split("=", 1) for p in urlparse(self.path).query.split("&") if "=" in p)
            with LOCK:
                DROPPED_AMOUNTS.add(int(query["amount"]))
            return self.answer(200, {"dropped": sorted(DROPPED_AMOUNTS)})
        body = self.body()
        if path == "api/v4/graphql":
            return self.graphql(body)
        if not isinstance(body, dict):
            return self.answer(400, error(-9, "The input params invalid, validation error."))
        if path == "pg/v4/payment/request.json":
            return self.request_payment(body)
        if path == "pg/v4/payment/verify.json":
            return self.verify(body)
        if path == "pg/v4/payment/unVerified.json":
            return self.unverified(body)
        self.answer(404, error(-12, "Not found."))

    def request_payment(self, body):
        missing = [f for f in ("merchant_id", "amount", "callback_url", "description") if not body.get(f)]
        amount = body.get("amount")
        if not isinstance(amount, int) or amount < 1000:
            missing.append("amount")
        if missing:
            return self.answer(422, error(-9, "The input params invalid, validation error.", sorted(set(missing))))
        authority = "A" + "".join(secrets.choice("0123456789") for _ in range(35))
        with LOCK:
            PAYMENTS[authority] = {
                "merchant_id": body["merchant_id"],
                "amount": amount,
                "callback_url": body["callback_url"],
                "description": body["description"],
                "metadata": body.get("metadata") or {},
                "state": "requested",
                "ref_id": None,
            }
        self.answer(200, {"data": {"code": 100, "message": "Success", "authority": authority,
                                   "fee_type": "Merchant", "fee": 100}, "errors": []})

    def verify(self, body):
        if not body.get("merchant_id") or not body.get("authority") or not isinstance(body.get("amount"), int):
            return self.answer(422, error(-9, "The input params invalid, validation error."))
        with LOCK:
            VERIFY_CALLS.setdefault(body["authority"], []).append(body["amount"])
            payment = PAYMENTS.get(body["authority"])
            if payment is None:
                return self.answer(404, error(-54, "Invalid authority."))
            if payment["merchant_id"] != body["merchant_id"]:
                return self.answer(401, error(-11, "The merchant is not active or not valid."))
            if payment["amount"] != body["amount"]:
                return self.answer(422, error(-50, "Session is not valid, amounts values is not the same."))
            if payment["state"] not in ("paid", "verified"):
                return self.answer(422, error(-51, "Session is not valid, session is not active paid try."))
            first = payment["state"] == "paid"
            if first:
                payment["state"] = "verified"
                payment["ref_id"] = int("".join(secrets.choice("0123456789") for _ in range(9)))
        data = {"code": 100 if first else 101, "message": "Paid" if first else "Verified",
                "ref_id": payment["ref_id"], "card_pan": "502229******5995",
                "card_hash": "1EBE3EBEBE35C7EC0F8D6EE4F2F859107A87822CA179BC9528767EA7B5489B69",
                "fee_type": "Merchant", "fee": 100}
        self.answer(200, {"data": data, "errors": []})

    def unverified(self, body):
        merchant = body.get("merchant_id")
        if not merchant:
            return self.answer(422, error(-9, "The input params invalid, validation error."))
        with LOCK:
            authorities = [{"authority": a, "amount": p["amount"], "callback_url": p["callback_url"],
                            "referer": "", "date": ""}
                           for a, p in PAYMENTS.items() if p["merchant_id"] == merchant and p["state"] == "paid"]
        self.answer(200, {"data": {"code": 100, "message": "Success", "authorities": authorities}, "errors": []})

    def graphql(self, body):
        if not ACCESS_TOKEN or self.headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
            return self.answer(401, {"errors": [{"message": "Unauthenticated."}], "data": None})
        if not isinstance(body, dict) or "AddRefund" not in str(body.get("query")):
            return self.answer(200, {"errors": [{"message": "The stand-in knows AddRefund only."}], "data": None})
        v = body.get("variables") or {}
        session, amount = str(v.get("session_id")), v.get("amount")
        with LOCK:
            REFUND_CALLS[session] = REFUND_CALLS.get(session, 0) + 1

        def refused(message):
            return self.answer(200, {"errors": [{"message": message, "extensions": {"category": "validation"}}],
                                     "data": {"resource": None}})

        if not isinstance(amount, int) or amount < MIN_REFUND:
            return refused(f"amount must be at least {MIN_REFUND} Rials")
        if v.get("method") not in ("CARD", "PAYA"):
            return refused("method must be CARD or PAYA")
        if v.get("reason") not in ("CUSTOMER_REQUEST", "DUPLICATE_TRANSACTION", "SUSPICIOUS_TRANSACTION", "OTHER"):
            return refused("unknown reason")
        with LOCK:
            paid = next((p for p in PAYMENTS.values() if p["state"] == "verified" and str(p["ref_id"]) == session),
                        None)
            if paid is None:
                return refused("session not found")
            taken = REFUNDS.setdefault(session, [])
            if sum(r["amount"] for r in taken) + amount > paid["amount"]:
                return refused("the refund exceeds what is left of the payment")
            taken.append({"amount": amount, "method": v["method"], "reason": v["reason"],
                          "description": v.get("description")})
            dropped = amount in DROPPED_AMOUNTS
        if dropped:
            # The refund happened; its answer never arrives.
            self.close_connection = True
            return
        timeline = {"refund_amount": amount, "refund_time": ""}
        self.answer(200, {"data": {"resource": {"terminal_id": "1", "id": session, "amount": paid["amount"],
                                                "timeline": timeline}}})


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Gateway).serve_forever()
