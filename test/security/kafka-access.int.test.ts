/**
 * The Kafka access matrix, tested on the real broker (issue 12, item 3): generated from the topic registry,
 * so a topic added to the registry is covered without editing this file. In a fresh topic namespace with
 * its ACLs provisioned, each principal's allowed reads and writes succeed and each forbidden one fails with
 * the broker's authorization error; each principal joins only consumer groups under its own prefix;
 * unauthenticated clients and wrong passwords are refused.
 */
import {
  accessMatrix,
  KAFKA_PRINCIPALS,
  servicePrincipals,
  topicList,
  type ServicePrincipal,
} from '@ondijon/contracts';
import { createKafka, deleteNamespaceAcls } from '@ondijon/kafka';
import { kafkaSecret, resolveConfig, stackProvision } from '@ondijon/stack';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cleanup,
  deleteGroups,
  deleteTopics,
  testEndpoints,
  testKafka,
  uniqueName,
  usesStackSecrets,
} from '../setup/index';

/** `allowed`, `denied`, or the unexpected error seen. */
type Outcome = 'allowed' | 'denied';

const endpoints = testEndpoints();
const local = usesStackSecrets(endpoints);
const cleanup = new Cleanup();
const ns = `${uniqueName('acl').replace(/[^A-Za-z0-9]/g, '')}.`;
const run = uniqueName('acl').replace(/[^A-Za-z0-9-]/g, '');
const groups: string[] = [];
const matrix = accessMatrix();

/** The broker's error type behind a kafkajs error (`TOPIC_AUTHORIZATION_FAILED`…), or its message. */
function errorType(error: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e !== null && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && type !== 'UNKNOWN') return type;
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Broker error types kafkajs saw but swallowed (it turns FindCoordinator's refusal into "not found"). */
const swallowed = new Set<string>();

function clientOf(principal: ServicePrincipal | 'admin', password?: string): Kafka {
  const config = resolveConfig({ externalKafka: undefined });
  const record = (obj: object) => {
    const { error, groupId } = obj as { error?: { type?: unknown }; groupId?: unknown };
    if (typeof error?.type === 'string' && typeof groupId === 'string')
      swallowed.add(`${groupId} ${error.type}`);
  };
  return createKafka({
    brokers: endpoints.kafkaBrokers,
    clientId: `${run}-${principal}`,
    retry: { retries: 1, initialRetryTime: 100 },
    security: { sasl: { username: principal, password: password ?? kafkaSecret(config, principal).value } },
    // kafkajs logs FindCoordinator's error at debug only, then throws "Failed to find group coordinator".
    logLevel: 'debug',
    logger: { error: record, warn: record, info: () => undefined, debug: record },
  });
}

/** Produces one record; `denied` only on the broker's TOPIC_AUTHORIZATION_FAILED. */
async function tryWrite(kafka: Kafka, topic: string): Promise<Outcome> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 1 } });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: '{}' }] });
    return 'allowed';
  } catch (error) {
    if (errorType(error) === 'TOPIC_AUTHORIZATION_FAILED') return 'denied';
    throw error;
  } finally {
    await producer.disconnect();
  }
}

/**
 * Reads a topic in a group: `allowed` once a record arrives, `denied` on the broker's topic or group
 * authorization error (at subscribe, join or fetch); anything else fails the test.
 */
async function tryRead(kafka: Kafka, topic: string, groupId: string): Promise<string> {
  groups.push(groupId);
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, retry: { retries: 1 } });
  let settle!: (o: string) => void;
  const outcome = new Promise<string>((resolve) => (settle = resolve));
  const judge = (error: unknown) => {
    const type = errorType(error);
    const coordinatorRefused =
      type === 'Failed to find group coordinator' && swallowed.has(`${groupId} GROUP_AUTHORIZATION_FAILED`);
    settle(
      type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'GROUP_AUTHORIZATION_FAILED' || coordinatorRefused
        ? 'denied'
        : type,
    );
  };
  consumer.on(consumer.events.CRASH, ({ payload }) => judge(payload.error));
  const timer = setTimeout(() => settle('no record and no error within 60 s'), 60_000);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async () => settle('allowed') });
  } catch (error) {
    judge(error);
  }
  const result = await outcome;
  clearTimeout(timer);
  await consumer.disconnect().catch(() => undefined);
  return result;
}

describe.skipIf(!local)('Kafka access matrix (generated from the topic registry)', () => {
  beforeAll(async () => {
    await stackProvision({ namespace: ns, brokers: endpoints.kafkaBrokers });
    cleanup.add(() => deleteTopics(topicList.map((t) => `${ns}${t.name}`)));
    cleanup.add(async () => {
      const admin = testKafka().admin();
      await admin.connect();
      try {
        await deleteNamespaceAcls(
          admin,
          topicList.map((t) => `${ns}${t.name}`),
        );
      } finally {
        await admin.disconnect();
      }
    });
    cleanup.add(() => deleteGroups(groups));
    // One record on every topic, so an allowed read has something to return.
    const producer = testKafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.sendBatch({
      topicMessages: topicList.map((t) => ({
        topic: `${ns}${t.name}`,
        messages: [{ key: 'k', value: '{}' }],
      })),
    });
    await producer.disconnect();
  });

  afterAll(() => cleanup.run());

  it('covers every registered topic and gives every topic a writer', () => {
    expect(matrix.map((r) => r.topic)).toEqual(topicList.map((t) => t.name));
    for (const row of matrix) expect(row.write.length, row.topic).toBeGreaterThan(0);
    // The council's rule: only governance reads S3 telemetry; the publisher reads aggregates only.
    for (const row of matrix.filter((r) => r.area === 'pii')) expect(row.read).toEqual(['governance']);
    for (const row of matrix) if (row.read.includes('publisher')) expect(row.area).toBe('agg');
  });

  for (const principal of servicePrincipals) {
    it(`${principal}: each allowed write succeeds and each forbidden one is refused`, async () => {
      const kafka = clientOf(principal);
      const expected: Record<string, Outcome> = {};
      const actual: Record<string, string> = {};
      for (const row of matrix) {
        expected[row.topic] = row.write.includes(principal) ? 'allowed' : 'denied';
        actual[row.topic] = await tryWrite(kafka, `${ns}${row.topic}`);
      }
      expect(actual).toEqual(expected);
    });

    it(`${principal}: each allowed read succeeds and each forbidden one is refused`, async () => {
      const kafka = clientOf(principal);
      const prefix = KAFKA_PRINCIPALS[principal].groupPrefix;
      const expected: Record<string, Outcome> = {};
      const actual: Record<string, string> = {};
      await Promise.all(
        matrix.map(async (row, i) => {
          expected[row.topic] = row.read.includes(principal) ? 'allowed' : 'denied';
          actual[row.topic] = await tryRead(kafka, `${ns}${row.topic}`, `${prefix}-${run}-${i}`);
        }),
      );
      expect(actual).toEqual(expected);
    });

    it(`${principal}: joins consumer groups under its own prefix only`, async () => {
      const kafka = clientOf(principal);
      // A topic the principal may read, so only the group decides.
      const readable = matrix.find((r) => r.read.includes(principal))!;
      const expected: Record<string, Outcome> = {};
      const actual: Record<string, string> = {};
      await Promise.all(
        servicePrincipals.map(async (owner) => {
          const group = `${KAFKA_PRINCIPALS[owner].groupPrefix}-${run}-${principal}`;
          expected[owner] = owner === principal ? 'allowed' : 'denied';
          actual[owner] = await tryRead(kafka, `${ns}${readable.topic}`, group);
        }),
      );
      expect(actual).toEqual(expected);
    });
  }

  it('the super user reads and writes every topic', async () => {
    const kafka = clientOf('admin');
    for (const row of matrix) expect(await tryWrite(kafka, `${ns}${row.topic}`), row.topic).toBe('allowed');
  });

  it('reports a hand-made grant as drift on the next provisioning, and leaves it for a human', async () => {
    const kafkajs = (await import('kafkajs')).default;
    const rogue = {
      resourceType: kafkajs.AclResourceTypes.TOPIC,
      resourceName: `${ns}pii.s3.winter.v1`,
      resourcePatternType: kafkajs.ResourcePatternTypes.LITERAL,
      principal: 'User:publisher',
      host: '*',
      operation: kafkajs.AclOperationTypes.READ,
      permissionType: kafkajs.AclPermissionTypes.ALLOW,
    };
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.createAcls({ acl: [rogue] });
      const again = await stackProvision({ namespace: ns, brokers: endpoints.kafkaBrokers });
      expect(again.created).toEqual([]);
      expect(again.acls?.created).toEqual([]);
      expect(again.acls?.drift.map((d) => d.acl)).toEqual([
        `User:publisher READ TOPIC:LITERAL:${ns}pii.s3.winter.v1`,
      ]);
      // Not removed by provisioning: the publisher now reads PII, which the table above would catch.
      expect(
        await tryRead(clientOf('publisher'), `${ns}pii.s3.winter.v1`, `ondijon-publisher-${run}-rogue`),
      ).toBe('allowed');
    } finally {
      await admin.deleteAcls({ filters: [rogue] });
      await admin.disconnect();
    }
  });

  it('refuses a client without credentials and a wrong password', async () => {
    const anonymous = createKafka({
      brokers: endpoints.kafkaBrokers,
      clientId: `${run}-anonymous`,
      retry: { retries: 0 },
      security: {},
    }).admin();
    await expect(anonymous.connect().then(() => anonymous.listTopics())).rejects.toThrow();
    await anonymous.disconnect().catch(() => undefined);
    const wrong = clientOf('processors', 'not-the-password').admin();
    await expect(wrong.connect()).rejects.toThrow(/SASL|authentication/i);
    await wrong.disconnect().catch(() => undefined);
  });
});
