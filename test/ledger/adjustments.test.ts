import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

interface Adjustment {
  id: string;
  invoiceId: string;
  kind: string;
  amount: number;
  reason: string;
  number: string | null;
  createdAt: string;
  invoice: { id: string; status: string; paidAmount: number; creditedAmount: number; pendingAmount: number };
}

describe('credit notes and write-offs (POST /invoices/:id/credit-notes | write-offs)', () => {
  let t: TestApp;
  let api: Client;
  let schoolId: string;
  let otherSchoolId: string;
  let studentId: string;
  let otherStudentId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await api.post('/schools', { name: 'Colegio Nube' })).json<{ id: string }>().id;
    otherSchoolId = (await api.post('/schools', { name: 'Otra Escuela' })).json<{ id: string }>().id;
    studentId = (await api.post('/students', { schoolId, firstName: 'Ana', lastName: 'Nube', grade: '2' })).json<{ id: string }>().id;
    otherStudentId = (await api.post('/students', { schoolId: otherSchoolId, firstName: 'Otto', lastName: 'Otra', grade: '2' })).json<{ id: string }>().id;
    await insertUser(t.db, { username: 'admin-other', role: 'school_admin', schoolIds: [otherSchoolId] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
  });
  after(() => t.close());

  const invoice = async (amount: number, student = studentId, dueDate = '2099-01-10') => {
    const response = await api.post('/invoices', { studentId: student, amount, dueDate });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ id: string }>().id;
  };
  const adjust = (who: Client, id: string, kind: 'credit-notes' | 'write-offs', body: object, key = randomUUID()) =>
    who.post(`/invoices/${id}/${kind}`, body, { 'idempotency-key': key });

  test('a credit note answers 201 with its number and the invoice after it, and is audited', async () => {
    const id = await invoice(10_000);
    await api.pay({ invoiceId: id, amount: 3_000, method: 'cash' });
    const response = await adjust(api, id, 'credit-notes', { amount: 2_000, reason: ' sibling enrolled late ' });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json<Adjustment>();
    assert.deepEqual(Object.keys(body).sort(), ['amount', 'createdAt', 'id', 'invoice', 'invoiceId', 'kind', 'number', 'reason'].sort());
    assert.equal(body.kind, 'credit_note');
    assert.equal(body.number, 'CN-000001');
    assert.equal(body.reason, 'sibling enrolled late');
    assert.deepEqual(body.invoice, { id, status: 'PARTIAL', paidAmount: 3_000, creditedAmount: 2_000, pendingAmount: 5_000 });
    const fetched = (await api.get(`/invoices/${id}`)).json<{ paidAmount: number; creditedAmount: number; pendingAmount: number }>();
    assert.deepEqual([fetched.paidAmount, fetched.creditedAmount, fetched.pendingAmount], [3_000, 2_000, 5_000]);
    const audit = await t.db.selectFrom('audit_log').select(['action', 'entity_type', 'school_id']).where('entity_id', '=', body.id).executeTakeFirstOrThrow();
    assert.deepEqual(audit, { action: 'invoice.credit_note', entity_type: 'invoice_adjustment', school_id: schoolId });

    const second = (await adjust(api, id, 'credit-notes', { amount: 1, reason: 'rounding' })).json<Adjustment>();
    assert.equal(second.number, 'CN-000002');
    const writeOff = await adjust(api, id, 'write-offs', { amount: 4_999, reason: 'family left the country' });
    assert.equal(writeOff.statusCode, 201, writeOff.body);
    const wo = writeOff.json<Adjustment>();
    assert.equal(wo.kind, 'write_off');
    assert.equal(wo.number, null);
    assert.deepEqual(wo.invoice, { id, status: 'PAID', paidAmount: 3_000, creditedAmount: 7_000, pendingAmount: 0 });
    const auditWo = await t.db.selectFrom('audit_log').select('action').where('entity_id', '=', wo.id).executeTakeFirstOrThrow();
    assert.equal(auditWo.action, 'invoice.write_off');
    // The invoice answer lists them, oldest first (the invoice page shows them); lists of invoices do not.
    const detailResponse = await api.get(`/invoices/${id}`);
    const detail = detailResponse.json<{ adjustments: { id: string; kind: string; amount: number; reason: string; number: string | null; createdAt: string }[] }>();
    assert.deepEqual(
      detail.adjustments.map((a) => [a.id, a.kind, a.amount, a.reason, a.number]),
      [
        [body.id, 'credit_note', 2_000, 'sibling enrolled late', 'CN-000001'],
        [second.id, 'credit_note', 1, 'rounding', 'CN-000002'],
        [wo.id, 'write_off', 4_999, 'family left the country', null],
      ],
    );
    assert.ok(detail.adjustments.every((a) => !Number.isNaN(Date.parse(a.createdAt))));
    const listed = (await api.get(`/students/${studentId}/invoices`)).json<{ data: Record<string, unknown>[] }>().data;
    assert.ok(listed.length > 0 && listed.every((row) => !('adjustments' in row)));
  });

  test('never above what is open (422 EXCEEDS_OPEN_AMOUNT naming amount), never on a cancelled invoice (409)', async () => {
    const id = await invoice(1_000);
    await api.pay({ invoiceId: id, amount: 400, method: 'card' });
    for (const kind of ['credit-notes', 'write-offs'] as const) {
      const above = await adjust(api, id, kind, { amount: 601, reason: 'too much' });
      assert.equal(above.statusCode, 422);
      const problem = problemOf(above);
      assert.equal(problem.code, 'EXCEEDS_OPEN_AMOUNT');
      assert.equal(problem.errors?.[0]?.field, 'amount');
    }
    const cancelledId = await invoice(500);
    assert.equal((await api.delete(`/invoices/${cancelledId}`)).statusCode, 200);
    const onCancelled = await adjust(api, cancelledId, 'credit-notes', { amount: 1, reason: 'x' });
    assert.equal(onCancelled.statusCode, 409);
    // Nothing was written by the refusals.
    const rows = await t.db.selectFrom('invoice_adjustments').select('id').where('invoice_id', 'in', [id, cancelledId]).execute();
    assert.equal(rows.length, 0);
  });

  test('bad input names the field: reason required and not blank, amount a positive integer', async () => {
    const id = await invoice(1_000);
    const cases: [object, string][] = [
      [{ amount: 100 }, 'reason'],
      [{ amount: 100, reason: '   ' }, 'reason'],
      [{ amount: 100, reason: '' }, 'reason'],
      [{ amount: 0, reason: 'x' }, 'amount'],
      [{ amount: 1.5, reason: 'x' }, 'amount'],
      [{ amount: '100', reason: 'x' }, 'amount'],
    ];
    for (const [body, field] of cases) {
      const response = await adjust(api, id, 'credit-notes', body);
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
      assert.ok(problemOf(response).errors?.some((e) => e.field === field), `${JSON.stringify(body)} names ${field}: ${response.body}`);
    }
    const noKey = await api.post(`/invoices/${id}/write-offs`, { amount: 1, reason: 'x' });
    assert.equal(noKey.statusCode, 400);
  });

  test('roles: 404 across schools, developer 403, finance_analyst 403 (read-only)', async () => {
    const id = await invoice(1_000);
    const otherAdmin = client(t.app, (await login(t.app, 'admin-other')).accessToken);
    assert.equal((await adjust(otherAdmin, id, 'credit-notes', { amount: 1, reason: 'x' })).statusCode, 404);
    const analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);
    assert.equal((await adjust(analyst, id, 'write-offs', { amount: 1, reason: 'x' })).statusCode, 403);
    const dev = client(t.app, (await login(t.app, 'dev')).accessToken);
    assert.equal((await adjust(dev, id, 'credit-notes', { amount: 1, reason: 'x' })).statusCode, 403);
    // The other school's own admin may.
    const ownId = await invoice(1_000, otherStudentId);
    const own = await adjust(otherAdmin, ownId, 'credit-notes', { amount: 10, reason: 'x' });
    assert.equal(own.statusCode, 201, own.body);
    assert.equal(own.json<Adjustment>().number, 'CN-000001', 'credit-note numbers are per school');
  });

  test('Idempotency-Key: a retry replays the first answer; another body with the key is a 422', async () => {
    const id = await invoice(1_000);
    const key = randomUUID();
    const first = await adjust(api, id, 'credit-notes', { amount: 100, reason: 'x' }, key);
    const replay = await adjust(api, id, 'credit-notes', { amount: 100, reason: 'x' }, key);
    assert.equal(replay.statusCode, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.json(), first.json());
    assert.equal((await adjust(api, id, 'credit-notes', { amount: 101, reason: 'x' }, key)).statusCode, 422);
    const rows = await t.db.selectFrom('invoice_adjustments').select('id').where('invoice_id', '=', id).execute();
    assert.equal(rows.length, 1);
  });

  test('20 concurrent credit notes never exceed what is open', async () => {
    const id = await invoice(1_000);
    await api.pay({ invoiceId: id, amount: 250, method: 'cash' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => adjust(api, id, 'credit-notes', { amount: 70, reason: 'race' })));
    const created = responses.filter((r) => r.statusCode === 201);
    const refused = responses.filter((r) => r.statusCode === 422);
    assert.equal(created.length, 10, responses.map((r) => r.statusCode).join(','));
    assert.equal(refused.length, 10);
    const row = await t.db.selectFrom('invoices').select(['amount', 'paid_amount', 'credited_amount']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { amount: 1_000, paid_amount: 950, credited_amount: 700 });
    const numbers = created.map((r) => r.json<Adjustment>().number ?? '').sort();
    assert.equal(new Set(numbers).size, 10, 'each credit note its own number');
  });

  test('a fully credited invoice is no longer outstanding: the pending queue and the dashboard drop it', async () => {
    const past = new Date(Date.now() - 20 * 86_400_000).toISOString().slice(0, 10);
    const id = await invoice(4_321, otherStudentId, past);
    const queue = async () => (await api.get(`/reports/pending-payments?schoolId=${otherSchoolId}&limit=500`)).json<{ data: { invoiceId: string }[]; total: number }>();
    const outstanding = async () =>
      (await api.get(`/reports/dashboard?schoolId=${otherSchoolId}`)).json<{ totals: { amountOutstanding: number; amountOverdue: number } }>().totals;
    const before = await queue();
    assert.ok(before.data.some((row) => row.invoiceId === id));
    const totalsBefore = await outstanding();
    const response = await adjust(api, id, 'credit-notes', { amount: 4_321, reason: 'fee waived' });
    assert.equal(response.statusCode, 201, response.body);
    assert.equal(response.json<Adjustment>().invoice.status, 'PAID');
    const afterQueue = await queue();
    assert.ok(!afterQueue.data.some((row) => row.invoiceId === id));
    assert.equal(afterQueue.total, before.total - 1);
    const totalsAfter = await outstanding();
    assert.equal(totalsAfter.amountOutstanding, totalsBefore.amountOutstanding - 4_321);
    assert.equal(totalsAfter.amountOverdue, totalsBefore.amountOverdue - 4_321);
  });
});
