import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** What the database itself guarantees, whatever code writes to it. */
describe('schema constraints', () => {
  let testDb: TestDatabase;
  let database: Database;
  let schoolId: string;
  let otherSchoolId: string;
  let studentId: string;
  let invoiceId: string;
  let paymentId: string;

  before(async () => {
    testDb = await createTestDatabase();
    database = createDatabase({ connectionString: testDb.url, max: 3 });
    const { db } = database;
    schoolId = (await db.insertInto('schools').values({ name: 'A' }).returning('id').executeTakeFirstOrThrow()).id;
    otherSchoolId = (await db.insertInto('schools').values({ name: 'B' }).returning('id').executeTakeFirstOrThrow()).id;
    studentId = (
      await db.insertInto('students').values({ school_id: schoolId, first_name: 'Ana', last_name: 'Ruiz', grade: '3' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    invoiceId = (
      await db
        .insertInto('invoices')
        .values({ school_id: schoolId, student_id: studentId, number: 'INV-1', amount: 10_000, paid_amount: 4_000, due_date: '2026-01-10' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    paymentId = (
      await db.insertInto('payments').values({ school_id: schoolId, invoice_id: invoiceId, amount: 4_000, method: 'cash' }).returning('id').executeTakeFirstOrThrow()
    ).id;
  });
  after(async () => {
    await database.close();
    await testDb.drop();
  });

  const code = async (work: Promise<unknown>) => {
    try {
      await work;
    } catch (error) {
      return (error as { code?: string }).code;
    }
    return 'no error';
  };

  test('ids are UUIDv7 and time-ordered', async () => {
    const rows = await sql<{ id: string }>`select uuid_v7() as id from generate_series(1, 3)`.execute(database.db);
    for (const { id } of rows.rows) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    const ms = Number.parseInt(schoolId.replaceAll('-', '').slice(0, 12), 16);
    assert.ok(Math.abs(ms - Date.now()) < 60_000, 'the first 48 bits are the creation time in ms');
  });

  test('money is integer and never negative; paid never exceeds the amount', async () => {
    const { db } = database;
    const base = { school_id: schoolId, student_id: studentId, due_date: '2026-02-10' };
    // A fully discounted instalment is an invoice of 0 (migration 0014); below zero never.
    await db.insertInto('invoices').values({ ...base, number: 'N1', amount: 0 }).execute();
    assert.equal(await code(db.insertInto('invoices').values({ ...base, number: 'N2', amount: -5 }).execute()), '23514');
    assert.equal(await code(db.insertInto('invoices').values({ ...base, number: 'N3', amount: 100, paid_amount: 101 }).execute()), '23514');
    // A fractional amount sent as a parameter is refused, never rounded.
    assert.equal(await code(db.insertInto('invoices').values({ ...base, number: 'N4', amount: 10.5 }).execute()), '22P02');
    assert.equal(await code(db.insertInto('payments').values({ school_id: schoolId, invoice_id: invoiceId, amount: 0, method: 'cash' }).execute()), '23514');
    assert.equal(await code(db.insertInto('payments').values({ school_id: schoolId, invoice_id: invoiceId, amount: 5, method: 'cheque' as 'cash' }).execute()), '23514');
  });

  test('invoice numbers are unique per school, not globally', async () => {
    const { db } = database;
    assert.equal(
      await code(db.insertInto('invoices').values({ school_id: schoolId, student_id: studentId, number: 'INV-1', amount: 1, due_date: '2026-01-01' }).execute()),
      '23505',
    );
    const otherStudent = await db.insertInto('students').values({ school_id: otherSchoolId, first_name: 'B', last_name: 'C', grade: '1' }).returning('id').executeTakeFirstOrThrow();
    await db.insertInto('invoices').values({ school_id: otherSchoolId, student_id: otherStudent.id, number: 'INV-1', amount: 1, due_date: '2026-01-01' }).execute();
  });

  test('a row cannot point at a parent in another school', async () => {
    const { db } = database;
    // The student belongs to school A; an invoice claiming school B is refused by the composite key.
    assert.equal(
      await code(db.insertInto('invoices').values({ school_id: otherSchoolId, student_id: studentId, number: 'X-1', amount: 1, due_date: '2026-01-01' }).execute()),
      '23503',
    );
    assert.equal(
      await code(db.insertInto('payments').values({ school_id: otherSchoolId, invoice_id: invoiceId, amount: 1, method: 'cash' }).execute()),
      '23503',
    );
  });

  test('an invoice with money paid cannot be cancelled', async () => {
    assert.equal(await code(database.db.updateTable('invoices').set({ cancelled_at: new Date() }).where('id', '=', invoiceId).execute()), '23514');
  });

  test('payments, refunds, ledger entries and the audit log refuse UPDATE, DELETE and TRUNCATE', async () => {
    const { db } = database;
    const refund = await db.insertInto('refunds').values({ school_id: schoolId, payment_id: paymentId, invoice_id: invoiceId, amount: 1 }).returning('id').executeTakeFirstOrThrow();
    await db.insertInto('ledger_entries').values({ vendor_id: 'v-1', account_id: 'a-1', type: 'earned', amount: 5, created_at: new Date(), body_hash: Buffer.from('x') }).execute();
    await db.insertInto('audit_log').values({ action: 'test', entity_type: 'test', entity_id: null, actor_user_id: null, actor_username: null, request_id: null, changes: null }).execute();

    assert.equal(await code(db.updateTable('payments').set({ reference: 'changed' }).where('id', '=', paymentId).execute()), '55000');
    assert.equal(await code(db.deleteFrom('payments').where('id', '=', paymentId).execute()), '55000');
    assert.equal(await code(db.updateTable('refunds').set({ reason: 'x' }).where('id', '=', refund.id).execute()), '55000');
    assert.equal(await code(db.deleteFrom('refunds').where('id', '=', refund.id).execute()), '55000');
    assert.equal(await code(db.updateTable('ledger_entries').set({ amount: 6 }).where('vendor_id', '=', 'v-1').execute()), '55000');
    assert.equal(await code(db.deleteFrom('ledger_entries').execute()), '55000');
    assert.equal(await code(db.updateTable('audit_log').set({ action: 'x' }).execute()), '55000');
    assert.equal(await code(db.deleteFrom('audit_log').execute()), '55000');
    for (const table of ['payments', 'refunds', 'ledger_entries', 'audit_log']) {
      assert.equal(await code(sql`truncate ${sql.table(table)} cascade`.execute(db)), '55000', `truncate ${table}`);
    }
    const still = await db.selectFrom('payments').select('reference').where('id', '=', paymentId).executeTakeFirstOrThrow();
    assert.equal(still.reference, null);
  });

  test('a ledger vendor id is stored once', async () => {
    const entry = { vendor_id: 'v-dup', account_id: 'a-1', type: 'earned' as const, amount: 5, created_at: new Date(), body_hash: Buffer.from('x') };
    await database.db.insertInto('ledger_entries').values(entry).execute();
    assert.equal(await code(database.db.insertInto('ledger_entries').values(entry).execute()), '23505');
  });

  test('bigint money comes back as an exact number, and unsafe values throw', async () => {
    const row = await sql<{ small: number; sum: number }>`select 9007199254740991::bigint as small, sum(x)::numeric as sum from (values (1::bigint), (2::bigint)) v(x)`.execute(database.db);
    assert.equal(row.rows[0]?.small, Number.MAX_SAFE_INTEGER);
    assert.equal(row.rows[0]?.sum, 3);
    await assert.rejects(sql`select 9007199254740993::bigint as big`.execute(database.db), /outside the safe range/);
  });

  test('an invoice is marked touched by a person on any write not declared the demo’s (migration 0012)', async () => {
    const { db } = database;
    const touched = async (id: string) => (await db.selectFrom('invoices').select('touched_by_person_at').where('id', '=', id).executeTakeFirstOrThrow()).touched_by_person_at;
    const base = { school_id: schoolId, student_id: studentId, amount: 1_000, due_date: '2026-03-10' };
    // Any writer: marked on insert, even when it tries to leave the column null.
    const plain = (await db.insertInto('invoices').values({ ...base, number: 'T-1', touched_by_person_at: null }).returning('id').executeTakeFirstOrThrow()).id;
    assert.notEqual(await touched(plain), null);
    // A transaction that declared itself the demo's writes demo data, inserts and updates alike.
    const demo = await db.transaction().execute(async (trx) => {
      await sql`select set_config('bursar.writer', 'demo', true)`.execute(trx);
      const id = (await trx.insertInto('invoices').values({ ...base, number: 'T-2' }).returning('id').executeTakeFirstOrThrow()).id;
      await trx.updateTable('invoices').set({ paid_amount: 10 }).where('id', '=', id).execute();
      return id;
    });
    assert.equal(await touched(demo), null);
    // The declaration ends with its transaction: the next write on the same pool is a person's.
    await db.updateTable('invoices').set({ description: 'changed' }).where('id', '=', demo).execute();
    const marked = await touched(demo);
    assert.ok(marked instanceof Date);
    // Once marked, always marked: a later demo write keeps the mark.
    await db.transaction().execute(async (trx) => {
      await sql`select set_config('bursar.writer', 'demo', true)`.execute(trx);
      await trx.updateTable('invoices').set({ paid_amount: 20 }).where('id', '=', demo).execute();
    });
    assert.deepEqual(await touched(demo), marked);
  });

  test('demo tables keep school_id in their keys: no cross-school rows, one bill per student and month', async () => {
    const { db } = database;
    assert.equal(await code(db.insertInto('demo_students').values({ school_id: otherSchoolId, student_id: studentId, behaviour: 'late' }).execute()), '23503');
    assert.equal(await code(db.insertInto('demo_students').values({ school_id: schoolId, student_id: studentId, behaviour: 'sometimes' as 'late' }).execute()), '23514');
    await db.insertInto('demo_students').values({ school_id: schoolId, student_id: studentId, behaviour: 'late' }).execute();
    assert.equal(await code(db.insertInto('demo_bills').values({ school_id: otherSchoolId, student_id: studentId, month: '2026-01-01', invoice_id: invoiceId }).execute()), '23503');
    assert.equal(await code(db.insertInto('demo_bills').values({ school_id: schoolId, student_id: studentId, month: '2026-01-10', invoice_id: invoiceId }).execute()), '23514');
    await db.insertInto('demo_bills').values({ school_id: schoolId, student_id: studentId, month: '2026-01-01', invoice_id: invoiceId }).execute();
    assert.equal(await code(db.insertInto('demo_bills').values({ school_id: schoolId, student_id: studentId, month: '2026-01-01', invoice_id: invoiceId }).execute()), '23505');
    // Schools are real data unless the demo seed says otherwise.
    const school = await db.selectFrom('schools').select(['is_demo', 'simulator_enabled']).where('id', '=', schoolId).executeTakeFirstOrThrow();
    assert.deepEqual(school, { is_demo: false, simulator_enabled: true });
  });

  test('dates stay calendar days, untouched by the server time zone', async () => {
    const row = await database.db.selectFrom('invoices').select('due_date').where('id', '=', invoiceId).executeTakeFirstOrThrow();
    assert.equal(row.due_date, '2026-01-10');
  });
});
