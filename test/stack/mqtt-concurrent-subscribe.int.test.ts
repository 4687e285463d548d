// Many new persistent MQTT 5 sessions SUBSCRIBE at once and every SUBACK grants the subscription
// (docs/mqtt-broker.md "Memory"). In Artemis 2.40 such a SUBSCRIBE stores the session state and blocks a
// thread of the broker's server pool until a callback that runs on the same pool releases it: with the
// default pool of 30 threads, 30 SUBSCRIBEs at once took every thread, the stores timed out (AMQ850000)
// and the broker closed the connections. infra/artemis/broker.xml lifts the pool's bound. This test runs a
// private broker (its own ports and folder, infra/artemis/broker.xml as shipped) so that the log it reads
// is its own; with the former default pool it fails (dozens of refused SUBSCRIBEs, AMQ850000 in the log).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { endpoints, stackMqttCredentials, type StackConfig } from '@ondijon/stack';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateBroker } from './helpers';

/** Well above the former pool of 30 threads. */
const SESSIONS = 200;

let config: Partial<StackConfig>;
let dir: string;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ config, dir, stop } = await privateBroker('mqtt-subscribe', '256m'));
});
afterAll(() => stop(), 60_000);

describe('the MQTT broker under concurrent SUBSCRIBEs of persistent sessions', () => {
  it(`grants ${SESSIONS} SUBSCRIBEs sent at once and stores every session state`, async () => {
    const url = endpoints({ config }).mqttUrl;
    const admin = stackMqttCredentials('admin', { config });
    const run = Date.now();
    const clients = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) =>
        mqtt.connectAsync(url, {
          protocolVersion: 5,
          clientId: `sub-${run}-${i}`,
          ...admin,
          clean: false,
          reconnectPeriod: 0,
          connectTimeout: 60_000,
          properties: { sessionExpiryInterval: 3600 },
        }),
      ),
    );
    try {
      // Every client sends its SUBSCRIBE before any SUBACK is awaited.
      const results = await Promise.allSettled(
        clients.map((c, i) => c.subscribeAsync(`t/sub-${run}/s-${i}`, { qos: 1 })),
      );
      const granted = results.filter(
        (r) => r.status === 'fulfilled' && r.value.length === 1 && r.value[0]!.qos === 1,
      ).length;
      expect(granted, 'SUBACKs granting QoS 1').toBe(SESSIONS);
      expect(readFileSync(path.join(dir, 'artemis', 'artemis.log'), 'utf8')).not.toMatch(/AMQ850000/);
    } finally {
      await Promise.allSettled(clients.map((c) => c.endAsync(true)));
    }
  });
});
