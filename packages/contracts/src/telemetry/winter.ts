import { z } from 'zod';
import { GeoPoint, telemetryBase } from './common';

/** What a road or winter-service vehicle is doing. */
export const VehicleActivity = z.enum(['salting', 'ploughing', 'sweeping', 'patrol', 'transit', 'idle']);

/**
 * A road / winter-service vehicle's report (FIWARE `Vehicle` for position, speed, category;
 * the winter-service fields have no official model, so ours are the reference).
 */
export const WinterVehicleTelemetry = z.strictObject({
  ...telemetryBase,
  position: GeoPoint.describe('Vehicle position'),
  speedKmh: z.number().min(0).max(130).describe('Speed, km/h'),
  headingDeg: z.number().min(0).max(360).describe('Heading, degrees from north'),
  activity: VehicleActivity.describe('Current activity'),
  bladeDown: z.boolean().describe('Plough blade lowered'),
  spreaderOn: z.boolean().describe('Salt spreader running'),
  saltKg: z.number().min(0).max(10_000).describe('Salt spread since the previous report, kg'),
  distanceM: z.number().min(0).max(100_000).describe('Distance driven since the previous report, m'),
  agentId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{3,64}$/)
    .describe('Identifier of the agent on board (personal data)'),
});
/** A winter-service vehicle's report. */
export type WinterVehicleTelemetry = z.infer<typeof WinterVehicleTelemetry>;

/** A road weather station's report. */
export const WeatherStationTelemetry = z.strictObject({
  ...telemetryBase,
  surfaceTempC: z.number().min(-40).max(70).describe('Road surface temperature, °C'),
  airTempC: z.number().min(-40).max(50).describe('Air temperature, °C'),
  humidityPct: z.number().min(0).max(100).describe('Relative humidity, %'),
  iceWarning: z.boolean().describe('Ice warning raised by the station'),
});
/** A road weather station's report. */
export type WeatherStationTelemetry = z.infer<typeof WeatherStationTelemetry>;
