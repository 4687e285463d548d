import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { telemetryEnvelope } from '@ondijon/stream';

// A known stream of lighting and traffic telemetry, and an INDEPENDENT reference of its aggregates:
// plain loops over the unique records, sharing no code with the processors (only the input shape).

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const COMMUNES = ['21231', '21166', '21617'];

/** A record to produce: topic (logical), key and envelope. */
export interface FixtureRecord {
  topic: 'tel.s1.lighting.v1' | 'tel.s1.traffic.v1';
  key: string;
  value: ReturnType<typeof telemetryEnvelope>;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Unique records over `hours` hours ending 2 h before now, and the produce order: time order with
 * 3 % held back to the end (late records) and 5 % sent twice (redelivered duplicates).
 */
export function buildStream(seed: number, hours: number, lampsPerCommune: number) {
  const rand = rng(seed);
  const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - (hours + 2) * 3_600_000;
  const unique: FixtureRecord[] = [];
  for (const commune of COMMUNES) {
    for (let l = 0; l < lampsPerCommune; l++) {
      const id = `SL-${commune}-001-${String(l).padStart(3, '0')}`;
      for (let k = 0; k < (hours * 60) / 2; k++) {
        const state = (['on', 'dimmed', 'off'] as const)[Math.floor(rand() * 3)]!;
        const faults =
          rand() < 0.05
            ? (['lamp'] as const)
            : rand() < 0.03
              ? (['driver', 'communication'] as const)
              : ([] as const);
        const value = telemetryEnvelope(
          'streetlight',
          {
            seq: k,
            observedAt: new Date(start + k * 120_000 + Math.floor(rand() * 60_000)).toISOString(),
            state,
            dimLevelPct: 50,
            powerW: 40,
            energyWh: state === 'off' ? 0 : Math.round(rand() * 2000) / 10,
            intervalS: 120,
            burningHours: 100,
            faults: [...faults],
          },
          { equipmentId: id, commune, operator: commune === '21166' ? 'op-b' : 'op-a' },
        );
        unique.push({ topic: 'tel.s1.lighting.v1', key: id, value });
      }
    }
    for (let i = 1; i <= 2; i++) {
      for (let d = 1; d <= 2; d++) {
        const id = `TD-${commune}-00${i}-${d}`;
        for (let k = 0; k < hours * 60; k++) {
          const lanes = [1, 2].map((lane) => {
            const vehicles = Math.floor(rand() * 20);
            return {
              lane,
              vehicles,
              occupancyPct: Math.round(rand() * 1000) / 10,
              meanSpeedKmh: vehicles === 0 ? null : Math.round(rand() * 800) / 10,
            };
          });
          const value = telemetryEnvelope(
            'traffic-detector',
            { seq: k, observedAt: new Date(start + k * 60_000 + 30_000).toISOString(), intervalS: 60, lanes },
            { equipmentId: id, commune },
          );
          unique.push({ topic: 'tel.s1.traffic.v1', key: id, value });
        }
      }
    }
  }
  unique.sort((a, b) => a.value.time.localeCompare(b.value.time));
  const onTime: FixtureRecord[] = [];
  const held: FixtureRecord[] = [];
  for (const r of unique) {
    if (rand() < 0.03) held.push(r);
    else onTime.push(r);
    if (rand() < 0.05) (rand() < 0.5 ? onTime : held).push(r);
  }
  return { unique, produceOrder: [...onTime, ...held] };
}

const hourOf = (iso: string, sizeMs: number) =>
  new Date(Math.floor(Date.parse(iso) / sizeMs) * sizeMs).toISOString();

/** Lighting per commune and hour, computed directly (independent of the processor). */
export function referenceLighting(unique: FixtureRecord[]): Map<string, Record<string, number | null>> {
  const cells = new Map<
    string,
    {
      wh: number;
      burn: number;
      dim: number;
      rep: number;
      lamps: Set<string>;
      fl: Set<string>;
      fd: Set<string>;
      fc: Set<string>;
    }
  >();
  for (const r of unique) {
    if (r.topic !== 'tel.s1.lighting.v1') continue;
    const d = r.value.data as { state: string; energyWh: number; intervalS: number; faults: string[] };
    const k = `lighting-commune-hour|commune=${r.value.commune}|${hourOf(r.value.time, 3_600_000)}`;
    let c = cells.get(k);
    if (!c)
      cells.set(
        k,
        (c = {
          wh: 0,
          burn: 0,
          dim: 0,
          rep: 0,
          lamps: new Set(),
          fl: new Set(),
          fd: new Set(),
          fc: new Set(),
        }),
      );
    c.wh += d.energyWh;
    c.rep += d.intervalS;
    if (d.state === 'on' || d.state === 'dimmed') c.burn += d.intervalS;
    if (d.state === 'dimmed') c.dim += d.intervalS;
    c.lamps.add(r.key);
    if (d.faults.includes('lamp')) c.fl.add(r.key);
    if (d.faults.includes('driver')) c.fd.add(r.key);
    if (d.faults.includes('communication')) c.fc.add(r.key);
  }
  return new Map(
    [...cells].map(([k, c]) => [
      k,
      {
        energyKwh: c.wh / 1000,
        burningHours: c.burn / 3600,
        luminairesReporting: c.lamps.size,
        faultsLamp: c.fl.size,
        faultsDriver: c.fd.size,
        faultsCommunication: c.fc.size,
        dimmedShare: c.rep === 0 ? null : c.dim / c.rep,
      },
    ]),
  );
}

/** Traffic flow per intersection and commune, 15 minutes, computed directly. */
export function referenceTraffic15m(unique: FixtureRecord[]): Map<string, Record<string, number | null>> {
  const cells = new Map<
    string,
    { veh: number; occ: number; occN: number; sv: number; sn: number; det: Set<string> }
  >();
  for (const r of unique) {
    if (r.topic !== 'tel.s1.traffic.v1') continue;
    const d = r.value.data as {
      lanes: { vehicles: number; occupancyPct: number; meanSpeedKmh: number | null }[];
    };
    const [, commune, k] = r.key.split('-');
    const groups = [
      `commune=${commune};id=INT-${commune}-${k};resolution=PT15M;scope=intersection`,
      `commune=${commune};id=${commune};resolution=PT15M;scope=commune`,
    ];
    for (const g of groups) {
      const key = `traffic-flow-15m|${g}|${hourOf(r.value.time, 900_000)}`;
      let c = cells.get(key);
      if (!c) cells.set(key, (c = { veh: 0, occ: 0, occN: 0, sv: 0, sn: 0, det: new Set() }));
      c.det.add(r.key);
      for (const l of d.lanes) {
        c.veh += l.vehicles;
        c.occ += l.occupancyPct; // every interval is 60 s: the time-weighted mean is the plain mean
        c.occN += 1;
        if (l.meanSpeedKmh !== null && l.vehicles > 0) {
          c.sv += l.meanSpeedKmh * l.vehicles;
          c.sn += l.vehicles;
        }
      }
    }
  }
  return new Map(
    [...cells].map(([k, c]) => [
      k,
      {
        intensity: c.veh,
        occupancyPct: c.occ / c.occN,
        averageVehicleSpeedKmh: c.sn === 0 ? null : c.sv / c.sn,
        detectorsReporting: c.det.size,
      },
    ]),
  );
}

/**
 * Spawns the processors service (`tsx services/processors/src/main.ts`) with `env`. Node runs it with
 * tsx as a loader in this one process (the `tsx` binary would fork a child a SIGKILL does not reach).
 */
export function spawnProcessors(
  env: Record<string, string>,
  onLog?: (line: Record<string, unknown>) => void,
): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/processors/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', PROBE_PORT: '0', ...env },
    stdio: ['ignore', onLog ? 'pipe' : 'ignore', 'pipe'],
  });
  child.stderr?.resume();
  if (onLog && child.stdout) {
    let buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          onLog(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not a log line */
        }
      }
    });
  }
  return child;
}

/** SIGKILLs a child and waits for it to be gone. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}
