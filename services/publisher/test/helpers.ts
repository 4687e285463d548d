import { COMMUNE_CODES } from '@ondijon/contracts';
import type { StagedAggregate } from '../src/release';

/** Local midnight of 2026-01-10 in Paris (UTC+1). */
export const DAY = '2026-01-10';
export const DAY_START = new Date('2026-01-09T23:00:00Z');

/** A winter-commune-day aggregate for a commune. */
export function winterAgg(
  commune: string,
  opts: {
    persons?: number;
    operators?: number;
    saltKg?: number;
    vehicles?: number;
    revision?: number;
    top1Share?: number;
  } = {},
): StagedAggregate {
  const saltKg = opts.saltKg ?? 1000 + Number(commune.slice(2)) * 3;
  const share = opts.top1Share ?? 0.2;
  const km = 40;
  return {
    key: `winter-commune-day|${commune}|${DAY_START.toISOString()}`,
    topic: 'agg.s2.winter-commune-day.v1',
    sensitivity: 'S2',
    policyRevision: 'test',
    data: {
      processor: 'winter-commune-day',
      processorVersion: '1.0.0',
      group: { commune },
      windowStart: DAY_START.toISOString(),
      windowEnd: new Date(DAY_START.getTime() + 86_400_000).toISOString(),
      revision: opts.revision ?? 0,
      values: {
        saltKg,
        kmSalting: km,
        kmPloughing: 0,
        kmSweeping: 0,
        kmPatrol: 10,
        vehiclesActive: opts.vehicles ?? 15,
        surfaceTempMinC: -2.5,
        surfaceTempMeanC: 0.5,
        stationsReporting: 2,
      },
      contributors: { equipment: 17, operators: opts.operators ?? 3, persons: opts.persons ?? 15 },
      dominance: Object.fromEntries(
        ['saltKg', 'kmSalting', 'kmPloughing', 'kmSweeping', 'kmPatrol'].map((f) => [
          f,
          {
            top1: (f === 'saltKg' ? saltKg : f === 'kmPatrol' ? 10 : f === 'kmSalting' ? km : 0) * share,
            top2: 0,
          },
        ]),
      ),
      inputRecords: 500,
      lateRecords: 0,
    },
  };
}

/** Lighting aggregates for every commune and hour of DAY, except `skip`. */
export function lightingDay(
  skip: (commune: string, hour: number) => boolean = () => false,
): StagedAggregate[] {
  const out: StagedAggregate[] = [];
  for (const commune of COMMUNE_CODES) {
    for (let h = 0; h < 24; h++) {
      if (skip(commune, h)) continue;
      const ws = new Date(DAY_START.getTime() + h * 3_600_000);
      const night = h < 7 || h >= 17;
      out.push({
        key: `lighting-commune-hour|${commune}|${ws.toISOString()}`,
        topic: 'agg.s1.lighting-commune-hour.v1',
        sensitivity: 'S1',
        policyRevision: 'test',
        data: {
          processor: 'lighting-commune-hour',
          processorVersion: '1.0.0',
          group: { commune },
          windowStart: ws.toISOString(),
          windowEnd: new Date(ws.getTime() + 3_600_000).toISOString(),
          revision: 0,
          values: night
            ? {
                energyKwh: 12.5,
                burningHours: 100,
                luminairesReporting: 100,
                cabinetsReporting: 3,
                faultsLamp: 1,
                faultsDriver: 0,
                faultsCommunication: 0,
                dimmedShare: 0.4,
              }
            : {
                energyKwh: 0,
                burningHours: 0,
                luminairesReporting: 100,
                cabinetsReporting: 3,
                faultsLamp: 0,
                faultsDriver: 0,
                faultsCommunication: 0,
                dimmedShare: null,
              },
          contributors: { equipment: 103, operators: 1 },
          inputRecords: 400,
          lateRecords: 0,
        },
      });
    }
  }
  return out;
}
