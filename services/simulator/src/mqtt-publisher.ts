import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '@ondijon/service-kit';
import { hash32 } from './prng';

/** Where a message ended up: the PUBACK reason code (0 = accepted, ≥ 0x80 = rejected), or -1 when the publish failed. */
export interface PublishResult {
  reasonCode: number;
}

/** Publishes QoS 1 messages over one or more MQTT 5 connections. */
export interface Publisher {
  /**
   * Waits for a free in-flight slot on the message's connection, then starts the publish; the returned
   * promise settles at PUBACK. `operator` (the topic's operator segment) chooses the connection when the
   * publisher logs in as each operator.
   */
  publish(
    topic: string,
    payload: string,
    key: string,
    operator?: string,
  ): Promise<{ ack: Promise<PublishResult> }>;
  /** Publishes awaiting PUBACK. */
  inFlight(): number;
  /** Waits for in-flight publishes, then disconnects. */
  close(): Promise<void>;
}

/** An MQTT login. */
export interface MqttLogin {
  username: string;
  password: string;
}

/** Options of `connectPublisher`. */
export interface PublisherOptions {
  url: string;
  /** One MQTT principal for every message (an external broker's, or the admin's in tests). */
  username?: string;
  password?: string;
  /**
   * One principal per operator, as real gateways log in: each operator's messages go through a
   * connection of its own, opened on its first message with the login this returns (undefined: the
   * operator has no credentials, and its messages fail with reason code -1). Takes precedence over
   * `username`.
   */
  operatorLogin?: (operator: string) => MqttLogin | undefined;
  /** Connections of the single principal (ignored with `operatorLogin`: one per operator). */
  connections: number;
  clientIdPrefix: string;
  maxInflight: number;
  log: Logger;
}

interface Conn {
  client: MqttClient;
  inflight: number;
  waiters: (() => void)[];
}

/** Principals that are never an operator, whatever a topic's operator segment says. */
const SERVICE_LOGINS = new Set(['admin', 'ingest']);

/**
 * Operator logins read from a folder of `<operator>.password` files (the stack's
 * `.stack/secrets/mqtt`): the file is read when the operator's connection opens, so a rotated password
 * written there is used by the next connection. Service principals (`admin`, `ingest`) are never used.
 */
export function operatorLoginsFromDir(dir: string): (operator: string) => MqttLogin | undefined {
  return (operator) => {
    if (SERVICE_LOGINS.has(operator) || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(operator)) return undefined;
    const file = path.join(dir, `${operator}.password`);
    if (!existsSync(file)) return undefined;
    return { username: operator, password: readFileSync(file, 'utf8').trim() };
  };
}

async function openConnection(
  options: PublisherOptions,
  clientId: string,
  login: Partial<MqttLogin>,
  label: Record<string, unknown>,
): Promise<Conn> {
  const client = await mqtt.connectAsync(options.url, {
    protocolVersion: 5,
    clientId,
    ...(login.username !== undefined ? { username: login.username, password: login.password } : {}),
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  client.on('error', (err) => options.log.warn({ err, ...label }, 'mqtt connection error'));
  client.on('offline', () => options.log.warn(label, 'mqtt connection offline'));
  return { client, inflight: 0, waiters: [] };
}

/**
 * Opens the MQTT 5 clients. With `operatorLogin`, one connection per operator, logged in as that
 * operator (an equipment's messages all go through its operator's connection, so they stay in order);
 * otherwise `connections` clients of one principal, an equipment's messages always through the same one
 * (chosen by a hash of its key). Several connections raise the rate because each waits for its own PUBACKs.
 */
export async function connectPublisher(options: PublisherOptions): Promise<Publisher> {
  const shared: Conn[] =
    options.operatorLogin !== undefined
      ? []
      : await Promise.all(
          Array.from({ length: options.connections }, (_, i) =>
            openConnection(
              options,
              `${options.clientIdPrefix}-${i}`,
              { username: options.username, password: options.password },
              { connection: i },
            ),
          ),
        );
  const byOperator = new Map<string, Promise<Conn | undefined>>();
  const operatorConn = (operator: string): Promise<Conn | undefined> => {
    let conn = byOperator.get(operator);
    if (conn === undefined) {
      const login = options.operatorLogin!(operator);
      if (login === undefined) options.log.warn({ operator }, 'no mqtt credentials for operator');
      conn =
        login === undefined
          ? Promise.resolve(undefined)
          : openConnection(options, `${options.clientIdPrefix}-${operator}`, login, { operator });
      byOperator.set(operator, conn);
    }
    return conn;
  };
  const release = (c: Conn) => {
    c.inflight--;
    c.waiters.shift()?.();
  };
  const all = async () => [
    ...shared,
    ...(await Promise.all(byOperator.values())).filter((c): c is Conn => c !== undefined),
  ];
  let opened: Conn[] = shared;
  return {
    async publish(topic, payload, key, operator) {
      const c =
        options.operatorLogin !== undefined
          ? await operatorConn(operator ?? '')
          : shared[hash32(key) % shared.length]!;
      if (c === undefined) return { ack: Promise.resolve({ reasonCode: -1 }) };
      if (!opened.includes(c)) opened = [...opened, c];
      while (c.inflight >= options.maxInflight) await new Promise<void>((resolve) => c.waiters.push(resolve));
      c.inflight++;
      const ack = c.client.publishAsync(topic, payload, { qos: 1 }).then(
        (): PublishResult => {
          release(c);
          return { reasonCode: 0 };
        },
        (err: unknown): PublishResult => {
          release(c);
          const code = (err as { code?: unknown }).code;
          return { reasonCode: typeof code === 'number' ? code : -1 };
        },
      );
      return { ack };
    },
    inFlight: () => opened.reduce((s, c) => s + c.inflight, 0),
    async close() {
      await Promise.all((await all()).map((c) => c.client.endAsync()));
    },
  };
}
