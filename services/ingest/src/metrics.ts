import {
  Counter,
  Gauge,
  Histogram,
  createMetricsRegistry,
  metricName,
  type Registry,
} from '@ondijon/service-kit';

/** The Prometheus metrics of ingest (`ondijon_ingest_*`). */
export interface IngestMetrics {
  registry: Registry;
  received: Counter;
  produced: Counter<'topic'>;
  rejected: Counter<'code'>;
  latency: Histogram;
  inFlight: Gauge;
  kafkaRetries: Counter;
  mqttConnected: Gauge;
  /** Connections whose shared subscription the broker granted since they last connected. */
  mqttSubscribed: Gauge;
  /** Records Kafka refused for good, dead-lettered in bounded form. */
  kafkaPermanentFailures: Counter;
  producerBuffered: Gauge;
  /** Messages outside the replay tree carrying replay user properties (ignored: only the replay tool may set them). */
  replayPropertiesIgnored: Counter;
  /** Counts one received message (added to `received` when metrics are collected). */
  countReceived(): void;
  /** Counts one record Kafka acknowledged on a topic (added to `produced` when metrics are collected). */
  countProduced(topic: string): void;
}

/** Live values read when metrics are collected (not set per message: that costs on the hot path). */
export interface IngestGaugeSources {
  inFlight: () => number;
  producerBuffered: () => number;
}

/** Creates ingest's metrics on a fresh registry (one per app, so tests can build several apps). */
export function createIngestMetrics(sources: IngestGaugeSources): IngestMetrics {
  const registry = createMetricsRegistry('ingest');
  const name = (what: string) => metricName('ingest', what);
  // Per-message counts are kept in plain numbers and handed to prom-client when it collects (a scrape,
  // or `get()`): its `inc()` validates and hashes labels on every call, twice per message otherwise.
  let received = 0;
  const produced = new Map<string, number>();
  return {
    registry,
    countReceived() {
      received += 1;
    },
    countProduced(topic) {
      produced.set(topic, (produced.get(topic) ?? 0) + 1);
    },
    received: new Counter({
      name: name('messages_received_total'),
      help: 'MQTT messages received',
      registers: [registry],
      collect() {
        if (received > 0) this.inc(received);
        received = 0;
      },
    }),
    produced: new Counter({
      name: name('records_produced_total'),
      help: 'Telemetry records acknowledged by Kafka, by topic',
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        for (const [topic, n] of produced) this.inc({ topic }, n);
        produced.clear();
      },
    }),
    rejected: new Counter({
      name: name('messages_rejected_total'),
      help: 'Messages dead-lettered, by reason code',
      labelNames: ['code'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: name('ack_latency_seconds'),
      help: 'From MQTT receive to Kafka acknowledgement (then PUBACK)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: name('messages_in_flight'),
      help: 'Messages received and not yet acknowledged',
      registers: [registry],
      collect() {
        this.set(sources.inFlight());
      },
    }),
    kafkaRetries: new Counter({
      name: name('kafka_retries_total'),
      help: 'Kafka sends retried after a failure',
      registers: [registry],
    }),
    mqttConnected: new Gauge({
      name: name('mqtt_connections_connected'),
      help: 'MQTT connections currently connected',
      registers: [registry],
    }),
    mqttSubscribed: new Gauge({
      name: name('mqtt_connections_subscribed'),
      help: 'MQTT connections whose shared subscription the broker confirmed (granted QoS 1) since they last connected',
      registers: [registry],
    }),
    kafkaPermanentFailures: new Counter({
      name: name('kafka_permanent_failures_total'),
      help: 'Records Kafka refused for good (too large, invalid), dead-lettered in bounded form instead of retried',
      registers: [registry],
    }),
    replayPropertiesIgnored: new Counter({
      name: name('replay_properties_ignored_total'),
      help: 'Messages outside the replay tree carrying ondijon-replay-of/ondijon-replays user properties (ignored)',
      registers: [registry],
    }),
    producerBuffered: new Gauge({
      name: name('producer_buffered_records'),
      help: 'Records buffered or in flight in the Kafka producer',
      registers: [registry],
      collect() {
        this.set(sources.producerBuffered());
      },
    }),
  };
}
