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
interface Receipt {
  payment: { id: string; amount: number; refundedAmount: number; invoiceId: string };
  invoice: { id: string; status: string; paidAmount: number; pendingAmount: number };
}

describe('payments and refunds', () => {
  let t: TestApp;
  let api: Client;
  let studentId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'cashier', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'cashier')).accessToken);
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
    const partial = await api.refund(paid.payment.id, { amount: 4_000, reason: 'overcharged' });
    assert.equal(partial.statusCode, 201);
    const body = partial.json<Receipt & { refund: { amount: number } }>();
    assert.equal(body.refund.amount, 4_000);
    assert.equal(body.payment.refundedAmount, 4_000);
    assert.deepEqual(body.invoice, { id: created.id, status: 'PARTIAL', paidAmount: 5_000, pendingAmount: 4_000 });
    const tooMuch = await api.refund(paid.payment.id, { amount: 5_001 });
    assert.equal(tooMuch.statusCode, 422);
    assert.equal(problemOf(tooMuch).code, 'REFUND_EXCEEDS_PAYMENT');
    const rest = await api.refund(paid.payment.id, { amount: 5_000 });
    assert.equal(rest.json<Receipt>().invoice.status, 'PENDING');
    assert.deepEqual(await sums(created.id), { paid: 9_000, refunded: 9_000 });
    const refundTx = await t.db.selectFrom('transactions').select('amount').where('invoice_id', '=', created.id).where('status', '=', 'refunded').execute();
    assert.deepEqual(refundTx.map((r) => r.amount).sort(), [4_000, 5_000]);
    // Fully refunded: now it may be cancelled.
    assert.equal((await api.delete(`/invoices/${created.id}`)).statusCode, 200);
  });

  test('payments are immutable through the API: no PUT, PATCH or DELETE routes', async () => {
    const created = await newInvoice(100);
    const { payment } = (await api.pay({ invoiceId: created.id, amount: 100, method: 'cash' })).json<Receipt>();
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
      const ids = new Set(responses.map((r) => r.json<Receipt>().payment.id));
      assert.equal(ids.size, 1);
      assert.equal(responses.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 19);
      assert.deepEqual(await sums(created.id), { paid: 1_000, refunded: 0 });
      assert.equal((await invoice(created.id)).paidAmount, 1_000);
    });

    test('refunds are idempotent too', async () => {
      const created = await newInvoice(1_000);
      const { payment } = (await api.pay({ invoiceId: created.id, amount: 1_000, method: 'card' })).json<Receipt>();
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
      const { payment } = (await api.pay({ invoiceId: created.id, amount: 1_000, method: 'card' })).json<Receipt>();
      const responses = await Promise.all(Array.from({ length: 10 }, () => api.refund(payment.id, { amount: 300 })));
      assert.equal(responses.filter((r) => r.statusCode === 201).length, 3);
      const { refunded } = await sums(created.id);
      assert.equal(refunded, 900);
      assert.equal((await invoice(created.id)).paidAmount, 100);
    });

    test('concurrent payments and refunds keep paidAmount = payments − refunds', async () => {
      const created = await newInvoice(50_000);
      const { payment } = (await api.pay({ invoiceId: created.id, amount: 10_000, method: 'card' })).json<Receipt>();
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
    const { payment } = response.json<Receipt>();
    const audit = await t.db.selectFrom('audit_log').select(['action', 'request_id', 'entity_id']).where('request_id', '=', 'pay-audit-1').execute();
    assert.deepEqual(audit, [{ action: 'payment.create', request_id: 'pay-audit-1', entity_id: payment.id }]);
  });
});
