/**
 * Approximate sun times and local time for Dijon, enough to switch street lights at dusk and dawn.
 * The formula is the NOAA "general solar position" approximation (fractional year, equation of time,
 * declination); it is within a couple of minutes of the almanac at Dijon's latitude, which is finer
 * than the 15-minute report interval of a luminaire.
 */

/** Dijon's centre (lat, lon in degrees). */
export const DIJON = { lat: 47.3318, lon: 5.0336 } as const;

const DAY_MS = 86_400_000;
const RAD = Math.PI / 180;

const cache = new Map<number, { sunrise: number; sunset: number }>();

/** Sunrise and sunset at Dijon of the UTC calendar day containing `t`, as epoch ms (memoised per day). */
export function sunTimes(t: number): { sunrise: number; sunset: number } {
  const day = Math.floor(t / DAY_MS);
  let s = cache.get(day);
  if (!s) {
    if (cache.size > 4096) cache.clear();
    s = sunTimesAt(day * DAY_MS, DIJON.lat, DIJON.lon);
    cache.set(day, s);
  }
  return s;
}

/** Sunrise and sunset of the UTC calendar day starting at `dayStart` for a place, as epoch ms. */
export function sunTimesAt(dayStart: number, lat: number, lon: number): { sunrise: number; sunset: number } {
  const d = new Date(dayStart);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const dayOfYear = Math.floor((dayStart - yearStart) / DAY_MS) + 1;
  const daysInYear = new Date(Date.UTC(d.getUTCFullYear(), 1, 29)).getUTCMonth() === 1 ? 366 : 365;
  const gamma = ((2 * Math.PI) / daysInYear) * (dayOfYear - 1);
  const eqTimeMin =
    229.18 *
    (0.000075 +
      0.001868 * Math.cos(gamma) -
      0.032077 * Math.sin(gamma) -
      0.014615 * Math.cos(2 * gamma) -
      0.040849 * Math.sin(2 * gamma));
  const decl =
    0.006918 -
    0.399912 * Math.cos(gamma) +
    0.070257 * Math.sin(gamma) -
    0.006758 * Math.cos(2 * gamma) +
    0.000907 * Math.sin(2 * gamma) -
    0.002697 * Math.cos(3 * gamma) +
    0.00148 * Math.sin(3 * gamma);
  // Zenith 90.833°: the sun's upper limb at the horizon with standard refraction.
  const cosHa =
    Math.cos(90.833 * RAD) / (Math.cos(lat * RAD) * Math.cos(decl)) - Math.tan(lat * RAD) * Math.tan(decl);
  const ha = Math.acos(Math.max(-1, Math.min(1, cosHa))) / RAD;
  const sunriseMin = 720 - 4 * (lon + ha) - eqTimeMin;
  const sunsetMin = 720 - 4 * (lon - ha) - eqTimeMin;
  return { sunrise: dayStart + sunriseMin * 60_000, sunset: dayStart + sunsetMin * 60_000 };
}

/** True when street lights should be lit at `t`: after sunset (+ a few minutes of dusk) or before sunrise. */
export function isDark(t: number, lagMs = 10 * 60_000): boolean {
  const { sunrise, sunset } = sunTimes(t);
  return t < sunrise - lagMs || t >= sunset + lagMs;
}

/** Last Sunday of a month (UTC), as epoch ms of its 01:00 UTC: when EU summer time starts or ends. */
function lastSunday0100Utc(year: number, month: number): number {
  const lastDay = new Date(Date.UTC(year, month + 1, 0));
  const sunday = lastDay.getUTCDate() - lastDay.getUTCDay();
  return Date.UTC(year, month, sunday, 1);
}

/** Offset of Europe/Paris from UTC at `t`, in minutes (60 in winter, 120 in summer; EU rule). */
export function parisOffsetMinutes(t: number): number {
  const year = new Date(t).getUTCFullYear();
  let summer = summerTime.get(year);
  if (!summer) {
    summer = [lastSunday0100Utc(year, 2), lastSunday0100Utc(year, 9)];
    summerTime.set(year, summer);
  }
  return t >= summer[0] && t < summer[1] ? 120 : 60;
}
const summerTime = new Map<number, [number, number]>();

/** Local (Europe/Paris) wall-clock hour of `t` as a fraction, 0 ≤ h < 24. */
export function localHour(t: number): number {
  const local = t + parisOffsetMinutes(t) * 60_000;
  return (((local % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
}

/** Local (Europe/Paris) day of week of `t`: 0 = Sunday … 6 = Saturday. */
export function localWeekday(t: number): number {
  return new Date(t + parisOffsetMinutes(t) * 60_000).getUTCDay();
}

/** Day of year (1–366, UTC) of `t`. */
export function dayOfYear(t: number): number {
  const d = new Date(t);
  return Math.floor((t - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS) + 1;
}
