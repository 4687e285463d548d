import type {
  Contributors as ContributorsSchema,
  DominanceInputs as DominanceSchema,
  Envelope,
  Sensitivity,
  TopicName,
  TopicValue,
} from '@ondijon/contracts';
import type { z } from 'zod';
import type { TimeWindow, WindowSpec } from './windows';

/** Who contributed to an aggregate cell (thresholds of the anonymisation gate). */
export type Contributors = z.infer<typeof ContributorsSchema>;
/** Top-1/top-2 shares per summed value (dominance rule). */
export type DominanceInputs = z.infer<typeof DominanceSchema>;

/** A decoded, validated input record of topic `N`, as a processor sees it. */
export interface TopicRecord<N extends TopicName> {
  /** Logical topic name (from the registry, whatever physical topic it was read from). */
  topic: N;
  /** The validated value. */
  value: TopicValue<N>;
  /** Kafka key as text (null when absent). */
  key: string | null;
  partition: number;
  offset: string;
}

/** A record of any of the topics in `In` (a discriminated union on `topic`). */
export type InputRecord<In extends TopicName> = { [N in In]: TopicRecord<N> }[In];

/**
 * What a windowed aggregation reads of its records: `data` (the default: the whole envelope, `data`
 * parsed and validated) or `attributes` (the envelope without `data`: a binary-mode record's value is
 * never read, so a processor that counts or groups on attributes skips the parse, docs/processors-guide.md).
 */
export type Reads = 'data' | 'attributes';

/** A record of topic `N` as an attribute-only processor sees it: the validated envelope without `data`. */
export interface AttributeRecord<N extends TopicName> extends Omit<TopicRecord<N>, 'value'> {
  value: Omit<TopicValue<N>, 'data'>;
}

/** An attribute-only record of any of the topics in `In`. */
export type AttributeInput<In extends TopicName> = { [N in In]: AttributeRecord<N> }[In];

/** One record a stateless processor emits. */
export interface OutputRecord<Out extends TopicName> {
  topic: Out;
  /** Kafka key; defaults to the input key. */
  key?: string;
  value: TopicValue<Out>;
}

/** A record emitted on any of the topics in `Out`. */
export type AnyOutput<Out extends TopicName> = { [N in Out]: OutputRecord<N> }[Out];

/** What the runtime passes to a processor: no clients, only pure helpers (CONTRIBUTING.md rule 5). */
export interface ProcessorContext {
  /** Processor name and version. */
  processor: { name: string; version: string };
  /** Logs through the runtime's logger (bound with processor, topic, partition, offset). Never pass payloads. */
  log: (fields: Record<string, unknown>, msg: string) => void;
  /**
   * Builds the envelope of a derived record from the input envelope: provenance (lineage inputs,
   * producer, version) and sensitivity (never lower than the input's) are filled in.
   */
  derive<T>(
    input: Envelope<unknown>,
    data: T,
    fields: { type: string; id?: string; subject?: string; sensitivity?: Sensitivity },
  ): Envelope<T>;
}

/** A stateless processor: map, filter, route. */
export interface ProcessorDefinition<In extends TopicName = TopicName, Out extends TopicName = TopicName> {
  kind: 'stateless';
  name: string;
  version: string;
  description?: string;
  inputs: readonly In[];
  outputs: readonly Out[];
  /** Returns zero, one or several output records for one input record. */
  process(
    record: InputRecord<In>,
    ctx: ProcessorContext,
  ): AnyOutput<Out> | readonly AnyOutput<Out>[] | undefined | null;
}

/** Data of an aggregate topic (`data` of its envelope). */
export type AggregateData<O extends TopicName> = TopicValue<O> extends { data: infer D } ? D : never;
/** Topics whose data is an aggregate (has `group` and `values`). */
export type AggregateTopicName = {
  [N in TopicName]: AggregateData<N> extends { group: unknown; values: unknown; revision: number }
    ? N
    : never;
}[TopicName];
/** The `values` of an aggregate topic. */
export type AggregateValues<O extends TopicName> = AggregateData<O> extends { values: infer V } ? V : never;
/** The `group` of an aggregate topic. */
export type AggregateGroup<O extends TopicName> = AggregateData<O> extends { group: infer G } ? G : never;

/** What happens to a record whose window has already closed (window end + grace ≤ stream time). */
export type LatePolicy = 'revise' | 'route';

/** Defaults the runtime computes for the contributors of a cell: distinct subjects and operators. */
export interface ContributorDefaults {
  /** Distinct envelope `subject`s (equipment) counted in the cell. */
  equipment: number;
  /** Distinct envelope `operator`s. */
  operators: number;
}

/** A windowed aggregation on event time (`envelope.time`). */
export interface WindowedAggregationDefinition<
  In extends TopicName = TopicName,
  Out extends AggregateTopicName = AggregateTopicName,
  Acc = unknown,
  Rec = InputRecord<In>,
> {
  kind: 'windowed';
  /** What the processor reads of its records (default `data`; `attributes`: see defineAttributeAggregation). */
  reads?: Reads;
  name: string;
  version: string;
  description?: string;
  inputs: readonly In[];
  output: Out;
  window: WindowSpec;
  /** How long after window end records are still accepted as on time, ms. */
  graceMs: number;
  /** Late records: emitted as a new revision of their window, or routed to `late.s2.stream.v1`. */
  late: LatePolicy;
  /** The group(s) of a record; undefined/null/[] drops the record (a filter). */
  key(record: Rec): AggregateGroup<Out> | readonly AggregateGroup<Out>[] | undefined | null;
  /** Event time of a record, epoch ms; defaults to `Date.parse(record.value.time)` (the envelope time). */
  eventTime?(record: Rec): number;
  /** A fresh accumulator (JSON-serialisable: it is stored in Redis). */
  init(): Acc;
  /** Folds one record into the accumulator; may mutate and return it. Must be deterministic. */
  add(acc: Acc, record: Rec, group: AggregateGroup<Out>): Acc;
  /** The values of the window from the accumulator. */
  result(acc: Acc, window: TimeWindow, group: AggregateGroup<Out>): AggregateValues<Out>;
  /** Contributors of the cell; defaults to distinct subjects and operators (override to add `persons`). */
  contributors?(acc: Acc, defaults: ContributorDefaults): Contributors;
  /** Top-1/top-2 shares per summed value, for the publisher's dominance rule. */
  dominance?(acc: Acc): DominanceInputs;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- type erasure: the runtime runs definitions of every topic */
/**
 * A windowed aggregation with its types erased, as the runtime sees it. Method syntax keeps the
 * parameters bivariant, so any typed definition (or a spread copy of one) is assignable.
 */
export interface AnyWindowedAggregation {
  kind: 'windowed';
  reads?: Reads;
  name: string;
  version: string;
  description?: string;
  inputs: readonly TopicName[];
  output: TopicName;
  window: WindowSpec;
  graceMs: number;
  late: LatePolicy;
  key(record: any): unknown;
  eventTime?(record: any): number;
  init(): unknown;
  add(acc: any, record: any, group: any): unknown;
  result(acc: any, window: TimeWindow, group: any): unknown;
  contributors?(acc: any, defaults: ContributorDefaults): Contributors;
  dominance?(acc: any): DominanceInputs;
}

/** A stateless processor with its types erased, as the runtime sees it. */
export interface AnyStatelessProcessor {
  kind: 'stateless';
  name: string;
  version: string;
  description?: string;
  inputs: readonly TopicName[];
  outputs: readonly TopicName[];
  process(record: any, ctx: ProcessorContext): unknown;
}

/* eslint-enable @typescript-eslint/no-explicit-any */

/** Any processor definition the runtime can run. */
export type AnyProcessor = AnyStatelessProcessor | AnyWindowedAggregation;

type Spec<T extends { kind: string }> = Omit<T, 'kind'>;

/** Defines a stateless processor; input and output types are inferred from the topic registry. */
export function defineProcessor<const In extends TopicName, const Out extends TopicName>(
  spec: Spec<ProcessorDefinition<In, Out>>,
): ProcessorDefinition<In, Out> {
  validateName(spec.name, spec.version, spec.inputs);
  return Object.freeze({ ...spec, kind: 'stateless' as const });
}

/** Defines a windowed aggregation; the record, group and values types are inferred from the topic registry. */
export function defineWindowedAggregation<
  const In extends TopicName,
  const Out extends AggregateTopicName,
  Acc,
>(
  spec: Omit<Spec<WindowedAggregationDefinition<In, Out, Acc>>, 'reads'>,
): WindowedAggregationDefinition<In, Out, Acc> {
  validateName(spec.name, spec.version, spec.inputs);
  if (!(spec.graceMs >= 0)) throw new Error(`processor ${spec.name}: graceMs must be >= 0`);
  // `reads` set here: a spread copy of an attribute-only definition reads data again.
  return Object.freeze({ ...spec, kind: 'windowed' as const, reads: 'data' as const });
}

/**
 * Defines a windowed aggregation that reads only the attributes of its records (`reads:
 * 'attributes'`): records come without `data`, and a binary-mode record's value is never read or
 * parsed. Attributes are validated against the envelope schema without `data`; a record whose value
 * is not JSON is counted here (a data-reading processor dead-letters it). Structured-mode records
 * are parsed and validated whole (their attributes are in the value), then given without `data`.
 */
export function defineAttributeAggregation<
  const In extends TopicName,
  const Out extends AggregateTopicName,
  Acc,
>(
  spec: Omit<Spec<WindowedAggregationDefinition<In, Out, Acc, AttributeInput<In>>>, 'reads'>,
): WindowedAggregationDefinition<In, Out, Acc, AttributeInput<In>> {
  validateName(spec.name, spec.version, spec.inputs);
  if (!(spec.graceMs >= 0)) throw new Error(`processor ${spec.name}: graceMs must be >= 0`);
  return Object.freeze({ ...spec, kind: 'windowed' as const, reads: 'attributes' as const });
}

function validateName(name: string, version: string, inputs: readonly string[]): void {
  // The name is part of Redis keys and aggregate keys (`processor|group|windowStart`): keep it plain.
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(name)) throw new Error(`processor name ${name} must be kebab-case`);
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`processor ${name}: version ${version} must be semver x.y.z`);
  if (inputs.length === 0) throw new Error(`processor ${name}: at least one input topic`);
}
