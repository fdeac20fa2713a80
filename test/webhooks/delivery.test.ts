import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createPaymentsRepository } from '../../src/modules/billing/payments.repository.js';
import { postInvoices, postPayment } from '../../src/modules/ledger/ledger.js';
import { deliverDueWebhooks, RETRY_WINDOW_MS, type WebhookDeliveryOptions, type WebhookTotals } from '../../src/modules/webhooks/webhooks.delivery.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { startReceiver, type Behaviour, type Receiver } from './receiver.js';

interface Created {
  id: string;
  secret: string;
}
interface Delivery {
  id: string;
  eventId: string;
  webhookId: string;
  eventType: string;
  objectId: string;
  status: string;
  attempts: number;
  lastAttempt: { attempt: number; responseCode: number | null; latencyMs: number; error: string | null; requestBody: string } | null;
}

const HOUR = 3_600_000;

/**
 * SPEC §9 delivery: real HTTP receivers on loopback, the real outbox written by the real
 * API and ledger, the delivery rounds driven with an explicit clock (`now`) — no timing
 * asserts, no mocks.
 */
describe('webhook delivery', () => {
  let t: TestApp;
  let f: BillingFixture;
  let root: Client;
  let adminA: Client;
  const receivers: Receiver[] = [];
  const endpoints: { client: Client; id: string }[] = [];

  const deliver = (now: Date = new Date(), extra: Partial<WebhookDeliveryOptions> = {}): Promise<WebhookTotals> =>
    deliverDueWebhooks(t.db, { now, allowLocal: true, timeoutMs: 2_000, random: () => 0.5, ...extra });
  /** Rounds at `now` until one claims nothing. */
  const drain = async (now: Date = new Date(), extra: Partial<WebhookDeliveryOptions> = {}) => {
    for (let round = 0; round < 50; round++) {
      if ((await deliver(now, extra)).claimed === 0) {
        return;
      }
    }
    throw new Error('delivery did not drain');
  };

  async function endpoint(as: Client, events: string[], behaviour?: Behaviour, extra: object = {}): Promise<Created & { receiver: Receiver }> {
    const receiver = await startReceiver(behaviour);
    receivers.push(receiver);
    const response = await as.post('/webhook-endpoints', { url: receiver.url, events, ...extra });
    assert.equal(response.statusCode, 201, response.body);
    const created = response.json<Created>();
    endpoints.push({ client: as, id: created.id });
    return { ...created, receiver };
  }

  async function newInvoice(as: Client, studentId: string, amount = 5_000): Promise<string> {
    const response = await as.post('/invoices', { studentId, amount, dueDate: f.future, description: 'Webhook test' });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ id: string }>().id;
  }

  async function deliveries(id: string): Promise<Delivery[]> {
    const response = await root.get(`/webhook-endpoints/${id}/deliveries?limit=500`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ data: Delivery[] }>().data;
  }

  before(async () => {
    t = await createTestApp({ env: { WEBHOOKS_ALLOW_LOCAL: 'on' } });
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin.a', role: 'school_admin', schoolIds: [f.schoolA] });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    adminA = client(t.app, (await login(t.app, 'admin.a')).accessToken);
  });
  afterEach(async () => {
    // Each test's endpoints go, so the next test's events reach only its own.
    for (const made of endpoints.splice(0)) {
      await made.client.delete(`/webhook-endpoints/${made.id}`);
    }
    await t.db.updateTable('webhook_deliveries').set({ status: 'failed' }).where('status', '=', 'pending').execute();
  });
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await t?.close();
  });

  test('a committed payment is delivered once, signed per Standard Webhooks (Webhook.verify), body {type, timestamp, data}', async () => {
    const hook = await endpoint(root, ['payment.succeeded', 'invoice.paid']);
    const invoiceId = await newInvoice(adminA, f.students.anaA, 4_000);
    const paid = await adminA.pay({ invoiceId, amount: 4_000, method: 'card', reference: 'TX-2026-000123456' });
    assert.equal(paid.statusCode, 201, paid.body);
    const paymentId = paid.json<{ id: string }>().id;
    await drain();

    assert.equal(hook.receiver.received.length, 2);
    const wh = new Webhook(hook.secret);
    for (const got of hook.receiver.received) {
      const headers = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
      assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
      assert.deepEqual(wh.verify(got.body, headers), got.json);
      assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(got.body, headers));
      assert.throws(() => wh.verify(got.body.replace('4000', '4001'), headers));
      assert.deepEqual(Object.keys(got.json).sort(), ['data', 'timestamp', 'type']);
    }
    const payment = hook.receiver.received.find((r) => r.json.type === 'payment.succeeded');
    assert.ok(payment);
    assert.equal(payment.json.data.id, paymentId);
    assert.equal(payment.json.data.amount, 4_000);
    assert.equal(payment.json.data.reference, 'TX-2026-000123456');
    assert.equal(payment.json.data.currency, 'MXN');
    const invoice = hook.receiver.received.find((r) => r.json.type === 'invoice.paid');
    assert.equal(invoice?.json.data.id, invoiceId);
    assert.equal(invoice?.json.data.status, 'PAID');

    const log = await deliveries(hook.id);
    assert.equal(log.length, 2);
    for (const entry of log) {
      assert.equal(entry.status, 'succeeded');
      assert.equal(entry.attempts, 1);
      assert.equal(entry.webhookId, entry.eventId);
      assert.equal(entry.lastAttempt?.responseCode, 200);
      assert.equal(entry.lastAttempt?.attempt, 1);
      assert.ok((entry.lastAttempt?.latencyMs ?? -1) >= 0);
      assert.ok(hook.receiver.received.some((r) => r.body === entry.lastAttempt?.requestBody && r.headers['webhook-id'] === entry.webhookId));
    }
    // Nothing more to send.
    assert.equal((await deliver()).claimed, 0);
  });

  test('a rolled-back payment sends nothing; the same payment committed sends', async () => {
    const hook = await endpoint(root, ['payment.succeeded']);
    const invoiceId = await newInvoice(adminA, f.students.beto, 3_000);
    const input = { schoolId: f.schoolA, invoiceId, amount: 1_000, method: 'cash' as const, reference: null, paidAt: new Date(), createdBy: null };
    let rolledBack: string | undefined;
    await assert.rejects(
      t.db.transaction().execute(async (trx) => {
        rolledBack = (await postPayment(trx, input)).id;
        assert.equal(Number((await trx.selectFrom('webhook_events').select((eb) => eb.fn.countAll().as('n')).where('object_id', '=', rolledBack).executeTakeFirstOrThrow()).n), 1);
        throw new Error('the caller fails after posting');
      }),
      /the caller fails/,
    );
    assert.ok(rolledBack);
    assert.equal((await t.db.selectFrom('webhook_events').select('id').where('object_id', '=', rolledBack).execute()).length, 0);
    await drain();
    assert.equal(hook.receiver.received.length, 0);

    const committed = await t.db.transaction().execute((trx) => postPayment(trx, input));
    await drain();
    assert.equal(hook.receiver.received.length, 1);
    assert.equal(hook.receiver.received[0]?.json.data.id, committed.id);
  });

  test('a receiver that answers 500, times out, drops the connection, then 200: retried with the same webhook-id, every attempt logged', async () => {
    const plan: ReturnType<Behaviour>[] = [500, 'hang', 'drop', 200];
    const hook = await endpoint(root, ['invoice.created'], (n) => plan[n] ?? 200);
    const invoiceId = await newInvoice(adminA, f.students.anaA);
    const t0 = Date.now();
    const rounds = [t0, t0 + HOUR, t0 + 2 * HOUR, t0 + 3 * HOUR];
    const totals = [];
    for (const at of rounds) {
      totals.push(await deliver(new Date(at), { timeoutMs: 300 }));
    }
    assert.deepEqual(totals.map((x) => [x.claimed, x.succeeded, x.retried]), [[1, 0, 1], [1, 0, 1], [1, 0, 1], [1, 1, 0]]);
    assert.equal(hook.receiver.received.length, 4);
    const ids = new Set(hook.receiver.received.map((r) => r.headers['webhook-id']));
    assert.equal(ids.size, 1);
    assert.ok(hook.receiver.received.every((r) => r.json.data.id === invoiceId));

    const [log] = await deliveries(hook.id);
    assert.equal(log?.status, 'succeeded');
    assert.equal(log?.attempts, 4);
    const attempts = await t.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', '=', log?.id ?? '').orderBy('attempt').execute();
    assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3, 4]);
    assert.deepEqual(attempts.map((a) => a.response_code), [500, null, null, 200]);
    assert.equal(attempts[0]?.error, 'HTTP 500');
    assert.match(attempts[1]?.error ?? '', /timed out/);
    assert.ok(attempts[2]?.error);
    assert.equal(attempts[3]?.error, null);
  });

  test('backoff: a failed delivery is not retried before its (jittered, exponential) time', async () => {
    const hook = await endpoint(root, ['invoice.created'], () => 503);
    await newInvoice(adminA, f.students.anaA);
    const t0 = Date.now();
    assert.equal((await deliver(new Date(t0))).retried, 1);
    // random 0.5 → exactly the base: 5 s after attempt 1, 10 s after attempt 2.
    assert.equal((await deliver(new Date(t0 + 4_000))).claimed, 0);
    assert.equal((await deliver(new Date(t0 + 5_000))).claimed, 1);
    assert.equal((await deliver(new Date(t0 + 14_000))).claimed, 0);
    assert.equal((await deliver(new Date(t0 + 15_000))).claimed, 1);
    assert.equal(hook.receiver.received.length, 3);
  });

  test('in order per object: a later event of an object waits while an earlier one is pending', async () => {
    // The first request fails; everything after succeeds.
    const hook = await endpoint(root, ['invoice.created', 'invoice.paid', 'payment.succeeded'], (n) => (n === 0 ? 500 : 200));
    const invoiceId = await newInvoice(adminA, f.students.beto, 2_000);
    const paid = await adminA.pay({ invoiceId, amount: 2_000, method: 'cash' });
    assert.equal(paid.statusCode, 201, paid.body);
    const t0 = Date.now();
    await deliver(new Date(t0));
    // invoice.created failed; payment.succeeded (another object) went; invoice.paid waits.
    assert.deepEqual(hook.receiver.received.map((r) => r.json.type).sort(), ['invoice.created', 'payment.succeeded']);
    await drain(new Date(t0 + 1_000));
    assert.ok(!hook.receiver.received.some((r) => r.json.type === 'invoice.paid'), 'invoice.paid must wait for invoice.created');
    await drain(new Date(t0 + HOUR));
    const ofInvoice = hook.receiver.received.filter((r) => r.json.data.id === invoiceId).map((r) => r.json.type);
    assert.deepEqual(ofInvoice, ['invoice.created', 'invoice.created', 'invoice.paid']);
  });

  test('replay sends a delivery again with the same webhook-id and body; rotate-secret signs the next one with the new secret', async () => {
    const hook = await endpoint(root, ['refund.created']);
    const invoiceId = await newInvoice(adminA, f.students.anaA, 6_000);
    const paid = await adminA.pay({ invoiceId, amount: 6_000, method: 'card' });
    const refunded = await adminA.refund(paid.json<{ id: string }>().id, { amount: 1_500, reason: 'duplicate charge' });
    assert.equal(refunded.statusCode, 201, refunded.body);
    await drain();
    assert.equal(hook.receiver.received.length, 1);
    const first = hook.receiver.received[0];
    assert.equal(first?.json.type, 'refund.created');
    assert.equal(first?.json.data.amount, 1_500);
    const [log] = await deliveries(hook.id);
    assert.ok(log);

    const rotated = (await root.post(`/webhook-endpoints/${hook.id}/rotate-secret`, {})).json<{ secret: string }>().secret;
    const replay = await root.post(`/webhook-deliveries/${log.id}/replay`, {});
    assert.equal(replay.statusCode, 202, replay.body);
    assert.equal(replay.json<Delivery>().status, 'pending');
    await drain();
    assert.equal(hook.receiver.received.length, 2);
    const again = hook.receiver.received[1];
    assert.equal(again?.headers['webhook-id'], first?.headers['webhook-id']);
    assert.equal(again?.body, first?.body);
    const headers = (r: typeof again) => ({ 'webhook-id': String(r?.headers['webhook-id']), 'webhook-timestamp': String(r?.headers['webhook-timestamp']), 'webhook-signature': String(r?.headers['webhook-signature']) });
    assert.doesNotThrow(() => new Webhook(rotated).verify(again?.body ?? '', headers(again)));
    assert.throws(() => new Webhook(hook.secret).verify(again?.body ?? '', headers(again)));
    assert.equal((await deliveries(hook.id))[0]?.attempts, 2);
    // A school admin cannot replay another school's delivery (404), nor a missing one.
    assert.equal((await root.post(`/webhook-deliveries/${randomUUID()}/replay`, {})).statusCode, 404);
  });

  test('rotate-secret with previousValidHours: both secrets sign every delivery until then, only the new one after', async () => {
    const hook = await endpoint(root, ['refund.created']);
    const invoiceId = await newInvoice(adminA, f.students.anaA, 6_000);
    const paymentId = (await adminA.pay({ invoiceId, amount: 6_000, method: 'card' })).json<{ id: string }>().id;
    const before = Date.now();
    const tooLong = await root.post(`/webhook-endpoints/${hook.id}/rotate-secret`, { previousValidHours: 73 });
    assert.equal(tooLong.statusCode, 400, tooLong.body);
    assert.match(tooLong.body, /previousValidHours/);
    const rotated = await root.post(`/webhook-endpoints/${hook.id}/rotate-secret`, { previousValidHours: 24 });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const { secret, previousSecretValidUntil } = rotated.json<{ secret: string; previousSecretValidUntil: string }>();
    const until = Date.parse(previousSecretValidUntil);
    assert.ok(until >= before + 24 * HOUR && until <= Date.now() + 24 * HOUR, previousSecretValidUntil);

    const signatures = (r: (typeof hook.receiver.received)[number] | undefined) => String(r?.headers['webhook-signature']).split(' ');
    const signed = (r: (typeof hook.receiver.received)[number] | undefined, with_: string) =>
      new Webhook(with_).sign(String(r?.headers['webhook-id']), new Date(Number(r?.headers['webhook-timestamp']) * 1000), r?.body ?? '');
    assert.equal((await adminA.refund(paymentId, { amount: 1_000, reason: 'overlap' })).statusCode, 201);
    await drain();
    const during = hook.receiver.received.at(-1);
    assert.deepEqual(signatures(during), [signed(during, secret), signed(during, hook.secret)], 'the new secret’s signature, then the old one’s');
    const headers = { 'webhook-id': String(during?.headers['webhook-id']), 'webhook-timestamp': String(during?.headers['webhook-timestamp']), 'webhook-signature': String(during?.headers['webhook-signature']) };
    assert.doesNotThrow(() => new Webhook(secret).verify(during?.body ?? '', headers), 'a receiver with the new secret accepts it');
    assert.doesNotThrow(() => new Webhook(hook.secret).verify(during?.body ?? '', headers), 'and one still on the old secret too');

    // After the overlap (the worker's clock a day and an hour on) only the new secret signs.
    assert.equal((await adminA.refund(paymentId, { amount: 500, reason: 'after' })).statusCode, 201);
    await drain(new Date(until + HOUR));
    const after = hook.receiver.received.at(-1);
    assert.notEqual(after?.headers['webhook-id'], during?.headers['webhook-id']);
    assert.deepEqual(signatures(after), [signed(after, secret)]);

    // A rotation without options (no body at all) stops the old secret at once.
    const again = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhook-endpoints/${hook.id}/rotate-secret`,
      headers: { authorization: `Bearer ${(await login(t.app, 'root')).accessToken}` },
    });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json<{ previousSecretValidUntil: string | null }>().previousSecretValidUntil, null);
    const stored = await t.db.selectFrom('webhook_endpoints').select(['previous_secret', 'previous_secret_until']).where('id', '=', hook.id).executeTakeFirstOrThrow();
    assert.deepEqual(stored, { previous_secret: null, previous_secret_until: null });
  });

  test('send test event: an endpoint.test to that endpoint only', async () => {
    const hook = await endpoint(adminA, ['invoice.paid']);
    const other = await endpoint(root, ['invoice.paid']);
    const sent = await adminA.post(`/webhook-endpoints/${hook.id}/test`, {});
    assert.equal(sent.statusCode, 202, sent.body);
    await drain();
    assert.equal(hook.receiver.received.length, 1);
    assert.equal(hook.receiver.received[0]?.json.type, 'endpoint.test');
    assert.equal(hook.receiver.received[0]?.headers['webhook-id'], sent.json<{ eventId: string }>().eventId);
    assert.equal(other.receiver.received.length, 0);
  });

  test('scoping: a school admin’s endpoint never receives another school’s event; the super admin’s receives both', async () => {
    const mine = await endpoint(adminA, ['invoice.created']);
    const all = await endpoint(root, ['invoice.created']);
    const limited = await endpoint(root, ['invoice.created'], undefined, { schoolIds: [f.schoolB] });
    const inA = await newInvoice(root, f.students.anaA);
    const inB = await newInvoice(root, f.students.carla);
    await drain();
    assert.deepEqual(mine.receiver.received.map((r) => r.json.data.id), [inA]);
    assert.deepEqual(all.receiver.received.map((r) => r.json.data.id).sort(), [inA, inB].sort());
    assert.deepEqual(limited.receiver.received.map((r) => r.json.data.id), [inB]);
    // The admin loses school A: their endpoint receives nothing more from it.
    const adminId = (await t.db.selectFrom('users').select('id').where('username', '=', 'admin.a').executeTakeFirstOrThrow()).id;
    await t.db.deleteFrom('user_schools').where('user_id', '=', adminId).execute();
    await newInvoice(root, f.students.anaA);
    await drain();
    assert.equal(mine.receiver.received.length, 1);
    await t.db.insertInto('user_schools').values({ user_id: adminId, school_id: f.schoolA }).execute();
  });

  test('masking: data is what the owner’s role may see (a finance-style owner gets the payment reference masked)', async () => {
    await insertUser(t.db, { username: 'owner.fa', role: 'super_admin' });
    const owner = client(t.app, (await login(t.app, 'owner.fa')).accessToken);
    const masked = await endpoint(owner, ['payment.succeeded']);
    const clear = await endpoint(root, ['payment.succeeded']);
    // Its owner becomes a finance analyst (PII masked, every school).
    await t.db.updateTable('users').set({ role: 'finance_analyst' }).where('username', '=', 'owner.fa').execute();
    const invoiceId = await newInvoice(adminA, f.students.anaA, 1_000);
    assert.equal((await adminA.pay({ invoiceId, amount: 1_000, method: 'card', reference: 'TX-2026-000123456' })).statusCode, 201);
    await drain();
    assert.equal(clear.receiver.received[0]?.json.data.reference, 'TX-2026-000123456');
    assert.equal(masked.receiver.received[0]?.json.data.reference, '***3456');
    assert.ok(!masked.receiver.received[0]?.body.includes('000123456'));
    // Deleting needs webhooks:manage, which the analyst no longer has: the super admin does it.
    endpoints.splice(endpoints.findIndex((e) => e.id === masked.id), 1);
    await root.delete(`/webhook-endpoints/${masked.id}`);
  });

  test('payment.failed and credit_note.created are published with their objects', async () => {
    const hook = await endpoint(root, ['payment.failed', 'credit_note.created']);
    const invoiceId = await newInvoice(adminA, f.students.anaA, 9_000);
    const transactionId = await t.db.transaction().execute((trx) =>
      createPaymentsRepository().insertTransaction(trx, { schoolId: f.schoolA, invoiceId, amount: 9_000, method: 'card', status: 'failed', failureCode: 'card_declined', failureMessage: 'Declined' }),
    );
    const note = await adminA.post(`/invoices/${invoiceId}/credit-notes`, { amount: 2_000, reason: 'sibling discount' }, { 'idempotency-key': randomUUID() });
    assert.equal(note.statusCode, 201, note.body);
    await drain();
    const byType = new Map(hook.receiver.received.map((r) => [r.json.type, r.json.data]));
    assert.equal(byType.get('payment.failed')?.id, transactionId);
    assert.equal(byType.get('payment.failed')?.failureCode, 'card_declined');
    assert.equal(byType.get('credit_note.created')?.id, note.json<{ id: string }>().id);
    assert.match(String(byType.get('credit_note.created')?.number), /^CN-\d{6}$/);
  });

  test('after 3 days of failures the endpoint is disabled, its owner told in the outbox; enabling it again resumes', async () => {
    const hook = await endpoint(adminA, ['invoice.created'], () => 500);
    await newInvoice(adminA, f.students.anaA);
    const t0 = Date.now();
    await deliver(new Date(t0));
    await deliver(new Date(t0 + 86_400_000));
    await deliver(new Date(t0 + 2 * 86_400_000));
    const last = await deliver(new Date(t0 + RETRY_WINDOW_MS + 1_000));
    assert.deepEqual([last.failed, last.disabled], [1, 1]);
    const read = (await adminA.get(`/webhook-endpoints/${hook.id}`)).json<{ enabled: boolean; disabledReason: string | null }>();
    assert.equal(read.enabled, false);
    assert.match(read.disabledReason ?? '', /3 days/);
    const [log] = await deliveries(hook.id);
    assert.equal(log?.status, 'failed');
    assert.equal(log?.attempts, 4);
    const notice = await t.db.selectFrom('messages').selectAll().where('kind', '=', 'webhook_disabled').where('body', 'like', `%${hook.id}%`).execute();
    assert.equal(notice.length, 1);
    assert.equal(notice[0]?.status, 'outbox');
    assert.equal(notice[0]?.recipient, 'admin.a');
    // While disabled: no new deliveries for it, nothing sent.
    await newInvoice(adminA, f.students.anaA);
    assert.equal((await deliver(new Date(t0 + 4 * 86_400_000))).claimed, 0);
    // Enabled again (receiver fixed): the failed one is replayed by hand, new events flow.
    hook.receiver.behave(() => 200);
    assert.equal((await adminA.patch(`/webhook-endpoints/${hook.id}`, { enabled: true })).statusCode, 200);
    assert.equal((await adminA.post(`/webhook-deliveries/${log?.id ?? ''}/replay`, {})).statusCode, 202);
    const third = await newInvoice(adminA, f.students.anaA);
    await drain(new Date(t0 + 4 * 86_400_000));
    assert.equal(hook.receiver.received.at(-1)?.json.data.id, third);
    assert.equal((await deliveries(hook.id)).filter((d) => d.status === 'succeeded').length, 2);
  });

  test('SSRF at delivery: a target that is no longer allowed is refused when sending, not contacted', async () => {
    const hook = await endpoint(root, ['invoice.created']);
    await newInvoice(adminA, f.students.anaA);
    // The same outbox delivered by a worker configured without WEBHOOKS_ALLOW_LOCAL.
    const totals = await deliver(new Date(), { allowLocal: false });
    assert.equal(totals.retried, 1);
    assert.equal(hook.receiver.received.length, 0);
    const [log] = await deliveries(hook.id);
    assert.match(log?.lastAttempt?.error ?? '', /^refused: /);
  });

  test('no subscribed endpoint: posting 2 000 invoices writes no outbox row', async () => {
    // An endpoint for another event type only.
    await endpoint(root, ['payment.failed']);
    const before = Number((await t.db.selectFrom('webhook_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    await t.db.transaction().execute((trx) =>
      postInvoices(trx, Array.from({ length: 2_000 }, () => ({ schoolId: f.schoolA, studentId: f.students.beto, description: 'bulk', dueDate: f.future, lines: [{ kind: 'charge' as const, code: 'fee', description: 'Fee', amount: 100 }] }))),
    );
    const afterCount = Number((await t.db.selectFrom('webhook_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    assert.equal(afterCount, before);
    // With a subscriber, the same bulk posting is one event (and one delivery) per invoice.
    const hook = await endpoint(root, ['invoice.created']);
    await t.db.transaction().execute((trx) =>
      postInvoices(trx, Array.from({ length: 300 }, () => ({ schoolId: f.schoolA, studentId: f.students.beto, description: 'bulk', dueDate: f.future, lines: [{ kind: 'charge' as const, code: 'fee', description: 'Fee', amount: 100 }] }))),
    );
    const made = await t.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', hook.id).execute();
    assert.equal(made.length, 300);
  });
});
