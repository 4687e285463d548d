// Run by ingest-lineage.int.test.ts as a process of its own, so its lineage map starts empty: every
// `ce_lineageref` it meets must be resolved from the registry topic by createConsumer (readAll uses
// it). Prints one JSON document: the records of the topic given as argument as readAll decoded them,
// and whether their lineage references were known before the read.
import { isLineageKnown } from '@ondijon/contracts';
import { readAll } from '@ondijon/kafka';
import { testKafka } from '@ondijon/test-kit';

const topic = process.argv[2]!;
const refs = (process.argv[3] ?? '').split(',').filter((r) => r !== '');
const knownBefore = refs.filter((r) => isLineageKnown(r));
const records = await readAll(testKafka(), topic, { timeoutMs: 60_000 });
process.stdout.write(
  JSON.stringify({
    knownBefore,
    records: records.map((r) => ({ value: r.value, binary: r.binary, headers: r.headers })),
  }),
);
