import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { verifyRollups } from '../../src/modules/reporting/rollups.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

/**
 * Early-payment discounts, "pronto pago" (SPEC §8): terms on a fee plan or an item, the
 * discount a bill run offers on each invoice, earned by a direct payment or a family
 * payment that settles the invoice in full by its day — the discount line added in the
 * paying transaction — and not earned late, partly, or twice. Real PostgreSQL and routes.
 */
interface EarlyPayment {
  discount: number;
  payBy: string;
  applied: boolean;
  available: boolean;
  amountDue: number;
}
interface Invoice {
  id: string;
  number: string;
  amount: number;
  pendingAmount: number;
  status: string;
  dueDate: string;
  earlyPayment: EarlyPayment | null;
  lines?: { kind: string; code: string; amount: number }[];
}

describe('early-payment discounts (pronto pago)', () => {
  let t: TestApp;
  let root: Client;
  let schoolId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await root.post('/schools', { name: 'Colegio Pronto', timezone: 'America/Mexico_City', currency: 'MXN' })).json<{ id: string }>().id;
  });
  after(() => t.close());

  const ledgerOk = async () => {
    const ledger = await verifyLedgerInvariant(t.db);
    assert.equal(ledger.ok, true, JSON.stringify(ledger));
    const rollups = await verifyRollups(t.db);
    assert.equal(rollups.ok, true, JSON.stringify(rollups));
  };

  /** A family with `children` children on a plan (tuition 100 000 a month from 2026-09-10, 5 % by 5 days before; transport 20 000 with 1 000 off by the due date), billed through `through`. */
  const billed = async (name: string, children = 1, through = '2026-10-10') => {
    const family = (await root.post('/families', { schoolId, name, guardians: [{ firstName: 'Ana', lastName: name, email: `ana.${name.toLowerCase()}@correo.mx` }] })).json<{ id: string }>();
    const plan = await root.post('/fee-plans', {
      schoolId,
      name: `Plan ${name}`,
      academicYear: '2026-2027',
      yearStart: '2026-08-01',
      yearEnd: '2027-07-31',
      earlyPayment: { basis: 'percent', value: 5, byDay: -5 },
      items: [
        { code: 'TUITION', description: 'Colegiatura', amount: 100_000, schedule: { kind: 'monthly', firstDue: '2026-09-10', count: 10 } },
        { code: 'TRANSPORT', description: 'Transporte', amount: 20_000, schedule: { kind: 'monthly', firstDue: '2026-09-10', count: 10 }, earlyPayment: { basis: 'fixed', value: 1_000, byDay: 0 } },
      ],
    });
    assert.equal(plan.statusCode, 201, plan.body);
    const planId = plan.json<{ id: string }>().id;
    for (let c = 0; c < children; c++) {
      const student = (await root.post('/students', { schoolId, firstName: `Hijo${c}`, lastName: name, grade: '2', familyId: family.id })).json<{ id: string }>().id;
      const enrolment = await root.post(`/students/${student}/enrolments`, { feePlanId: planId, from: '2026-08-01' });
      assert.equal(enrolment.statusCode, 201, enrolment.body);
    }
    return { familyId: family.id, planId, through };
  };
  const run = async (through: string) => {
    const response = await root.post('/bill-runs', { schoolId, through });
    assert.equal(response.statusCode, 201, response.body);
  };
  const invoicesOf = async (familyId: string): Promise<Invoice[]> => {
    const rows = await t.db.selectFrom('invoices').select('id').where('family_id', '=', familyId).orderBy('due_date').orderBy('id').execute(); // the allocation order
    return Promise.all(rows.map(async (row) => (await root.get(`/invoices/${row.id}`)).json<Invoice>()));
  };
  const pay = (invoiceId: string, amount: number, paidAt: string) =>
    root.post('/payments', { invoiceId, amount, method: 'bank_transfer', paidAt }, { 'idempotency-key': randomUUID() });

  test('terms on the plan and on an item; the bill run offers the discount on each invoice, earned by the earliest day', async () => {
    const { familyId, planId } = await billed('Lara');
    const plan = (await root.get(`/fee-plans/${planId}`)).json<{ earlyPayment: unknown; items: { code: string; earlyPayment: unknown }[] }>();
    assert.deepEqual(plan.earlyPayment, { basis: 'percent', value: 5, byDay: -5 });
    assert.deepEqual(plan.items.map((i) => [i.code, i.earlyPayment]), [['TUITION', null], ['TRANSPORT', { basis: 'fixed', value: 1_000, byDay: 0 }]]);
    await run('2026-10-10');
    const [september, october] = await invoicesOf(familyId);
    assert.ok(september && october);
    assert.equal(september.amount, 120_000);
    assert.deepEqual(september.earlyPayment, { discount: 6_000, payBy: '2026-09-05', applied: false, available: false, amountDue: 114_000 });
    assert.equal(october.earlyPayment?.payBy, '2026-10-05');
  });

  test('a direct payment of what is due with the discount, by the day, earns it: the discount line is added and the invoice is paid', async () => {
    const { familyId } = await billed('Mora');
    await run('2026-09-10');
    const [invoice] = await invoicesOf(familyId);
    assert.ok(invoice);
    const response = await pay(invoice.id, 114_000, '2026-09-05T22:00:00-06:00');
    assert.equal(response.statusCode, 201, response.body);
    assert.deepEqual(response.json<{ invoice: { status: string; pendingAmount: number } }>().invoice, { ...response.json<{ invoice: object }>().invoice, status: 'PAID', pendingAmount: 0 });
    const after = (await root.get(`/invoices/${invoice.id}`)).json<Invoice>();
    assert.deepEqual([after.amount, after.pendingAmount, after.status], [114_000, 0, 'PAID']);
    assert.deepEqual(after.earlyPayment, { discount: 6_000, payBy: '2026-09-05', applied: true, available: false, amountDue: 0 });
    assert.deepEqual(after.lines?.filter((l) => l.kind === 'discount').map((l) => [l.code, l.amount]), [['early_payment', -6_000]]);
    const audit = await t.db.selectFrom('audit_log').select('changes').where('action', '=', 'payment.create').where('school_id', '=', schoolId).orderBy('id', 'desc').executeTakeFirstOrThrow();
    assert.equal((audit.changes as { earlyPaymentDiscount?: number }).earlyPaymentDiscount, 6_000);
    await ledgerOk();
  });

  test('not earned: a day late (in the school’s zone), by a part payment, or when the full price is paid; never twice', async () => {
    const { familyId } = await billed('Soto');
    await run('2026-10-10');
    const [september, october] = await invoicesOf(familyId);
    assert.ok(september && october);
    // 2026-09-06 00:30 in Mexico City is a day past 2026-09-05.
    const late = await pay(september.id, 114_000, '2026-09-06T00:30:00-06:00');
    assert.equal(late.statusCode, 201, late.body);
    let after = (await root.get(`/invoices/${september.id}`)).json<Invoice>();
    assert.deepEqual([after.amount, after.pendingAmount, after.status, after.earlyPayment?.applied], [120_000, 6_000, 'OVERDUE', false]);

    // October: a part payment early does not earn it; the rest by the day (what is open minus the discount) does.
    assert.equal((await pay(october.id, 50_000, '2026-10-01T10:00:00-06:00')).statusCode, 201);
    after = (await root.get(`/invoices/${october.id}`)).json<Invoice>();
    assert.deepEqual([after.pendingAmount, after.earlyPayment?.applied, after.earlyPayment?.amountDue], [70_000, false, 64_000]);
    assert.equal((await pay(october.id, 64_000, '2026-10-05T09:00:00-06:00')).statusCode, 201);
    after = (await root.get(`/invoices/${october.id}`)).json<Invoice>();
    assert.deepEqual([after.amount, after.pendingAmount, after.status, after.earlyPayment?.applied], [114_000, 0, 'PAID', true]);

    // The full price early: accepted as paid, without the discount.
    const { familyId: other } = await billed('Vera');
    await run('2026-09-10');
    const [full] = await invoicesOf(other);
    assert.ok(full);
    assert.equal((await pay(full.id, 120_000, '2026-09-01T09:00:00-06:00')).statusCode, 201);
    after = (await root.get(`/invoices/${full.id}`)).json<Invoice>();
    assert.deepEqual([after.amount, after.status, after.earlyPayment?.applied], [120_000, 'PAID', false]);
    await ledgerOk();
  });

  test('two concurrent payments of the discounted amount: one earns it and pays, the other is refused; nothing twice', async () => {
    const { familyId } = await billed('Paz');
    await run('2026-09-10');
    const [invoice] = await invoicesOf(familyId);
    assert.ok(invoice);
    const results = await Promise.all([pay(invoice.id, 114_000, '2026-09-02T10:00:00-06:00'), pay(invoice.id, 114_000, '2026-09-02T10:00:00-06:00')]);
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [201, 422]);
    assert.equal(problemOf(results.find((r) => r.statusCode === 422) ?? results[0]).code, 'OVERPAYMENT');
    const lines = await t.db.selectFrom('invoice_lines').select('amount').where('invoice_id', '=', invoice.id).where('code', '=', 'early_payment').execute();
    assert.deepEqual(lines.map((l) => Number(l.amount)), [-6_000]);
    await ledgerOk();
  });

  test('a family payment earns the discount of every invoice it settles in full by its day; the rest is credit', async () => {
    const { familyId } = await billed('Ruiz', 2);
    await run('2026-09-10');
    const invoices = await invoicesOf(familyId);
    assert.equal(invoices.length, 2);
    const response = await root.post(`/families/${familyId}/payments`, { amount: 2 * 114_000 + 1_500, method: 'bank_transfer', paidAt: '2026-09-04T12:00:00-06:00' }, { 'idempotency-key': randomUUID() });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json<{ allocated: number; credited: number; allocations: { amount: number }[] }>();
    assert.deepEqual([body.allocated, body.credited, body.allocations.map((a) => a.amount)], [228_000, 1_500, [114_000, 114_000]]);
    for (const invoice of await invoicesOf(familyId)) {
      assert.deepEqual([invoice.amount, invoice.status, invoice.earlyPayment?.applied], [114_000, 'PAID', true]);
    }
    // Too little to settle the second in full: the first earns it, the second gets the rest without.
    const { familyId: short } = await billed('Gil', 2);
    await run('2026-09-10');
    const partial = await root.post(`/families/${short}/payments`, { amount: 114_000 + 50_000, method: 'cash', paidAt: '2026-09-04T12:00:00-06:00' }, { 'idempotency-key': randomUUID() });
    assert.equal(partial.statusCode, 201, partial.body);
    const [first, second] = await invoicesOf(short);
    assert.deepEqual([first?.status, first?.earlyPayment?.applied, second?.status, second?.pendingAmount, second?.earlyPayment?.applied], ['PAID', true, 'OVERDUE', 70_000, false]);
    await ledgerOk();
  });

  test('an upcoming reminder tells the family how much paying early saves', async () => {
    const { familyId } = await billed('Aviso');
    await run('2026-09-10');
    const policy = await root.put(`/schools/${schoolId}/reminder-policy`, { steps: [{ offsetDays: -7, channel: 'email', template: 'upcoming' }] });
    assert.equal(policy.statusCode, 200, policy.body);
    const day = await root.post('/collections/run', { schoolId, date: '2026-09-03' });
    assert.equal(day.statusCode, 200, day.body);
    const messages = (await root.get(`/families/${familyId}/messages`)).json<{ data: { body: string }[] }>().data;
    assert.equal(messages.length, 1);
    assert.match(messages[0]?.body ?? '', /Pague \$1,140\.00 a más tardar el 5 de septiembre de 2026 y ahorre \$60\.00 \(descuento por pronto pago\)\./);
    await root.put(`/schools/${schoolId}/reminder-policy`, { steps: [] });
  });

  test('bad terms are refused naming the field; new terms apply to what is billed next', async () => {
    const base = { schoolId, name: 'Malo', academicYear: '2026-2027', yearStart: '2026-08-01', yearEnd: '2027-07-31' };
    const item = { code: 'T', description: 'T', amount: 1_000, schedule: { kind: 'once', dueDate: '2026-09-01' } };
    const tooMuch = await root.post('/fee-plans', { ...base, earlyPayment: { basis: 'percent', value: 150, byDay: 0 }, items: [item] });
    // Shape errors are the schema's 400s; values the plan's rules refuse, 422s (as for every item rule), each naming the field.
    assert.equal(tooMuch.statusCode, 422);
    assert.equal(problemOf(tooMuch).errors?.[0]?.field, 'earlyPayment.value');
    const fraction = await root.post('/fee-plans', { ...base, items: [{ ...item, earlyPayment: { basis: 'fixed', value: 10.5, byDay: 0 } }] });
    assert.equal(fraction.statusCode, 422);
    assert.equal(problemOf(fraction).errors?.[0]?.field, 'items.0.earlyPayment.value');
    const badDay = await root.post('/fee-plans', { ...base, items: [{ ...item, earlyPayment: { basis: 'fixed', value: 10, byDay: 400 } }] });
    assert.equal(badDay.statusCode, 400);

    const { familyId, planId } = await billed('Cruz');
    await run('2026-09-10');
    const patched = await root.patch(`/fee-plans/${planId}`, { earlyPayment: null });
    assert.equal(patched.statusCode, 200, patched.body);
    await run('2026-10-10');
    const [september, october] = await invoicesOf(familyId);
    assert.equal(september?.earlyPayment?.discount, 6_000, 'billed invoices keep their terms');
    assert.equal(october?.earlyPayment?.discount, 1_000, 'only the item’s own terms are left');
  });
});
