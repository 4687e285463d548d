import { z } from 'zod';

/** Device sequence number: increases by one per message of an equipment; with the equipment id it names an event. */
export const DeviceSeq = z.int().min(0).max(Number.MAX_SAFE_INTEGER).describe('Device sequence number');

/** Observation time from the device clock, ISO 8601 with offset. */
export const ObservedAt = z.iso
  .datetime({ offset: true })
  .describe('Observation time (device clock), ISO 8601 with offset');

/** WGS84 point, constrained to a generous box around Dijon Métropole. */
export const GeoPoint = z.strictObject({
  lat: z.number().min(47.1).max(47.5).describe('Latitude (WGS84)'),
  lon: z.number().min(4.8).max(5.3).describe('Longitude (WGS84)'),
});
/** A WGS84 point. */
export type GeoPoint = z.infer<typeof GeoPoint>;

/** Fields every telemetry message carries. */
export const telemetryBase = {
  seq: DeviceSeq,
  observedAt: ObservedAt,
};
