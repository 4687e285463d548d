// The mqtt.js PUBACK hold: ingest tells mqtt.js a message's outcome at once (so mqtt.js reads the next
// message), but the PUBACK mqtt.js then writes is held back until Kafka acknowledged the record (or its
// dead letter), and PUBACKs go out in arrival order (MQTT 5 §4.6). mqtt.js has no API for this: the hold
// replaces the client's internal `_sendPacket` writer. That is an internal of mqtt.js, so the version is
// pinned exactly (the workspace catalog) and checked here, and test/puback-hold.test.ts guards the hook
// on the installed mqtt.js. Without the hold, mqtt.js would process one message per connection per
// Kafka round trip.
import { createRequire } from 'node:module';
import type { MqttClient } from 'mqtt';

const require = createRequire(import.meta.url);

/** The mqtt.js version the hold was written and tested against. */
export const MQTT_PINNED_VERSION = '5.16.0';

/** The mqtt.js version this process loads. */
export function mqttVersion(): string {
  return (require('mqtt/package.json') as { version: string }).version;
}

/** A packet as mqtt.js' writer takes it. */
interface Packet {
  cmd: string;
  messageId?: number;
}

/** A PUBACK held back until its message is durable (or abandoned). */
export interface HeldAck {
  messageId: number;
  /** Connection generation the message arrived on. */
  generation: number;
  state: 'pending' | 'durable' | 'abandoned';
  /** The PUBACK mqtt.js wanted to send, captured by the hook. */
  puback?: object;
}

/** The PUBACKs of one MQTT connection. */
export class PubackHold {
  private held: HeldAck[] = [];
  private readonly byId = new Map<number, HeldAck>();
  /** The mqtt.js ack callback of a message received while the hold was full: calling it resumes reading. */
  private blocked: (() => void) | undefined;
  /** mqtt.js' own packet writer. */
  private send: ((packet: object) => void) | undefined;

  constructor(
    /** Messages held at most before mqtt.js is made to stop reading (the MQTT receive maximum). */
    private readonly receiveMaximum: number,
    /** Whether a PUBACK of a message of this generation may still go out (same connection, connected). */
    private readonly live: (generation: number) => boolean,
  ) {}

  /** Messages whose PUBACK is held. */
  get size(): number {
    return this.held.length;
  }

  /** Hooks the client's packet writer: PUBACKs of held messages are captured, everything else passes. */
  attach(client: MqttClient): void {
    if (mqttVersion() !== MQTT_PINNED_VERSION)
      throw new Error(
        `mqtt ${mqttVersion()} is not ${MQTT_PINNED_VERSION}, the version the PUBACK hold was tested on`,
      );
    const c = client as unknown as {
      _sendPacket: (packet: Packet, cb?: () => void, ...rest: unknown[]) => void;
    };
    if (typeof c._sendPacket !== 'function')
      throw new Error('mqtt.js has no _sendPacket: the PUBACK hold cannot hook it');
    const original = c._sendPacket.bind(client);
    this.send = (packet) => original(packet as Packet);
    c._sendPacket = (packet, cb, ...rest) => {
      const entry =
        packet.cmd === 'puback' && packet.messageId !== undefined
          ? this.byId.get(packet.messageId)
          : undefined;
      if (entry === undefined || entry.puback !== undefined) {
        original(packet, cb, ...rest);
        return;
      }
      entry.puback = packet;
      // Let mqtt.js go on with the next packet now; the PUBACK goes out from release().
      cb?.();
      this.release();
    };
  }

  /** Holds the PUBACK of a message just received. */
  track(messageId: number, generation: number): HeldAck {
    const entry: HeldAck = { messageId, generation, state: 'pending' };
    this.held.push(entry);
    this.byId.set(messageId, entry);
    return entry;
  }

  /** The message is durable (ok) or abandoned: its PUBACK may go out once those before it did. */
  settle(entry: HeldAck, ok: boolean): void {
    entry.state = ok ? 'durable' : 'abandoned';
    this.release();
  }

  /**
   * Tells mqtt.js the outcome now, or, with the hold full, later (mqtt.js then stops reading the
   * socket, and TCP pushes back to the broker, which keeps the messages).
   */
  acknowledge(ack: () => void): void {
    if (this.held.length > this.receiveMaximum) this.blocked = ack;
    else ack();
  }

  /** The connection closed: the broker redelivers every unacknowledged message, held PUBACKs are void. */
  reset(): void {
    this.held = [];
    this.byId.clear();
    this.blocked = undefined;
  }

  /** Sends the PUBACKs at the head of the queue whose messages are durable, in arrival order. */
  private release(): void {
    while (this.held.length > 0) {
      const head = this.held[0]!;
      if (head.state === 'pending' || head.puback === undefined) break;
      this.held.shift();
      this.byId.delete(head.messageId);
      // After a reconnect the broker redelivers the message itself; an old PUBACK could name another message.
      if (head.state === 'durable' && this.live(head.generation)) this.send?.(head.puback);
    }
    if (this.blocked !== undefined && this.held.length < this.receiveMaximum) {
      const resume = this.blocked;
      this.blocked = undefined;
      resume();
    }
  }
}
