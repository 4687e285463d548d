import { z } from 'zod';
import { telemetryBase } from './common';

/** Fault kinds a luminaire reports. */
export const LuminaireFault = z.enum(['lamp', 'driver', 'communication']);

/**
 * A luminaire's report (FIWARE Smart Data Model `Streetlight`: powerState, dimmingLevel via
 * `illuminanceLevel`, `lanternStatus` for faults, `dateLastSwitchingOn`…; see docs/fiware-mapping.md).
 */
export const StreetlightTelemetry = z.strictObject({
  ...telemetryBase,
  state: z.enum(['on', 'off', 'dimmed']).describe('Lamp state'),
  dimLevelPct: z.number().min(0).max(100).describe('Dim level, % of nominal flux'),
  powerW: z.number().min(0).max(2000).describe('Instant active power, W'),
  energyWh: z.number().min(0).max(1_000_000).describe('Energy consumed since the previous report, Wh'),
  intervalS: z.int().min(1).max(86_400).describe('Seconds covered by this report'),
  burningHours: z.number().min(0).max(500_000).describe('Lamp burning hours, cumulative'),
  faults: z.array(LuminaireFault).max(3).describe('Active faults'),
  presenceDetections: z
    .int()
    .min(0)
    .max(100_000)
    .optional()
    .describe('Presence detections since the previous report (adaptive lighting sensor)'),
});
/** A luminaire's report. */
export type StreetlightTelemetry = z.infer<typeof StreetlightTelemetry>;

/** Fault kinds a lighting control cabinet reports. */
export const CabinetFault = z.enum(['breaker', 'earth-leakage', 'clock', 'communication', 'door']);

/** A lighting control cabinet's report (FIWARE `StreetlightControlCabinet`). */
export const LightingCabinetTelemetry = z.strictObject({
  ...telemetryBase,
  circuitsOn: z.int().min(0).max(64).describe('Circuits switched on'),
  powerW: z.number().min(0).max(200_000).describe('Instant active power, W'),
  energyWh: z.number().min(0).max(100_000_000).describe('Energy consumed since the previous report, Wh'),
  intervalS: z.int().min(1).max(86_400).describe('Seconds covered by this report'),
  doorOpen: z.boolean().describe('Cabinet door open'),
  faults: z.array(CabinetFault).max(5).describe('Active faults'),
});
/** A lighting control cabinet's report. */
export type LightingCabinetTelemetry = z.infer<typeof LightingCabinetTelemetry>;
