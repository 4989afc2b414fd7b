"""Hands the notify function again the batches it gave up on.

The NotifyFailures queue keeps, for each batch given up, where it lies on the table's stream (a
shard and a first and last sequence number); the records themselves stay on the stream for 24
hours. For each message this reads those records back, keeps the ones the event source
mapping's filter passes (new audit items), invokes the notify function with them as Lambda
would, and deletes the message once the function took every record. Delivery marks make this
safe to repeat: a sink that already has an event is skipped, so nothing is mailed twice.

    python3 infra/redrive_notify.py --stack backup-codes [--dry-run] [--discard-trimmed]

It uses the standard AWS credentials, region and AWS_ENDPOINT_URL. It needs
cloudformation:DescribeStacks, sqs:ReceiveMessage and sqs:DeleteMessage on the queue,
dynamodb:GetShardIterator and dynamodb:GetRecords on the stream, lambda:InvokeFunction on notify.
Exit status: 0 when the queue is empty at the end, 1 when a batch is left in it, 2 on bad use.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import datetime

import boto3
from botocore.exceptions import ClientError

# Lambda's own page size for the mapping (the template's BatchSize) keeps each invocation as
# small as the ones the function already handles.
RECORDS_PER_INVOCATION = 25
# While the whole queue is walked, a message received stays hidden from a second run this long.
VISIBILITY_SECONDS = 300
# An open shard can answer empty pages before its later records; this bounds the walk.
MOST_EMPTY_PAGES = 20
GONE = {"TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException"}


class Trimmed(Exception):
    """The stream no longer has the batch's records (past its 24-hour retention)."""


class Unreached(Exception):
    """The walk of the shard ended before the batch's last record."""


def stack_outputs(stack: str) -> dict[str, str]:
    found = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def batch_info(body: str) -> dict:
    """The message's DDBStreamBatchInfo, checked: a message of another shape is not ours."""
    message = json.loads(body)
    info = message.get("DDBStreamBatchInfo") if isinstance(message, dict) else None
    needed = ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber")
    if not isinstance(info, dict) or any(not isinstance(info.get(k), str) for k in needed):
        raise ValueError("the message has no DDBStreamBatchInfo with a stream, a shard and two sequence numbers")
    int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    return info


def stream_records(streams, info: dict) -> list[dict]:
    """Every record from the batch's first sequence number to its last, in order; `Unreached`
    if the walk ends before the last, so a batch is never handed back in part."""
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"], ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
        found, empty_pages = [], 0
        while iterator and empty_pages < MOST_EMPTY_PAGES:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            empty_pages = 0 if records else empty_pages + 1
            for record in records:
                at = int(record["dynamodb"]["SequenceNumber"])
                if first <= at <= last:
                    found.append(record)
                if at >= last:
                    return found
            iterator = page.get("NextShardIterator")
    except ClientError as err:
        if err.response["Error"]["Code"] in GONE:
            raise Trimmed(err.response["Error"]["Message"]) from err
        raise
    raise Unreached(f"the stream gave no record at or past sequence number {last}")


def passes_filter(record: dict) -> bool:
    """The event source mapping's filter (template.yaml): a new item that is an audit event."""
    image = record["dynamodb"].get("NewImage", {})
    return record.get("eventName") == "INSERT" and "S" in image.get("audit_user", {})


def as_lambda_record(record: dict, stream_arn: str) -> dict:
    """A Streams API record in the shape Lambda hands the function: the source ARN added."""
    return {**record, "eventSourceARN": stream_arn}


def lambda_json(value):
    """What boto3 decoded, put back as Lambda's event carries it: a time in epoch seconds and
    a binary attribute in base64."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not in a stream record")


def redeliver(lam, function: str, records: list[dict]) -> str | None:
    """Invokes notify with `records`; answers why it did not take them all, or None."""
    for start in range(0, len(records), RECORDS_PER_INVOCATION):
        chunk = records[start:start + RECORDS_PER_INVOCATION]
        answer = lam.invoke(FunctionName=function, Payload=json.dumps({"Records": chunk}, default=lambda_json).encode())
        payload = answer["Payload"].read().decode()
        if answer.get("FunctionError"):
            return f"the function failed: {payload[:500]}"
        failures = (json.loads(payload or "{}") or {}).get("batchItemFailures") or []
        if failures:
            return f"the function did not take record {failures[0].get('itemIdentifier')}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the backup-codes stack's name")
    parser.add_argument("--dry-run", action="store_true", help="say what would be redelivered; change nothing")
    parser.add_argument("--discard-trimmed", action="store_true",
                        help="delete messages whose records the stream no longer has (the events stay in the users' audit trails)")
    args = parser.parse_args()

    outputs = stack_outputs(args.stack)
    queue, function = outputs["NotifyFailuresQueueUrl"], outputs["NotifyFunctionArn"]
    sqs, streams, lam = boto3.client("sqs"), boto3.client("dynamodbstreams"), boto3.client("lambda")
    redelivered = 0
    kept: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                info = batch_info(message["Body"])
            except ValueError as err:
                print(f"message {message['MessageId']} left in the queue: {err}", file=sys.stderr)
                kept.append(message["ReceiptHandle"])
                continue
            span = f"{info['startSequenceNumber']}..{info['endSequenceNumber']}"
            try:
                events = [as_lambda_record(r, info["streamArn"])
                          for r in stream_records(streams, info) if passes_filter(r)]
            except Unreached as err:
                print(f"batch {span} left in the queue: {err}", file=sys.stderr)
                kept.append(message["ReceiptHandle"])
                continue
            except Trimmed as err:
                first = info.get("approximateArrivalOfFirstRecord", "?")
                last = info.get("approximateArrivalOfLastRecord", "?")
                print(f"batch {span} ({first} to {last}) is no longer on the stream ({err}); "
                      "its events are in the users' audit trails", file=sys.stderr)
                if args.discard_trimmed and not args.dry_run:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                else:
                    kept.append(message["ReceiptHandle"])
                continue
            if args.dry_run:
                print(f"batch {span}: {len(events)} events would be redelivered")
                kept.append(message["ReceiptHandle"])
                continue
            refused = redeliver(lam, function, events)
            if refused:
                print(f"batch {span} left in the queue: {refused}", file=sys.stderr)
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            redelivered += 1
            print(f"batch {span}: {len(events)} events redelivered")
    # What stays is visible again at once, to the alarm and to the next run.
    for handle in kept:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
    print(f"{redelivered} batches redelivered, {len(kept)} left in the queue")
    return 1 if kept else 0


if __name__ == "__main__":
    sys.exit(main())
