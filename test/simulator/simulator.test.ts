import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { formatReport, verifyRollups } from '../../src/modules/reporting/rollups.js';
import { createSimulator, SIMULATOR_USERNAME } from '../../src/modules/simulator/simulator.js';
import { TEST_JWT_SECRET } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The demo simulator, run for real: SIMULATOR=on at 200 events/s for about two seconds
 * against the billing fixture plus a few dozen open invoices. It must write through the
 * billing service (payments with their transactions, failed attempts, audit entries as
 * the `simulator` user), keep every rollup exact, never overpay, and stop with the app.
 */
const silent = { level: 'silent' } as const;

async function counts(database: Database) {
  const { rows } = await sql<{ payments: number; failed: number; refunds: number; audits: number; keys: number }>`
    select (select count(*) from payments)::int as payments,
           (select count(*) from transactions where status = 'failed')::int as failed,
           (select count(*) from refunds)::int as refunds,
           (select count(*) from audit_log where actor_username = ${SIMULATOR_USERNAME})::int as audits,
           (select count(*) from idempotency_keys)::int as keys`.execute(database.db);
  return rows[0] ?? { payments: 0, failed: 0, refunds: 0, audits: 0, keys: 0 };
}

describe('simulator', () => {
  let testDb: TestDatabase;
  let database: Database;
  let f: BillingFixture;

  before(async () => {
    testDb = await createTestDatabase();
    database = createDatabase({ connectionString: testDb.url, max: 8 });
    f = await seedBillingFixture(database.db);
    // Enough open invoices in both schools that two seconds of payments never run dry.
    const students = [
      [f.schoolA, f.students.anaA],
      [f.schoolA, f.students.beto],
      [f.schoolB, f.students.carla],
      [f.schoolB, f.students.dora],
    ] as const;
    let n = 0;
    for (const [schoolId, studentId] of students) {
      for (let i = 0; i < 15; i++) {
        await database.db
          .insertInto('invoices')
          .values({ school_id: schoolId, student_id: studentId, number: `SIM-${++n}`, amount: 250_000 + n, due_date: f.future })
          .execute();
      }
    }
  });
  after(async () => {
    await database.close();
    await testDb.drop();
  });

  test('config: SIMULATOR and SIMULATOR_RATE are validated; on by default for npm start only', () => {
    assert.deepEqual(loadConfig({}).simulator, { enabled: true, ratePerSecond: 2 });
    assert.deepEqual(loadConfig({ NODE_ENV: 'test' }).simulator, { enabled: false, ratePerSecond: 2 });
    assert.deepEqual(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }).simulator, { enabled: false, ratePerSecond: 2 });
    assert.deepEqual(loadConfig({ NODE_ENV: 'test', SIMULATOR: 'on' }).simulator, { enabled: true, ratePerSecond: 2 });
    assert.deepEqual(loadConfig({ SIMULATOR: 'off' }).simulator, { enabled: false, ratePerSecond: 2 });
    assert.deepEqual(loadConfig({ SIMULATOR: 'on', SIMULATOR_RATE: '0.5' }).simulator, { enabled: true, ratePerSecond: 0.5 });
    assert.throws(() => loadConfig({ SIMULATOR: 'yes', SIMULATOR_RATE: '0' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.problems.some((p) => p.startsWith('SIMULATOR ')));
      assert.ok(error.problems.some((p) => p.startsWith('SIMULATOR_RATE ')));
      return true;
    });
  });

  test('on at 200/s for ~2 s: payments and failures through the service, exact rollups, stops with the app', async () => {
    const before = await counts(database);
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SIMULATOR: 'on', SIMULATOR_RATE: '200', DATABASE_URL: testDb.url });
    const app: FastifyInstance = await buildApp({ config, database, jwtSecret: TEST_JWT_SECRET, logger: silent });
    await app.ready();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await app.close();
    const stopped = await counts(database);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await counts(database), stopped, 'nothing is written after close');

    const made = stopped.payments - before.payments;
    const failed = stopped.failed - before.failed;
    assert.ok(made >= 10, `payments: ${made}`);
    assert.ok(failed >= 3, `failed attempts: ${failed}`);
    // One audit entry per write, all naming the simulator; one idempotency key per payment and refund.
    assert.equal(stopped.audits - before.audits, made + failed + (stopped.refunds - before.refunds));
    assert.equal(stopped.keys - before.keys, made + (stopped.refunds - before.refunds));

    const simulator = await database.db.selectFrom('users').select(['id', 'role', 'is_active']).where('username', '=', SIMULATOR_USERNAME).executeTakeFirstOrThrow();
    assert.equal(simulator.is_active, false, 'the system user cannot log in');
    const byUser = await database.db.selectFrom('payments').select((eb) => eb.fn.countAll<number>().as('n')).where('created_by', '=', simulator.id).executeTakeFirstOrThrow();
    assert.equal(Number(byUser.n), made);
    // Every simulated payment has its succeeded transaction; audit actions are the service's.
    const actions = await database.db.selectFrom('audit_log').select('action').distinct().where('actor_user_id', '=', simulator.id).execute();
    assert.ok(actions.map((row) => row.action).includes('payment.create'));
    assert.ok(actions.map((row) => row.action).includes('payment.fail'));
    const orphans = await sql<{ n: number }>`
      select count(*)::int as n from payments p where p.created_by = ${simulator.id}
         and not exists (select 1 from transactions t where t.payment_id = p.id and t.status = 'succeeded')`.execute(database.db);
    assert.equal(orphans.rows[0]?.n, 0);
    // Never overpaid; failure codes from the catalog.
    const over = await sql<{ n: number }>`select count(*)::int as n from invoices where paid_amount > amount`.execute(database.db);
    assert.equal(over.rows[0]?.n, 0);
    const codes = await sql<{ code: string }>`select distinct failure_code as code from transactions t join audit_log a on a.entity_id = t.id::text where a.actor_user_id = ${simulator.id}`.execute(database.db);
    assert.ok(codes.rows.every((row) => /^[a-z_]+$/.test(row.code)));

    const report = await verifyRollups(database.db);
    assert.ok(report.ok, formatReport(report));
  });

  test('runOnce: a payment then a refund of it, through the service', async () => {
    const simulator = createSimulator({ db: database.db, ratePerSecond: 1, log: (await import('pino')).default({ level: 'silent' }) });
    // Open invoices again in both schools (the run above may have paid every one).
    for (const [schoolId, studentId, number] of [[f.schoolA, f.students.beto, 'ONCE-A'], [f.schoolB, f.students.dora, 'ONCE-B']] as const) {
      await database.db.insertInto('invoices').values({ school_id: schoolId, student_id: studentId, number, amount: 90_000, due_date: f.future }).execute();
    }
    const before = await counts(database);
    await simulator.runOnce('refund'); // nothing paid by this instance yet: idle
    assert.equal(simulator.stats().idle, 1);
    await simulator.runOnce('payment');
    await simulator.runOnce('refund');
    await simulator.runOnce('failure');
    const stats = simulator.stats();
    assert.deepEqual(stats.errors, 0, JSON.stringify(stats));
    assert.deepEqual([stats.payments, stats.refunds, stats.failures, stats.errors], [1, 1, 1, 0]);
    const after = await counts(database);
    assert.deepEqual([after.payments - before.payments, after.refunds - before.refunds, after.failed - before.failed], [1, 1, 1]);
    assert.equal(simulator.running, false);
    await simulator.stop();
    const report = await verifyRollups(database.db);
    assert.ok(report.ok, formatReport(report));
  });
});
