import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

/**
 * Model-based test: random sequences of create / pay / refund / cancel run against the
 * real API and database and, in parallel, against a tiny in-memory model of the rules.
 * After every step the HTTP outcome must match the model's verdict, and at the end of
 * each sequence every invoice must agree with the model and with its own rows:
 *   paidAmount = Σ payments − Σ refunds,  0 ≤ paid ≤ amount,  status = f(amount, paid, due, cancelled),
 *   and the student statement's totals = the sums over the model's invoices.
 */
type Op =
  | { kind: 'create'; amount: number; overdue: boolean }
  | { kind: 'pay'; invoice: number; amount: number }
  | { kind: 'refund'; payment: number; amount: number }
  | { kind: 'cancel'; invoice: number };

interface ModelInvoice {
  id: string;
  amount: number;
  paid: number;
  overdue: boolean;
  cancelled: boolean;
}
interface ModelPayment {
  id: string;
  invoice: number;
  amount: number;
  refunded: number;
}

function expectedStatus(invoice: ModelInvoice): string {
  if (invoice.cancelled) {
    return 'CANCELLED';
  }
  if (invoice.paid >= invoice.amount) {
    return 'PAID';
  }
  if (invoice.overdue) {
    return 'OVERDUE';
  }
  return invoice.paid > 0 ? 'PARTIAL' : 'PENDING';
}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), amount: fc.integer({ min: 1, max: 20_000 }), overdue: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pay' as const), invoice: fc.nat(), amount: fc.integer({ min: 1, max: 12_000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), payment: fc.nat(), amount: fc.integer({ min: 1, max: 8_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), invoice: fc.nat() }) },
);

describe('billing model', () => {
  let t: TestApp;
  let api: Client;
  let schoolId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'modeller', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'modeller')).accessToken);
    schoolId = (await api.post('/schools', { name: 'Model School', timezone: 'America/Bogota', currency: 'COP' })).json<{ id: string }>().id;
  });
  after(() => t.close());

  test('random create/pay/refund/cancel sequences keep every invariant', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 30 }), async (ops) => {
        const studentId = (await api.post('/students', { schoolId, firstName: 'Model', lastName: 'Student', grade: '1' })).json<{ id: string }>().id;
        const invoices: ModelInvoice[] = [];
        const payments: ModelPayment[] = [];

        for (const op of ops) {
          switch (op.kind) {
            case 'create': {
              const dueDate = op.overdue ? '2020-01-15' : '2099-01-15';
              const response = await api.post('/invoices', { studentId, amount: op.amount, dueDate });
              assert.equal(response.statusCode, 201);
              invoices.push({ id: response.json<{ id: string }>().id, amount: op.amount, paid: 0, overdue: op.overdue, cancelled: false });
              break;
            }
            case 'pay': {
              const invoice = invoices[op.invoice % Math.max(1, invoices.length)];
              if (!invoice) {
                break;
              }
              const response = await api.pay({ invoiceId: invoice.id, amount: op.amount, method: 'card' });
              const expected = invoice.cancelled ? 409 : op.amount > invoice.amount - invoice.paid ? 422 : 201;
              assert.equal(response.statusCode, expected, `pay ${op.amount} on ${JSON.stringify(invoice)}: ${response.body}`);
              if (expected === 201) {
                invoice.paid += op.amount;
                payments.push({ id: response.json<{ id: string }>().id, invoice: invoices.indexOf(invoice), amount: op.amount, refunded: 0 });
              }
              break;
            }
            case 'refund': {
              const payment = payments[op.payment % Math.max(1, payments.length)];
              if (!payment) {
                break;
              }
              const response = await api.refund(payment.id, { amount: op.amount });
              const expected = op.amount > payment.amount - payment.refunded ? 422 : 201;
              assert.equal(response.statusCode, expected, `refund ${op.amount} of ${JSON.stringify(payment)}: ${response.body}`);
              if (expected === 201) {
                payment.refunded += op.amount;
                const invoice = invoices[payment.invoice];
                assert.ok(invoice);
                invoice.paid -= op.amount;
              }
              break;
            }
            case 'cancel': {
              const invoice = invoices[op.invoice % Math.max(1, invoices.length)];
              if (!invoice) {
                break;
              }
              const response = await api.delete(`/invoices/${invoice.id}`);
              const expected = invoice.cancelled || invoice.paid === 0 ? 200 : 409;
              assert.equal(response.statusCode, expected);
              if (expected === 200) {
                invoice.cancelled = true;
              }
              break;
            }
          }
        }

        for (const invoice of invoices) {
          const api_ = (await api.get(`/invoices/${invoice.id}`)).json<{ paidAmount: number; pendingAmount: number; amount: number; status: string }>();
          assert.equal(api_.paidAmount, invoice.paid, 'paidAmount matches the model');
          assert.equal(api_.pendingAmount, invoice.amount - invoice.paid);
          assert.ok(api_.paidAmount >= 0 && api_.paidAmount <= api_.amount);
          assert.equal(api_.status, expectedStatus(invoice));
          const paid = payments.filter((p) => invoices[p.invoice] === invoice);
          const rows = await t.db
            .selectFrom('invoices')
            .select((eb) => [
              eb.selectFrom('payments').select((e) => e.fn.coalesce(e.fn.sum<number>('amount'), e.lit(0)).as('s')).whereRef('payments.invoice_id', '=', 'invoices.id').as('payments'),
              eb.selectFrom('refunds').select((e) => e.fn.coalesce(e.fn.sum<number>('amount'), e.lit(0)).as('s')).whereRef('refunds.invoice_id', '=', 'invoices.id').as('refunds'),
            ])
            .where('id', '=', invoice.id)
            .executeTakeFirstOrThrow();
          assert.equal(Number(rows.payments) - Number(rows.refunds), invoice.paid, 'paidAmount = Σ payments − Σ refunds');
          assert.equal(Number(rows.payments), paid.reduce((sum, p) => sum + p.amount, 0));
        }

        const live = invoices.filter((invoice) => !invoice.cancelled);
        const statement = await api.get(`/students/${studentId}/statement`);
        assert.equal(statement.statusCode, 200, statement.body);
        const { summary } = statement.json<{ summary: { totalInvoiced: number; totalPaid: number; totalCredited: number; totalPending: number; totalOverdue: number } }>();
        assert.deepEqual(summary, {
          totalInvoiced: live.reduce((sum, i) => sum + i.amount, 0),
          totalPaid: live.reduce((sum, i) => sum + i.paid, 0),
          // No credit notes or write-offs in these sequences.
          totalCredited: 0,
          totalPending: live.reduce((sum, i) => sum + i.amount - i.paid, 0),
          totalOverdue: live.filter((i) => expectedStatus(i) === 'OVERDUE').reduce((sum, i) => sum + i.amount - i.paid, 0),
        });
      }),
      { numRuns: 25 },
    );
  });
});
