import { createHash } from 'node:crypto';

/**
 * Deterministic event id from equipment id and device sequence, formatted as a UUID (v5-style, SHA-based):
 * a redelivered MQTT message gets the same id, so every downstream hop can deduplicate on it.
 */
export function eventId(equipmentId: string, seq: number): string {
  return uuidFromName(`ondijon:event:${equipmentId}:${seq}`);
}

/** A name-based UUID (version 5 layout over SHA-1 of the name), stable for the same name. */
export function uuidFromName(name: string): string {
  const h = createHash('sha1').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
