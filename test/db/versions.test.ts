import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * Statement cache versions (migrations 0002 and 0019): every write that can change a
 * statement bumps its school's billing_versions row — once per transaction, however
 * many statements it runs, and each school of a multi-school statement once.
 */
describe('billing_versions: one bump per school per transaction', () => {
  let testDb: TestDatabase;
  let database: Database;
  const schools: string[] = [];
  const invoices: string[] = [];

  before(async () => {
    testDb = await createTestDatabase();
    database = createDatabase({ connectionString: testDb.url, max: 3 });
    const { db } = database;
    for (const name of ['A', 'B']) {
      const schoolId = (await db.insertInto('schools').values({ name }).returning('id').executeTakeFirstOrThrow()).id;
      const studentId = (
        await db.insertInto('students').values({ school_id: schoolId, first_name: 'Ana', last_name: 'Ruiz', grade: '3' }).returning('id').executeTakeFirstOrThrow()
      ).id;
      const invoiceId = (
        await db
          .insertInto('invoices')
          .values({ school_id: schoolId, student_id: studentId, number: `INV-${name}`, amount: 10_000, due_date: '2026-01-10' })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
      schools.push(schoolId);
      invoices.push(invoiceId);
    }
  });
  after(async () => {
    await database.close();
    await testDb.drop();
  });

  const versions = async () => {
    const rows = await database.db.selectFrom('billing_versions').select(['school_id', 'version']).where('school_id', 'in', schools).execute();
    return schools.map((id) => Number(rows.find((row) => row.school_id === id)?.version ?? 0));
  };
  const touch = (ids: string[]) => sql`update invoices set updated_at = now() where id = any (${ids}::uuid[])`;

  test('a transaction of several statements bumps each school it wrote once; the next transaction bumps again', async () => {
    const [a0, b0] = await versions();
    await database.db.transaction().execute(async (trx) => {
      await touch([invoices[0] ?? '']).execute(trx);
      await touch([invoices[0] ?? '']).execute(trx);
      await touch([invoices[0] ?? '', invoices[1] ?? '']).execute(trx);
      await sql`insert into payments (school_id, invoice_id, amount, method) values (${schools[1]}, ${invoices[1]}, 100, 'cash')`.execute(trx);
    });
    assert.deepEqual(await versions(), [(a0 ?? 0) + 1, (b0 ?? 0) + 1]);
    await touch([invoices[0] ?? '']).execute(database.db);
    await touch([invoices[0] ?? '']).execute(database.db);
    assert.deepEqual(await versions(), [(a0 ?? 0) + 3, (b0 ?? 0) + 1]);
  });

  test('lock order: on every table whose writes feed the rollups, the version bump fires first (trigger name order) for each event', async () => {
    // Triggers of one table and event fire in name order. Every money write takes its
    // school's billing_versions row before any rollup row; otherwise two writers take
    // them in opposite orders and deadlock (a family payment's credit did, before 0020's
    // family_payments_bump_version).
    const { rows } = await sql<{ table: string; name: string; events: string[] }>`
      select c.relname as table, t.tgname as name,
             array_remove(array[case when t.tgtype & 4 > 0 then 'insert' end, case when t.tgtype & 8 > 0 then 'delete' end,
                                case when t.tgtype & 16 > 0 then 'update' end], null) as events
        from pg_trigger t join pg_class c on c.oid = t.tgrelid
       where not t.tgisinternal and c.relnamespace = 'public'::regnamespace`.execute(database.db);
    // The failure counts (0032) are not money: a failed attempt moves nothing and is
    // written in a transaction of its own (recordFailedAttempt), which takes no
    // billing_versions row; a money write inserts only succeeded or refunded
    // transactions, which take no bucket row. The two never hold each other's rows.
    const feeding = rows.filter((row) => /rollups/.test(row.name) && !/_rollups$|_totals$/.test(row.table) && row.name !== 'transactions_failure_rollups');
    assert.ok(feeding.some((row) => row.table === 'family_payments'), 'family payments feed the rollups');
    const missing: string[] = [];
    for (const rollup of feeding) {
      // Inserts and updates: no code deletes money rows or invoices (invoices are cancelled).
      for (const event of rollup.events.filter((name) => name !== 'delete')) {
        const bump = rows.find((row) => row.table === rollup.table && /bump_version/.test(row.name) && row.events.includes(event) && row.name < rollup.name);
        if (!bump) {
          missing.push(`${rollup.table} ${event}: ${rollup.name} has no version bump firing before it`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });

  test('a bump undone with its savepoint is done again by the next statement', async () => {
    const [a0] = await versions();
    await database.db.transaction().execute(async (trx) => {
      await sql`savepoint s`.execute(trx);
      await touch([invoices[0] ?? '']).execute(trx);
      await sql`rollback to savepoint s`.execute(trx);
      await touch([invoices[0] ?? '']).execute(trx);
    });
    assert.equal((await versions())[0], (a0 ?? 0) + 1);
  });
});
