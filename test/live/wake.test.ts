import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { liveWaker } from '../../src/modules/live/wake.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

/**
 * The live hubs' wake-up after commit (migration 0036, src/modules/live/wake.ts): a
 * transaction that says it wakes the hubs itself sends no NOTIFY of its own (its commit
 * then shares no lock with the others); POST /payments and POST /families/:id/payments
 * wake them once committed; every other writer still NOTIFYs in its transaction.
 */
describe('live wake-up after commit', () => {
  let t: TestApp;
  let api: Client;
  let listener: pg.Client;
  let heard = 0;
  let invoiceId = '';
  let familyId = '';
  let studentId = '';

  /** Until no wake is on its way and `quiet` ms pass with no notification heard. */
  async function drained(quiet = 300): Promise<void> {
    await liveWaker(t.db).settled();
    let last = -1;
    while (last !== heard) {
      last = heard;
      await new Promise((resolve) => setTimeout(resolve, quiet));
    }
  }

  /** Notifications a LISTEN connection hears for `work` (and nothing before it). */
  async function heardAfter(work: () => Promise<unknown>): Promise<number> {
    await drained();
    const start = heard;
    await work();
    await drained();
    return heard - start;
  }

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'wake.root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'wake.root')).accessToken);
    const schoolId = (await api.post('/schools', { name: 'Colegio Despertar', currency: 'MXN', timezone: 'America/Mexico_City' })).json<{ id: string }>().id;
    familyId = (await api.post('/families', { schoolId, name: 'Familia Despierta' })).json<{ id: string }>().id;
    studentId = (await api.post('/students', { schoolId, firstName: 'Eva', lastName: 'Despierta', grade: '2', familyId })).json<{ id: string }>().id;
    const invoice = await api.post('/invoices', { studentId, amount: 900_000, dueDate: '2030-01-15' });
    assert.equal(invoice.statusCode, 201, invoice.body);
    invoiceId = invoice.json<{ id: string }>().id;
    listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    listener.on('notification', (message) => {
      if (message.channel === 'bursar_live') {
        heard++;
      }
    });
    await listener.query('listen bursar_live');
  });
  after(async () => {
    await listener.end();
    await t.close();
  });

  test('the trigger NOTIFYs in the transaction unless the writer wakes after its commit', async () => {
    const insertFailure = sql`
      insert into transactions (school_id, invoice_id, amount, method, status, failure_code)
      select school_id, id, 100, 'card', 'failed', 'card_declined' from invoices where id = ${invoiceId}`;
    assert.equal(await heardAfter(() => insertFailure.execute(t.db)), 1, 'a plain writer is woken for');
    const deferred = await heardAfter(() =>
      t.db.transaction().execute(async (trx) => {
        await sql`select set_config('bursar.live_wake', 'after_commit', true)`.execute(trx);
        await insertFailure.execute(trx);
      }),
    );
    assert.equal(deferred, 0, 'a writer that wakes after its commit is not woken for by the trigger');
    // The setting is the transaction's: the next one is woken for again.
    assert.equal(await heardAfter(() => insertFailure.execute(t.db)), 1);
  });

  test('POST /payments and POST /families/:id/payments wake the hubs after their commit, once each', async () => {
    const paid = await heardAfter(async () => {
      const response = await api.post('/payments', { invoiceId, amount: 1_000, method: 'cash' }, { 'idempotency-key': randomUUID() });
      assert.equal(response.statusCode, 201, response.body);
    });
    assert.equal(paid, 1);
    const familyPaid = await heardAfter(async () => {
      const response = await api.post(`/families/${familyId}/payments`, { amount: 2_000, method: 'bank_transfer' }, { 'idempotency-key': randomUUID() });
      assert.equal(response.statusCode, 201, response.body);
    });
    assert.equal(familyPaid, 1);
    // A replay writes nothing and wakes no one.
    const key = randomUUID();
    await api.post('/payments', { invoiceId, amount: 1_500, method: 'cash' }, { 'idempotency-key': key });
    const replayed = await heardAfter(async () => {
      const response = await api.post('/payments', { invoiceId, amount: 1_500, method: 'cash' }, { 'idempotency-key': key });
      assert.equal(response.statusCode, 201, response.body);
    });
    assert.equal(replayed, 0);
  });

  test('wakes asked for while one is on its way share the next: 50 at once send two', async () => {
    const waker = liveWaker(t.db);
    const count = await heardAfter(() => {
      for (let i = 0; i < 50; i++) {
        waker.wake();
      }
      return Promise.resolve();
    });
    assert.equal(count, 2);
  });
});
