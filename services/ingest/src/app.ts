import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type IHeaders, type Kafka } from 'kafkajs';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import {
  LINEAGE_REGISTRY_TOPIC,
  OnDijonError,
  REPLAY_FILTER,
  TELEMETRY_FILTER,
  type LineageEntry,
} from '@ondijon/contracts';
import {
  createBatchingProducer,
  createKafka,
  fastRecordEncoding,
  type BatchingProducer,
  type OutgoingRecord,
} from '@ondijon/kafka';
import { buildProbeServer, silentLogger, type Logger } from '@ondijon/service-kit';
import type { IngestConfig } from './config';
import { createIngestMetrics, type IngestMetrics } from './metrics';
import {
  SERVICE_VERSION,
  failedMessage,
  processMessage,
  SequenceMemory,
  minimalDeadLetter,
  type IncomingMessage,
  type OutgoingKafkaRecord,
  type PipelineContext,
} from './pipeline';
import type { IngestPolicy } from './policy';
import { equipmentRecord, loadRegistry, type EquipmentIndex } from './registry';
import { followEquipmentTopic, type RegistryFollower } from './registry-topic';
import { PubackHold } from './puback-hold';
import { incomingMessage } from './replay';
import { deadLetterPublicKey } from '@ondijon/governance';

/** What `buildApp` is given besides its config. */
export interface IngestDeps {
  /** The governance policy (main.ts loads it with @ondijon/governance). */
  policy: IngestPolicy;
  /** Logger; silent when absent. */
  logger?: Logger;
  /**
   * A fixed equipment index (tests, tools): used as it is, not followed. When absent, the index is the
   * reference topic's (`REGISTRY_SOURCE=topic`) or `config.REGISTRY_FILE`'s (`file`).
   */
  registry?: EquipmentIndex;
  /** kafkajs client; created from the config when absent. */
  kafka?: Kafka;
  /** Clock (tests). */
  now?: () => Date;
}

/** Readiness as `/readyz` reports it. */
export interface Readiness {
  ready: boolean;
  failing: Record<string, string>;
}

/** The ingest service. */
export interface IngestApp {
  /**
   * Connects Kafka, publishes the registry file (if configured), opens the probes, reads the reference
   * topic to its end (and keeps following it), then opens the MQTT connections.
   */
  start(): Promise<void>;
  /** Stops taking messages, drains in-flight ones, flushes the producer, disconnects keeping the MQTT sessions. */
  close(): Promise<void>;
  /** What `/readyz` answers. */
  ready(): Promise<Readiness>;
  /** Port of the probe server once started. */
  port(): number;
  /** The metrics (tests and the bench read them). */
  readonly metrics: IngestMetrics;
}

interface Connection {
  index: number;
  clientId: string;
  client: MqttClient;
  /** True once the broker granted the shared subscription on the current connection. */
  subscribed: boolean;
  /** Why the last subscription attempt failed (readiness shows it). */
  subscribeFailure: string | undefined;
  /** Bumped on every close: an ack computed for an earlier connection must not go out on a new one. */
  generation: number;
  connected: boolean;
  /** PUBACKs held until their message is durable, sent in arrival order (puback-hold.ts). */
  acks: PubackHold;
}

/** Buffer versions of the pipeline's frozen (constant) header objects, made once each. */
/**
 * mqtt.js' `servers` for a broker with failover (MQTT_FAILOVER_URLS): each reconnection of a connection
 * tries the next of MQTT_URL and the failover URLs, so a connection finds the pair's node that is active.
 */
function mqttServers(config: IngestConfig): {
  servers?: { host: string; port: number; protocol: 'mqtt' | 'mqtts' }[];
} {
  if (config.MQTT_FAILOVER_URLS.length === 0) return {};
  return {
    servers: [config.MQTT_URL, ...config.MQTT_FAILOVER_URLS].map((u) => {
      const url = new URL(u);
      const protocol = url.protocol === 'mqtts:' ? 'mqtts' : 'mqtt';
      return { host: url.hostname, port: Number(url.port || (protocol === 'mqtts' ? 8883 : 1883)), protocol };
    }),
  };
}

const constantHeaders = new WeakMap<object, IHeaders>();

/**
 * The headers as kafkajs takes them. The frozen per-class headers of accepted records are turned into
 * Buffers once and shared (kafkajs copies header bytes into its request, so sharing is safe, and it
 * then skips measuring and encoding the strings of every record); other headers pass as they are.
 */
function headerBuffers(headers: Readonly<Record<string, string>>): IHeaders {
  if (!Object.isFrozen(headers)) return headers;
  let buffers = constantHeaders.get(headers);
  if (buffers === undefined) {
    buffers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    constantHeaders.set(headers, buffers);
  }
  return buffers;
}

/** A pipeline record as the batching producer takes it (the timestamp only when the record has one). */
function outgoing(record: OutgoingKafkaRecord): OutgoingRecord {
  const out: OutgoingRecord = {
    key: record.key,
    value: record.value,
    headers: headerBuffers(record.headers),
  };
  if (record.timestamp !== undefined) out.timestamp = record.timestamp;
  return out;
}

/** Builds the ingest service (CONTRIBUTING.md rule 1): nothing happens until `start()`. */
export function buildApp(config: IngestConfig, deps: IngestDeps): IngestApp {
  const log = deps.logger ?? silentLogger();
  const metrics = createIngestMetrics({
    inFlight: () => inFlight,
    producerBuffered: () => producer.bufferedRecords,
  });
  const kafka =
    deps.kafka ??
    createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: config.KAFKA_CLIENT_ID,
      logger: log.child({ component: 'kafkajs' }),
    });
  // A separate client with no retries for the readiness probe, so /readyz answers within a second or two.
  const probeKafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}-probe`,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
  });
  const producer: BatchingProducer = createBatchingProducer(kafka, {
    lingerMs: config.KAFKA_LINGER_MS,
    maxBufferedRecords: config.KAFKA_MAX_BUFFERED_RECORDS,
    compression:
      config.KAFKA_COMPRESSION === 'gzip' ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None,
    // After a failed request the producer takes a new producer id before sending again, so that records
    // retried in other batches never reuse the failed batch's sequence numbers (the cause of kafkajs'
    // unrecoverable "out of order sequence number" after a Kafka restart; packages/kafka batching-producer.ts).
    onNewProducerId: (reason) => log.warn({ err: reason }, 'Kafka producer took a new producer id'),
  });
  const probeServer = buildProbeServer({
    registry: metrics.registry,
    readiness: {
      registry: () => registryFailure ?? (registry ? null : 'registry not loaded'),
      mqtt: () => {
        const up = connections.filter((c) => c.connected).length;
        const subscribed = connections.filter((c) => c.connected && c.subscribed).length;
        if (started && subscribed === config.INGEST_CONNECTIONS) return null;
        const failure = connections.find((c) => c.subscribeFailure !== undefined)?.subscribeFailure;
        return `${up}/${config.INGEST_CONNECTIONS} MQTT connections up, ${subscribed} subscribed${failure ? ` (${failure})` : ''}`;
      },
      kafka: () => kafkaReadiness(),
    },
  });

  const connections: Connection[] = [];
  let registry: EquipmentIndex | undefined;
  /** Why the equipment index could not be built (shown by /readyz). */
  let registryFailure: string | null = null;
  let follower: RegistryFollower | undefined;
  let ctx: PipelineContext | undefined;
  let started = false;
  let closing = false;
  /** Set when the drain deadline passed: in-flight messages are given up unacknowledged (the broker redelivers). */
  let abandon = false;
  let inFlight = 0;
  let kafkaFailure: string | null = null;
  const idleWaiters: (() => void)[] = [];
  const abandonController = new AbortController();

  let probeCache: { at: number; result: Promise<string | null> } | undefined;
  const kafkaReadiness = (): Promise<string | null> => {
    if (kafkaFailure !== null) return Promise.resolve(`Kafka unavailable: ${kafkaFailure}`);
    if (probeCache && Date.now() - probeCache.at < 2_000) return probeCache.result;
    const admin = probeKafka.admin();
    const result = (async () => {
      try {
        await admin.connect();
        await admin.describeCluster();
        return null;
      } catch (error) {
        return `Kafka does not answer: ${error instanceof Error ? error.message : String(error)}`;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    })();
    probeCache = { at: Date.now(), result };
    return result;
  };

  const kafkaBack = (topic: string): true => {
    if (kafkaFailure !== null) {
      log.info({ topic }, 'Kafka acknowledges again');
      kafkaFailure = null;
    }
    return true;
  };

  /**
   * Retries a failed record until Kafka acknowledges it; false only when shutdown abandoned it. An error
   * Kafka will never get over for this record (too large, invalid) is not retried: the record is
   * replaced once by `refused(why)`, its dead letter in bounded form, so one message cannot stall ingest.
   */
  const retry = async (
    topic: string,
    record: OutgoingKafkaRecord,
    error: unknown,
    refused?: (why: string) => OutgoingKafkaRecord,
  ): Promise<boolean> => {
    for (let attempt = 0; ; attempt += 1) {
      const reason = error instanceof Error ? error.message : String(error);
      if (refused !== undefined && isPermanentKafkaError(error)) {
        metrics.kafkaPermanentFailures.inc();
        log.error(
          { topic, err: reason, bytes: Buffer.byteLength(record.value) },
          'Kafka refused a record for good, writing its bounded dead letter instead',
        );
        record = refused(reason);
        topic = `${config.KAFKA_TOPIC_PREFIX}${record.topic}`;
        refused = undefined;
        attempt = -1;
        try {
          await producer.send(topic, outgoing(record));
          return kafkaBack(topic);
        } catch (next) {
          error = next;
          continue;
        }
      }
      if (kafkaFailure === null)
        log.warn({ topic, err: reason }, 'Kafka send failed, withholding MQTT acks and retrying');
      kafkaFailure = reason;
      metrics.kafkaRetries.inc();
      if (abandon) return false;
      await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)), undefined, {
        signal: abandonController.signal,
      }).catch(() => undefined);
      if (abandon) return false;
      try {
        await producer.send(topic, outgoing(record));
        return kafkaBack(topic);
      } catch (next) {
        error = next;
      }
    }
  };

  /**
   * Writes one record, retrying until Kafka acknowledges it, then calls `done(true)`; `done(false)` only
   * when shutdown abandoned it. Callbacks, not promises, on the happy path: this runs for every message.
   */
  const produceDurably = (
    record: OutgoingKafkaRecord,
    done: (ok: boolean) => void,
    refused?: (why: string) => OutgoingKafkaRecord,
  ): void => {
    const topic = `${config.KAFKA_TOPIC_PREFIX}${record.topic}`;
    // The value goes as the string: @ondijon/kafka's record encoder writes it straight into the record's
    // buffer, where Buffer.from here cost 4.6 µs/msg (a copy, and a new 8 KiB pool every few messages).
    producer.enqueue(topic, outgoing(record), (error) => {
      if (error === undefined) done(kafkaBack(topic));
      else
        retry(topic, record, error, refused).then(done, (failure: unknown) => {
          log.error({ err: failure }, 'message handling failed');
          done(false);
        });
    });
  };

  /** Runs the pipeline; a defect on one message becomes its dead letter rather than a stalled connection. */
  const evaluate = (msg: IncomingMessage) => {
    try {
      return processMessage(ctx!, msg);
    } catch (error) {
      log.error({ err: error, mqttTopic: msg.topic }, 'ingest failed on a message, dead-lettering it');
      return failedMessage(ctx!, msg, error);
    }
  };

  /** Counts a written outcome. */
  const count = (outcome: ReturnType<typeof evaluate>, mqttTopic: string): void => {
    if (outcome.kind === 'accepted') metrics.countProduced(outcome.record.topic);
    else {
      metrics.rejected.inc({ code: outcome.deadLetter.code });
      log.info(
        {
          code: outcome.deadLetter.code,
          id: outcome.deadLetter.id,
          mqttTopic,
          reasonCode: outcome.reasonCode,
        },
        'message dead-lettered',
      );
    }
  };

  /** Counts a message whose write settled, runs its `done(ok)`, and takes it out of flight. */
  const settle = (
    outcome: ReturnType<typeof evaluate>,
    mqttTopic: string,
    t0: number,
    done: (ok: boolean) => void,
    ok: boolean,
  ): void => {
    try {
      if (ok) {
        count(outcome, mqttTopic);
        metrics.latency.observe((performance.now() - t0) / 1000);
      }
      done(ok);
    } catch (error) {
      log.error({ err: error }, 'message handling failed');
    } finally {
      inFlight -= 1;
      if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    }
  };

  /** Lineage registry keys Kafka acknowledged on the registry topic (written once per process). */
  const registeredLineages = new Set<string>();
  /**
   * Set while a lineage is being written to the registry topic: every record that arrives meanwhile
   * waits behind it (not only those that reference it), so records keep their order on Kafka.
   */
  let lineageGate: Promise<boolean> | undefined;

  /**
   * Writes a lineage to the registry topic, retrying until Kafka acknowledges it (the records that
   * reference it are written only then: a reader must always find the lineage of a record it reads).
   * False only when shutdown abandoned it.
   */
  const registerLineage = async (entry: LineageEntry): Promise<boolean> => {
    const topic = `${config.KAFKA_TOPIC_PREFIX}${LINEAGE_REGISTRY_TOPIC}`;
    const record: OutgoingKafkaRecord = {
      topic: LINEAGE_REGISTRY_TOPIC,
      key: entry.ref,
      value: entry.text,
      headers: {},
    };
    try {
      await producer.send(topic, { key: entry.ref, value: entry.text });
      kafkaBack(topic);
    } catch (error) {
      if (!(await retry(topic, record, error))) return false;
    }
    registeredLineages.add(entry.ref);
    log.info({ topic, lineageRef: entry.ref }, 'lineage registered');
    return true;
  };

  /** Writes the outcome durably, then runs `done(ok)`; tracks it as in flight meanwhile. */
  const persist = (
    outcome: ReturnType<typeof evaluate>,
    msg: IncomingMessage,
    t0: number,
    done: (ok: boolean) => void,
  ): void => {
    inFlight += 1;
    let final = outcome;
    const lineage = outcome.record.lineage;
    if (lineageGate !== undefined || (lineage !== undefined && !registeredLineages.has(lineage.ref))) {
      if (lineage !== undefined && !registeredLineages.has(lineage.ref)) {
        const before = lineageGate ?? Promise.resolve(true);
        lineageGate = before.then((ok) =>
          ok && !registeredLineages.has(lineage.ref) ? registerLineage(lineage) : ok,
        );
      }
      const gate = lineageGate!;
      void gate.then((ok) => {
        if (lineageGate === gate) lineageGate = undefined;
        if (!ok) {
          settle(final, msg.topic, t0, done, false);
          return;
        }
        produceDurably(
          outcome.record,
          (written) => settle(final, msg.topic, t0, done, written),
          (why) => (final = minimalDeadLetter(ctx!, msg, why)).record,
        );
      });
      return;
    }
    // Inline callbacks, not named closures per message: tsx (esbuild keepNames) wraps every named one
    // in a __name() call, which showed in ingest's profile.
    produceDurably(
      outcome.record,
      (ok) => settle(final, msg.topic, t0, done, ok),
      (why) => (final = minimalDeadLetter(ctx!, msg, why)).record,
    );
  };

  /**
   * The `customHandleAcks` of a connection. The outcome (and so the reason code) is known at once, so
   * mqtt.js is told it now and moves on to the next message; the PUBACK it then writes is held
   * (puback-hold.ts) until Kafka acknowledged the record. mqtt.js alone would process one message per
   * connection per Kafka round trip; this pipelines up to MQTT_RECEIVE_MAXIMUM messages per
   * connection, so memory stays bounded by connections × that.
   */
  const onMessage =
    (conn: Connection) =>
    (
      topic: string,
      payload: Buffer,
      packet: IPublishPacket,
      ack: (error: Error | number, code?: number) => void,
    ) => {
      // While closing, new messages are left unacknowledged: they stay in this session and come back on restart.
      if (closing) return;
      const t0 = performance.now();
      metrics.countReceived();
      const msg = receive(topic, payload, packet);
      const outcome = evaluate(msg);
      const entry = conn.acks.track(packet.messageId!, conn.generation);
      persist(outcome, msg, t0, (ok) => conn.acks.settle(entry, ok));
      const code = outcome.kind === 'accepted' ? 0 : outcome.reasonCode;
      // Mosquitto 2.0.11 does not hold to the receive maximum once PUBACKs flow (measured: 524 unacked with
      // a maximum of 5), so ingest bounds itself: with `held` full, mqtt.js is not told to go on, it stops
      // reading the socket, and TCP pushes back to the broker, which keeps the messages.
      conn.acks.acknowledge(() => ack(code));
    };

  /** The pipeline's message; replay properties count as ignored outside the replay tree (replay.ts). */
  const receive = (topic: string, payload: Buffer, packet: IPublishPacket): IncomingMessage => {
    const { msg, ignoredReplayProperties } = incomingMessage(
      topic,
      payload,
      packet.properties?.userProperties,
      config.MQTT_TOPIC_PREFIX,
    );
    if (ignoredReplayProperties) metrics.replayPropertiesIgnored.inc();
    return msg;
  };

  /** QoS 0 messages have no ack (and no redelivery): processed the same way, best effort. */
  const onQos0 = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    if (packet.qos !== 0 || closing) return;
    metrics.countReceived();
    const t0 = performance.now();
    const msg = receive(topic, payload, packet);
    persist(evaluate(msg), msg, t0, () => undefined);
  };

  // Telemetry, and the replay tree only the replay principal may publish to (replay.ts).
  const filters = [TELEMETRY_FILTER, REPLAY_FILTER].map(
    (f) => `$share/${config.MQTT_SHARE_GROUP}/${config.MQTT_TOPIC_PREFIX}${f}`,
  );
  const filter = filters.join(' and ');
  let subscribing: Promise<void> = Promise.resolve();
  /** New at each start: see MQTT_CLIENT_ID_PREFIX. */
  const boot = randomBytes(3).toString('hex');
  const countSubscribed = () =>
    metrics.mqttSubscribed.set(connections.filter((c) => c.connected && c.subscribed).length);
  /** Resolved once every connection had its first subscription granted; rejected on a refusal. */
  let firstSubscriptions: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const settleFirstSubscriptions = (error?: Error) => {
    if (firstSubscriptions === undefined) return;
    if (error !== undefined) firstSubscriptions.reject(error);
    else if (connections.every((c) => c.subscribed)) firstSubscriptions.resolve();
    else return;
    firstSubscriptions = undefined;
  };

  /**
   * Subscribes on every connect, whether or not the broker says the session is present: a broker
   * may keep a session and drop its subscription (Mosquitto 2.0.11 with `$share`), or come back
   * without the session after a crash; a connection without a confirmed subscription is not ready
   * (readiness and `ondijon_ingest_mqtt_connections_subscribed` show it). Retain handling 2: a
   * retained message is not sent again on each (re)subscription.
   */
  const subscribe = (conn: Connection): void => {
    // One SUBSCRIBE at a time per process: Artemis 2.40 fails a SUBSCRIBE that races another creating
    // the same shared-subscription queue (AMQ229019 "queue already exists", no SUBACK sent).
    subscribing = subscribing.then(() => subscribeOnce(conn));
  };

  const subscribeOnce = (conn: Connection): Promise<void> =>
    new Promise<void>((resolve) => {
      const generation = conn.generation;
      if (!conn.connected || closing) return resolve();
      let answered = false;
      const retryLater = (why: string) => {
        conn.subscribeFailure = why;
        log.error({ clientId: conn.clientId, err: why }, 'MQTT subscription failed, not ready');
        settleFirstSubscriptions(new Error(why));
        // Try again while the connection lasts (a broker may refuse while it recovers).
        setTimeout(() => {
          if (conn.connected && generation === conn.generation && !closing && !conn.subscribed)
            subscribe(conn);
        }, 2_000).unref();
      };
      const timer = setTimeout(() => {
        if (answered) return;
        answered = true;
        if (generation === conn.generation) retryLater(`no SUBACK for ${filter} within 10 s`);
        resolve();
      }, 10_000);
      timer.unref();
      conn.client.subscribe(filters, { qos: 1, rh: 2 }, (error, granted) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve();
        if (generation !== conn.generation) return; // the connection closed meanwhile; the next connect subscribes
        const codes = (granted ?? []).map((g) => g.qos);
        if (!error && codes.length === filters.length && codes.every((c) => c === 1)) {
          conn.subscribed = true;
          conn.subscribeFailure = undefined;
          countSubscribed();
          // Quiet on a normal start (one line per connection); said when a reconnect needed it.
          if (generation > 0)
            log.info({ clientId: conn.clientId, filter }, 'MQTT subscription confirmed again');
          settleFirstSubscriptions();
          return;
        }
        retryLater(
          error ? error.message : `subscription to ${filter} refused (reason codes ${codes.join(', ')})`,
        );
      });
    });

  const connect = (index: number): Connection => {
    const clientId = `${config.MQTT_CLIENT_ID_PREFIX}-${boot}-${index}`;
    const conn = {
      index,
      clientId,
      generation: 0,
      connected: false,
      subscribed: false,
      subscribeFailure: undefined,
    } as unknown as Connection;
    conn.acks = new PubackHold(config.MQTT_RECEIVE_MAXIMUM, (g) => g === conn.generation && conn.connected);
    conn.client = mqtt.connect(config.MQTT_URL, {
      ...mqttServers(config),
      protocolVersion: 5,
      clientId,
      clean: false,
      keepalive: config.MQTT_KEEPALIVE_S,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      // mqtt.js' own resubscription would race ours; ingest subscribes itself on every connect.
      resubscribe: false,
      ...(config.MQTT_USERNAME !== undefined
        ? { username: config.MQTT_USERNAME, password: config.MQTT_PASSWORD }
        : {}),
      // The receive maximum keeps few messages in flight per connection, so the broker does not queue
      // thousands behind one busy connection while others go on (which reorders an equipment's reports
      // across connections). A resumed session of a killed process would stall with it on Artemis 2.40
      // (its unacknowledged messages stay counted, reproduced with paho): the client id is new per start.
      properties: {
        sessionExpiryInterval: config.MQTT_SESSION_EXPIRY_S,
        receiveMaximum: config.MQTT_RECEIVE_MAXIMUM,
      },
      customHandleAcks: onMessage(conn),
    });
    conn.acks.attach(conn.client);
    conn.client.on('message', onQos0);
    conn.client.on('connect', (connack) => {
      conn.connected = true;
      conn.subscribed = false;
      metrics.mqttConnected.set(connections.filter((c) => c.connected).length);
      countSubscribed();
      log.info({ clientId, sessionPresent: connack.sessionPresent }, 'MQTT connected');
      if (!closing) subscribe(conn);
    });
    conn.client.on('close', () => {
      if (conn.connected && !closing) log.warn({ clientId }, 'MQTT connection closed');
      conn.connected = false;
      conn.subscribed = false;
      conn.generation += 1;
      // The broker redelivers every unacknowledged message of the session: held acks are void.
      conn.acks.reset();
      metrics.mqttConnected.set(connections.filter((c) => c.connected).length);
      countSubscribed();
    });
    conn.client.on('error', (error) => log.warn({ clientId, err: error.message }, 'MQTT client error'));
    return conn;
  };

  const publishRegistry = async (index: EquipmentIndex, policyRevision: string): Promise<void> => {
    const now = deps.now?.() ?? new Date();
    const sends: Promise<boolean>[] = [];
    for (const entry of index.entries()) {
      const { key, value } = equipmentRecord(entry, policyRevision, SERVICE_VERSION, now);
      const record = {
        topic: 'ref.s0.equipment.v1',
        key,
        value: JSON.stringify(value),
        headers: { ondijon_sensitivity: 'S0' },
      };
      sends.push(new Promise((resolve) => produceDurably(record, resolve)));
    }
    await Promise.all(sends);
    log.info({ revision: index.revision, entries: index.size }, 'registry published');
  };

  return {
    metrics,
    async start() {
      const fromFile =
        deps.registry ??
        (config.REGISTRY_SOURCE === 'file' || config.REGISTRY_PUBLISH_ON_START
          ? await loadRegistry(config.REGISTRY_FILE)
          : undefined);
      await producer.connect();
      if (config.REGISTRY_PUBLISH_ON_START && fromFile !== undefined)
        await publishRegistry(fromFile, deps.policy.revision);
      // The probes answer before the index is built, so a reference topic that cannot be read shows in /readyz.
      await probeServer.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
      if (deps.registry !== undefined || config.REGISTRY_SOURCE === 'file') registry = fromFile;
      else {
        follower = followEquipmentTopic(kafka, config, 'registry', log);
        try {
          // Read to the end before subscribing to MQTT: a message checked against a half-read index would
          // be dead-lettered as unknown equipment.
          await follower.start();
        } catch (error) {
          registryFailure = error instanceof Error ? error.message : String(error);
          log.error(
            { err: registryFailure },
            'equipment reference topic cannot be read, not taking messages',
          );
          throw error;
        }
        registry = follower.index;
      }
      if (registry === undefined) throw new OnDijonError('ONDIJON_REGISTRY_INVALID', 'no equipment index');
      ctx = {
        registry,
        policy: deps.policy,
        mqttTopicPrefix: config.MQTT_TOPIC_PREFIX,
        deadLetterKey:
          config.ONDIJON_DEAD_LETTER_PUBLIC_KEY === undefined
            ? undefined
            : deadLetterPublicKey(config.ONDIJON_DEAD_LETTER_PUBLIC_KEY),
        maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES,
        contentMode: config.INGEST_CE_MODE,
        maxFutureSkewMs: config.INGEST_MAX_FUTURE_SKEW_MS,
        maxPastAgeMs: config.INGEST_MAX_PAST_AGE_DAYS * 86_400_000,
        sequences: new SequenceMemory(),
        now: deps.now ?? (() => new Date()),
      };
      const subscribed = new Promise<void>((resolve, reject) => {
        firstSubscriptions = { resolve, reject };
      });
      for (let i = 0; i < config.INGEST_CONNECTIONS; i += 1) connections.push(connect(i));
      await subscribed;
      started = true;
      log.info(
        {
          connections: config.INGEST_CONNECTIONS,
          filter,
          registrySource: deps.registry !== undefined ? 'given' : config.REGISTRY_SOURCE,
          registryRevision: registry.revision,
          registryEntries: registry.size,
          policyRevision: deps.policy.revision,
          fastRecordEncoding: fastRecordEncoding(),
        },
        'ingest started',
      );
    },
    async close() {
      if (closing) return;
      closing = true;
      const deadline = Math.max(1_000, config.SHUTDOWN_DEADLINE_MS - 2_000);
      log.info({ inFlight, deadlineMs: deadline }, 'ingest closing: draining in-flight messages');
      const drained = await Promise.race([
        inFlight === 0
          ? Promise.resolve(true)
          : new Promise<boolean>((resolve) => idleWaiters.push(() => resolve(true))),
        sleep(deadline).then(() => false),
      ]);
      if (!drained) {
        // Kafka still down: give up the in-flight messages unacknowledged; the broker keeps and redelivers them.
        log.warn({ inFlight }, 'drain deadline passed, leaving in-flight messages unacknowledged');
        abandon = true;
        abandonController.abort();
      }
      // Normal DISCONNECT without a session expiry change: the broker keeps the sessions and their queues.
      await Promise.all(connections.map((c) => c.client.endAsync(false).catch(() => undefined)));
      await follower?.close();
      if (drained)
        await producer
          .disconnect()
          .catch((error: unknown) => log.warn({ err: error }, 'producer disconnect failed'));
      await probeServer.close();
      log.info('ingest closed');
    },
    async ready() {
      const r = await probeServer.inject({ method: 'GET', url: '/readyz' });
      const body = r.json<{ failing: Record<string, string> }>();
      return { ready: r.statusCode === 200, failing: body.failing };
    },
    port() {
      return (probeServer.server.address() as AddressInfo | null)?.port ?? 0;
    },
  };
}

/** kafkajs protocol errors that no retry of the same record can get over (Kafka protocol error names). */
const PERMANENT_KAFKA_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
]);

/** True when Kafka refused a record for a reason a retry cannot change (its size or form). */
export function isPermanentKafkaError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth += 1) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && PERMANENT_KAFKA_ERRORS.has(type)) return true;
    e = (e as { cause?: unknown; originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}
