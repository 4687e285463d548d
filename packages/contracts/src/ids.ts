import { hash } from 'node:crypto';

/**
 * Deterministic event id from equipment id and device sequence, formatted as a UUID (v5-style, SHA-based):
 * a redelivered MQTT message gets the same id, so every downstream hop can deduplicate on it.
 */
export function eventId(equipmentId: string, seq: number): string {
  return uuidFromName(`ondijon:event:${equipmentId}:${seq}`);
}

/** The hex digit of the UUID variant nibble (10xx) for each hex digit of the hash at that place. */
const VARIANT_DIGIT = '89ab89ab89ab89ab';

/**
 * A name-based UUID (version 5 layout over SHA-1 of the name), stable for the same name. Written from
 * the hex digest of the one-shot `crypto.hash`: `createHash().update().digest()` built a Hash object
 * and a Buffer per call (~5 µs per message in ingest's profile, where this runs once per message).
 */
export function uuidFromName(name: string): string {
  const hex = hash('sha1', name, 'hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${VARIANT_DIGIT[parseInt(hex[16]!, 16)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
