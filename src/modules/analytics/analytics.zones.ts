import { AppError } from '../../shared/errors.js';
import { HOUR_MS, isTimeZone, wallClockParts } from '../../shared/time.js';

/**
 * Local hours and local days of an IANA zone as UTC instants, for the trend buckets and
 * the peak hour of live analytics: a person reads "18:00" or "2 Dec" in the school's
 * zone (or their own, across schools), not in UTC. Computed with Intl, so DST days of
 * 23 or 25 hours and half-hour offsets come out right.
 */

/** Zone names only ("America/Bogota", "Etc/GMT+5", "UTC"): never a bare offset, which PostgreSQL reads with the POSIX sign. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/;

/** Intl's zone names by lower case, to answer with the usual spelling of a name typed in another case. */
const SPELLING = new Map(['UTC', ...Intl.supportedValuesOf('timeZone')].map((zone) => [zone.toLowerCase(), zone]));

/**
 * The zone as given, in its usual spelling ("america/bogota" → "America/Bogota"; a
 * current name such as Asia/Kolkata stays as it is, not ICU's older Asia/Calcutta), or
 * a 400 naming `timeZone`.
 */
export function checkTimeZone(value: string | undefined): string {
  if (value === undefined) {
    return 'UTC';
  }
  if (!ZONE_NAME.test(value) || !isTimeZone(value)) {
    throw new AppError('VALIDATION_FAILED', `timeZone "${value.slice(0, 64)}" is not an IANA time zone`, {
      errors: [{ field: 'timeZone', in: 'querystring', message: 'must be an IANA time zone name such as America/Bogota or UTC' }],
    });
  }
  return SPELLING.get(value.toLowerCase()) ?? value;
}


/** local time − UTC at an instant, in ms (Bogota: −5 h; Kolkata: +5 h 30). */
export function zoneOffsetMs(timeZone: string, at: number): number {
  const wall = wallClockParts(at, timeZone);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return wallAsUtc - (at - (((at % 1000) + 1000) % 1000));
}

/**
 * The first instant of a calendar day in a zone: its local midnight, or the first
 * local time that exists when a DST change skips midnight (Santiago, Asunción).
 */
export function startOfLocalDay(timeZone: string, year: number, month: number, day: number): Date {
  const wallMidnight = Date.UTC(year, month - 1, day);
  const first = wallMidnight - zoneOffsetMs(timeZone, wallMidnight);
  const second = wallMidnight - zoneOffsetMs(timeZone, first);
  const onThatDay = [first, second]
    .filter((at) => {
      const wall = wallClockParts(at, timeZone);
      return wall.year === year && wall.month === month && wall.day === day;
    })
    .sort((a, b) => a - b);
  return new Date(onThatDay[0] ?? first);
}

/** The starts of the last `count` local days, today's last. */
export function localDayStarts(timeZone: string, now: Date, count: number): Date[] {
  const today = wallClockParts(now, timeZone);
  return Array.from({ length: count }, (_, i) => {
    // Date.UTC normalises day 0 and negatives into the previous month.
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day - (count - 1 - i)));
    return startOfLocalDay(timeZone, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
  });
}

/**
 * The starts of the last `count` local hours, the current one last. Local hours begin
 * where the zone's offset puts them: on the UTC hour for whole-hour zones, at :30 UTC
 * for Kolkata.
 */
export function localHourStarts(timeZone: string, now: Date, count: number): Date[] {
  const shift = ((zoneOffsetMs(timeZone, now.getTime()) % HOUR_MS) + HOUR_MS) % HOUR_MS;
  const last = Math.floor((now.getTime() - shift) / HOUR_MS) * HOUR_MS + shift;
  return Array.from({ length: count }, (_, i) => new Date(last - (count - 1 - i) * HOUR_MS));
}
