import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { bearer, insertUser, login, TEST_JWT_SECRET } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * DATABASE_READ_URL: reports, analytics and exports read from the replica; writes,
 * sign-in and statements stay on the primary. Here the "replica" is a second database
 * holding a different data set (its own fixture, other ids), so every answer shows
 * where it was read.
 */
describe('read replica (DATABASE_READ_URL)', () => {
  let primaryDb: TestDatabase;
  let replicaDb: TestDatabase;
  let primary: Database;
  let replica: Database;
  let app: FastifyInstance;
  let onPrimary: BillingFixture;
  let onReplica: BillingFixture;
  let headers: Record<string, string>;

  /** Ids of a fixture's schools, invoices and payments: the replica's show up, the primary's never do. */
  const idsOf = (fx: BillingFixture) => [fx.schoolA, fx.schoolB, ...Object.values(fx.invoices), ...Object.values(fx.payments)];
  const assertFromReplica = (url: string, body: string) => {
    assert.ok(idsOf(onReplica).some((id) => body.includes(id)), `${url} shows the replica's data: ${body.slice(0, 300)}`);
    for (const id of idsOf(onPrimary)) {
      assert.ok(!body.includes(id), `${url} shows nothing of the primary's (${id})`);
    }
  };

  before(async () => {
    [primaryDb, replicaDb] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    primary = createDatabase({ connectionString: primaryDb.url, max: 3 });
    replica = createDatabase({ connectionString: replicaDb.url, max: 3 });
    onPrimary = await seedBillingFixture(primary.db);
    onReplica = await seedBillingFixture(replica.db);
    // Sign-in reads the primary: the user exists there only.
    await insertUser(primary.db, { username: 'replica.root', role: 'super_admin' });
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      RATE_LIMIT_MAX: '100000',
      DATABASE_URL: primaryDb.url,
      DATABASE_READ_URL: replicaDb.url,
    });
    app = await buildApp({ config, database: primary, readDatabase: replica, jwtSecret: TEST_JWT_SECRET, logger: false });
    await app.ready();
    headers = bearer((await login(app, 'replica.root')).accessToken);
  });

  after(async () => {
    await app?.close();
    await primary?.close();
    await replica?.close();
    await Promise.all([primaryDb?.drop(), replicaDb?.drop()]);
  });

  test('reports, analytics, the dashboard, the pending queue and its exports answer from the replica', async () => {
    for (const url of [
      '/api/v1/reports/schools/summary',
      '/api/v1/reports/invoices/details',
      '/api/v1/reports/payments/history',
      '/api/v1/reports/dashboard',
      '/api/v1/reports/pending-payments',
      '/api/v1/reports/pending-payments/export?format=csv&style=raw',
      '/api/v1/reports/pending-payments/export?format=xlsx',
      '/api/v1/transactions',
    ]) {
      const response = await app.inject({ method: 'GET', url, headers });
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      if (url.endsWith('xlsx')) {
        // A zip: check it is not empty rather than search it.
        assert.ok(response.rawPayload.length > 1000, url);
        continue;
      }
      assertFromReplica(url, response.body);
    }
  });

  test('payments are written to the primary; statements read the primary', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/payments',
      headers: { ...headers, 'idempotency-key': randomUUID() },
      payload: { invoiceId: onPrimary.invoices.pendingA, amount: 250, method: 'card' },
    });
    assert.equal(response.statusCode, 201, response.body);
    const paymentId = response.json<{ id: string }>().id;
    const find = (database: Database) => database.db.selectFrom('payments').select('id').where('id', '=', paymentId).executeTakeFirst();
    assert.ok(await find(primary), 'on the primary');
    assert.equal(await find(replica), undefined, 'not on the replica');

    // The replica's invoice does not exist on the primary: a write there is a 404.
    const onReplicaOnly = await app.inject({
      method: 'POST',
      url: '/api/v1/payments',
      headers: { ...headers, 'idempotency-key': randomUUID() },
      payload: { invoiceId: onReplica.invoices.pendingA, amount: 250, method: 'card' },
    });
    assert.equal(onReplicaOnly.statusCode, 404);

    const statement = await app.inject({ method: 'GET', url: `/api/v1/students/${onPrimary.students.beto}/statement`, headers });
    assert.equal(statement.statusCode, 200, statement.body);
    assert.ok(statement.body.includes(paymentId), 'the statement sees the new payment at once');
  });

  test('the dashboard and the queue fold the rollup deltas on the primary, which a replica cannot do itself', async () => {
    const waiting = async (database: Database) =>
      Number((await sql<{ n: number }>`select (select count(*) from invoice_rollup_deltas) + (select count(*) from payment_rollup_deltas) as n`.execute(database.db)).rows[0]?.n);
    for (const url of ['/api/v1/reports/dashboard', '/api/v1/reports/pending-payments']) {
      const paid = await app.inject({
        method: 'POST',
        url: '/api/v1/payments',
        headers: { ...headers, 'idempotency-key': randomUUID() },
        payload: { invoiceId: onPrimary.invoices.overdueB, amount: 100, method: 'cash' },
      });
      assert.equal(paid.statusCode, 201, paid.body);
      assert.ok((await waiting(primary)) > 0, 'the payment left deltas on the primary');
      const read = await app.inject({ method: 'GET', url, headers });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(await waiting(primary), 0, `${url} folded them on the primary`);
    }
    // Where it cannot write (a standby, a read-only session), a fold does nothing and fails nothing.
    const unfolded = await waiting(replica);
    await sql`insert into payment_rollup_deltas (school_id, grade, method, paid_on, payment_count, amount) values (${onReplica.schoolA}, '3', 'cash', current_date, 0, 0)`.execute(replica.db);
    await replica.db.transaction().execute(async (trx) => {
      await sql`set transaction read only`.execute(trx);
      await sql`select fold_rollup_deltas(true)`.execute(trx);
    });
    assert.equal(await waiting(replica), unfolded + 1);
    await sql`select fold_rollup_deltas(true)`.execute(replica.db);
    assert.equal(await waiting(replica), 0);
  });
});
