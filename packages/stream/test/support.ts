// Shared by the runtime's integration tests (runtime, engine-equivalence): the clock and the lamps of
// their scenarios.
/* eslint-disable @typescript-eslint/no-explicit-any -- aggregates of any topic, read without casts */
import { toBinary, topicConstants, type Envelope } from '@ondijon/contracts';
import {
  defineAttributeAggregation,
  defineWindowedAggregation,
  lampReport,
  telemetryEnvelope,
  tumbling,
} from '../src/index';

const base = Date.UTC(2025, 0, 15, 10, 0);

/** `min` minutes after the scenarios' start (15 January 2025, 10:00Z), ISO 8601. */
export const at = (min: number) => new Date(base + min * 60_000).toISOString();

/**
 * A report of lamp `id` at minute `min` of `wh` watt-hours. Two groups: commune 21231 (ids ending in 1)
 * and 21166 (the others).
 */
export const lamp = (id: string, seq: number, min: number, wh: number) =>
  lampReport({
    equipmentId: id,
    commune: id.endsWith('1') ? '21231' : '21166',
    seq,
    observedAt: at(min),
    energyWh: wh,
    intervalS: 60,
  });

// Attribute-only processors (attributes.test.ts, runtime.int.test.ts): the same count on both paths.

/**
 * A binary-mode lighting record as ingest writes it: keyed by the equipment, whose subject then has no
 * header, and with `ingestedat` as the record timestamp.
 */
export function binaryLamp(i: number) {
  const operator = i % 2 === 0 ? 'op-a' : 'op-b';
  const min = (i * 3) % 180;
  const env = telemetryEnvelope(
    'streetlight',
    {
      seq: i,
      observedAt: at(min),
      state: 'on',
      dimLevelPct: 100,
      powerW: 50,
      energyWh: 10,
      intervalS: 600,
      burningHours: 1000,
      faults: [],
    },
    { equipmentId: `SL-${i % 4}`, commune: i % 3 === 0 ? '21166' : '21231', operator },
  );
  const key = `SL-${i % 4}`;
  const { headers, value, timestamp } = toBinary(env, topicConstants('tel.s1.lighting.v1'), {
    key,
    recordTimestamp: true,
  });
  return { key, headers, value, timestamp: timestamp! };
}

const zeroValues = {
  energyKwh: 0,
  burningHours: 0,
  cabinetsReporting: 0,
  faultsLamp: 0,
  faultsDriver: 0,
  faultsCommunication: 0,
  dimmedShare: null,
};

/** Records per commune and hour, from the attributes alone. */
export const countAttributes = defineAttributeAggregation({
  name: 'test-count-attributes',
  version: '1.0.0',
  inputs: ['tel.s1.lighting.v1'],
  output: 'agg.s1.lighting-commune-hour.v1',
  window: tumbling('1h'),
  graceMs: 0,
  late: 'revise',
  key: (r) => (r.value.commune ? { commune: r.value.commune } : undefined),
  init: () => ({ n: 0 }),
  add: (acc) => ({ n: acc.n + 1 }),
  result: (acc) => ({ ...zeroValues, luminairesReporting: acc.n }),
});

/** The same count on the data path (the value parsed and validated). */
export const countData = defineWindowedAggregation({
  ...countAttributes,
  name: 'test-count-data',
});

/** Records per window of an aggregation's latest results: input records, per operator, the count. */
export const countsByWindow = (latest: Iterable<Envelope<any>>) =>
  new Map(
    [...latest].map((v) => [
      `${v.data.group.commune}|${v.data.windowStart}`,
      {
        records: v.data.inputRecords,
        byOperator: v.lineage.countsByOperator,
        n: v.data.values.luminairesReporting,
      },
    ]),
  );
