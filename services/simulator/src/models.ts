/**
 * Stateless physical models: weather, lighting schedule and traffic demand as functions of time.
 * Stateless so that any report can be regenerated from (seed, equipment, time) alone.
 */
import { noise01 } from './prng';
import { dayOfYear, isDark, localHour, localWeekday } from './sun';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Approximately normal draw in about [-3, 3] from stateless noise (Irwin–Hall of three uniforms). */
function gauss(seed: number, ...labels: (string | number)[]): number {
  return (
    (noise01(seed, ...labels, 'a') + noise01(seed, ...labels, 'b') + noise01(seed, ...labels, 'c') - 1.5) * 2
  );
}

/**
 * Air temperature at Dijon, °C: seasonal mean (coldest mid-January, ~1.5 °C mean; warmest mid-July,
 * ~20.5 °C), a diurnal cycle (minimum near dawn, maximum mid-afternoon) and a weather anomaly that
 * changes smoothly from day to day.
 */
export function airTempC(seed: number, t: number): number {
  const doy = dayOfYear(t);
  const seasonal = 11 - 9.5 * Math.cos((2 * Math.PI * (doy - 15)) / 365.25);
  const h = localHour(t);
  const diurnal = 4 * Math.cos((2 * Math.PI * (h - 15)) / 24);
  const day = Math.floor(t / DAY_MS);
  const frac = (t - day * DAY_MS) / DAY_MS;
  const anomaly =
    (1 - frac) * 2.5 * gauss(seed, 'anomaly', day) + frac * 2.5 * gauss(seed, 'anomaly', day + 1);
  return seasonal + diurnal + anomaly;
}

/** Local offset of a commune (relief, urban heat island), °C. */
export function communeOffsetC(seed: number, commune: string): number {
  return commune === '21231' ? 0.8 : (noise01(seed, 'commune-offset', commune) - 0.5) * 1.6;
}

/** Road surface temperature in a commune, °C: warmer than air by day (sun), colder at night (radiation). */
export function surfaceTempC(seed: number, commune: string, t: number): number {
  const air = airTempC(seed, t) + communeOffsetC(seed, commune);
  return air + (isDark(t, 0) ? -1.5 : 1.5);
}

/** Relative humidity, %: higher at night and in the cold. */
export function humidityPct(seed: number, t: number): number {
  const h = localHour(t);
  const base = 72 + 15 * Math.cos((2 * Math.PI * (h - 4)) / 24) - 0.6 * airTempC(seed, t);
  return Math.max(30, Math.min(100, base + 4 * gauss(seed, 'humidity', Math.floor(t / HOUR_MS))));
}

/** Snow falls over a 3-hour block when it is cold and the block's draw says so. */
export function snowing(seed: number, t: number): boolean {
  return airTempC(seed, t) < 1 && noise01(seed, 'snow', Math.floor(t / (3 * HOUR_MS))) < 0.2;
}

/** Luminaire light level at `t`: 0 (off, daylight), 0.5 (dimmed, 23:00–05:00 local), 1 (on). */
export function lightLevel(t: number): number {
  if (!isDark(t)) return 0;
  const h = localHour(t);
  return h >= 23 || h < 5 ? 0.5 : 1;
}

/** Integral of `lightLevel` over (from, to], in hours at full power (60 s steps). */
export function lightLevelHours(from: number, to: number): { fullHours: number; burningHours: number } {
  // Level changes (dusk, 23:00, 05:00, dawn) are at least 30 min apart, so a shorter interval with the
  // same level at both ends has that level throughout.
  if (to - from <= 30 * 60_000) {
    const a = lightLevel(from + 30_000);
    if (a === lightLevel(to - 30_000))
      return { fullHours: (a * (to - from)) / HOUR_MS, burningHours: a > 0 ? (to - from) / HOUR_MS : 0 };
  }
  let full = 0;
  let burning = 0;
  const step = 60_000;
  for (let s = from; s < to; s += step) {
    const w = Math.min(step, to - s);
    const level = lightLevel(s + w / 2);
    full += (level * w) / HOUR_MS;
    if (level > 0) burning += w / HOUR_MS;
  }
  return { fullHours: full, burningHours: burning };
}

/** Relative traffic demand at `t` (1 = weekday morning peak): peaks at 08:00 and 17:30, quiet nights, calmer weekends. */
export function trafficDemand(t: number): number {
  const h = localHour(t);
  const wd = localWeekday(t);
  const bump = (centre: number, width: number) => Math.exp(-(((h - centre) / width) ** 2));
  if (wd === 0 || wd === 6) return 0.05 + 0.55 * bump(14, 4);
  return 0.04 + 0.96 * bump(8, 1.1) + 0.9 * bump(17.5, 1.4) + 0.45 * bump(12.5, 2.5);
}
