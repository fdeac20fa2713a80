import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localDayStarts, localHourStarts, startOfLocalDay, zoneOffsetMs } from '../../src/modules/analytics/analytics.zones.js';

/** Local days and hours of a zone as UTC instants (the Live page's trend buckets). */
const HOUR = 3_600_000;
const iso = (date: Date) => date.toISOString();

describe('analytics zones', () => {
  test('offsets, including half hours and DST', () => {
    assert.equal(zoneOffsetMs('UTC', Date.parse('2026-07-01T12:00:00Z')), 0);
    assert.equal(zoneOffsetMs('America/Bogota', Date.parse('2026-07-01T12:00:00Z')), -5 * HOUR);
    assert.equal(zoneOffsetMs('Asia/Kolkata', Date.parse('2026-07-01T12:00:00Z')), 5.5 * HOUR);
    assert.equal(zoneOffsetMs('America/New_York', Date.parse('2026-07-01T12:00:00Z')), -4 * HOUR);
    assert.equal(zoneOffsetMs('America/New_York', Date.parse('2026-12-01T12:00:00Z')), -5 * HOUR);
  });

  test('a local day starts at local midnight, and a DST day is 23 or 25 hours long', () => {
    assert.equal(iso(startOfLocalDay('America/Bogota', 2026, 12, 2)), '2026-12-02T05:00:00.000Z');
    assert.equal(iso(startOfLocalDay('Asia/Kolkata', 2026, 12, 2)), '2026-12-01T18:30:00.000Z');
    // New York leaves DST on Sunday 1 November 2026.
    const days = localDayStarts('America/New_York', new Date('2026-11-03T15:00:00Z'), 4);
    assert.deepEqual(days.map(iso), ['2026-10-31T04:00:00.000Z', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', '2026-11-03T05:00:00.000Z']);
    assert.equal(days[2]!.getTime() - days[1]!.getTime(), 25 * HOUR);
    // Santiago's clocks jump from 00:00 to 01:00 on 6 September 2026: the day starts at 01:00.
    const santiago = startOfLocalDay('America/Santiago', 2026, 9, 6);
    assert.equal(new Intl.DateTimeFormat('en-GB', { timeZone: 'America/Santiago', dateStyle: 'short', timeStyle: 'short' }).format(santiago), '06/09/2026, 01:00');
  });

  test('local hours: on the UTC hour for whole-hour zones, at :30 for Kolkata; today last', () => {
    const now = new Date('2026-12-02T10:45:00Z');
    assert.deepEqual(localHourStarts('America/Bogota', now, 2).map(iso), ['2026-12-02T09:00:00.000Z', '2026-12-02T10:00:00.000Z']);
    assert.deepEqual(localHourStarts('Asia/Kolkata', now, 2).map(iso), ['2026-12-02T09:30:00.000Z', '2026-12-02T10:30:00.000Z']);
    const week = localDayStarts('UTC', now, 7);
    assert.equal(iso(week.at(-1)!), '2026-12-02T00:00:00.000Z');
    assert.equal(iso(week[0]!), '2026-11-26T00:00:00.000Z');
  });
});
