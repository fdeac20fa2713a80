import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

interface Invoice {
  id: string;
  amount: number;
  paidAmount: number;
  pendingAmount: number;
  status: string;
}
/** POST /payments: the payment at the top level, the invoice it changed as `invoice`. */
interface Receipt {
  id: string;
  invoiceId: string;
  amount: number;
  refundedAmount: number;
  invoice: { id: string; status: string; paidAmount: number; pendingAmount: number };
}
/** POST /payments/:id/refunds: the refund at the top level, with the refunded payment and the invoice. */
interface RefundReceipt {
  id: string;
  paymentId: string;
  invoiceId: string;
  amount: number;
  reason: string | null;
  payment: { id: string; refundedAmount: number };
  invoice: Receipt['invoice'];
}

describe('payments and refunds', () => {
  let t: TestApp;
  let api: Client;
  let token: string;
  let studentId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'cashier', role: 'super_admin' });
    token = (await login(t.app, 'cashier')).accessToken;
    api = client(t.app, token);
    const school = (await api.post('/schools', { name: 'Pay School', currency: 'MXN', timezone: 'America/Mexico_City' })).json<{ id: string }>();
    studentId = (await api.post('/students', { schoolId: school.id, firstName: 'Pia', lastName: 'Pagos', grade: '4' })).json<{ id: string }>().id;
  });
  after(() => t.close());

  const newInvoice = async (amount: number, dueDate = '2099-01-10') => {
    const response = await api.post('/invoices', { studentId, amount, dueDate });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Invoice>();
  };
  const invoice = async (id: string) => (await api.get(`/invoices/${id}`)).json<Invoice>();
  const sums = async (invoiceId: string) => {
    const paid = await t.db.selectFrom('payments').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), eb.lit(0)).as('s')).where('invoice_id', '=', invoiceId).executeTakeFirstOrThrow();
    const refunded = await t.db.selectFrom('refunds').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), eb.lit(0)).as('s')).where('invoice_id', '=', invoiceId).executeTakeFirstOrThrow();
    return { paid: Number(paid.s), refunded: Number(refunded.s) };
  };

  test('PENDING → PARTIAL → PAID, paidAmount maintained with each payment, a transaction per payment', async () => {
    const created = await newInvoice(10_000);
    assert.equal(created.status, 'PENDING');
    assert.equal(created.pendingAmount, 10_000);
    const first = await api.pay({ invoiceId: created.id, amount: 4_000, method: 'card', reference: 'CARD-1234' });
    assert.equal(first.statusCode, 201);
    assert.deepEqual(first.json<Receipt>().invoice, { id: created.id, status: 'PARTIAL', paidAmount: 4_000, pendingAmount: 6_000 });
    const second = await api.pay({ invoiceId: created.id, amount: 6_000, method: 'cash' });
    assert.equal(second.json<Receipt>().invoice.status, 'PAID');
    const after_ = await invoice(created.id);
    assert.equal(after_.paidAmount, 10_000);
    const transactions = await t.db.selectFrom('transactions').select(['status', 'amount', 'payment_id']).where('invoice_id', '=', created.id).execute();
    assert.deepEqual(transactions.map((tx) => [tx.status, tx.amount]).sort(), [['succeeded', 4_000], ['succeeded', 6_000]]);
    const payments = (await api.get(`/invoices/${created.id}/payments`)).json<{ data: { amount: number }[] }>();
    assert.deepEqual(payments.data.map((p) => p.amount).sort(), [4_000, 6_000]);
  });

  test('overpayment is refused with 422 OVERPAYMENT naming amount; nothing is written', async () => {
    const created = await newInvoice(5_000);
    await api.pay({ invoiceId: created.id, amount: 3_000, method: 'card' });
    const response = await api.pay({ invoiceId: created.id, amount: 2_001, method: 'card' });
    assert.equal(response.statusCode, 422);
    const problem = problemOf(response);
    assert.equal(problem.code, 'OVERPAYMENT');
    assert.equal(problem.errors?.[0]?.field, 'amount');
    assert.deepEqual(await sums(created.id), { paid: 3_000, refunded: 0 });
    assert.equal((await invoice(created.id)).paidAmount, 3_000);
  });

  test('a cancelled invoice takes no payment (409); an invoice with payments cannot be cancelled (409)', async () => {
    const cancelled = await newInvoice(1_000);
    const cancel = await api.delete(`/invoices/${cancelled.id}`);
    assert.equal(cancel.statusCode, 200);
    assert.equal(cancel.json<Invoice>().status, 'CANCELLED');
    const refused = await api.pay({ invoiceId: cancelled.id, amount: 10, method: 'cash' });
    assert.equal(refused.statusCode, 409);
    assert.equal(problemOf(refused).code, 'INVOICE_CANCELLED');

    const paid = await newInvoice(1_000);
    await api.pay({ invoiceId: paid.id, amount: 10, method: 'cash' });
    const cannot = await api.delete(`/invoices/${paid.id}`);
    assert.equal(cannot.statusCode, 409);
    assert.equal(problemOf(cannot).code, 'INVOICE_HAS_PAYMENTS');
    assert.notEqual((await invoice(paid.id)).status, 'CANCELLED');
  });

  test('PATCH never lets the amount drop below what is paid', async () => {
    const created = await newInvoice(8_000);
    await api.pay({ invoiceId: created.id, amount: 5_000, method: 'cash' });
    const below = await api.patch(`/invoices/${created.id}`, { amount: 4_999 });
    assert.equal(below.statusCode, 422);
    assert.equal(problemOf(below).errors?.[0]?.field, 'amount');
    const exact = await api.patch(`/invoices/${created.id}`, { amount: 5_000 });
    assert.equal(exact.statusCode, 200);
    assert.equal(exact.json<Invoice>().status, 'PAID');
  });

  test('refunds: partial then full move the invoice back; never more than refundable', async () => {
    const created = await newInvoice(9_000);
    const paid = (await api.pay({ invoiceId: created.id, amount: 9_000, method: 'bank_transfer' })).json<Receipt>();
    assert.equal(paid.invoice.status, 'PAID');
    const partial = await api.refund(paid.id, { amount: 4_000, reason: 'overcharged' });
    assert.equal(partial.statusCode, 201);
    const body = partial.json<RefundReceipt>();
    assert.equal(body.amount, 4_000);
    assert.equal(body.paymentId, paid.id);
    assert.equal(body.payment.refundedAmount, 4_000);
    assert.deepEqual(body.invoice, { id: created.id, status: 'PARTIAL', paidAmount: 5_000, pendingAmount: 4_000 });
    const tooMuch = await api.refund(paid.id, { amount: 5_001 });
    assert.equal(tooMuch.statusCode, 422);
    assert.equal(problemOf(tooMuch).code, 'REFUND_EXCEEDS_PAYMENT');
    const rest = await api.refund(paid.id, { amount: 5_000 });
    assert.equal(rest.json<RefundReceipt>().invoice.status, 'PENDING');
    assert.deepEqual(await sums(created.id), { paid: 9_000, refunded: 9_000 });
    const refundTx = await t.db.selectFrom('transactions').select('amount').where('invoice_id', '=', created.id).where('status', '=', 'refunded').execute();
    assert.deepEqual(refundTx.map((r) => r.amount).sort(), [4_000, 5_000]);
    // Fully refunded: now it may be cancelled.
    assert.equal((await api.delete(`/invoices/${created.id}`)).statusCode, 200);
  });

  test('payments are immutable through the API: no PUT, PATCH or DELETE routes', async () => {
    const created = await newInvoice(100);
    const payment = (await api.pay({ invoiceId: created.id, amount: 100, method: 'cash' })).json<Receipt>();
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      const response = await t.app.inject({ method, url: `/api/v1/payments/${payment.id}`, headers: { authorization: 'Bearer x' }, payload: method === 'DELETE' ? undefined : { amount: 1 } });
      assert.equal(response.statusCode, 404, `${method} must not exist`);
    }
  });

  test('bad money input is 400 naming the field', async () => {
    const created = await newInvoice(100);
    for (const [payload, field] of [
      [{ invoiceId: created.id, amount: 0, method: 'cash' }, 'amount'],
      [{ invoiceId: created.id, amount: 10.5, method: 'cash' }, 'amount'],
      [{ invoiceId: created.id, amount: -1, method: 'cash' }, 'amount'],
      [{ invoiceId: created.id, amount: '10', method: 'cash', extra: 1 }, 'extra'],
      [{ invoiceId: created.id, amount: 10, method: 'cheque' }, 'method'],
      [{ invoiceId: 'nope', amount: 10, method: 'cash' }, 'invoiceId'],
      [{ invoiceId: created.id, amount: 10, method: 'cash', paidAt: 'yesterday' }, 'paidAt'],
    ] as const) {
      const response = await api.pay(payload);
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.ok(problemOf(response).errors?.some((e) => e.field === field), `${field} named for ${JSON.stringify(payload)}`);
    }
    const future = await api.pay({ invoiceId: created.id, amount: 10, method: 'cash', paidAt: new Date(Date.now() + 86_400_000).toISOString() });
    assert.equal(future.statusCode, 400);
    assert.equal(problemOf(future).errors?.[0]?.field, 'paidAt');
    const missingInvoice = await api.pay({ invoiceId: randomUUID(), amount: 10, method: 'cash' });
    assert.equal(missingInvoice.statusCode, 404);
    assert.deepEqual(await sums(created.id), { paid: 0, refunded: 0 });
  });

  test('amounts are never coerced: true, "1000", [1000], null and 1e400 are 400 naming amount, and nothing is paid', async () => {
    const created = await newInvoice(5_000);
    for (const amount of [true, '1000', [1000], null, { value: 1000 }]) {
      const response = await api.pay({ invoiceId: created.id, amount, method: 'card' });
      assert.equal(response.statusCode, 400, JSON.stringify(amount));
      assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [['amount', 'body']], JSON.stringify(amount));
    }
    const infinite = await t.app.inject({
      method: 'POST',
      url: '/api/v1/payments',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
      payload: `{"invoiceId":"${created.id}","amount":1e400,"method":"card"}`,
    });
    assert.equal(infinite.statusCode, 400);
    assert.equal(problemOf(infinite).errors?.[0]?.field, 'amount');
    const refundOf = (await api.pay({ invoiceId: created.id, amount: 1_000, method: 'card' })).json<Receipt>();
    for (const amount of [true, '100', [100]]) {
      const response = await api.refund(refundOf.id, { amount });
      assert.equal(response.statusCode, 400, JSON.stringify(amount));
      assert.equal(problemOf(response).errors?.[0]?.field, 'amount');
    }
    const invoiceAmount = await api.post('/invoices', { studentId, amount: '5000', dueDate: '2099-01-10' });
    assert.equal(invoiceAmount.statusCode, 400);
    assert.equal(problemOf(invoiceAmount).errors?.[0]?.field, 'amount');
    assert.deepEqual(await sums(created.id), { paid: 1_000, refunded: 0 });
  });

  test('a NUL byte or a lone surrogate in the reference is a 400 naming reference, never a 500', async () => {
    const created = await newInvoice(1_000);
    for (const reference of ['a\u0000b', 'x\ud800', '\udc00y']) {
      const response = await api.pay({ invoiceId: created.id, amount: 10, method: 'cash', reference });
      assert.equal(response.statusCode, 400, JSON.stringify(reference));
      assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [['reference', 'body']]);
    }
    const reason = await api.refund((await api.pay({ invoiceId: created.id, amount: 10, method: 'cash' })).json<Receipt>().id, { amount: 1, reason: 'r\u0000' });
    assert.equal(reason.statusCode, 400);
    assert.equal(problemOf(reason).errors?.[0]?.field, 'reason');
  });

  describe('paidAt window', () => {
    test('before 2000 or after 2100 is a 400 naming paidAt', async () => {
      const created = await newInvoice(1_000);
      for (const paidAt of ['0001-01-01T00:00:00Z', '1999-12-31T23:59:59Z', '1970-01-01T00:00:00Z', '2101-01-01T00:00:00Z']) {
        const response = await api.pay({ invoiceId: created.id, amount: 10, method: 'cash', paidAt });
        assert.equal(response.statusCode, 400, paidAt);
        const problem = problemOf(response);
        assert.deepEqual(problem.errors?.map((e) => e.field), ['paidAt'], paidAt);
        assert.match(problem.errors?.[0]?.message ?? '', /must not be (before 2000-01-01|after 2100-12-31)/);
      }
      assert.deepEqual(await sums(created.id), { paid: 0, refunded: 0 });
    });

    test('more than a year before the school was registered is a 422 naming paidAt; within the year it is recorded', async () => {
      const created = await newInvoice(1_000);
      const school = await t.db.selectFrom('invoices').innerJoin('schools', 'schools.id', 'invoices.school_id').select('schools.created_at').where('invoices.id', '=', created.id).executeTakeFirstOrThrow();
      const registered = school.created_at.getTime();
      const tooEarly = await api.pay({ invoiceId: created.id, amount: 10, method: 'cash', paidAt: new Date(registered - 400 * 86_400_000).toISOString() });
      assert.equal(tooEarly.statusCode, 422);
      assert.equal(problemOf(tooEarly).errors?.[0]?.field, 'paidAt');
      const lastSpring = await api.pay({ invoiceId: created.id, amount: 10, method: 'cash', paidAt: new Date(registered - 200 * 86_400_000).toISOString() });
      assert.equal(lastSpring.statusCode, 201, lastSpring.body);
      assert.deepEqual(await sums(created.id), { paid: 10, refunded: 0 });
    });
  });

  describe('contract (SPEC §3): the created resource at the top level, the changed invoice as `invoice`', () => {
    test('POST /payments answers 201 with the payment fields and invoice', async () => {
      const created = await newInvoice(3_000);
      const paidAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 30 * 86_400_000).toISOString();
      const response = await api.pay({ invoiceId: created.id, amount: 1_200, method: 'bank_transfer', reference: 'SPEI-778899', paidAt });
      assert.equal(response.statusCode, 201);
      const body = response.json<Record<string, unknown>>();
      assert.deepEqual(Object.keys(body).sort(), ['amount', 'createdAt', 'currency', 'id', 'invoice', 'invoiceId', 'method', 'paidAt', 'receiptNumber', 'reference', 'refundedAmount', 'schoolId', 'studentId'].sort());
      assert.match(String(body.receiptNumber), /^PAYS-\d{4}-\d{6}$/);
      assert.equal(body.invoiceId, created.id);
      assert.equal(body.amount, 1_200);
      assert.equal(body.method, 'bank_transfer');
      assert.equal(body.reference, 'SPEI-778899');
      assert.equal(body.paidAt, paidAt);
      assert.deepEqual(body.invoice, { id: created.id, status: 'PARTIAL', paidAmount: 1_200, pendingAmount: 1_800 });
      const { invoice: _invoice, ...payment } = body;
      assert.deepEqual((await api.get(`/payments/${String(body.id)}`)).json(), payment, 'the same fields as GET /payments/:id');
    });

    test('POST /payments/:id/refunds answers 201 with the refund fields, payment and invoice', async () => {
      const created = await newInvoice(3_000);
      const paid = (await api.pay({ invoiceId: created.id, amount: 3_000, method: 'card' })).json<Receipt>();
      const response = await api.refund(paid.id, { amount: 500, reason: 'duplicate' });
      assert.equal(response.statusCode, 201);
      const body = response.json<RefundReceipt & Record<string, unknown>>();
      assert.deepEqual(Object.keys(body).sort(), ['amount', 'createdAt', 'id', 'invoice', 'invoiceId', 'payment', 'paymentId', 'reason', 'schoolId'].sort());
      assert.equal(body.paymentId, paid.id);
      assert.equal(body.invoiceId, created.id);
      assert.equal(body.amount, 500);
      assert.equal(body.reason, 'duplicate');
      assert.equal(body.payment.refundedAmount, 500);
      assert.deepEqual(body.invoice, { id: created.id, status: 'PARTIAL', paidAmount: 2_500, pendingAmount: 500 });
    });

    test('an idempotent replay answers the same shape, also for a response stored in the old {payment, invoice} shape', async () => {
      const created = await newInvoice(3_000);
      const key = randomUUID();
      const first = await api.pay({ invoiceId: created.id, amount: 700, method: 'cash' }, key);
      const replay = await api.pay({ invoiceId: created.id, amount: 700, method: 'cash' }, key);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.deepEqual(replay.json(), first.json());
      // A key stored before the upgrade holds the old shape.
      const { invoice, ...payment } = first.json<Receipt & Record<string, unknown>>();
      await t.db.updateTable('idempotency_keys').set({ response_body: JSON.stringify({ payment, invoice }) }).where('key', '=', key).execute();
      const old = await api.pay({ invoiceId: created.id, amount: 700, method: 'cash' }, key);
      assert.equal(old.headers['idempotent-replayed'], 'true');
      assert.deepEqual(old.json(), first.json());

      const refundKey = randomUUID();
      const refund = await api.refund(first.json<Receipt>().id, { amount: 100 }, refundKey);
      const { payment: refunded, invoice: after_, ...refundRow } = refund.json<RefundReceipt & Record<string, unknown>>();
      await t.db.updateTable('idempotency_keys').set({ response_body: JSON.stringify({ refund: refundRow, payment: refunded, invoice: after_ }) }).where('key', '=', refundKey).execute();
      const oldRefund = await api.refund(first.json<Receipt>().id, { amount: 100 }, refundKey);
      assert.equal(oldRefund.headers['idempotent-replayed'], 'true');
      assert.deepEqual(oldRefund.json(), refund.json());
      assert.deepEqual(await sums(created.id), { paid: 700, refunded: 100 });
    });
  });

  describe('Idempotency-Key', () => {
    test('is required on money-moving POSTs', async () => {
      const created = await newInvoice(100);
      const response = await api.post('/payments', { invoiceId: created.id, amount: 10, method: 'cash' });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [['idempotency-key', 'headers']]);
    });

    test('same key + same body → the first response again, one payment', async () => {
      const created = await newInvoice(1_000);
      const key = randomUUID();
      const first = await api.pay({ invoiceId: created.id, amount: 300, method: 'card' }, key);
      const again = await api.pay({ method: 'card', amount: 300, invoiceId: created.id }, key); // same body, other key order
      assert.equal(again.statusCode, 201);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(first.headers['idempotent-replayed'], undefined);
      assert.deepEqual(again.json(), first.json());
      assert.deepEqual(await sums(created.id), { paid: 300, refunded: 0 });
    });

    test('same key + other body → 422, nothing written', async () => {
      const created = await newInvoice(1_000);
      const key = randomUUID();
      await api.pay({ invoiceId: created.id, amount: 300, method: 'card' }, key);
      const other = await api.pay({ invoiceId: created.id, amount: 301, method: 'card' }, key);
      assert.equal(other.statusCode, 422);
      assert.equal(problemOf(other).code, 'IDEMPOTENCY_KEY_REUSED');
      assert.deepEqual(await sums(created.id), { paid: 300, refunded: 0 });
    });

    test('keys are scoped per caller', async () => {
      await insertUser(t.db, { username: 'second.cashier', role: 'super_admin' });
      const other = client(t.app, (await login(t.app, 'second.cashier')).accessToken);
      const created = await newInvoice(1_000);
      const key = randomUUID();
      assert.equal((await api.pay({ invoiceId: created.id, amount: 100, method: 'card' }, key)).statusCode, 201);
      const theirs = await other.pay({ invoiceId: created.id, amount: 100, method: 'card' }, key);
      assert.equal(theirs.statusCode, 201);
      assert.equal(theirs.headers['idempotent-replayed'], undefined);
      assert.deepEqual(await sums(created.id), { paid: 200, refunded: 0 });
    });

    test('a rejected request does not burn its key', async () => {
      const created = await newInvoice(100);
      const key = randomUUID();
      assert.equal((await api.pay({ invoiceId: created.id, amount: 101, method: 'card' }, key)).statusCode, 422);
      await api.patch(`/invoices/${created.id}`, { amount: 101 });
      assert.equal((await api.pay({ invoiceId: created.id, amount: 101, method: 'card' }, key)).statusCode, 201);
    });

    test('keys are kept at least 24 hours; an expired key may be used again', async () => {
      const created = await newInvoice(1_000);
      const key = randomUUID();
      await api.pay({ invoiceId: created.id, amount: 100, method: 'card' }, key);
      const row = await t.db.selectFrom('idempotency_keys').select(['created_at', 'expires_at']).where('key', '=', key).executeTakeFirstOrThrow();
      assert.ok(row.expires_at.getTime() - row.created_at.getTime() >= 24 * 3600 * 1000);
      await t.db.updateTable('idempotency_keys').set({ expires_at: new Date(Date.now() - 1000) }).where('key', '=', key).execute();
      const reused = await api.pay({ invoiceId: created.id, amount: 100, method: 'card' }, key);
      assert.equal(reused.headers['idempotent-replayed'], undefined);
      assert.deepEqual(await sums(created.id), { paid: 200, refunded: 0 });
    });

    test('20 concurrent requests with one key make exactly one payment, and all get its response', async () => {
      const created = await newInvoice(10_000);
      const key = randomUUID();
      const responses = await Promise.all(Array.from({ length: 20 }, () => api.pay({ invoiceId: created.id, amount: 1_000, method: 'card' }, key)));
      assert.deepEqual([...new Set(responses.map((r) => r.statusCode))], [201]);
      const ids = new Set(responses.map((r) => r.json<Receipt>().id));
      assert.equal(ids.size, 1);
      assert.equal(responses.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 19);
      assert.deepEqual(await sums(created.id), { paid: 1_000, refunded: 0 });
      assert.equal((await invoice(created.id)).paidAmount, 1_000);
    });

    test('refunds are idempotent too', async () => {
      const created = await newInvoice(1_000);
      const payment = (await api.pay({ invoiceId: created.id, amount: 1_000, method: 'card' })).json<Receipt>();
      const key = randomUUID();
      const responses = await Promise.all(Array.from({ length: 5 }, () => api.refund(payment.id, { amount: 400 }, key)));
      assert.deepEqual([...new Set(responses.map((r) => r.statusCode))], [201]);
      assert.deepEqual(await sums(created.id), { paid: 1_000, refunded: 400 });
    });
  });

  describe('concurrency', () => {
    test('50 concurrent payments on one invoice never overpay', async () => {
      const created = await newInvoice(10_000);
      // 50 × 300 = 15 000 asked for, 10 000 owed: exactly 33 fit (9 900), the rest are refused.
      const responses = await Promise.all(Array.from({ length: 50 }, () => api.pay({ invoiceId: created.id, amount: 300, method: 'card' })));
      const ok = responses.filter((r) => r.statusCode === 201).length;
      const refused = responses.filter((r) => r.statusCode === 422).length;
      assert.equal(ok + refused, 50, `unexpected statuses: ${responses.map((r) => r.statusCode).join(',')}`);
      assert.equal(ok, 33);
      const { paid } = await sums(created.id);
      assert.equal(paid, 9_900);
      const after_ = await invoice(created.id);
      assert.equal(after_.paidAmount, paid, 'paidAmount equals the sum of the payment rows');
      assert.ok(after_.paidAmount <= after_.amount);
    });

    test('concurrent refunds on one payment never exceed it', async () => {
      const created = await newInvoice(1_000);
      const payment = (await api.pay({ invoiceId: created.id, amount: 1_000, method: 'card' })).json<Receipt>();
      const responses = await Promise.all(Array.from({ length: 10 }, () => api.refund(payment.id, { amount: 300 })));
      assert.equal(responses.filter((r) => r.statusCode === 201).length, 3);
      const { refunded } = await sums(created.id);
      assert.equal(refunded, 900);
      assert.equal((await invoice(created.id)).paidAmount, 100);
    });

    test('concurrent payments and refunds keep paidAmount = payments − refunds', async () => {
      const created = await newInvoice(50_000);
      const payment = (await api.pay({ invoiceId: created.id, amount: 10_000, method: 'card' })).json<Receipt>();
      await Promise.all([
        ...Array.from({ length: 15 }, () => api.pay({ invoiceId: created.id, amount: 2_000, method: 'cash' })),
        ...Array.from({ length: 15 }, () => api.refund(payment.id, { amount: 500 })),
      ]);
      const { paid, refunded } = await sums(created.id);
      const after_ = await invoice(created.id);
      assert.equal(after_.paidAmount, paid - refunded);
      assert.ok(after_.paidAmount >= 0 && after_.paidAmount <= after_.amount);
    });
  });

  test('every money write is audited with its request id', async () => {
    const created = await newInvoice(500);
    const response = await api.post('/payments', { invoiceId: created.id, amount: 500, method: 'wallet' }, { 'idempotency-key': randomUUID(), 'x-request-id': 'pay-audit-1' });
    const payment = response.json<Receipt>();
    const audit = await t.db.selectFrom('audit_log').select(['action', 'request_id', 'entity_id']).where('request_id', '=', 'pay-audit-1').execute();
    assert.deepEqual(audit, [{ action: 'payment.create', request_id: 'pay-audit-1', entity_id: payment.id }]);
  });
});
