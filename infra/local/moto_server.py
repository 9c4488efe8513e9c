"""moto's own server, with DynamoDB requests taken one at a time.

moto's TransactWriteItems deep-copies whole tables to roll back on failure, without a
lock, so a write arriving during the copy crashes it ("dictionary changed size during
iteration") and the client sees a 500. Real DynamoDB applies each request atomically;
one lock around moto's DynamoDB handler gives the local stack the same behaviour.
S3 and SQS stay concurrent, so SQS long polls never hold up the table.
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_one_at_a_time = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _one_at_a_time:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action

if __name__ == "__main__":
    main(sys.argv[1:])
