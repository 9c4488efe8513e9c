"""Moves every message from a dead-letter queue back to the queue it came from.

    make redrive DLQ=<dead-letter queue URL> TO=<source queue URL>

Run it once the cause is fixed: the consumers are idempotent, so a message that was in
fact applied before it reached the DLQ changes nothing the second time. A message is
deleted from the DLQ only after SQS accepted its copy, so a crash repeats, never loses.
boto3 reads the usual AWS environment (credentials, region, AWS_ENDPOINT_URL locally).
"""

import argparse
import os
import sys

import boto3


def redrive(sqs, dlq: str, to: str, limit: int) -> int:
    moved = 0
    while moved < limit:
        received = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return moved
        entries = []
        for i, message in enumerate(received):
            entry = {"Id": str(i), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=to, Entries=entries)
        done = [received[int(ok["Id"])] for ok in sent.get("Successful", [])]
        for failed in sent.get("Failed", []):
            print(f"not moved: {failed}", file=sys.stderr)
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        moved += len(done)
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlq", required=True, help="the dead-letter queue's URL")
    parser.add_argument("--to", required=True, help="the source queue's URL")
    parser.add_argument("--limit", type=int, default=100_000, help="stop after this many messages")
    args = parser.parse_args()
    # The Rust SDK's AWS_REGION, which older boto3 does not read.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    moved = redrive(boto3.client("sqs", region_name=region), args.dlq, args.to, args.limit)
    print(f"moved {moved} message(s) from {args.dlq} to {args.to}")


if __name__ == "__main__":
    main()
