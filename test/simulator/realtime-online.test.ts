import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { DAY_MS } from '../../src/modules/simulator/demo-plan.js';
import { PASSWORD, TEST_JWT_SECRET } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The `npm start` demo runs the engine of `bursar simulate` in real time: with the
 * bundled gateway, some families pay online — a pay link, the checkout, the hosted page
 * and the signed webhook, over HTTP to the server itself — once it listens. Seeded five
 * weeks ago, the families' plans have a backlog the simulator clears in a few seconds.
 */
describe('the demo simulator in real time pays online through the server’s own routes', () => {
  let testDb: TestDatabase;
  let database: Database;
  let app: FastifyInstance;

  before(async () => {
    testDb = await createTestDatabase();
    database = createDatabase({ connectionString: testDb.url, max: 8 });
    await seedDemoData(database.db, { password: PASSWORD, now: new Date(Date.now() - 35 * DAY_MS) });
  });

  after(async () => {
    await app?.close();
    await database?.close();
    await testDb?.drop();
  });

  test('online payments are recorded by the gateway’s webhook, and the ledger balances', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SIMULATOR: 'on', SIMULATOR_RATE: '100', GATEWAY: 'simulator', RATE_LIMIT_MAX: '100000', DATABASE_URL: testDb.url });
    app = await buildApp({ config, database, jwtSecret: TEST_JWT_SECRET, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const online = async () =>
      (
        await sql<{ n: number }>`
          select count(*)::int as n from gateway_payments g join checkout_sessions c on c.school_id = g.school_id and c.id = g.checkout_id
           where g.outcome = 'succeeded' and c.via = 'pay_link' and g.payment_id is not null`.execute(database.db)
      ).rows[0]?.n ?? 0;
    const deadline = Date.now() + 20_000;
    while ((await online()) < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const closing = Date.now();
    await app.close();
    // The simulator stops before the server does: its last online payments finish, none hangs on a closed server.
    assert.ok(Date.now() - closing < 10_000, `closing took ${Date.now() - closing} ms`);
    assert.ok((await online()) >= 3, `online payments: ${await online()}`);
    // Each became an ordinary payment dated now-ish, with its receipt, on a demo school's bill.
    const { rows } = await sql<{ n: number; demo: number; receipts: number }>`
      select count(*)::int as n, count(*) filter (where s.is_demo)::int as demo, count(r.number)::int as receipts
        from gateway_payments g join payments p on p.school_id = g.school_id and p.id = g.payment_id join schools s on s.id = g.school_id
        left join receipts r on r.school_id = p.school_id and r.payment_id = p.id
       where g.outcome = 'succeeded'`.execute(database.db);
    assert.ok(rows[0] && rows[0].n === rows[0].demo && rows[0].n === rows[0].receipts, JSON.stringify(rows[0]));
    const ledger = await verifyLedgerInvariant(database.db);
    assert.ok(ledger.ok, formatLedgerInvariantReport(ledger));
  });
});
