import { telemetryEventType, type Envelope, type Family, type StoredTelemetry } from '@ondijon/contracts';

const TYPE_PREFIX = 'fr.dijon.ondijon.telemetry.';

/** The family of a telemetry envelope, from its CloudEvents `type` (`fr.dijon.ondijon.telemetry.<family>.v1`). */
export function familyOf(envelope: Pick<Envelope<unknown>, 'type'>): string | undefined {
  if (!envelope.type.startsWith(TYPE_PREFIX)) return undefined;
  return envelope.type.slice(TYPE_PREFIX.length).replace(/\.v\d+$/, '');
}

/**
 * The stored telemetry of an envelope when it is of `family`, else undefined. The runtime has already
 * validated `data` against the topic's schema; the type narrows it to the family.
 */
export function telemetryOf<F extends Family>(
  envelope: Envelope<unknown>,
  family: F,
): StoredTelemetry<F> | undefined {
  return envelope.type === typeOfFamily(family) ? (envelope.data as StoredTelemetry<F>) : undefined;
}

// Processors call telemetryOf for every record (often twice): build each family's type string once.
const TYPES = new Map<string, string>();
function typeOfFamily(family: Family): string {
  let t = TYPES.get(family);
  if (t === undefined) TYPES.set(family, (t = telemetryEventType(family)));
  return t;
}
