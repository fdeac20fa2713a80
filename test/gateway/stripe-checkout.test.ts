import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { startFakeStripe, type FakeStripe } from '../helpers/stripe.js';

/**
 * Stripe Checkout through the official `stripe` SDK (SPEC §8), against a local server that
 * speaks the part of Stripe's API Bursar uses and signs webhooks as Stripe does: the
 * session's client_reference_id and metadata, `checkout.session.completed` recording the
 * payment once under its payment intent, `async_payment_failed` a failed transaction, and
 * signatures checked by the SDK.
 */
interface Checkout {
  id: string;
  url: string;
  provider: string;
  amount: number;
}

describe('online payment through Stripe Checkout (the official SDK against a local Stripe)', () => {
  let t: TestApp;
  let stripe: FakeStripe;
  let admin: Client;
  let schoolId: string;
  let origin = '';
  const secretKey = 'sk_test_bursar_fake_key';
  const webhookSecret = 'whsec_bursar_fake_secret';

  before(async () => {
    stripe = await startFakeStripe({ secretKey, webhookSecret, webhookUrl: () => `${origin}/api/v1/gateway/webhooks/stripe` });
    t = await createTestApp({ env: { PUBLIC_URL: 'https://school.example.edu', STRIPE_SECRET_KEY: secretKey, STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_BASE: stripe.url } });
    origin = await t.app.listen({ port: 0, host: '127.0.0.1' });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    const root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await root.post('/schools', { name: 'Colegio Stripe', timezone: 'America/Bogota', currency: 'COP' })).json<{ id: string }>().id;
    await insertUser(t.db, { username: 'admin', role: 'school_admin', schoolIds: [schoolId] });
    admin = client(t.app, (await login(t.app, 'admin')).accessToken);
  });
  after(async () => {
    await t.close();
    await stripe.close();
  });

  const familyWithInvoice = async (amount: number) => {
    const fam = (await admin.post('/families', { schoolId, name: 'Familia Pago', guardians: [{ firstName: 'Eva', lastName: 'Pago', email: 'eva@hogar.co', preferredLanguage: 'en' }] })).json<{ id: string }>();
    const student = (await admin.post('/students', { schoolId, firstName: 'Tom', lastName: 'Pago', grade: '4', familyId: fam.id })).json<{ id: string }>().id;
    const bill = (await admin.post('/invoices', { studentId: student, amount, dueDate: '2026-12-20' })).json<{ id: string; number: string }>();
    return { familyId: fam.id, bill };
  };
  const answer = (body: string) => JSON.parse(body) as { recorded?: string; detail?: string; errors?: { field: string }[] };
  const statusOf = async (id: string) => (await admin.get(`/invoices/${id}`)).json<{ status: string; pendingAmount: number }>();
  const paymentsWith = (reference: string) => t.db.selectFrom('payments').select(['amount', 'method']).where('reference', '=', reference).execute();

  test('a checkout opens a Stripe session that names the invoice; checkout.session.completed records the payment once', async () => {
    const { bill } = await familyWithInvoice(250_000_00);
    const opened = await admin.post(`/invoices/${bill.id}/checkout`, {});
    assert.equal(opened.statusCode, 201, opened.body);
    const checkout = opened.json<Checkout>();
    assert.equal(checkout.provider, 'stripe');
    assert.equal(checkout.amount, 250_000_00);
    const session = [...stripe.sessions.values()].find((s) => checkout.url === s.url);
    assert.ok(session, 'the URL is the Stripe session’s');
    assert.equal(session.client_reference_id, bill.id);
    assert.deepEqual(session.metadata, { schoolId, checkoutId: checkout.id, invoiceId: bill.id });
    assert.equal(session.amount_total, 250_000_00);
    assert.equal(session.currency, 'cop');
    assert.equal(session.mode, 'payment');
    assert.equal(session.locale, 'en');
    assert.equal(session.customer_email, 'eva@hogar.co');
    assert.equal(session.success_url, `https://school.example.edu/invoices/${bill.id}?checkout=${checkout.id}&result=paid`);
    const request = stripe.requests.at(-1);
    assert.equal(request?.headers['idempotency-key'], `bursar-checkout-${checkout.id}`);
    assert.match(String(request?.headers['user-agent']), /^Stripe\/v1 NodeBindings/);

    const completed = await stripe.send('checkout.session.completed', session.id, { paymentIntent: 'pi_once' });
    assert.equal(completed.status, 200, completed.body);
    assert.equal(answer(completed.body).recorded, 'payment');
    assert.equal((await statusOf(bill.id)).status, 'PAID');
    assert.deepEqual(await paymentsWith('pi_once'), [{ amount: 250_000_00, method: 'card' }]);

    // Stripe retries the event (signed anew): nothing more.
    const retried = await stripe.send('checkout.session.completed', session.id, { paymentIntent: 'pi_once' });
    assert.equal(answer(retried.body).recorded, 'duplicate');
    assert.equal((await paymentsWith('pi_once')).length, 1);
  });

  test('asynchronous methods: completed-but-unpaid waits; async_payment_failed is a failed transaction; a family session names the family', async () => {
    const { familyId, bill } = await familyWithInvoice(90_000_00);
    const opened = await admin.post(`/families/${familyId}/checkout`, { amount: 40_000_00 });
    assert.equal(opened.statusCode, 201, opened.body);
    const session = [...stripe.sessions.values()].find((s) => s.url === opened.json<Checkout>().url);
    assert.ok(session);
    assert.equal(session.client_reference_id, `family:${familyId}`);
    assert.equal(session.metadata.familyId, familyId);

    const pending = await stripe.send('checkout.session.completed', session.id, { paymentStatus: 'unpaid', paymentIntent: 'pi_async' });
    assert.equal(answer(pending.body).recorded, 'ignored');
    const failed = await stripe.send('checkout.session.async_payment_failed', session.id);
    assert.equal(answer(failed.body).recorded, 'failed_attempt');
    const failures = await t.db.selectFrom('transactions').select(['gateway', 'failure_code', 'amount', 'invoice_id']).where('school_id', '=', schoolId).where('status', '=', 'failed').execute();
    assert.deepEqual(failures, [{ gateway: 'stripe', failure_code: 'async_payment_failed', amount: 40_000_00, invoice_id: null }]);
    assert.equal((await statusOf(bill.id)).pendingAmount, 90_000_00);

    // A later success of another attempt records the family payment.
    const succeeded = await stripe.send('checkout.session.async_payment_succeeded', session.id, { paymentIntent: 'pi_async_2' });
    assert.equal(answer(succeeded.body).recorded, 'family_payment');
    assert.equal((await statusOf(bill.id)).pendingAmount, 50_000_00);
  });

  test('signatures are Stripe’s: another secret, an old timestamp or a replay → 400 and nothing recorded', async () => {
    const { bill } = await familyWithInvoice(10_000_00);
    const checkout = (await admin.post(`/invoices/${bill.id}/checkout`, {})).json<Checkout>();
    const session = [...stripe.sessions.values()].find((s) => s.url === checkout.url);
    assert.ok(session);
    const forged = await stripe.send('checkout.session.completed', session.id, { secret: 'whsec_someone_else', paymentIntent: 'pi_forged' });
    assert.equal(forged.status, 400);
    assert.equal(answer(forged.body).errors?.[0]?.field, 'stripe-signature');
    const old = await stripe.send('checkout.session.completed', session.id, { at: new Date(Date.now() - 10 * 60_000), paymentIntent: 'pi_old' });
    assert.equal(old.status, 400);
    assert.match(answer(old.body).detail ?? '', /old timestamp/);
    assert.equal((await paymentsWith('pi_forged')).length + (await paymentsWith('pi_old')).length, 0);

    const good = await stripe.send('checkout.session.completed', session.id, { paymentIntent: 'pi_good' });
    assert.equal(good.status, 200);
    const replay = await t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/stripe', payload: good.payload, headers: { 'content-type': 'application/json', 'stripe-signature': good.signature } });
    assert.equal(replay.statusCode, 400);
    assert.match(problemOf(replay).detail ?? '', /replayed/);
    assert.equal((await paymentsWith('pi_good')).length, 1);
    // With Stripe configured, the simulator's webhook route is not there.
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/simulator', payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode, 404);
    assert.doesNotMatch((await t.app.inject({ method: 'GET', url: '/gateway-simulator/checkout/sim_cs_x' })).body, /Pasarela de pago de prueba|Test payment gateway/);
  });

  test('Stripe unreachable: the checkout is a 503 problem, and nothing is half written', async () => {
    const { bill } = await familyWithInvoice(5_000_00);
    stripe.failing = true;
    try {
      const refused = await admin.post(`/invoices/${bill.id}/checkout`, {});
      assert.equal(refused.statusCode, 503, refused.body);
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    } finally {
      stripe.failing = false;
    }
    const rows = await t.db.selectFrom('checkout_sessions').select('id').where('invoice_id', '=', bill.id).execute();
    assert.deepEqual(rows, []);
  });
});
