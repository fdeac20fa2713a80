import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { seedDatabase } from '../../src/db/seed/loader.js';
import { verifyRollups } from '../../src/modules/reporting/rollups.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

/**
 * The dashboard over a data set made by the real seeder (COPY with triggers off, then
 * refresh_reporting_rollups()): the rollups equal a recomputation, and every dashboard
 * total equals an independent SQL sum over the raw tables, per currency.
 */
interface Totals {
  currency: string;
  amountDue: number;
  amountCollected: number;
  amountOutstanding: number;
  amountOverdue: number;
}

describe('dashboard on a seeded data set', () => {
  let t: TestApp;
  let api: Client;

  before(async () => {
    t = await createTestApp();
    await seedDatabase(t.url, { schools: 8, students: 400, months: 4, transactions: 5_000, seed: '11' });
    await insertUser(t.db, { username: 'seeded.admin', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'seeded.admin')).accessToken);
  });
  after(() => t.close());

  test('the seeded rollups equal a full recomputation', async () => {
    const report = await verifyRollups(t.db);
    assert.equal(report.ok, true, JSON.stringify(report.tables));
    assert.ok(report.invoices.checked >= 1_600);
  });

  test('dashboard totals per currency equal independent SQL sums over the raw rows', async () => {
    const response = await api.get('/reports/dashboard');
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{ totalsByCurrency: Totals[] }>();

    const invoices = await sql<{ currency: string; due: number; outstanding: number; overdue: number }>`
      select s.currency::text as currency,
             sum(i.amount) as due,
             sum(i.amount - i.paid_amount) as outstanding,
             coalesce(sum(i.amount - i.paid_amount) filter (where i.due_date < (now() at time zone s.timezone)::date), 0) as overdue
        from invoices i
        join schools s on s.id = i.school_id
        join students st on st.id = i.student_id
       where i.cancelled_at is null and st.deleted_at is null and s.deleted_at is null
       group by 1`.execute(t.db);
    const collected = await sql<{ currency: string; net: number }>`
      select s.currency::text as currency,
             coalesce((select sum(p.amount) from payments p where p.school_id in (select id from schools where currency = s.currency)), 0)
           - coalesce((select sum(r.amount) from refunds r where r.school_id in (select id from schools where currency = s.currency)), 0) as net
        from schools s group by s.currency`.execute(t.db);

    const expected = invoices.rows
      .map((row) => ({
        currency: row.currency,
        amountDue: row.due,
        amountCollected: collected.rows.find((c) => c.currency === row.currency)?.net ?? 0,
        amountOutstanding: row.outstanding,
        amountOverdue: row.overdue,
      }))
      .sort((a, b) => a.currency.localeCompare(b.currency));
    const actual = [...body.totalsByCurrency].sort((a, b) => a.currency.localeCompare(b.currency));
    assert.ok(expected.length >= 1);
    assert.ok(expected.some((row) => row.amountOverdue > 0), 'the seeded data has overdue money');
    assert.deepEqual(actual, expected);
  });
});
