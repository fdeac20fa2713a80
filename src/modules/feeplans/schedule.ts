import type { FeeSchedule } from '../../db/types.js';

/**
 * The due dates of a fee plan item's schedule (SPEC §7), oldest first, as 'YYYY-MM-DD':
 *   once     {dueDate}            one instalment;
 *   monthly  {firstDue, count}    firstDue, then the same day of each following month,
 *                                 clamped to the month's last day (31 Jan → 28/29 Feb → 31 Mar);
 *   termly / custom {dueDates[]}  the dates given, sorted, duplicates once.
 * Pure: the fee plans API validates with it and bill runs bill from it.
 */
export function dueDatesOf(schedule: FeeSchedule): string[] {
  switch (schedule.kind) {
    case 'once':
      return [schedule.dueDate];
    case 'monthly': {
      const [year, month, day] = parts(schedule.firstDue);
      const dates: string[] = [];
      for (let i = 0; i < schedule.count; i++) {
        const m = month - 1 + i;
        const y = year + Math.floor(m / 12);
        const mm = (m % 12) + 1;
        dates.push(format(y, mm, Math.min(day, daysIn(y, mm))));
      }
      return dates;
    }
    case 'termly':
    case 'custom':
      return [...new Set(schedule.dueDates)].sort();
  }
}

/** Most instalments a monthly schedule may have (two school years). */
export const MAX_MONTHLY_COUNT = 24;

/**
 * What is wrong with a schedule, as field errors relative to the schedule (e.g.
 * `dueDates.2`), or [] when it is sound: real calendar dates, at least one due date,
 * a monthly count of 1–24, every due date inside the academic year [yearStart, yearEnd].
 */
export function scheduleErrors(schedule: FeeSchedule, year: { start: string; end: string }): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  const checkDate = (field: string, value: string) => {
    if (!isCalendarDate(value)) {
      errors.push({ field, message: `${value} is not a calendar date (YYYY-MM-DD)` });
    } else if (value < year.start || value > year.end) {
      errors.push({ field, message: `${value} is outside the academic year (${year.start} to ${year.end})` });
    }
  };
  switch (schedule.kind) {
    case 'once':
      checkDate('dueDate', schedule.dueDate);
      break;
    case 'monthly':
      if (!Number.isInteger(schedule.count) || schedule.count < 1 || schedule.count > MAX_MONTHLY_COUNT) {
        errors.push({ field: 'count', message: `count must be a whole number from 1 to ${MAX_MONTHLY_COUNT}` });
        break;
      }
      if (!isCalendarDate(schedule.firstDue)) {
        errors.push({ field: 'firstDue', message: `${schedule.firstDue} is not a calendar date (YYYY-MM-DD)` });
        break;
      }
      checkDate('firstDue', schedule.firstDue);
      {
        const last = dueDatesOf(schedule).at(-1) ?? schedule.firstDue;
        if (last > year.end) {
          errors.push({ field: 'count', message: `the last instalment (${last}) falls after the academic year ends (${year.end})` });
        }
      }
      break;
    case 'termly':
    case 'custom':
      if (schedule.dueDates.length === 0) {
        errors.push({ field: 'dueDates', message: 'a schedule needs at least one due date' });
      }
      schedule.dueDates.forEach((d, i) => checkDate(`dueDates.${i}`, d));
      break;
  }
  return errors;
}

/** True for a real 'YYYY-MM-DD' date (not 2026-02-30). */
export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    return false;
  }
  const [y, m, d] = parts(value);
  return m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m);
}

function parts(date: string): [number, number, number] {
  const [y, m, d] = date.split('-').map(Number);
  return [y ?? 0, m ?? 0, d ?? 0];
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function format(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
