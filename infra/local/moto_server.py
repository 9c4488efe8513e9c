"""moto's own server, with DynamoDB requests taken one at a time and transactions that
copy only what they touch.

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
"""

import copy
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_one_at_a_time = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _one_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action


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
    dynamodb_models.copy = _CopyAllButTables
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        _restore(snapshot)
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = _transact_write_items_copying_touched_items

if __name__ == "__main__":
    main(sys.argv[1:])
