import {
  DATA_OWNER,
  eventId,
  FAMILY_DOMAIN,
  telemetryEventType,
  TELEMETRY_SCHEMA_VERSION,
  type Envelope,
  type Family,
  type Sensitivity,
  type StoredTelemetry,
} from '@ondijon/contracts';
import { defineWindowedAggregation, type LatePolicy } from './define';
import { telemetryOf } from './telemetry';
import { tumbling, type WindowSpec } from './windows';

/** Options of `telemetryEnvelope`. */
export interface TelemetryEnvelopeOptions {
  /** Equipment id (envelope `subject`). */
  equipmentId: string;
  /** Operator (default `op-test`). */
  operator?: string;
  /** INSEE commune code (default Dijon, 21231). */
  commune?: string;
  /** Class (default S1). */
  sensitivity?: Sensitivity;
  /** Event id (default: deterministic from equipment id and `data.seq`, as ingest does). */
  id?: string;
}

/**
 * A stored-telemetry envelope as ingest writes it on `tel.*` topics, for tests and examples:
 * `time` is `data.observedAt`, the id derives from equipment id and device sequence.
 */
export function telemetryEnvelope<F extends Family>(
  family: F,
  data: StoredTelemetry<F>,
  options: TelemetryEnvelopeOptions,
): Envelope<StoredTelemetry<F>> {
  const operator = options.operator ?? 'op-test';
  const d = data as { seq: number; observedAt: string };
  return {
    specversion: '1.0',
    id: options.id ?? eventId(options.equipmentId, d.seq),
    source: `ondijon/${family}/${operator}/${options.equipmentId}`,
    type: telemetryEventType(family),
    subject: options.equipmentId,
    time: d.observedAt,
    datacontenttype: 'application/json',
    dataschema: `urn:ondijon:telemetry:${family}:${TELEMETRY_SCHEMA_VERSION}`,
    data,
    ingestedat: d.observedAt,
    operator,
    owner: DATA_OWNER,
    contractref: 'DM-TEST-2021',
    commune: options.commune ?? '21231',
    sensitivity: options.sensitivity ?? 'S1',
    policyrevision: 'test-1',
    schemaversion: TELEMETRY_SCHEMA_VERSION,
    sequence: d.seq,
    mqtttopic: `ondijon/v1/${family}/${operator}/${options.equipmentId}`,
    lineage: { inputs: ['mqtt'], producer: 'ingest', producerVersion: '0.0.0-test' },
  };
}

/** The domain telemetry topic of a family and class (`tel.s1.lighting.v1`…). */
export function telemetryTopicOf(family: Family, cls: 'S1' | 'S2' = 'S1'): string {
  return `tel.${cls.toLowerCase()}.${FAMILY_DOMAIN[family]}.v1`;
}

/** Options of `lampReport`. */
export interface LampReportOptions {
  equipmentId: string;
  commune: string;
  /** Device sequence number. */
  seq: number;
  /** Observation time (epoch ms or ISO 8601). */
  observedAt: number | string;
  /** Energy of the interval, watt-hours. */
  energyWh: number;
  /** Interval the report covers, seconds. */
  intervalS: number;
}

/** A streetlight's report as ingest stores it: burning at full power (50 W), no fault. */
export function lampReport(o: LampReportOptions): Envelope<StoredTelemetry<'streetlight'>> {
  return telemetryEnvelope(
    'streetlight',
    {
      seq: o.seq,
      observedAt: new Date(o.observedAt).toISOString(),
      state: 'on',
      dimLevelPct: 100,
      powerW: 50,
      energyWh: o.energyWh,
      intervalS: o.intervalS,
      burningHours: 1,
      faults: [],
    },
    { equipmentId: o.equipmentId, commune: o.commune },
  );
}

/** Options of `lampStream`. */
export interface LampStreamOptions {
  /** Time of the first report, epoch ms. */
  start: number;
  hours: number;
  lamps: number;
  /** Each lamp reports every so many minutes. */
  everyMin: number;
  /** Lamp `l` is in commune `communes[l % communes.length]`. */
  communes: readonly string[];
}

/** A lamp stream's records in time order, and its sums per commune and hour computed by plain arithmetic. */
export interface LampStream {
  /** `<commune>|<hour start, ISO 8601>` → watt-hours and reports. */
  expected: Map<string, { wh: number; n: number }>;
  /** Kafka key (equipment id), JSON value, and the envelope itself. */
  values: { key: string; value: string; envelope: Envelope<StoredTelemetry<'streetlight'>> }[];
}

/**
 * `lamps` streetlights (`SL-000`…) reporting every `everyMin` minutes for `hours` hours, 100 ms apart, with
 * integer watt-hours (1 to 13), so sums are exact: the input of the stream runtime's fault tests.
 */
export function lampStream(o: LampStreamOptions): LampStream {
  const expected = new Map<string, { wh: number; n: number }>();
  const values: LampStream['values'] = [];
  for (let k = 0; k < (o.hours * 60) / o.everyMin; k++) {
    for (let l = 0; l < o.lamps; l++) {
      const id = `SL-${String(l).padStart(3, '0')}`;
      const commune = o.communes[l % o.communes.length]!;
      const t = o.start + k * o.everyMin * 60_000 + l * 100;
      const wh = 1 + ((k * 7 + l) % 13);
      const hour = new Date(Math.floor(t / 3_600_000) * 3_600_000).toISOString();
      const e = expected.get(`${commune}|${hour}`) ?? { wh: 0, n: 0 };
      e.wh += wh;
      e.n += 1;
      expected.set(`${commune}|${hour}`, e);
      const envelope = lampReport({
        equipmentId: id,
        commune,
        seq: k,
        observedAt: t,
        energyWh: wh,
        intervalS: o.everyMin * 60,
      });
      values.push({ key: id, value: JSON.stringify(envelope), envelope });
    }
  }
  return { expected, values };
}

/**
 * Energy of streetlights per commune and window (only `energyKwh` is computed; the other values are
 * zeros): the processor of the stream runtime's tests and benchmarks.
 */
export const energyProcessor = (
  name: string,
  late: LatePolicy,
  graceMs: number,
  window: WindowSpec = tumbling('1h'),
) =>
  defineWindowedAggregation({
    name,
    version: '1.0.0',
    inputs: ['tel.s1.lighting.v1'],
    output: 'agg.s1.lighting-commune-hour.v1',
    window,
    graceMs,
    late,
    key: (r) => ({ commune: r.value.commune! }),
    init: () => ({ wh: 0 }),
    add: (acc, r) => ({ wh: acc.wh + (telemetryOf(r.value, 'streetlight')?.energyWh ?? 0) }),
    result: (acc) => ({
      energyKwh: acc.wh / 1000,
      burningHours: 0,
      luminairesReporting: 0,
      cabinetsReporting: 0,
      faultsLamp: 0,
      faultsDriver: 0,
      faultsCommunication: 0,
      dimmedShare: null,
    }),
  });
