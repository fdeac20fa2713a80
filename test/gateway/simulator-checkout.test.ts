import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { signPayload } from '../../src/modules/gateway/gateway.adapters.js';
import { simulatorSecret } from '../../src/modules/gatewaysim/gatewaysim.store.js';
import { payLinkKey, signFamilyPayToken, signPayToken } from '../../src/modules/paylinks/paylinks.tokens.js';

/**
 * Online payment through the bundled gateway simulator (SPEC §8): checkouts for an invoice
 * and a family (staff, guardian, pay link), the hosted page with the test cards, the signed
 * webhooks it sends (retried until taken), and Bursar recording each gateway payment once —
 * retries, replays, concurrent deliveries and events out of order included. Real
 * PostgreSQL; the server listens on loopback so the simulator's webhooks go over HTTP.
 */
interface Checkout {
  id: string;
  url: string;
  provider: string;
  amount: number;
  currency: string;
}
interface Invoice {
  id: string;
  number: string;
  status: string;
  pendingAmount: number;
}

describe('online payment through the gateway simulator', () => {
  let t: TestApp;
  let root: Client;
  let admin: Client;
  let schoolId: string;
  let otherSchool: string;
  let origin: string;

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL: 'https://pay.example.edu' } });
    origin = await t.app.listen({ port: 0, host: '127.0.0.1' });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await root.post('/schools', { name: 'Colegio Pasarela', timezone: 'America/Mexico_City', currency: 'MXN' })).json<{ id: string }>().id;
    otherSchool = (await root.post('/schools', { name: 'Otra', timezone: 'America/Mexico_City', currency: 'MXN' })).json<{ id: string }>().id;
    await insertUser(t.db, { username: 'admin', role: 'school_admin', schoolIds: [schoolId] });
    admin = client(t.app, (await login(t.app, 'admin')).accessToken);
  });
  after(() => t.close());

  let n = 0;
  /** A family with one guardian and one child; one invoice per amount. */
  const family = async (school: string, amounts: number[]) => {
    n++;
    const fam = (await root.post('/families', { schoolId: school, name: `Familia ${n}`, guardians: [{ firstName: 'Ana', lastName: `P${n}`, email: `ana${n}@correo.mx`, preferredLanguage: 'es' }] })).json<{
      id: string;
      reference: string;
      guardians: { id: string }[];
    }>();
    const student = (await root.post('/students', { schoolId: school, firstName: 'Leo', lastName: `P${n}`, grade: '2', familyId: fam.id })).json<{ id: string }>().id;
    const invoices: Invoice[] = [];
    for (const [i, amount] of amounts.entries()) {
      const created = await root.post('/invoices', { studentId: student, amount, dueDate: `2026-12-${String(10 + i).padStart(2, '0')}` });
      assert.equal(created.statusCode, 201, created.body);
      invoices.push(created.json<Invoice>());
    }
    return { family: fam, invoices };
  };
  const invoice = async (id: string) => (await root.get(`/invoices/${id}`)).json<Invoice>();
  const pagePath = (url: string) => new URL(url).pathname;
  /** Submits the hosted page's form (as a browser would) on the listening server. */
  const payWith = (checkout: Checkout, card: string, fields: Record<string, string> = {}) =>
    fetch(`${origin}${pagePath(checkout.url)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ card, expiry: '12/34', cvc: '123', name: 'Ana', ...fields }).toString(),
      redirect: 'manual',
    });
  const counts = async (sid: string) => {
    const { rows } = await sql<{ payments: string; failed: string }>`
      select (select count(*) from payments where school_id = ${sid}) as payments,
             (select count(*) from transactions where school_id = ${sid} and status = 'failed' and gateway = 'simulator') as failed`.execute(t.db);
    return { payments: Number(rows[0]?.payments), failed: Number(rows[0]?.failed) };
  };
  /** A webhook as the simulator would sign it (now, or at `at`). */
  const webhook = async (body: object, at = new Date(), secret?: string) => {
    const raw = JSON.stringify(body);
    const signature = signPayload(raw, secret ?? (await simulatorSecret(t.db)), at);
    return t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/simulator', payload: raw, headers: { 'content-type': 'application/json', 'simulator-signature': signature } });
  };
  const sessionOf = async (checkout: Checkout) =>
    (await t.db.selectFrom('checkout_sessions').select(['provider_session_id as sessionId', 'status']).where('id', '=', checkout.id).executeTakeFirstOrThrow());

  test('the hosted page: a declined card and insufficient funds become failed transactions; 4242 pays the invoice once', async () => {
    const { invoices: [bill] } = await family(schoolId, [125_000]);
    assert.ok(bill);
    const opened = await admin.post(`/invoices/${bill.id}/checkout`, {});
    assert.equal(opened.statusCode, 201, opened.body);
    const checkout = opened.json<Checkout>();
    assert.equal(checkout.provider, 'simulator');
    assert.equal(checkout.amount, 125_000);
    assert.equal(checkout.currency, 'MXN');
    assert.match(checkout.url, /^https:\/\/pay\.example\.edu\/gateway-simulator\/checkout\/sim_cs_/);

    const page = await fetch(`${origin}${pagePath(checkout.url)}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Colegio Pasarela/);
    assert.match(html, new RegExp(`Factura ${bill.number}`));
    assert.match(html, /\$1,250\.00/);
    assert.match(html, /4242 4242 4242 4242/);

    const before = await counts(schoolId);
    const notACard = await payWith(checkout, '1234 5678 9012 3456');
    assert.equal(notACard.status, 422);
    assert.match(await notACard.text(), /tarjetas de prueba/);
    const badExpiry = await payWith(checkout, '4242424242424242', { expiry: '01/20' });
    assert.equal(badExpiry.status, 422);
    assert.deepEqual(await counts(schoolId), before, 'the page refuses bad input itself: no event, nothing recorded');

    const declined = await payWith(checkout, '4000 0000 0000 0002');
    assert.equal(declined.status, 402);
    assert.match(await declined.text(), /rechazada/);
    const broke = await payWith(checkout, '4000000000009995');
    assert.equal(broke.status, 402);
    assert.match(await broke.text(), /fondos suficientes/);
    assert.deepEqual(await counts(schoolId), { payments: before.payments, failed: before.failed + 2 });
    const failures = await t.db.selectFrom('transactions').select(['failure_code', 'invoice_id', 'amount']).where('school_id', '=', schoolId).where('status', '=', 'failed').orderBy('created_at').execute();
    assert.deepEqual(failures.slice(-2), [
      { failure_code: 'card_declined', invoice_id: bill.id, amount: 125_000 },
      { failure_code: 'insufficient_funds', invoice_id: bill.id, amount: 125_000 },
    ]);
    assert.equal((await sessionOf(checkout)).status, 'failed');
    // Monitoring shows them (the live feed reads the same transactions rows).
    const monitoring = await root.get('/reports/transactions/failures');
    assert.equal(monitoring.statusCode, 200, monitoring.body);
    assert.match(monitoring.body, /insufficient_funds/);

    const paid = await payWith(checkout, '4242 4242 4242 4242');
    assert.equal(paid.status, 303);
    assert.equal(paid.headers.get('location'), `https://pay.example.edu/invoices/${bill.id}?checkout=${checkout.id}&result=paid`);
    // The webhook was sent (and taken) before the payer was sent back.
    const after = await invoice(bill.id);
    assert.equal(after.status, 'PAID');
    assert.equal((await counts(schoolId)).payments, before.payments + 1);
    assert.equal((await sessionOf(checkout)).status, 'paid');
    const payment = await t.db.selectFrom('payments').select(['method', 'reference', 'amount']).where('invoice_id', '=', bill.id).executeTakeFirstOrThrow();
    assert.equal(payment.method, 'card');
    assert.match(payment.reference ?? '', /^sim_pi_/);

    // Paying again on the completed session: the page says it is complete, nothing moves.
    const again = await payWith(checkout, '4242 4242 4242 4242');
    assert.equal(again.status, 409);
    assert.equal((await counts(schoolId)).payments, before.payments + 1);
    // The invoice is paid: no new checkout.
    assert.equal((await admin.post(`/invoices/${bill.id}/checkout`, {})).statusCode, 422);
  });

  test('exactly once per gateway payment id: the gateway’s retries, concurrent deliveries, replays and late failures record nothing more', async () => {
    const { invoices: [bill] } = await family(schoolId, [80_000]);
    assert.ok(bill);
    const checkout = (await admin.post(`/invoices/${bill.id}/checkout`, {})).json<Checkout>();
    const { sessionId } = await sessionOf(checkout);
    const event = (type: string, paymentId: string, extra: object = {}) => ({
      id: `evt_${type}_${paymentId}`,
      type,
      created: Math.floor(Date.now() / 1000),
      data: { sessionId, paymentId, amount: 80_000, currency: 'MXN', metadata: { schoolId, invoiceId: bill.id }, ...extra },
    });
    const before = await counts(schoolId);

    // Five deliveries of one success at once (each signed anew, as a gateway's retries are).
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => webhook(event('payment.succeeded', 'sim_pi_same'), new Date(Date.now() - i * 1000))));
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200, 200], answers.map((a) => a.body).join('\n'));
    const recorded = answers.map((a) => a.json<{ recorded: string }>().recorded).sort();
    assert.deepEqual(recorded, ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'payment']);
    assert.equal((await counts(schoolId)).payments, before.payments + 1);
    assert.equal((await invoice(bill.id)).status, 'PAID');

    // A failure of the same payment arriving after its success (out of order): ignored.
    const late = await webhook(event('payment.failed', 'sim_pi_same', { failureCode: 'card_declined' }));
    assert.equal(late.statusCode, 200);
    assert.equal(late.json<{ recorded: string }>().recorded, 'duplicate');
    assert.equal((await counts(schoolId)).failed, before.failed);

    // The very same signed request again is a replay: 400, nothing recorded.
    const raw = JSON.stringify(event('payment.succeeded', 'sim_pi_other'));
    const signature = signPayload(raw, await simulatorSecret(t.db), new Date());
    const send = () => t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/simulator', payload: raw, headers: { 'content-type': 'application/json', 'simulator-signature': signature } });
    const first = await send();
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json<{ recorded: string }>().recorded, 'family_payment', 'the invoice was paid meanwhile: the money becomes the family’s credit');
    const replay = await send();
    assert.equal(replay.statusCode, 400);
    assert.match(problemOf(replay).detail ?? '', /replayed/);
    const credit = await t.db.selectFrom('family_payments').select(['amount', 'credited', 'reference']).where('reference', '=', 'sim_pi_other').execute();
    assert.deepEqual(credit, [{ amount: 80_000, credited: 80_000, reference: 'sim_pi_other' }]);
  });

  test('bad signatures, old timestamps, unknown sessions and wrong amounts: 400 and nothing recorded', async () => {
    const { invoices: [bill] } = await family(schoolId, [50_000]);
    assert.ok(bill);
    const checkout = (await admin.post(`/invoices/${bill.id}/checkout`, {})).json<Checkout>();
    const { sessionId } = await sessionOf(checkout);
    const body = (extra: object = {}) => ({
      id: 'evt_x',
      type: 'payment.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { sessionId, paymentId: 'sim_pi_bad', amount: 50_000, currency: 'MXN', metadata: { schoolId }, ...extra },
    });
    const before = await counts(schoolId);
    const forged = await webhook(body(), new Date(), 'whsec_not_the_secret');
    assert.equal(forged.statusCode, 400);
    assert.equal(problemOf(forged).errors?.[0]?.field, 'simulator-signature');
    const old = await webhook(body(), new Date(Date.now() - 6 * 60_000));
    assert.equal(old.statusCode, 400);
    assert.match(problemOf(old).detail ?? '', /old timestamp/);
    const unsigned = await t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/simulator', payload: JSON.stringify(body()), headers: { 'content-type': 'application/json' } });
    assert.equal(unsigned.statusCode, 400);
    const unknown = await webhook(body({ sessionId: 'sim_cs_nope' }));
    assert.equal(unknown.statusCode, 400);
    assert.equal(problemOf(unknown).errors?.[0]?.field, 'data.sessionId');
    const otherSchoolsSession = await webhook(body({ metadata: { schoolId: otherSchool } }));
    assert.equal(otherSchoolsSession.statusCode, 400);
    const wrongAmount = await webhook(body({ amount: 1 }));
    assert.equal(wrongAmount.statusCode, 400);
    assert.equal(problemOf(wrongAmount).errors?.[0]?.field, 'data.amount');
    const notJson = await t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/simulator', payload: 'nope', headers: { 'content-type': 'text/plain' } });
    assert.equal(notJson.statusCode, 400);
    assert.equal(problemOf(notJson).errors?.[0]?.field, 'body');
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/gateway/webhooks/stripe', payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode, 404);
    assert.deepEqual(await counts(schoolId), before);
    assert.notEqual((await invoice(bill.id)).status, 'PAID');
  });

  test('a webhook the server could not take is retried until it is, and the payment recorded then', async () => {
    const { invoices: [bill] } = await family(schoolId, [30_000]);
    assert.ok(bill);
    const checkout = (await admin.post(`/invoices/${bill.id}/checkout`, {})).json<Checkout>();
    const { sessionId } = await sessionOf(checkout);
    // Bursar fails to take the first delivery (its table is away for a moment: a 500).
    await sql`alter table gateway_payments rename to gateway_payments_away`.execute(t.db);
    const paid = await payWith(checkout, '4242424242424242');
    assert.equal(paid.status, 303, 'the payer is sent back whatever happened to the webhook');
    await sql`alter table gateway_payments_away rename to gateway_payments`.execute(t.db);
    const pending = await t.db.selectFrom('gateway_sim_events').select(['attempts', 'delivered_at', 'last_error']).where('session_id', '=', sessionId).executeTakeFirstOrThrow();
    assert.equal(pending.attempts, 1);
    assert.equal(pending.delivered_at, null);
    assert.equal(pending.last_error, '500');
    assert.notEqual((await invoice(bill.id)).status, 'PAID');

    // Its retry time comes: sent again, taken, recorded.
    await t.db.updateTable('gateway_sim_events').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('session_id', '=', sessionId).execute();
    const simulator = t.app.gatewaySimulator;
    assert.ok(simulator);
    assert.deepEqual(await simulator.deliverDue(), { delivered: 1, failed: 0 });
    assert.equal((await invoice(bill.id)).status, 'PAID');
    assert.deepEqual(await simulator.deliverDue(), { delivered: 0, failed: 0 });
  });

  test('who may open a checkout: staff in their schools, a guardian for their own family, anyone holding a pay link', async () => {
    const mine = await family(schoolId, [40_000, 60_000]);
    const theirs = await family(schoolId, [10_000]);
    const foreign = await family(otherSchool, [10_000]);
    const [first, second] = mine.invoices;
    assert.ok(first && second);
    await insertUser(t.db, { username: 'ana', role: 'guardian', guardian: { schoolId, id: mine.family.guardians[0]?.id ?? '' } });
    const guardian = client(t.app, (await login(t.app, 'ana')).accessToken);
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    const analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);

    const own = await guardian.post(`/invoices/${first.id}/checkout`, { language: 'en' });
    assert.equal(own.statusCode, 201, own.body);
    const ownPage = await (await fetch(`${origin}${pagePath(own.json<Checkout>().url)}`)).text();
    assert.match(ownPage, /Invoice /);
    assert.match(ownPage, /lang="en"/, 'the page in the language asked for (the family’s otherwise)');
    assert.equal((await guardian.post(`/invoices/${theirs.invoices[0]?.id}/checkout`, {})).statusCode, 404);
    assert.equal((await guardian.post(`/invoices/${foreign.invoices[0]?.id}/checkout`, {})).statusCode, 404);
    assert.equal((await guardian.post(`/families/${theirs.family.id}/checkout`, {})).statusCode, 404);
    const part = await guardian.post(`/families/${mine.family.id}/checkout`, { amount: 45_000 });
    assert.equal(part.statusCode, 201, part.body);
    assert.equal(part.json<Checkout>().amount, 45_000);
    const all = await guardian.post(`/families/${mine.family.id}/checkout`, {});
    assert.equal(all.json<Checkout>().amount, 100_000);
    const tooMuch = await guardian.post(`/families/${mine.family.id}/checkout`, { amount: 100_001 });
    assert.equal(tooMuch.statusCode, 422);
    assert.equal(problemOf(tooMuch).errors?.[0]?.field, 'amount');
    assert.equal((await guardian.post(`/families/${mine.family.id}/checkout`, { amount: 0 })).statusCode, 400);

    assert.equal((await admin.post(`/invoices/${foreign.invoices[0]?.id}/checkout`, {})).statusCode, 404);
    assert.equal((await admin.post(`/families/${foreign.family.id}/checkout`, {})).statusCode, 404);
    assert.equal((await analyst.post(`/invoices/${first.id}/checkout`, {})).statusCode, 403);
    assert.equal((await client(t.app, null).post(`/invoices/${first.id}/checkout`, {})).statusCode, 401);

    // Paying the family checkout shares the money out oldest due first.
    const family45 = part.json<Checkout>();
    assert.equal((await payWith(family45, '4242424242424242')).status, 303);
    assert.equal((await invoice(first.id)).status, 'PAID');
    assert.equal((await invoice(second.id)).pendingAmount, 55_000);

    // A pay link opens a checkout without login; tampered 404, expired 410.
    const key = await payLinkKey(t.db);
    const anonymous = client(t.app, null);
    const token = signPayToken(key, second.id, new Date(Date.now() + 86_400_000));
    const viaLink = await anonymous.post(`/pay-links/${token}/checkout`, {});
    assert.equal(viaLink.statusCode, 201, viaLink.body);
    assert.equal(viaLink.json<Checkout>().amount, 55_000);
    assert.equal((await anonymous.post(`/pay-links/${token}/checkout`, { amount: 10 })).statusCode, 400);
    const expired = signPayToken(key, second.id, new Date(Date.now() - 1000));
    assert.equal((await anonymous.post(`/pay-links/${expired}/checkout`, {})).statusCode, 410);
    assert.equal((await anonymous.post(`/pay-links/${token.slice(0, -2)}AA/checkout`, {})).statusCode, 404);
    const familyLink = signFamilyPayToken(key, mine.family.id, new Date(Date.now() + 86_400_000));
    const familyCheckout = await anonymous.post(`/pay-links/${familyLink}/checkout`, { amount: 5_000 });
    assert.equal(familyCheckout.statusCode, 201, familyCheckout.body);
    const paid = await payWith(viaLink.json<Checkout>(), '4242424242424242');
    assert.equal(paid.headers.get('location'), `https://pay.example.edu/pay/${token}?checkout=${viaLink.json<Checkout>().id}&result=paid`);
    assert.equal((await invoice(second.id)).status, 'PAID');
    // The family owes nothing now: its link's checkout is refused.
    assert.equal((await anonymous.post(`/pay-links/${familyLink}/checkout`, {})).statusCode, 422);
  });
});
