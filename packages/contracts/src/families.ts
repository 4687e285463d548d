import { z } from 'zod';

/**
 * Equipment families: the `{family}` segment of the MQTT topic and the `family` of a registry entry.
 * Three domains of the control centre, two families each.
 */
export const Family = z.enum([
  'streetlight',
  'lighting-cabinet',
  'signal-controller',
  'traffic-detector',
  'winter-vehicle',
  'weather-station',
]);
/** An equipment family that the pipeline ingests. */
export type Family = z.infer<typeof Family>;
/** All ingested families. */
export const FAMILIES = Family.options;

/** Domains group families; Kafka telemetry topics are per domain and class (`tel.s1.lighting.v1`). */
export const Domain = z.enum(['lighting', 'traffic', 'winter']);
/** A domain of the control centre. */
export type Domain = z.infer<typeof Domain>;

/** The domain of each family. */
export const FAMILY_DOMAIN: Record<Family, Domain> = {
  streetlight: 'lighting',
  'lighting-cabinet': 'lighting',
  'signal-controller': 'traffic',
  'traffic-detector': 'traffic',
  'winter-vehicle': 'winter',
  'weather-station': 'winter',
};

/**
 * Sources that the policy classes S4 by default (video, plate reads, police data). A message on
 * `ondijon/v1/{one of these}/…` is rejected at ingest and its payload is never kept.
 */
export const EXCLUDED_SOURCE_FAMILIES = ['cctv-camera', 'anpr-camera', 'police-radio'] as const;
