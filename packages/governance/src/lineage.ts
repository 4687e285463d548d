import type { Lineage } from '@ondijon/contracts';

/** Lineage of a telemetry record produced by ingest from MQTT, with the policy's field actions. */
export function ingestLineage(
  producer: string,
  producerVersion: string,
  fieldActions: Record<string, string>,
): Lineage {
  return { inputs: ['mqtt'], producer, producerVersion, fieldActions: { ...fieldActions } };
}

/** Lineage of a derived record: input topics (deduplicated, sorted), producer and optional window and counts. */
export function derivedLineage(args: {
  inputs: string[];
  producer: string;
  producerVersion: string;
  window?: { start: string; end: string };
  countsByOperator?: Record<string, number>;
}): Lineage {
  return {
    inputs: [...new Set(args.inputs)].sort(),
    producer: args.producer,
    producerVersion: args.producerVersion,
    ...(args.window ? { window: args.window } : {}),
    ...(args.countsByOperator ? { countsByOperator: args.countsByOperator } : {}),
  };
}
