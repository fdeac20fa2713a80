import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { formatReport, verifyRollups } from '../../src/modules/reporting/rollups.js';
import { createSimulator, SIMULATOR_USERNAME } from '../../src/modules/simulator/simulator.js';
import { TEST_JWT_SECRET } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The demo simulator, run for real: SIMULATOR=on at 200/s for about two seconds against
 * the demo data (seeded as of five weeks ago, so a month of the families' payments and
 * declined attempts is due) next to the billing fixture's two real schools. It must
 * write through the billing service (payments with their transactions, failed attempts,
 * audit entries as the `simulator` user) in the demo schools only, keep every rollup
 * exact, never overpay, and stop with the app.
 */
const silent = { level: 'silent' } as const;

async function counts(database: Database) {
  const { rows } = await sql<{ payments: number; familyPayments: number; familyParts: number; failed: number; refunds: number; audits: number; keys: number; invoices: number; runs: number }>`
    select (select count(*) from payments)::int as payments,
           (select count(*) from family_payments)::int as "familyPayments",
           (select count(*) from payments where family_payment_id is not null)::int as "familyParts",
           (select count(*) from bill_runs)::int as runs,
           (select count(*) from transactions where status = 'failed')::int as failed,
           (select count(*) from refunds)::int as refunds,
           (select count(*) from audit_log where actor_username = ${SIMULATOR_USERNAME})::int as audits,
           (select count(*) from idempotency_keys)::int as keys,
           (select count(*) from invoices)::int as invoices`.execute(database.db);
  return rows[0] ?? { payments: 0, familyPayments: 0, familyParts: 0, failed: 0, refunds: 0, audits: 0, keys: 0, invoices: 0, runs: 0 };
}

/** Every row of the fixture's (real) schools, whole. */
async function realRows(database: Database, schoolIds: string[]) {
  const { rows } = await sql<{ rows: unknown }>`
    select jsonb_build_object(
      'invoices', (select jsonb_agg(to_jsonb(i) order by i.id) from invoices i where i.school_id = any(${schoolIds}::uuid[])),
      'payments', (select jsonb_agg(to_jsonb(p) order by p.id) from payments p where p.school_id = any(${schoolIds}::uuid[])),
      'transactions', (select jsonb_agg(to_jsonb(t) order by t.id) from transactions t where t.school_id = any(${schoolIds}::uuid[])),
      'audit', (select count(*) from audit_log a where a.school_id = any(${schoolIds}::uuid[]))) as rows`.execute(database.db);
  return rows[0]?.rows;
}

describe('simulator', () => {
  let testDb: TestDatabase;
  let database: Database;
  let f: BillingFixture;
  let real: unknown;
  let seeded: Awaited<ReturnType<typeof counts>>;

  before(async () => {
    testDb = await createTestDatabase();
    database = createDatabase({ connectionString: testDb.url, max: 8 });
    f = await seedBillingFixture(database.db);
    // Real schools with open invoices the old simulator would have paid within seconds.
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
          .values({ school_id: schoolId, student_id: studentId, number: `REAL-${++n}`, amount: 250_000 + n, due_date: f.future })
          .execute();
      }
    }
    await seedDemoData(database.db, { password: 'Demo-Password-1', now: new Date(Date.now() - 35 * 86_400_000) });
    real = await realRows(database, [f.schoolA, f.schoolB]);
    seeded = await counts(database);
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

  test('runOnce: the families’ payments due (and the declined attempts before them), then a refund of one, through the service', async () => {
    // Seeded as of five weeks ago: a month of the families' payments is due now.
    const simulator = createSimulator({ db: database.db, ratePerSecond: 1, log: (await import('pino')).default({ level: 'silent' }), seed: 3, refundShare: 1 });
    const before = await counts(database);
    await simulator.runOnce('refund'); // nothing paid by this instance yet: idle
    assert.equal(simulator.stats().idle, 1);
    // A payment event acts on up to three bills, each ending in its payment or only in
    // declined attempts (a family whose payment is not due yet, or never comes): which
    // bills come first depends on the seeded families, so events go on until one pays.
    let events = 0;
    while (simulator.stats().payments === 0 && events < 5) {
      await simulator.runOnce('payment');
      events++;
    }
    await simulator.runOnce('refund');
    const stats = simulator.stats();
    assert.equal(stats.errors, 0, JSON.stringify(stats));
    assert.ok(stats.payments >= 1 && stats.payments <= 3 * events, JSON.stringify(stats));
    assert.deepEqual([stats.refunds, stats.errors], [1, 0]);
    // At most the plans' attempts of the bills acted on (two per instalment and two more each).
    assert.ok(stats.failures <= 3 * 6 * events, JSON.stringify(stats));
    const after = await counts(database);
    assert.deepEqual([after.payments - before.payments, after.refunds - before.refunds, after.failed - before.failed], [stats.payments, 1, stats.failures]);
    assert.equal(simulator.running, false);
    await simulator.stop();
    const report = await verifyRollups(database.db);
    assert.ok(report.ok, formatReport(report));
  });

  test('on at 200/s for ~2 s: payments and failures through the service, in demo schools only, exact rollups, stops with the app', async () => {
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
    // A family payment is one write (one audit entry, one idempotency key, one receipt) of several payment rows.
    const writes = made - (stopped.familyParts - before.familyParts) + (stopped.familyPayments - before.familyPayments);
    // Monthly bills come from bill runs: one audit entry per run, whatever it billed.
    const runs = stopped.runs - before.runs;
    assert.ok(made >= 5, `payments: ${made}`);
    // ~400 ticks, five weeks of the families' plans caught up: the declined attempts of
    // those weeks, a fraction of the attempts (about one in seven over the whole catch-up)
    // — never one per tick. On a loaded machine only the start of the catch-up fits in the
    // 2 s, and a declined card comes before the payment it precedes, so the share seen can
    // be higher than over the whole: bounded at half, and far below one per tick. (The cap
    // per school and day is per process; demo.test.ts checks it.)
    assert.ok(failed >= 1 && failed <= 0.5 * (made + failed) && failed < 100, `failed attempts: ${failed}, payments: ${made}`);
    // One audit entry per write, all naming the simulator; one idempotency key per payment and refund.
    assert.equal(stopped.audits - before.audits, writes + failed + runs + (stopped.refunds - before.refunds));
    assert.equal(stopped.keys - before.keys, writes + (stopped.refunds - before.refunds));

    const simulator = await database.db.selectFrom('users').select(['id', 'role', 'is_active']).where('username', '=', SIMULATOR_USERNAME).executeTakeFirstOrThrow();
    assert.equal(simulator.is_active, false, 'the system user cannot log in');
    const byUser = await database.db.selectFrom('payments').select((eb) => eb.fn.countAll<number>().as('n')).where('created_by', '=', simulator.id).executeTakeFirstOrThrow();
    assert.equal(Number(byUser.n), stopped.payments - seeded.payments, 'every payment since the seed is the simulator’s');
    // Every simulated payment has its succeeded transaction; audit actions are the service's.
    const actions = await database.db.selectFrom('audit_log').select('action').distinct().where('actor_user_id', '=', simulator.id).execute();
    assert.ok(actions.map((row) => row.action).includes('payment.create'));
    assert.ok(actions.map((row) => row.action).includes('payment.fail'));
    const orphans = await sql<{ n: number }>`
      select count(*)::int as n from payments p where p.created_by = ${simulator.id}
         and not exists (select 1 from transactions t where t.payment_id = p.id and t.status = 'succeeded')`.execute(database.db);
    assert.equal(orphans.rows[0]?.n, 0);
    // Only demo schools were touched; the real ones are exactly as they were.
    const outside = await sql<{ n: number }>`
      select count(*)::int as n from audit_log a join schools s on s.id = a.school_id
       where a.actor_user_id = ${simulator.id} and not s.is_demo`.execute(database.db);
    assert.equal(outside.rows[0]?.n, 0);
    assert.deepEqual(await realRows(database, [f.schoolA, f.schoolB]), real);
    // Never overpaid; failure codes from the catalog.
    const over = await sql<{ n: number }>`select count(*)::int as n from invoices where paid_amount > amount`.execute(database.db);
    assert.equal(over.rows[0]?.n, 0);
    const codes = await sql<{ code: string }>`select distinct failure_code as code from transactions t join audit_log a on a.entity_id = t.id::text where a.actor_user_id = ${simulator.id}`.execute(database.db);
    assert.ok(codes.rows.every((row) => /^[a-z_]+$/.test(row.code)));

    const report = await verifyRollups(database.db);
    assert.ok(report.ok, formatReport(report));
  });

});
