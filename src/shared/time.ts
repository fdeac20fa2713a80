/** Calendar and zone helpers. A "day" is always a day in some school's IANA zone. */
const ZONES = new Set(Intl.supportedValuesOf('timeZone'));
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

export function isTimeZone(value: string): boolean {
  if (ZONES.has(value) || value === 'UTC') {
    return true;
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export function isCurrency(value: string): boolean {
  return CURRENCIES.has(value);
}

/** Today's date ('YYYY-MM-DD') in the given zone. */
export function todayIn(timeZone: string, at: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields in `timeZone` at an instant (one cached formatter per zone). */
export function wallClockParts(at: Date | number, timeZone: string): WallClock {
  let format = wallClockFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    wallClockFormats.set(timeZone, format);
  }
  const value: Partial<Record<string, number>> = {};
  for (const part of format.formatToParts(at)) {
    if (part.type !== 'literal') {
      value[part.type] = Number(part.value);
    }
  }
  return { year: value.year ?? 0, month: value.month ?? 1, day: value.day ?? 1, hour: value.hour ?? 0, minute: value.minute ?? 0, second: value.second ?? 0 };
}

/** Milliseconds in an hour and in a (UTC) day. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
