"""moto's own server, as strict as AWS where the local stack needs it to be, with DynamoDB
requests taken one at a time and transactions that copy only what they touch.

**IAM.** With `MOTO_ADMIN_KEY_FILE` set, the server creates an administrator (an IAM user
allowed everything, for the stack's provisioning and the tests' own look at the data),
writes its access key to that file, and from then on authenticates every request and
authorizes it against the caller's IAM policies: a call outside the policy, or signed with
a wrong secret, is a 403, as in AWS. Each function gets a user of its own whose policy is
the function's policy in the template (`principals.py`). moto's own check is completed
here where it is kinder than AWS (docs/local-stack.md lists what remains):
- DynamoDB, KMS and Secrets Manager calls are checked against the table's (index's),
  key's or secret's ARN; moto checks them against `*`, which no resource-scoped policy
  matches.
- A transaction is authorized item by item, by each item's own action (`PutItem`,
  `UpdateItem`, `DeleteItem`, `ConditionCheckItem`), as AWS does; moto asks for
  `dynamodb:TransactWriteItems`. A batch read is checked on every table it reads.
- An SQS batch is authorized by its single action (`sqs:SendMessage` for
  `SendMessageBatch`), as AWS does; moto asks for the batch action.
- A presigned S3 link is checked as AWS checks it: its signature (by the signer's
  secret), its expiry, and the signer's policy for the object (`s3:GetObjectVersion` for
  a version); moto fails such a request with a 500.
Every authorization is recorded (`GET /_peyman/calls`: each principal's actions and
resources, allowed and denied), so `make test` can say which calls were refused.

moto's TransactWriteItems deep-copies whole tables to roll back on failure, without a
lock, so a write arriving during the copy crashes it ("dictionary changed size during
iteration") and the client sees a 500. Real DynamoDB applies each request atomically;
one lock around moto's DynamoDB handler gives the local stack the same behaviour.
S3 and SQS stay concurrent, so SQS long polls never hold up the table.

The copy is also made once per *item* of the transaction, so every transactional write
got slower as the table grew (an accept: 50 ms on an empty table, 600 ms after a few
dozen). Here moto's transaction runs unchanged except that it does not copy tables:
the items the transaction touches are copied before it runs and put back if it fails,
which is the same rollback, in the time of the transaction's own size.

The table's stream: moto appends a record for each write of a transaction as it goes,
and its own rollback (a whole-table copy) took those back with the table. The rollback
here puts back the items, so it also drops the stream records the failed transaction
appended; and reads of the stream take the same lock, so no reader ever sees a record
of a transaction that did not commit (DynamoDB streams carry committed writes only).
"""

import copy
import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
from collections import defaultdict
from urllib.parse import parse_qsl, quote

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_one_at_a_time = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _one_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action

from moto.dynamodbstreams.responses import DynamoDBStreamsHandler  # noqa: E402

_streams_call_action = DynamoDBStreamsHandler.call_action


def _serialized_streams_call_action(self):
    with _one_at_a_time:
        return _streams_call_action(self)


DynamoDBStreamsHandler.call_action = _serialized_streams_call_action


class _CopyAllButTables:
    """Stands in for the `copy` module inside moto's DynamoDB models during a
    transaction: a table is returned as is (its touched items are snapshotted instead),
    anything else is copied as usual."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_transact_write_items = DynamoDBBackend.transact_write_items


def _touched_items(backend, transact_items):
    """(table, hash key, range key) of every item the transaction writes or checks."""
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.get_table(op["TableName"])
        source = op["Item"] if op_type == "Put" else op["Key"]
        key = {table.hash_key_attr: source[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = source[table.range_key_attr]
        hash_value, range_value = backend.get_keys_value(table, key)
        yield table, hash_value, range_value


def _restore(snapshot):
    for table, hash_value, range_value, old in reversed(snapshot):
        if old is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = old
        else:
            table.items[hash_value] = old


def _transact_write_items_copying_touched_items(self, transact_items):
    try:
        snapshot = [
            (table, h, r, copy.deepcopy(table.get_item(h, r)))
            for table, h, r in _touched_items(self, transact_items)
        ]
    except Exception:
        # A malformed request: moto's own code reports it, in its own way.
        return _transact_write_items(self, transact_items)
    streams = {id(t): (t.stream_shard, len(t.stream_shard.items)) for t, _, _, _ in snapshot if t.stream_shard}
    dynamodb_models.copy = _CopyAllButTables
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(snapshot)
        for shard, length in streams.values():
            del shard.items[length:]
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = _transact_write_items_copying_touched_items


# moto answers every query by sorting every item of the table: a query of one partition
# keeps the items of its hash key afterwards, a query of an index compares each item's
# index key as a typed value. A sweep of the timer shards, a timeline, a list or a queue
# page then took time in the table's size, and under the full test suite moto spent four
# fifths of its time sorting. Here a query sees only the items it can match: the
# partition's own, or those whose index hash key is the one asked for (a plain
# comparison of the stored value); moto sorts and pages them as before, so the answer is
# the same, in the time of the matching items.
_table_query = Table.query


def _query_matching_items_only(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    conditions = kwargs.get("hash_key_conditions") or []

    def matching():
        if not index_name:
            partition = self.items.get(hash_key, {})
            return list(partition.values()) if self.range_key_attr else [partition]
        found = []
        for hash_set in self.items.values():
            for item in hash_set.values() if self.range_key_attr else [hash_set]:
                attrs = getattr(item, "attrs", {})
                if all(
                    (value := attrs.get(name)) is not None and value.type == expected.type and value.value == expected.value
                    for name, expected in conditions
                ):
                    found.append(item)
        return found

    if index_name and not conditions:
        return _table_query(self, hash_key, *args, **kwargs)
    self.all_items = matching
    try:
        return _table_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


Table.query = _query_matching_items_only



# ---- IAM ------------------------------------------------------------------------------

ACCOUNT = "123456789012"
from moto.iam.access_control import (  # noqa: E402  (after the DynamoDB patches above)
    IAMPolicy,
    IAMRequestBase,
    IAMUserAccessKey,
    PermissionResult,
)
from moto.iam.models import iam_backends  # noqa: E402
from moto.kms.models import kms_backends  # noqa: E402
from moto.kms.responses import KmsResponse  # noqa: E402
from moto.secretsmanager.models import secretsmanager_backends  # noqa: E402
from moto.secretsmanager.responses import SecretsManagerResponse  # noqa: E402
from moto.sqs.responses import SQSResponse  # noqa: E402

# (principal, action, resource) -> [allowed, denied]
_calls = defaultdict(lambda: [0, 0])
_calls_lock = threading.Lock()


def _record(principal, action, resource, allowed):
    with _calls_lock:
        _calls[(principal, action, resource)][0 if allowed else 1] += 1


def _principal(request):
    return getattr(getattr(request, "_access_key", None), "_owner_user_name", None) or "(unknown key)"


_check_action_permitted = IAMRequestBase.check_action_permitted


def _recorded_check_action_permitted(self, resource):
    try:
        _check_action_permitted(self, resource)
    except Exception:
        _record(_principal(self), self._action, resource, False)
        raise
    _record(_principal(self), self._action, resource, True)


IAMRequestBase.check_action_permitted = _recorded_check_action_permitted

_check_signature = IAMRequestBase.check_signature


def _recorded_check_signature(self):
    try:
        _check_signature(self)
    except Exception:
        _record(_principal(self), self._action, "(signature does not match)", False)
        raise


IAMRequestBase.check_signature = _recorded_check_signature


def _json_body(handler):
    """The request's JSON body, whether moto parsed it already or not."""
    if isinstance(handler.body, dict):
        return handler.body
    try:
        return json.loads(handler.body or "{}")
    except ValueError:
        return {}


def _dynamodb_arn(handler, table, index=None):
    arn = f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


# The action each item of a transaction is authorized by, in AWS.
_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _dynamodb_checks(handler):
    """(action, resource) pairs AWS authorizes for this DynamoDB request."""
    action = handler._get_action()
    body = _json_body(handler)
    if action == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            for kind, op in entry.items():
                yield _ITEM_ACTIONS.get(kind, kind), _dynamodb_arn(handler, op.get("TableName"))
    elif action == "TransactGetItems":
        for entry in body.get("TransactItems", []):
            yield "GetItem", _dynamodb_arn(handler, entry.get("Get", {}).get("TableName"))
    elif action in ("BatchGetItem", "BatchWriteItem"):
        for table in body.get("RequestItems", {}):
            yield action, _dynamodb_arn(handler, table)
    elif body.get("TableName"):
        yield action, _dynamodb_arn(handler, body["TableName"], body.get("IndexName"))
    else:
        yield action, "*"


def _authorize_as(handler, action, resource):
    """moto's check of one (action, resource), for a request whose action moto reads as
    something else."""
    handler._get_action = lambda: action
    try:
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action(handler, resource)
    finally:
        del handler._get_action


def _dynamodb_authorize(self, resource="*"):
    for action, item_resource in list(_dynamodb_checks(self)):
        _authorize_as(self, action, item_resource)


DynamoHandler._authenticate_and_authorize_normal_action = _dynamodb_authorize


# SQS authorizes a batch by its single action's permission (sqs:SendMessage covers
# SendMessageBatch); moto asks for the batch action itself.
_SQS_SINGLE_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs_authorize(self, resource="*"):
    action = self._get_action()
    _authorize_as(self, _SQS_SINGLE_ACTIONS.get(action, action), resource)


SQSResponse._authenticate_and_authorize_normal_action = _sqs_authorize


def _kms_resource(self):
    try:
        key_id = _json_body(self).get("KeyId")
        return kms_backends[self.current_account][self.region].describe_key(key_id).arn
    except Exception:
        return "*"


KmsResponse._determine_resource = _kms_resource


# An event is put on its bus's ARN (moto asks for "*"), so a function granted one bus
# cannot publish on another.
from moto.events.responses import EventsHandler  # noqa: E402


def _events_resource(self):
    try:
        entries = _json_body(self).get("Entries") or [{}]
        bus = entries[0].get("EventBusName") or "default"
        if bus.startswith("arn:"):
            return bus
        return f"arn:aws:events:{self.region}:{self.current_account}:event-bus/{bus}"
    except Exception:
        return "*"


EventsHandler._determine_resource = _events_resource


# A secret is authorized on its own ARN (moto asks for "*"), so a function granted one
# secret cannot read another.
def _secret_resource(self):
    try:
        secret_id = _json_body(self).get("SecretId")
        return secretsmanager_backends[self.current_account][self.region].describe_secret(secret_id).arn
    except Exception:
        return "*"


SecretsManagerResponse._determine_resource = _secret_resource


# ---- presigned S3 links ---------------------------------------------------------------

# moto reads a presigned request's credential from an Authorization header it does not
# have. Such a request is checked here instead, and marked with a token only this
# process knows, so moto's own check lets it pass.
_PRESIGNED_MARK = "HTTP_X_PEYMAN_PRESIGNED_CHECKED"
_presigned_token = secrets.token_hex(16)
_authorize_s3 = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action


def _s3_authorize(self, bucket_name=None, key_name=None):
    if self.headers.get("X-Peyman-Presigned-Checked") == _presigned_token:
        return
    _authorize_s3(self, bucket_name=bucket_name, key_name=key_name)


ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _s3_authorize


def _uri_encode(text):
    return quote(text, safe="-_.~")


def _presigned_problem(environ):
    """Why this presigned S3 request must be refused, or None. Checks SigV4's query form:
    the signature over the canonical request by the credential's secret, the expiry, and
    the signer's policy for the object."""
    raw_path, _, raw_query = environ.get("RAW_URI", environ.get("PATH_INFO", "")).partition("?")
    params = parse_qsl(raw_query, keep_blank_values=True)
    given = dict(params)
    try:
        key_id, date, region, service, _ = given["X-Amz-Credential"].split("/")
        stamp = datetime.datetime.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        expires = int(given["X-Amz-Expires"])
    except (KeyError, ValueError):
        return "a malformed presigned link"
    if datetime.datetime.now(datetime.UTC) > stamp + datetime.timedelta(seconds=expires):
        return "the link has expired"
    try:
        access_key = IAMUserAccessKey(ACCOUNT, "aws", key_id, {})
    except Exception:
        return "no such access key"
    principal = access_key._owner_user_name
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    # WSGI keeps these two outside the HTTP_ variables.
    headers.update({k.replace("_", "-").lower(): environ[k] for k in ("CONTENT_TYPE", "CONTENT_LENGTH") if k in environ})
    signed = given.get("X-Amz-SignedHeaders", "host").split(";")
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    canonical_query = "&".join(
        f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(params) if k != "X-Amz-Signature"
    )
    canonical = "\n".join(
        [environ["REQUEST_METHOD"], raw_path, canonical_query, canonical_headers, ";".join(signed), "UNSIGNED-PAYLOAD"]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", given["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + access_key._secret_access_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    method = environ["REQUEST_METHOD"]
    action = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject"}.get(method, f"s3:{method}")
    if method in ("GET", "HEAD") and "versionId" in given:
        action = "s3:GetObjectVersion"
    resource = "arn:aws:s3:::" + "/".join(s for s in raw_path.split("/") if s)
    recorded = f"{action} (presigned link)"
    if not hmac.compare_digest(signature, given.get("X-Amz-Signature", "")):
        _record(principal, recorded, "(signature does not match)", False)
        return "the signature does not match"
    allowed = False
    for policy in access_key.collect_policies():
        verdict = IAMPolicy(policy).is_action_permitted(action, resource)
        if verdict == PermissionResult.DENIED:
            allowed = False
            break
        allowed = allowed or verdict == PermissionResult.PERMITTED
    _record(principal, recorded, resource, allowed)
    return None if allowed else f"{principal} may not {action} on {resource}"


def _denied(start_response, reason):
    body = f"<Error><Code>AccessDenied</Code><Message>{reason}</Message></Error>".encode()
    start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


class StrictApp:
    """moto's application behind the checks above, and the record of calls."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, environ, start_response):
        environ.pop(_PRESIGNED_MARK, None)
        if environ.get("PATH_INFO") == "/_peyman/calls":
            with _calls_lock:
                rows = [[p, a, r, n[0], n[1]] for (p, a, r), n in sorted(_calls.items())]
            body = json.dumps(rows).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        query = environ.get("QUERY_STRING", "")
        presigned = "X-Amz-Signature=" in query and "HTTP_AUTHORIZATION" not in environ
        if presigned and settings.INITIAL_NO_AUTH_ACTION_COUNT == 0:
            problem = _presigned_problem(environ)
            if problem:
                return _denied(start_response, problem)
            environ[_PRESIGNED_MARK] = _presigned_token
        return self.inner(environ, start_response)


def _create_administrator(path):
    """An IAM user allowed everything, its key written to `path`; then IAM is on."""
    iam = iam_backends[ACCOUNT]["aws"]
    iam.create_user("us-east-1", "local-administrator")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy("local-administrator", "everything", json.dumps(document))
    key = iam.create_access_key("local-administrator")
    with open(path, "w") as out:
        json.dump({"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}, out)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def serve(argv):
    import argparse

    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    admin_key_file = os.environ.get("MOTO_ADMIN_KEY_FILE")
    if admin_key_file:
        _create_administrator(admin_key_file)
    app = StrictApp(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    serve(sys.argv[1:])
