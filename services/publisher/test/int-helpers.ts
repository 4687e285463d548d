import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DATA_OWNER } from '@ondijon/contracts';
import { Catalog, verifyReleaseFolder } from '@ondijon/opendata';
import type { Kafka } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import type { StagedAggregate } from '../src/release';

/** The envelope an aggregate processor would put on an agg.* topic. */
export function envelopeOf(agg: StagedAggregate, type: string): string {
  return JSON.stringify({
    specversion: '1.0',
    id: `${agg.key}|${agg.data.revision}`,
    source: `ondijon/processor/${agg.data.processor}`,
    type: `fr.dijon.ondijon.aggregate.${type}.v1`,
    time: agg.data.windowEnd,
    datacontenttype: 'application/json',
    dataschema: `urn:ondijon:${type}:v1`,
    data: { key: agg.key, ...agg.data },
    ingestedat: new Date().toISOString(),
    operator: 'ondijon',
    owner: DATA_OWNER,
    contractref: 'test',
    sensitivity: agg.sensitivity,
    policyrevision: agg.policyRevision,
    schemaversion: '1',
    sequence: agg.data.revision,
    lineage: {
      inputs: ['tel.s2.winter.v1'],
      producer: agg.data.processor,
      producerVersion: agg.data.processorVersion,
    },
  });
}

/** Produces aggregates to a topic (keyed by aggregate key, acks=all). */
export async function produce(
  kafka: Kafka,
  topic: string,
  aggs: StagedAggregate[],
  type: string,
): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    // One request: a consumer never sees half of a day and closes it early.
    await producer.send({
      topic,
      acks: -1,
      messages: aggs.map((a) => ({ key: a.key, value: envelopeOf(a, type) })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** Every file under a folder, with its text. */
export async function readTree(root: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push({ path: p, text: await readFile(p, 'utf8') });
    }
  };
  await walk(root);
  return out;
}

/** The catalogue, or undefined before the first write. */
export async function readCatalog(root: string): Promise<Catalog | undefined> {
  try {
    return Catalog.parse(JSON.parse(await readFile(join(root, 'catalog.json'), 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Problems of the catalogue: a release it names that is missing or not whole (empty: consistent). */
export async function catalogProblems(root: string): Promise<string[]> {
  const catalog = await readCatalog(root);
  if (!catalog) return [];
  const problems: string[] = [];
  for (const [id, d] of Object.entries(catalog.datasets)) {
    for (const r of d.releases)
      if (!(await verifyReleaseFolder(root, r.path))) problems.push(`${id}/${r.releaseId}`);
  }
  return problems;
}
