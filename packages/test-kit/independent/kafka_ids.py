"""Independent Kafka reader for fault tests (confluent-kafka / librdkafka, not the project's code).

Reads every record of the given topics from the beginning to their end offsets (read_committed) and
prints one JSON document: per topic the number of records and the event ids they carry (the `id` of a
CloudEvent or of a dead letter). A record with a `ce_specversion` header is a CloudEvent in binary
content mode (Kafka protocol binding): its id is the `ce_id` header; otherwise the `id` of the JSON
value (a structured CloudEvent or a dead letter). SASL credentials are taken from
KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) when set.

usage: kafka_ids.py BROKERS TOPIC [TOPIC ...]
"""
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition

brokers, topics = sys.argv[1], sys.argv[2:]
config = {
    "bootstrap.servers": brokers,
    "group.id": f"independent-{uuid.uuid4()}",
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
}
if os.environ.get("KAFKA_SASL_USERNAME"):
    password = os.environ.get("KAFKA_SASL_PASSWORD")
    if not password and os.environ.get("KAFKA_SASL_PASSWORD_FILE"):
        password = open(os.environ["KAFKA_SASL_PASSWORD_FILE"], encoding="utf-8").read().rstrip("\n")
    config.update({
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": os.environ["KAFKA_SASL_USERNAME"],
        "sasl.password": password,
    })
consumer = Consumer(config)
result = {}
for topic in topics:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    parts = []
    for p in meta.partitions:
        # After a broker restart the first answers can be invalid (negative): ask again for a while.
        deadline = time.time() + 60
        while True:
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            except Exception as error:  # leader not known yet
                low, high = -1, -1
                print(f"watermarks of {topic}[{p}]: {error}", file=sys.stderr)
            if (low >= 0 and high >= 0) or time.time() > deadline:
                break
            time.sleep(1)
        if high > low >= 0:
            parts.append((p, low, high))
    ids, count = [], 0
    for p, low, high in parts:
        consumer.assign([TopicPartition(topic, p, low)])
        position = low
        while position < high:
            msg = consumer.poll(5)
            if msg is None:
                # read_committed may stop short of the high watermark (an aborted transaction's markers).
                break
            if msg.error():
                continue
            position = msg.offset() + 1
            count += 1
            headers = dict(msg.headers() or [])
            if "ce_specversion" in headers:
                ce_id = headers.get("ce_id")
                ids.append(ce_id.decode("utf-8") if ce_id is not None else None)
                continue
            try:
                ids.append(json.loads(msg.value())["id"])
            except Exception:  # a value that is not our JSON: counted, no id
                ids.append(None)
    result[topic] = {"records": count, "ids": ids}
consumer.close()
print(json.dumps(result))
