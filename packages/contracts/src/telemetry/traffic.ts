import { z } from 'zod';
import { telemetryBase } from './common';

/** Operating mode of a signal controller. */
export const SignalMode = z.enum(['normal', 'flashing', 'off', 'manual', 'degraded']);
/** Fault kinds a signal controller reports. */
export const SignalFault = z.enum(['lamp-failure', 'detector-failure', 'conflict', 'power', 'communication']);

/** A traffic signal controller's report. No FIWARE model exists for controllers: this schema is the reference. */
export const SignalControllerTelemetry = z.strictObject({
  ...telemetryBase,
  mode: SignalMode.describe('Operating mode'),
  plan: z.int().min(0).max(255).describe('Active signal plan number'),
  lampFailures: z.int().min(0).max(512).describe('Signal heads with a failed lamp'),
  doorOpen: z.boolean().describe('Controller cabinet door open'),
  commsOk: z.boolean().describe('Link to the central system healthy'),
  intervalS: z.int().min(1).max(86_400).describe('Seconds covered by this report'),
  faults: z.array(SignalFault).max(5).describe('Active faults'),
});
/** A signal controller's report. */
export type SignalControllerTelemetry = z.infer<typeof SignalControllerTelemetry>;

/** Counts of one lane over the interval (FIWARE `TrafficFlowObserved`: intensity, occupancy, averageVehicleSpeed). */
export const LaneCount = z.strictObject({
  lane: z.int().min(1).max(16).describe('Lane number'),
  vehicles: z.int().min(0).max(10_000).describe('Vehicles counted in the interval (intensity)'),
  occupancyPct: z.number().min(0).max(100).describe('Share of time the loop was occupied, %'),
  meanSpeedKmh: z.number().min(0).max(250).nullable().describe('Mean speed, km/h (null when no vehicle)'),
});

/** A traffic detector's report: per-lane counts over an interval (FIWARE `TrafficFlowObserved`). */
export const TrafficDetectorTelemetry = z.strictObject({
  ...telemetryBase,
  intervalS: z.int().min(10).max(3600).describe('Counting interval, s'),
  lanes: z.array(LaneCount).min(1).max(16).describe('Per-lane counts'),
});
/** A traffic detector's report. */
export type TrafficDetectorTelemetry = z.infer<typeof TrafficDetectorTelemetry>;
