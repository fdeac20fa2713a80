import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { seedDatabase } from '../../src/db/seed/loader.js';
import { countFromRollups } from '../../src/modules/reporting/pending.counts.js';
import type { PendingFilter } from '../../src/modules/reporting/pending.repository.js';
import type { Scope } from '../../src/shared/scope.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

/**
 * The queue's `total` comes from the rollups (pending.counts.ts). Here it is checked
 * against an independent count over the raw invoices with invoice_status(), for every
 * status, with and without school / grade filters, for several scopes, on a data set
 * made by the real seeder (every status present).
 */
describe('pending queue counts from the rollups', () => {
  let t: TestApp;
  let schools: string[] = [];

  async function rawCount(scope: Scope, filter: PendingFilter): Promise<number> {
    const inScope = scope.schoolIds === 'all' ? sql`true` : scope.schoolIds.length === 0 ? sql`false` : sql`i.school_id in (${sql.join(scope.schoolIds)})`;
    const { rows } = await sql<{ n: number }>`
      select count(*)::bigint as n
        from invoices i
        join students st on st.id = i.student_id
        join schools sc on sc.id = i.school_id
       where sc.deleted_at is null and st.deleted_at is null and ${inScope}
         and invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, sc.timezone) in ('PENDING', 'PARTIAL', 'OVERDUE')
         ${filter.status === undefined ? sql`` : sql`and invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, sc.timezone) = ${filter.status}`}
         ${filter.schoolId === undefined ? sql`` : sql`and i.school_id = ${filter.schoolId}`}
         ${filter.grade === undefined ? sql`` : sql`and st.grade = ${filter.grade}`}`.execute(t.db);
    return rows[0]?.n ?? -1;
  }

  before(async () => {
    t = await createTestApp();
    await seedDatabase(t.url, { schools: 6, students: 300, months: 5, transactions: 4_000, seed: '29' });
    schools = (await sql<{ id: string }>`select id from schools order by id`.execute(t.db)).rows.map((row) => row.id);
    // the seeder's bills are all due already: add some due later, one of them partly paid
    const due = await sql<{ id: string }>`
      insert into invoices (school_id, student_id, number, amount, due_date)
      select st.school_id, st.id, 'FUTURE-' || row_number() over (order by st.id), 5000, current_date + 20
        from students st where st.school_id in (${schools[1] ?? ''}, ${schools[2] ?? ''}) and st.grade in ('3', '7')
       order by st.id limit 12
      returning id`.execute(t.db);
    const partly = due.rows[0]?.id ?? '';
    await sql`insert into payments (school_id, invoice_id, amount, method, paid_at)
              select school_id, id, 1000, 'card', now() from invoices where id = ${partly}`.execute(t.db);
    await sql`update invoices set paid_amount = 1000 where id = ${partly}`.execute(t.db);
    // a soft-deleted student and a cancelled outstanding invoice must stay out of the counts
    await sql`update students set deleted_at = now() where id = (select id from students order by id limit 1)`.execute(t.db);
    await sql`update invoices set cancelled_at = now()
               where id = (select id from invoices where paid_amount = 0 and cancelled_at is null order by id limit 1)`.execute(t.db);
  });
  after(() => t.close());

  test('every status, filter and scope: the rollup count equals a count of the invoices', async () => {
    const statuses = [undefined, 'PENDING', 'PARTIAL', 'OVERDUE'] as const;
    const scopes: Scope[] = [
      { schoolIds: 'all', pii: 'clear' },
      { schoolIds: schools.slice(0, 2), pii: 'clear' },
      { schoolIds: [], pii: 'clear' },
    ];
    const filters: PendingFilter[] = [{}, { schoolId: schools[1] }, { grade: '3' }, { schoolId: schools[2], grade: '7' }];
    const seen = new Set<string>();
    for (const scope of scopes) {
      for (const base of filters) {
        for (const status of statuses) {
          const filter = { ...base, status };
          const expected = await rawCount(scope, filter);
          assert.equal(await countFromRollups(t.db, scope, filter), expected, JSON.stringify({ scope: scope.schoolIds, filter }));
          if (expected > 0) {
            seen.add(status ?? 'any');
          }
        }
      }
    }
    assert.deepEqual([...seen].sort(), ['OVERDUE', 'PARTIAL', 'PENDING', 'any'], 'the data set exercises every status');
  });

  test('a payment moves the counts with it', async () => {
    const scope: Scope = { schoolIds: 'all', pii: 'clear' };
    const invoice = (
      await sql<{ id: string; school_id: string; amount: number; paid_amount: number }>`
        select i.id, i.school_id, i.amount, i.paid_amount from invoices i join students st on st.id = i.student_id
         where i.paid_amount = 0 and i.amount > 1 and i.cancelled_at is null and st.deleted_at is null order by i.due_date desc, i.id limit 1`.execute(t.db)
    ).rows[0];
    assert.ok(invoice);
    const before = await countFromRollups(t.db, scope, {});
    await sql`insert into payments (school_id, invoice_id, amount, method, paid_at) values (${invoice.school_id}, ${invoice.id}, 1, 'cash', now())`.execute(t.db);
    await sql`update invoices set paid_amount = paid_amount + 1 where id = ${invoice.id}`.execute(t.db);
    assert.equal(await countFromRollups(t.db, scope, {}), before, 'partly paid: still outstanding');
    for (const status of ['PENDING', 'PARTIAL', 'OVERDUE'] as const) {
      assert.equal(await countFromRollups(t.db, scope, { status }), await rawCount(scope, { status }), status);
    }
    const rest = invoice.amount - 1;
    await sql`insert into payments (school_id, invoice_id, amount, method, paid_at) values (${invoice.school_id}, ${invoice.id}, ${rest}, 'cash', now())`.execute(t.db);
    await sql`update invoices set paid_amount = amount where id = ${invoice.id}`.execute(t.db);
    assert.equal(await countFromRollups(t.db, scope, {}), (before ?? 0) - 1, 'paid in full: out of the queue');
  });

  test('a minAmount filter is not answered from the rollups', async () => {
    assert.equal(await countFromRollups(t.db, { schoolIds: 'all', pii: 'clear' }, { minAmount: 1 }), undefined);
  });
});
