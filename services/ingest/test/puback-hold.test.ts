// Guard of the PUBACK hold on the installed mqtt.js: a minimal MQTT 5 server (a socket answering CONNECT
// and sending one QoS 1 PUBLISH) shows that mqtt.js' PUBACK, once the message's outcome is told, goes
// through the hooked writer and is held until the message is durable, then sent, in order.
import { createServer, type Server, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { MQTT_PINNED_VERSION, mqttVersion, PubackHold, type HeldAck } from '../src/puback-hold';

/** An MQTT 5 PUBLISH, QoS 1, no properties. */
function publish(topic: string, id: number, payload: string): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([
    Buffer.from([t.length >> 8, t.length & 0xff]),
    t,
    Buffer.from([id >> 8, id & 0xff, 0]),
    Buffer.from(payload),
  ]);
  return Buffer.concat([Buffer.from([0x32, body.length]), body]);
}

const CONNACK = Buffer.from([0x20, 3, 0, 0, 0]);

/** PUBACK packet ids the server received, in order. */
function pubacksIn(bytes: Buffer): number[] {
  const ids: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const type = bytes[i]! >> 4;
    const len = bytes[i + 1]!; // small packets only
    if (type === 4) ids.push((bytes[i + 2]! << 8) | bytes[i + 3]!);
    i += 2 + len;
  }
  return ids;
}

const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('PUBACK hold on mqtt.js', () => {
  let server: Server | undefined;
  let client: MqttClient | undefined;
  afterEach(async () => {
    client?.end(true);
    await new Promise((r) => server?.close(r) ?? r(undefined));
  });

  it('is written against the mqtt.js version the workspace pins', () => {
    expect(mqttVersion()).toBe(MQTT_PINNED_VERSION);
  });

  it('holds PUBACKs until their messages are durable, and sends them in arrival order', async () => {
    let received = Buffer.alloc(0);
    let socket: Socket | undefined;
    server = createServer((s) => {
      socket = s;
      s.on('data', (d) => {
        if (received.length === 0 && d[0]! >> 4 === 1) {
          received = Buffer.alloc(1); // CONNECT seen (not recorded)
          s.write(CONNACK);
          s.write(publish('t/a', 7, 'one'));
          s.write(publish('t/b', 8, 'two'));
          return;
        }
        received = Buffer.concat([received, d]);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const entries: HeldAck[] = [];
    let hold: PubackHold | undefined;
    client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      customHandleAcks: (_topic, _payload, packet, ack) => {
        entries.push(hold!.track(packet.messageId!, 0));
        hold!.acknowledge(() => ack(0));
      },
    });
    hold = new PubackHold(10, () => true);
    hold.attach(client);
    await until(() => entries.length === 2 && socket !== undefined, 'two messages');
    // mqtt.js was told both outcomes: its PUBACKs are held, none went out.
    await new Promise((r) => setTimeout(r, 100));
    expect(pubacksIn(received.subarray(1))).toEqual([]);
    expect(entries.map((e) => e.puback !== undefined)).toEqual([true, true]);
    // The second is durable first: still held behind the first.
    hold.settle(entries[1]!, true);
    await new Promise((r) => setTimeout(r, 100));
    expect(pubacksIn(received.subarray(1))).toEqual([]);
    hold.settle(entries[0]!, true);
    await until(() => pubacksIn(received.subarray(1)).length === 2, 'two PUBACKs');
    expect(pubacksIn(received.subarray(1))).toEqual([7, 8]);
    expect(hold.size).toBe(0);
  });
});
