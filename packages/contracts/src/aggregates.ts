import { z } from 'zod';

const isoTime = z.iso.datetime({ offset: true });

/** Who contributed to an aggregate cell: what the anonymisation thresholds are checked against. */
export const Contributors = z.strictObject({
  /** Distinct equipment that contributed. */
  equipment: z.int().min(0),
  /** Distinct operators (organisations) that contributed. */
  operators: z.int().min(0),
  /** Distinct persons behind the cell, when the data derives from persons (e.g. vehicles driven by agents). */
  persons: z.int().min(0).optional(),
});

/**
 * For each summed value, the two largest single-contributor shares: what the dominance rule (n=1/2,
 * 85 %) needs without exposing the contributors themselves.
 */
export const DominanceInputs = z.record(z.string(), z.strictObject({ top1: z.number(), top2: z.number() }));

/** Fields of every aggregate record; `values` is specific to each aggregate topic. */
export function aggregateOf<V extends z.ZodObject, G extends z.ZodObject>(group: G, values: V) {
  return z.strictObject({
    /** Deterministic key: processor | group | window start (upserts are idempotent). */
    key: z.string(),
    processor: z.string(),
    processorVersion: z.string(),
    group,
    windowStart: isoTime,
    windowEnd: isoTime,
    /** 0 for the first emission, +1 for each revision caused by late data. */
    revision: z.int().min(0),
    values,
    contributors: Contributors,
    dominance: DominanceInputs.optional(),
    /** Input records counted in the cell. */
    inputRecords: z.int().min(0),
    /** Late records that were folded into this revision. */
    lateRecords: z.int().min(0).default(0),
  });
}

const communeGroup = z.strictObject({ commune: z.string().regex(/^\d{5}$/) });

/** Lighting per commune and hour. */
export const LightingCommuneHour = aggregateOf(
  communeGroup,
  z.strictObject({
    energyKwh: z.number().min(0),
    burningHours: z.number().min(0),
    luminairesReporting: z.int().min(0),
    cabinetsReporting: z.int().min(0),
    faultsLamp: z.int().min(0),
    faultsDriver: z.int().min(0),
    faultsCommunication: z.int().min(0),
    /** Share of reported luminaire time spent dimmed, 0–1. */
    dimmedShare: z.number().min(0).max(1).nullable(),
  }),
);
/** Lighting per commune and hour. */
export type LightingCommuneHour = z.infer<typeof LightingCommuneHour>;

/** Traffic flow per intersection or commune, per 15 min or hour (shaped like FIWARE TrafficFlowObserved). */
export const TrafficFlow = aggregateOf(
  z.strictObject({
    scope: z.enum(['intersection', 'commune']),
    /** Intersection id or commune INSEE code. */
    id: z.string(),
    commune: z.string().regex(/^\d{5}$/),
    /** ISO 8601 duration of the window: PT15M or PT1H. */
    resolution: z.enum(['PT15M', 'PT1H']),
  }),
  z.strictObject({
    /** Vehicles counted (TrafficFlowObserved.intensity). */
    intensity: z.int().min(0),
    /** Mean occupancy, 0–100 % (TrafficFlowObserved.occupancy × 100). */
    occupancyPct: z.number().min(0).max(100).nullable(),
    /** Vehicle-weighted mean speed, km/h (TrafficFlowObserved.averageVehicleSpeed). */
    averageVehicleSpeedKmh: z.number().min(0).nullable(),
    detectorsReporting: z.int().min(0),
  }),
);
/** Traffic flow aggregate. */
export type TrafficFlow = z.infer<typeof TrafficFlow>;

/** Signal controller faults and degraded time per intersection or commune and hour. */
export const SignalStatus = aggregateOf(
  z.strictObject({
    scope: z.enum(['intersection', 'commune']),
    id: z.string(),
    commune: z.string().regex(/^\d{5}$/),
  }),
  z.strictObject({
    controllersReporting: z.int().min(0),
    faultReports: z.int().min(0),
    lampFailureReports: z.int().min(0),
    /** Seconds of reported time in a mode other than `normal`. */
    degradedSeconds: z.number().min(0),
  }),
);
/** Signal status aggregate. */
export type SignalStatus = z.infer<typeof SignalStatus>;

/** Winter service per commune and day: no agent or vehicle identity. */
export const WinterCommuneDay = aggregateOf(
  communeGroup,
  z.strictObject({
    saltKg: z.number().min(0),
    kmSalting: z.number().min(0),
    kmPloughing: z.number().min(0),
    kmSweeping: z.number().min(0),
    kmPatrol: z.number().min(0),
    vehiclesActive: z.int().min(0),
    surfaceTempMinC: z.number().nullable(),
    surfaceTempMeanC: z.number().nullable(),
    stationsReporting: z.int().min(0),
  }),
);
/** Winter service aggregate. */
export type WinterCommuneDay = z.infer<typeof WinterCommuneDay>;

/** A record routed aside because it arrived after its window closed. */
export const LateRecord = z.strictObject({
  processor: z.string(),
  inputTopic: z.string(),
  partition: z.int(),
  offset: z.string(),
  eventId: z.string(),
  eventTime: isoTime,
  windowStart: isoTime,
  windowEnd: isoTime,
  streamTime: isoTime,
});
/** A late record. */
export type LateRecord = z.infer<typeof LateRecord>;
