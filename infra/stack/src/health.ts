import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';

/** Result of one health probe. */
export interface Probe {
  /** True when the service answered correctly. */
  ok: boolean;
  /** What answered, or why not. */
  detail: string;
  /** True when something of the expected protocol answered, even to refuse (an MQTT CONNACK with an error code). */
  answered?: boolean;
}

/** Asks Kafka for its cluster: healthy when `describeCluster()` lists at least `expectedBrokers` brokers. */
export async function probeKafka(
  brokers: string[],
  expectedBrokers = 1,
  timeoutMs = 3_000,
  sasl?: SASLOptions,
): Promise<Probe> {
  const kafka = new Kafka({
    brokers,
    ...(sasl ? { sasl } : {}),
    clientId: 'ondijon-stack-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 2_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    const cluster = await withTimeout(
      (async () => {
        await admin.connect();
        return admin.describeCluster();
      })(),
      timeoutMs + 500,
    );
    const ok = cluster.brokers.length >= expectedBrokers;
    return {
      ok,
      detail: `${cluster.brokers.length}/${expectedBrokers} brokers, controller ${cluster.controller ?? '?'}`,
    };
  } catch (error) {
    return { ok: false, detail: messageOf(error) };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Connects with MQTT 5: healthy on a successful CONNACK (with the given credentials). */
export async function probeMqtt(
  url: string,
  timeoutMs = 3_000,
  credentials?: { username: string; password: string },
): Promise<Probe> {
  let client: mqtt.MqttClient | undefined;
  try {
    client = await withTimeout(
      mqtt.connectAsync(url, {
        protocolVersion: 5,
        ...(credentials ?? {}),
        clientId: `ondijon-stack-probe-${process.pid}-${Date.now()}`,
        connectTimeout: timeoutMs,
        reconnectPeriod: 0,
        clean: true,
      }),
      timeoutMs + 500,
    );
    return { ok: true, detail: 'CONNACK', answered: true };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // A CONNACK that refuses (bad credentials, 0x86/0x87) is still an MQTT broker answering.
    if (typeof code === 'number')
      return { ok: false, detail: `CONNACK refused (reason code ${code})`, answered: true };
    return { ok: false, detail: messageOf(error) };
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}

/** Sends PING: healthy on PONG. */
export async function probeRedis(url: string, timeoutMs = 2_000): Promise<Probe> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await withTimeout(redis.connect(), timeoutMs + 500);
    const pong = await withTimeout(redis.ping(), timeoutMs + 500);
    return { ok: pong === 'PONG', detail: pong };
  } catch (error) {
    return { ok: false, detail: messageOf(error) };
  } finally {
    redis.disconnect();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
