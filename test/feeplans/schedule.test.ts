import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dueDatesOf, isCalendarDate, scheduleErrors } from '../../src/modules/feeplans/schedule.js';

const year = { start: '2026-08-01', end: '2027-07-31' };

describe('fee schedules', () => {
  test('monthly: the same day of each following month, clamped to the month’s last day', () => {
    assert.deepEqual(dueDatesOf({ kind: 'monthly', firstDue: '2027-01-31', count: 4 }), ['2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30']);
    assert.deepEqual(dueDatesOf({ kind: 'monthly', firstDue: '2027-11-30', count: 3 }), ['2027-11-30', '2027-12-30', '2028-01-30']);
    assert.deepEqual(dueDatesOf({ kind: 'monthly', firstDue: '2028-01-31', count: 2 }), ['2028-01-31', '2028-02-29']);
  });

  test('once, termly and custom: the dates given, sorted, each once', () => {
    assert.deepEqual(dueDatesOf({ kind: 'once', dueDate: '2026-09-05' }), ['2026-09-05']);
    assert.deepEqual(dueDatesOf({ kind: 'termly', dueDates: ['2027-04-01', '2026-09-01', '2027-01-10', '2026-09-01'] }), ['2026-09-01', '2027-01-10', '2027-04-01']);
  });

  test('errors name the field: no dates, not a date, outside the academic year, a count out of range', () => {
    assert.deepEqual(scheduleErrors({ kind: 'custom', dueDates: [] }, year).map((e) => e.field), ['dueDates']);
    assert.deepEqual(scheduleErrors({ kind: 'termly', dueDates: ['2026-09-01', '2027-02-30', '2028-01-01'] }, year).map((e) => e.field), ['dueDates.1', 'dueDates.2']);
    assert.deepEqual(scheduleErrors({ kind: 'once', dueDate: '2026-07-31' }, year).map((e) => e.field), ['dueDate']);
    assert.deepEqual(scheduleErrors({ kind: 'monthly', firstDue: '2026-09-05', count: 0 }, year).map((e) => e.field), ['count']);
    assert.deepEqual(scheduleErrors({ kind: 'monthly', firstDue: '2026-09-05', count: 12 }, year).map((e) => e.field), ['count']);
    assert.deepEqual(scheduleErrors({ kind: 'monthly', firstDue: '2026-09-05', count: 10 }, year), []);
  });

  test('property: a monthly schedule gives count calendar dates, one per month, never after the first’s day', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2090 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), fc.integer({ min: 1, max: 24 }), (y, m, d, count) => {
        const first = `${y}-${String(m).padStart(2, '0')}-${String(Math.min(d, 28)).padStart(2, '0')}`;
        const dates = dueDatesOf({ kind: 'monthly', firstDue: first, count });
        assert.equal(dates.length, count);
        assert.ok(dates.every(isCalendarDate));
        assert.equal(new Set(dates.map((x) => x.slice(0, 7))).size, count);
        assert.deepEqual([...dates].sort(), dates);
        assert.ok(dates.every((x) => Number(x.slice(8)) <= Math.min(d, 28)));
      }),
    );
  });
});
