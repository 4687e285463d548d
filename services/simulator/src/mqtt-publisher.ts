import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '@ondijon/service-kit';
import { hash32 } from './prng';

/** Where a message ended up: the PUBACK reason code (0 = accepted, ≥ 0x80 = rejected), or -1 when the publish failed. */
export interface PublishResult {
  reasonCode: number;
}

/** Publishes QoS 1 messages over one or more MQTT 5 connections. */
export interface Publisher {
  /** Waits for a free in-flight slot on the key's connection, then starts the publish; the returned promise settles at PUBACK. */
  publish(topic: string, payload: string, key: string): Promise<{ ack: Promise<PublishResult> }>;
  /** Publishes awaiting PUBACK. */
  inFlight(): number;
  /** Waits for in-flight publishes, then disconnects. */
  close(): Promise<void>;
}

/** Options of `connectPublisher`. */
export interface PublisherOptions {
  url: string;
  /** MQTT principal (an operator's in production: see docs/security.md). */
  username?: string;
  password?: string;
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

/**
 * Opens `connections` MQTT 5 clients. An equipment's messages always go through the same connection
 * (chosen by a hash of its key), so the broker receives them in order; several connections raise the
 * rate because each waits for its own PUBACKs.
 */
export async function connectPublisher(options: PublisherOptions): Promise<Publisher> {
  const conns: Conn[] = await Promise.all(
    Array.from({ length: options.connections }, async (_, i) => {
      const client = await mqtt.connectAsync(options.url, {
        protocolVersion: 5,
        clientId: `${options.clientIdPrefix}-${i}`,
        ...(options.username !== undefined ? { username: options.username, password: options.password } : {}),
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
      });
      client.on('error', (err) => options.log.warn({ err, connection: i }, 'mqtt connection error'));
      client.on('offline', () => options.log.warn({ connection: i }, 'mqtt connection offline'));
      return { client, inflight: 0, waiters: [] };
    }),
  );
  const release = (c: Conn) => {
    c.inflight--;
    c.waiters.shift()?.();
  };
  return {
    async publish(topic, payload, key) {
      const c = conns[hash32(key) % conns.length]!;
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
    inFlight: () => conns.reduce((s, c) => s + c.inflight, 0),
    async close() {
      await Promise.all(conns.map((c) => c.client.endAsync()));
    },
  };
}
