import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

interface Line {
  kind: string;
  code: string;
  description: string;
  amount: number;
}
interface Invoice {
  id: string;
  number: string;
  description: string | null;
  amount: number;
  paidAmount: number;
  creditedAmount: number;
  pendingAmount: number;
  status: string;
  familyId: string | null;
  payerGuardianId: string | null;
  lines?: Line[];
}

describe('invoices through the ledger: lines, corrections, receipts', () => {
  let t: TestApp;
  let api: Client;
  let schoolId: string;
  let studentId: string;
  let familyId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'bursar', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'bursar')).accessToken);
    schoolId = (await api.post('/schools', { name: 'Colegio Miramar' })).json<{ id: string }>().id;
    familyId = (
      await t.db.insertInto('families').values({ school_id: schoolId, name: 'Mirón', reference: 'MIR-000001-0' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    studentId = (await api.post('/students', { schoolId, firstName: 'Ana', lastName: 'Mirón', grade: '4' })).json<{ id: string }>().id;
    await t.db.updateTable('students').set({ family_id: familyId }).where('id', '=', studentId).execute();
  });
  after(() => t.close());

  const create = async (amount: number, description?: string) => {
    const response = await api.post('/invoices', { studentId, amount, dueDate: '2099-09-05', ...(description === undefined ? {} : { description }) });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Invoice>();
  };

  test('POST /invoices is one charge line (description, or the number), with the student’s family', async () => {
    const described = await create(12_000, 'September tuition');
    assert.deepEqual(described.lines, [{ kind: 'charge', code: 'fee', description: 'September tuition', amount: 12_000 }]);
    assert.equal(described.familyId, familyId);
    assert.equal(described.payerGuardianId, null);
    assert.equal(described.creditedAmount, 0);
    const bare = await create(500);
    assert.deepEqual(bare.lines, [{ kind: 'charge', code: 'fee', description: bare.number, amount: 500 }]);
    const fetched = (await api.get(`/invoices/${bare.id}`)).json<Invoice>();
    assert.deepEqual(fetched.lines, bare.lines);
    const list = (await api.get(`/invoices?studentId=${studentId}`)).json<{ data: Invoice[] }>();
    assert.ok(list.data.length >= 2);
    assert.ok(list.data.every((invoice) => invoice.lines === undefined && typeof invoice.creditedAmount === 'number'), 'lists omit the lines');
  });

  test('PATCH amount adds a correction line; never below what is settled (422 naming amount)', async () => {
    const invoice = await create(10_000, 'Fee');
    const up = await api.patch(`/invoices/${invoice.id}`, { amount: 12_500 });
    assert.equal(up.statusCode, 200, up.body);
    const raised = up.json<Invoice>();
    assert.equal(raised.amount, 12_500);
    assert.deepEqual(raised.lines?.map((l) => [l.kind, l.code, l.amount]), [
      ['charge', 'fee', 10_000],
      ['charge', 'correction', 2_500],
    ]);
    const paid = await api.pay({ invoiceId: invoice.id, amount: 7_000, method: 'cash' });
    assert.equal(paid.statusCode, 201, paid.body);
    const down = await api.patch(`/invoices/${invoice.id}`, { amount: 8_000, description: 'Fee, corrected' });
    assert.equal(down.statusCode, 200, down.body);
    const lowered = down.json<Invoice>();
    assert.equal(lowered.amount, 8_000);
    assert.equal(lowered.description, 'Fee, corrected');
    assert.equal(lowered.pendingAmount, 1_000);
    assert.deepEqual(lowered.lines?.at(-1), { kind: 'discount', code: 'correction', description: 'Correction of the amount from 12500 to 8000', amount: -4_500 });
    assert.equal(lowered.lines?.reduce((sum, l) => sum + l.amount, 0), 8_000);
    const below = await api.patch(`/invoices/${invoice.id}`, { amount: 6_999 });
    assert.equal(below.statusCode, 422);
    assert.equal(problemOf(below).errors?.[0]?.field, 'amount');
    // The same amount again: no line.
    const same = await api.patch(`/invoices/${invoice.id}`, { amount: 8_000 });
    assert.equal(same.json<Invoice>().lines?.length, 3);
  });

  test('concurrent payments take receipts 1..N, no gap and no duplicate, even when some are refused', async () => {
    const school = (await api.post('/schools', { name: 'Liceo Sur' })).json<{ id: string }>().id;
    const student = (await api.post('/students', { schoolId: school, firstName: 'Sol', lastName: 'Sur', grade: '1' })).json<{ id: string }>().id;
    const ids = await Promise.all(
      [1, 2, 3, 4, 5].map(async () => (await api.post('/invoices', { studentId: student, amount: 1_000, dueDate: '2099-01-01' })).json<{ id: string }>().id),
    );
    // 6 payments of 200 per invoice: 5 fit, the 6th is an overpayment (422) and rolls back.
    const responses = await Promise.all(ids.flatMap((id) => Array.from({ length: 6 }, () => api.pay({ invoiceId: id, amount: 200, method: 'card' }))));
    const created = responses.filter((r) => r.statusCode === 201);
    assert.equal(created.length, 25);
    assert.equal(responses.filter((r) => r.statusCode === 422).length, 5);
    const seqs = created.map((r) => Number(r.json<{ receiptNumber: string }>().receiptNumber.split('-')[2])).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: 25 }, (_, i) => i + 1));
    assert.ok(created.every((r) => r.json<{ receiptNumber: string }>().receiptNumber.startsWith('LICE-')));
  });

  test('payments take gapless receipt numbers; cancel voids an unpaid invoice', async () => {
    const a = await create(1_000);
    const b = await create(1_000);
    const receipts = await Promise.all([a, b, a, b].map((invoice) => api.pay({ invoiceId: invoice.id, amount: 500, method: 'card' })));
    const numbers = receipts.map((r) => r.json<{ receiptNumber: string }>().receiptNumber).sort();
    const year = String(new Date().getUTCFullYear());
    assert.ok(numbers.every((n) => n.startsWith(`COLE-`)));
    const seqs = numbers.map((n) => Number(n.split('-')[2])).sort((x, y) => x - y);
    assert.deepEqual(seqs.slice(1).map((n, i) => n - (seqs[i] ?? 0)), [1, 1, 1], `consecutive: ${numbers.join(', ')} (${year})`);
    const first = receipts[0]?.json<{ id: string; receiptNumber: string }>();
    assert.equal((await api.get(`/payments/${first?.id ?? ''}`)).json<{ receiptNumber: string }>().receiptNumber, first?.receiptNumber);

    const unpaid = await create(700);
    const cancelled = await api.delete(`/invoices/${unpaid.id}`);
    assert.equal(cancelled.statusCode, 200);
    assert.equal(cancelled.json<Invoice>().status, 'CANCELLED');
    assert.equal((await api.delete(`/invoices/${a.id}`)).statusCode, 409);
  });
});
