import { z } from 'zod';
import { LateRecord, LightingCommuneHour, SignalStatus, TrafficFlow, WinterCommuneDay } from './aggregates';
import { DeadLetter } from './dead-letter';
import { envelopeOf, Lineage } from './envelope';
import { Equipment } from './equipment';
import { type Domain, type Family, FAMILY_DOMAIN } from './families';
import { type Sensitivity } from './sensitivity';
import { storedTelemetrySchemas } from './telemetry';

const DAY_MS = 86_400_000;

/** Everything the pipeline knows about one Kafka topic: the one place where topic strings live. */
export interface TopicSpec<S extends z.ZodType = z.ZodType> {
  /** `<area>.<class>.<entity>.v<N>`. */
  name: string;
  /** What the topic is for. */
  area: 'ref' | 'tel' | 'pii' | 'dlq' | 'late' | 'agg';
  /** Sensitivity class of its records (the maximum a record on it may have). */
  class: Sensitivity;
  /** Schema of the record value (JSON). */
  schema: S;
  /** What the record key is. */
  key: string;
  partitions: number;
  /** retention.ms; -1 keeps forever (compacted reference data). */
  retentionMs: number;
  cleanupPolicy: 'delete' | 'compact';
  description: string;
}

function topic<const N extends string, S extends z.ZodType>(
  spec: TopicSpec<S> & { name: N },
): TopicSpec<S> & { name: N } {
  return spec;
}

/** Union of the stored telemetry of the families of a domain (the `data` of a tel.* record). */
function domainData(domain: Domain) {
  const schemas = (Object.keys(storedTelemetrySchemas) as Family[])
    .filter((f) => FAMILY_DOMAIN[f] === domain)
    .map((f) => storedTelemetrySchemas[f]);
  return z.union(schemas as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]);
}

const telemetryTopic = <const N extends string>(
  name: N,
  domain: Domain,
  cls: Sensitivity,
  retentionDays: number,
  description: string,
) =>
  topic({
    name,
    area: cls === 'S3' ? 'pii' : 'tel',
    class: cls,
    schema: envelopeOf(domainData(domain)),
    key: 'equipmentId',
    partitions: 6,
    retentionMs: retentionDays * DAY_MS,
    cleanupPolicy: 'delete',
    description,
  });

const aggregateTopic = <const N extends string, S extends z.ZodType>(
  name: N,
  cls: Sensitivity,
  data: S,
  description: string,
) =>
  topic({
    name,
    area: 'agg',
    class: cls,
    schema: envelopeOf(data),
    key: 'processor|group|windowStart',
    partitions: 3,
    retentionMs: 400 * DAY_MS,
    cleanupPolicy: 'delete',
    description,
  });

/** The Kafka topic registry, by name. Provisioning creates exactly these; nothing is auto-created. */
export const TOPICS = {
  'ref.s0.equipment.v1': topic({
    name: 'ref.s0.equipment.v1',
    area: 'ref',
    class: 'S0',
    schema: envelopeOf(Equipment),
    key: 'equipmentId',
    partitions: 3,
    retentionMs: -1,
    cleanupPolicy: 'compact',
    description: 'Equipment registry (public reference), compacted: the latest entry per equipment id.',
  }),
  'ref.s0.lineage.v1': topic({
    name: 'ref.s0.lineage.v1',
    area: 'ref',
    class: 'S0',
    // The lineage keys a telemetry record does not take from its topic's constants (JSON), as ingest
    // wrote them in the record's `ce_lineage` header before (packages/contracts cloudevents-binary.ts).
    schema: Lineage.partial(),
    key: 'lineageRef',
    partitions: 1,
    retentionMs: -1,
    cleanupPolicy: 'compact',
    description:
      'Lineage registry (producer version and policy field actions), compacted: each distinct lineage once, keyed by the content hash that telemetry records carry in `ce_lineageref`.',
  }),
  'tel.s1.lighting.v1': telemetryTopic(
    'tel.s1.lighting.v1',
    'lighting',
    'S1',
    90,
    'Luminaire and cabinet telemetry, operational.',
  ),
  'tel.s2.lighting.v1': telemetryTopic(
    'tel.s2.lighting.v1',
    'lighting',
    'S2',
    60,
    'Luminaire telemetry that keeps presence detections (quasi-personal).',
  ),
  'tel.s1.traffic.v1': telemetryTopic(
    'tel.s1.traffic.v1',
    'traffic',
    'S1',
    90,
    'Signal controller states and detector counts.',
  ),
  'tel.s1.winter.v1': telemetryTopic('tel.s1.winter.v1', 'winter', 'S1', 90, 'Road weather stations.'),
  'tel.s2.winter.v1': telemetryTopic(
    'tel.s2.winter.v1',
    'winter',
    'S2',
    60,
    'Winter-service vehicles: positions and activity, no identity.',
  ),
  'pii.s3.winter.v1': telemetryTopic(
    'pii.s3.winter.v1',
    'winter',
    'S3',
    30,
    'Winter-service vehicles with the agent pseudonym, only when a declared use keeps it.',
  ),
  'dlq.s3.ingest.v1': topic({
    name: 'dlq.s3.ingest.v1',
    area: 'dlq',
    class: 'S3',
    schema: DeadLetter,
    key: 'mqttTopic',
    partitions: 3,
    retentionMs: 14 * DAY_MS,
    cleanupPolicy: 'delete',
    description: 'Messages rejected by ingest, with reason code and (except S4) the raw payload for replay.',
  }),
  'dlq.s3.stream.v1': topic({
    name: 'dlq.s3.stream.v1',
    area: 'dlq',
    class: 'S3',
    schema: DeadLetter,
    key: 'kafkaTopic',
    partitions: 3,
    retentionMs: 14 * DAY_MS,
    cleanupPolicy: 'delete',
    description: 'Poison records and processor failures, with reason code and the record for replay.',
  }),
  'late.s2.stream.v1': topic({
    name: 'late.s2.stream.v1',
    area: 'late',
    class: 'S2',
    schema: LateRecord,
    key: 'processor',
    partitions: 3,
    retentionMs: 30 * DAY_MS,
    cleanupPolicy: 'delete',
    description:
      'Records that arrived after their window closed, for processors that route rather than revise.',
  }),
  'agg.s1.lighting-commune-hour.v1': aggregateTopic(
    'agg.s1.lighting-commune-hour.v1',
    'S1',
    LightingCommuneHour,
    'Lighting per commune and hour.',
  ),
  'agg.s1.traffic-flow.v1': aggregateTopic(
    'agg.s1.traffic-flow.v1',
    'S1',
    TrafficFlow,
    'Traffic flow per intersection and commune, 15 min and hour.',
  ),
  'agg.s1.signal-status.v1': aggregateTopic(
    'agg.s1.signal-status.v1',
    'S1',
    SignalStatus,
    'Signal faults and degraded time per intersection and commune, hour.',
  ),
  'agg.s2.winter-commune-day.v1': aggregateTopic(
    'agg.s2.winter-commune-day.v1',
    'S2',
    WinterCommuneDay,
    'Winter service per commune and day (derived from vehicle positions).',
  ),
} as const;

/** The registry topic of telemetry lineages, referenced by `ce_lineageref` (cloudevents-binary.ts). */
export const LINEAGE_REGISTRY_TOPIC = 'ref.s0.lineage.v1' satisfies keyof typeof TOPICS;

/** Name of a registered topic. */
export type TopicName = keyof typeof TOPICS;
/** Value type of a registered topic. */
export type TopicValue<N extends TopicName> = z.infer<(typeof TOPICS)[N]['schema']>;
/** All registered topics, for provisioning. */
export const topicList: TopicSpec[] = Object.values(TOPICS);

/** The spec of a registered topic; throws on an unknown name. */
export function topicSpec<N extends TopicName>(name: N): (typeof TOPICS)[N] {
  const spec = TOPICS[name];
  if (!spec) throw new Error(`unknown topic ${name}`);
  return spec;
}

/** The telemetry topic of a domain and class, or undefined when none is registered (the policy routed nowhere). */
export function telemetryTopicFor(domain: Domain, cls: Sensitivity): TopicName | undefined {
  const name = `${cls === 'S3' ? 'pii' : 'tel'}.${cls.toLowerCase()}.${domain}.v1`;
  return name in TOPICS ? (name as TopicName) : undefined;
}
