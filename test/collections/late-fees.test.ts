import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startCollectionJobs } from '../../src/modules/collections/collections.jobs.js';
import { createCollectionsRepository } from '../../src/modules/collections/collections.repository.js';
import { verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { verifyRollups } from '../../src/modules/reporting/rollups.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Late fees (SPEC §8): the policy per school, the daily run's postings (fixed, percent,
 * daily interest; grace; cap), exactly once under re-runs and concurrent runs, waivers,
 * and the pg-boss job that runs each school day once. Real PostgreSQL, real HTTP
 * routes through inject, a real pg-boss worker.
 */
interface Invoice {
  id: string;
  kind: 'regular' | 'late_fee';
  relatedInvoiceId: string | null;
  studentId: string;
  number: string;
  amount: number;
  pendingAmount: number;
  status: string;
  dueDate: string;
  description: string | null;
  lines?: { kind: string; code: string; description: string; amount: number }[];
}
interface RunResult {
  schoolId: string;
  date: string;
  lateFeesPosted: number;
  lateFeeAmount: number;
  remindersSent: number;
  remindersSkipped: number;
  runs: number;
}

describe('late fees: policy, daily run, waivers', () => {
  let t: TestApp;
  let root: Client;
  let schoolId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = (await root.post('/schools', { name: 'Colegio Recargo', timezone: 'America/Mexico_City' })).json<{ id: string }>().id;
    await insertUser(t.db, { username: 'admin', role: 'school_admin', schoolIds: [schoolId] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
  });
  after(() => t.close());

  /** A fresh school with one student: each scenario on its own, so their fees never mix. */
  const newSchool = async (name: string, language?: 'es' | 'en') => {
    const id = (await root.post('/schools', { name, timezone: 'America/Bogota', ...(language === undefined ? {} : { language }) })).json<{ id: string }>().id;
    const student = (await root.post('/students', { schoolId: id, firstName: 'Ana', lastName: name, grade: '1' })).json<{ id: string }>().id;
    return { id, student };
  };
  const invoice = async (student: string, amount: number, dueDate: string) => {
    const response = await root.post('/invoices', { studentId: student, amount, dueDate });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Invoice>();
  };
  const policy = async (school: string, body: object) => {
    const response = await root.put(`/schools/${school}/late-fee-policy`, body);
    assert.equal(response.statusCode, 200, response.body);
  };
  const run = async (school: string, date: string, who: Client = root) => {
    const response = await who.post('/collections/run', { schoolId: school, date });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<RunResult>();
  };
  const lateFeeOf = async (school: string, related: string) => {
    const rows = await t.db.selectFrom('invoices').select('id').where('school_id', '=', school).where('related_invoice_id', '=', related).orderBy('created_at', 'desc').execute();
    return rows[0] === undefined ? undefined : (await root.get(`/invoices/${rows[0].id}`)).json<Invoice>();
  };
  const ledgerOk = async () => {
    const ledger = await verifyLedgerInvariant(t.db);
    assert.equal(ledger.ok, true, JSON.stringify(ledger));
    const rollups = await verifyRollups(t.db);
    assert.equal(rollups.ok, true, JSON.stringify(rollups));
  };

  test('the policy: 404 before one is set, PUT answers it and audits it, GET reads it back', async () => {
    const missing = await root.get(`/schools/${schoolId}/late-fee-policy`);
    assert.equal(missing.statusCode, 404);
    const put = await root.put(`/schools/${schoolId}/late-fee-policy`, { kind: 'percent', value: 2.5, graceDays: 3, cap: 100_000 });
    assert.equal(put.statusCode, 200, put.body);
    const body = put.json<Record<string, unknown>>();
    assert.deepEqual({ ...body, updatedAt: undefined }, { schoolId, kind: 'percent', value: 2.5, graceDays: 3, cap: 100_000, enabled: true, updatedAt: undefined });
    const got = (await root.get(`/schools/${schoolId}/late-fee-policy`)).json<Record<string, unknown>>();
    assert.deepEqual(got, body);
    const audit = await t.db.selectFrom('audit_log').select(['action', 'school_id']).where('action', '=', 'late_fee_policy.put').execute();
    assert.deepEqual(audit, [{ action: 'late_fee_policy.put', school_id: schoolId }]);
  });

  test('bad policies are 400 naming the field; nothing is written', async () => {
    const { id } = await newSchool('Escuela Mala');
    for (const [body, field] of [
      [{ kind: 'percent', value: 150 }, 'value'],
      [{ kind: 'daily_interest', value: 0.00001 }, 'value'],
      [{ kind: 'fixed', value: 12.5 }, 'value'],
      [{ kind: 'fixed', value: 0 }, 'value'],
      [{ kind: 'weekly', value: 1 }, 'kind'],
      [{ kind: 'fixed', value: 100, graceDays: -1 }, 'graceDays'],
      [{ kind: 'fixed', value: 100, cap: 0 }, 'cap'],
      [{ kind: 'fixed', value: 100, extra: true }, 'extra'],
    ] as const) {
      const response = await root.put(`/schools/${id}/late-fee-policy`, body);
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(problem.errors?.some((e) => e.field === field || e.field.startsWith(`${field}`)), `${JSON.stringify(body)} names ${field}: ${response.body}`);
    }
    assert.equal((await root.get(`/schools/${id}/late-fee-policy`)).statusCode, 404);
  });

  test('roles: an analyst reads but may not set or run; a school admin of another school gets 404', async () => {
    const analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);
    assert.equal((await analyst.get(`/schools/${schoolId}/late-fee-policy`)).statusCode, 200);
    assert.equal((await analyst.put(`/schools/${schoolId}/late-fee-policy`, { kind: 'fixed', value: 100 })).statusCode, 403);
    assert.equal((await analyst.post('/collections/run', { schoolId })).statusCode, 403);
    const other = await newSchool('Escuela Ajena');
    const admin = client(t.app, (await login(t.app, 'admin')).accessToken);
    assert.equal((await admin.get(`/schools/${other.id}/late-fee-policy`)).statusCode, 404);
    assert.equal((await admin.put(`/schools/${other.id}/late-fee-policy`, { kind: 'fixed', value: 100 })).statusCode, 404);
    assert.equal((await admin.post('/collections/run', { schoolId: other.id })).statusCode, 404);
    assert.equal((await admin.post('/collections/run', { schoolId })).statusCode, 200);
  });

  test('a future date is a 400 naming date; a school without a policy posts nothing', async () => {
    const { id, student } = await newSchool('Escuela Sin Política');
    const future = await root.post('/collections/run', { schoolId: id, date: '2999-01-01' });
    assert.equal(future.statusCode, 400);
    assert.equal(problemOf(future).errors?.[0]?.field, 'date');
    await invoice(student, 1000, '2026-01-01');
    const result = await run(id, '2026-10-01');
    assert.deepEqual({ ...result }, { schoolId: id, date: '2026-10-01', lateFeesPosted: 0, lateFeeAmount: 0, remindersSent: 0, remindersSkipped: 0, runs: 1 });
  });

  test('fixed: once per overdue invoice, the day after due date + grace, on a linked late-fee invoice', async () => {
    const { id, student } = await newSchool('Escuela Fija');
    await policy(id, { kind: 'fixed', value: 5_000, graceDays: 5 });
    const overdue = await invoice(student, 100_000, '2026-10-01');
    await invoice(student, 100_000, '2026-10-20'); // not overdue yet on the days run below

    assert.equal((await run(id, '2026-10-06')).lateFeesPosted, 0, 'due + grace is not yet late');
    const first = await run(id, '2026-10-07');
    assert.deepEqual([first.lateFeesPosted, first.lateFeeAmount], [1, 5_000]);
    const fee = await lateFeeOf(id, overdue.id);
    assert.ok(fee);
    assert.equal(fee.kind, 'late_fee');
    assert.equal(fee.relatedInvoiceId, overdue.id);
    assert.equal(fee.studentId, student);
    assert.equal(fee.amount, 5_000);
    assert.equal(fee.dueDate, '2026-10-07');
    assert.match(fee.number, /^INV-\d{6}$/);
    assert.equal(fee.description, `Recargo por ${overdue.number}`, 'in the school’s language: an MXN school writes Spanish');
    assert.deepEqual(fee.lines?.map((l) => [l.kind, l.amount]), [['late_fee', 5_000]]);
    const original = (await root.get(`/invoices/${overdue.id}`)).json<Invoice & { lateFeeInvoice: unknown }>();
    assert.deepEqual([original.kind, original.relatedInvoiceId, original.amount], ['regular', null, 100_000]);
    assert.deepEqual(original.lateFeeInvoice, { id: fee.id, number: fee.number, amount: 5_000, pendingAmount: 5_000 });
    assert.equal((await root.get(`/invoices/${fee.id}`)).json<{ lateFeeInvoice: unknown }>().lateFeeInvoice, null);

    const again = await run(id, '2026-10-07');
    assert.deepEqual([again.lateFeesPosted, again.runs], [0, 2], 'a re-run of the day posts nothing');
    assert.equal((await run(id, '2026-10-08')).lateFeesPosted, 0, 'a fixed fee is charged once');
    assert.equal((await run(id, '2026-10-30')).lateFeesPosted, 1, 'the second invoice, once it is late');
    await ledgerOk();

    // The run history: a day per row, newest first, its runs summed; paged by cursor.
    const first2 = await root.get(`/collections/runs?schoolId=${id}&limit=2`);
    assert.equal(first2.statusCode, 200, first2.body);
    const page = first2.json<{ data: { date: string; lateFeesPosted: number; lateFeeAmount: number; runs: number }[]; nextCursor: string | null }>();
    assert.deepEqual(page.data.map((d) => [d.date, d.lateFeesPosted, d.lateFeeAmount, d.runs]), [['2026-10-30', 1, 5_000, 1], ['2026-10-08', 0, 0, 1]]);
    assert.ok(page.nextCursor);
    const rest = (await root.get(`/collections/runs?schoolId=${id}&cursor=${encodeURIComponent(page.nextCursor)}`)).json<typeof page>();
    assert.deepEqual(rest.data.map((d) => [d.date, d.lateFeesPosted, d.runs]), [['2026-10-07', 1, 2], ['2026-10-06', 0, 1]]);
    assert.equal(rest.nextCursor, null);
    assert.equal((await root.get(`/collections/runs?schoolId=${id}&cursor=bm9wZQ`)).statusCode, 400);
    const admin = client(t.app, (await login(t.app, 'admin')).accessToken);
    assert.equal((await admin.get(`/collections/runs?schoolId=${id}`)).statusCode, 404, 'not one of the admin’s schools');
  });

  test('percent: of what is still open on the day; paid, cancelled and late-fee invoices are never charged', async () => {
    const { id, student } = await newSchool('Escuela Porcentaje');
    await policy(id, { kind: 'percent', value: 10 });
    const partial = await invoice(student, 100_000, '2026-09-01');
    assert.equal((await root.pay({ invoiceId: partial.id, amount: 40_000, method: 'cash' })).statusCode, 201);
    const paid = await invoice(student, 50_000, '2026-09-01');
    assert.equal((await root.pay({ invoiceId: paid.id, amount: 50_000, method: 'cash' })).statusCode, 201);
    const cancelled = await invoice(student, 70_000, '2026-09-01');
    assert.equal((await root.delete(`/invoices/${cancelled.id}`)).statusCode, 200);

    const result = await run(id, '2026-09-02');
    assert.deepEqual([result.lateFeesPosted, result.lateFeeAmount], [1, 6_000]);
    assert.equal((await lateFeeOf(id, partial.id))?.amount, 6_000);
    assert.equal(await lateFeeOf(id, paid.id), undefined);
    assert.equal(await lateFeeOf(id, cancelled.id), undefined);
    // The late-fee invoice is itself overdue the next days: no fee on a fee.
    await policy(id, { kind: 'daily_interest', value: 1 });
    const next = await run(id, '2026-09-20');
    assert.deepEqual([next.lateFeesPosted, next.lateFeeAmount], [1, 600], 'interest on the 60 000 still open, not on the late fee');
    await ledgerOk();
  });

  test('cancelling an overdue invoice cancels its late fees, or waives what is open of them once part is settled', async () => {
    const { id, student } = await newSchool('Escuela Anulación');
    await policy(id, { kind: 'fixed', value: 1_000 });
    const plain = await invoice(student, 20_000, '2026-04-01');
    const waived = await invoice(student, 20_000, '2026-04-01');
    await run(id, '2026-04-02');
    const waivedFee = await lateFeeOf(id, waived.id);
    assert.equal((await root.post(`/invoices/${waivedFee!.id}/waivers`, { amount: 400, reason: 'acuerdo' }, { 'idempotency-key': randomUUID() })).statusCode, 201);

    assert.equal((await root.delete(`/invoices/${plain.id}`)).statusCode, 200);
    assert.equal((await lateFeeOf(id, plain.id))?.status, 'CANCELLED', 'its late fees go with it');
    assert.equal((await root.delete(`/invoices/${waived.id}`)).statusCode, 200);
    const kept = await lateFeeOf(id, waived.id);
    assert.deepEqual([kept?.status, kept?.pendingAmount], ['PAID', 0], 'a partly waived fee has the rest waived');
    const waivers = await t.db.selectFrom('invoice_adjustments').select(['amount', 'reason']).where('invoice_id', '=', waivedFee!.id).orderBy('created_at').execute();
    assert.deepEqual(waivers, [{ amount: 400, reason: 'acuerdo' }, { amount: 600, reason: `invoice ${waived.number} cancelled` }]);
    assert.equal((await run(id, '2026-04-03')).lateFeesPosted, 0, 'no fee on a cancelled invoice');
    await ledgerOk();
  });

  test('daily interest: one line per school day on the same late-fee invoice, never beyond the cap', async () => {
    // A school that writes English (its language; the currency would say Spanish).
    const { id, student } = await newSchool('Escuela Interés', 'en');
    await policy(id, { kind: 'daily_interest', value: 1, cap: 2_500 });
    const overdue = await invoice(student, 100_000, '2026-08-31');
    const fees = [];
    for (const day of ['2026-09-01', '2026-09-02', '2026-09-03', '2026-09-04']) {
      fees.push((await run(id, day)).lateFeeAmount);
    }
    assert.deepEqual(fees, [1_000, 1_000, 500, 0]);
    assert.equal((await run(id, '2026-09-02')).lateFeesPosted, 0, 'a day re-run after later days posts nothing');
    const fee = await lateFeeOf(id, overdue.id);
    assert.equal(fee?.amount, 2_500);
    assert.deepEqual(fee?.lines?.map((l) => l.description), [
      `Interest for 2026-09-01 on ${overdue.number}`,
      `Interest for 2026-09-02 on ${overdue.number}`,
      `Interest for 2026-09-03 on ${overdue.number}`,
    ]);

    // Cancelling the late-fee invoice forgives its fees; the interest goes on from the next
    // day on a new late-fee invoice, but the cap counts what was forgiven.
    assert.equal((await root.delete(`/invoices/${fee.id}`)).statusCode, 200);
    assert.equal((await run(id, '2026-09-05')).lateFeesPosted, 0, 'the cap counts cancelled fees');
    await t.db.updateTable('late_fee_policies').set({ cap: 3_000 }).where('school_id', '=', id).execute();
    const more = await run(id, '2026-09-06');
    assert.deepEqual([more.lateFeesPosted, more.lateFeeAmount], [1, 500], 'up to the raised cap, on a new late-fee invoice');
    const all = await t.db.selectFrom('invoices').select(['id', 'amount', 'cancelled_at']).where('related_invoice_id', '=', overdue.id).orderBy('created_at').execute();
    assert.deepEqual(all.map((f) => [f.amount, f.cancelled_at !== null]), [[2_500, true], [500, false]]);
    await ledgerOk();
  });

  test('concurrent runs of one day (five requests at once) post each fee once', async () => {
    const { id, student } = await newSchool('Escuela Concurrente');
    await policy(id, { kind: 'daily_interest', value: 0.5 });
    const invoices = [];
    for (let i = 0; i < 12; i++) {
      invoices.push(await invoice(student, 10_000 * (i + 1), '2026-07-01'));
    }
    const results = await Promise.all(Array.from({ length: 5 }, () => run(id, '2026-07-10')));
    assert.equal(results.reduce((sum, r) => sum + r.lateFeesPosted, 0), 12);
    assert.deepEqual(results.map((r) => r.runs).sort((a, b) => a - b), [1, 2, 3, 4, 5]);
    const expected = invoices.reduce((sum, inv) => sum + Math.round(inv.amount * 0.005), 0);
    assert.equal(results.reduce((sum, r) => sum + r.lateFeeAmount, 0), expected);
    const lines = await t.db.selectFrom('invoice_lines').select(({ fn }) => fn.countAll<number>().as('n')).where('school_id', '=', id).where('kind', '=', 'late_fee').executeTakeFirstOrThrow();
    assert.equal(Number(lines.n), 12);
    await ledgerOk();
  });

  test('waivers: on the late-fee invoice or through its overdue invoice, never above what is open, audited; the cap still holds', async () => {
    const { id, student } = await newSchool('Escuela Condonación');
    await policy(id, { kind: 'daily_interest', value: 1, cap: 2_000 });
    const overdue = await invoice(student, 100_000, '2026-06-01');
    const plain = await invoice(student, 100_000, '2099-06-01');
    await run(id, '2026-06-02');
    await run(id, '2026-06-03');
    const fee = await lateFeeOf(id, overdue.id);
    assert.equal(fee?.amount, 2_000);

    const waive = (invoiceId: string, body: object) => root.post(`/invoices/${invoiceId}/waivers`, body, { 'idempotency-key': randomUUID() });
    const direct = await waive(fee.id, { amount: 500, reason: 'primer retraso' });
    assert.equal(direct.statusCode, 201, direct.body);
    assert.deepEqual(
      (({ kind, invoiceId, amount, number, invoice }) => ({ kind, invoiceId, amount, number, pending: invoice.pendingAmount }))(direct.json<{ kind: string; invoiceId: string; amount: number; number: null; invoice: { pendingAmount: number } }>()),
      { kind: 'waiver', invoiceId: fee.id, amount: 500, number: null, pending: 1_500 },
    );
    const through = await waive(overdue.id, { amount: 1_500, reason: 'acuerdo con la familia' });
    assert.equal(through.statusCode, 201, through.body);
    assert.equal(through.json<{ invoiceId: string }>().invoiceId, fee.id, 'the overdue invoice’s late fees are waived');
    assert.equal((await root.get(`/invoices/${fee.id}`)).json<Invoice>().status, 'PAID');
    assert.equal((await root.get(`/invoices/${overdue.id}`)).json<Invoice>().pendingAmount, 100_000, 'the overdue invoice itself is untouched');

    const above = await waive(fee.id, { amount: 1, reason: 'más' });
    assert.equal(above.statusCode, 422);
    assert.equal(problemOf(above).code, 'EXCEEDS_OPEN_AMOUNT');
    const none = await waive(plain.id, { amount: 100, reason: 'no hay recargo' });
    assert.equal(none.statusCode, 422);
    assert.equal(problemOf(none).code, 'NOT_A_LATE_FEE');
    const noReason = await waive(fee.id, { amount: 1 });
    assert.equal(noReason.statusCode, 400);
    assert.equal(problemOf(noReason).errors?.[0]?.field, 'reason');

    assert.equal((await run(id, '2026-06-04')).lateFeesPosted, 0, 'waived fees do not make room under the cap');
    const audit = await t.db.selectFrom('audit_log').select('action').where('action', '=', 'invoice.waiver').where('school_id', '=', id).execute();
    assert.equal(audit.length, 2);
    await ledgerOk();
  });

  test('the daily job: a tick queues each school day due once; the worker runs it; the next tick queues nothing', async () => {
    const { id, student } = await newSchool('Escuela Diaria');
    await policy(id, { kind: 'fixed', value: 3_000 });
    await invoice(student, 10_000, '2026-05-01');
    // 07:00 in Bogotá (UTC−5) on 2026-05-10: past the 06:00 start of the school's day.
    const at = Date.parse('2026-05-10T12:00:00Z');
    const jobs = await startCollectionJobs({
      pool: t.pool,
      db: t.db,
      repo: createCollectionsRepository(),
      reminders: { sending: new Set(), publicUrl: 'http://localhost:3000' },
      clock: { now: () => at, sleep: () => Promise.resolve() },
      log: t.app.log,
      fromHour: 6,
      tickSeconds: 3600,
      pollingIntervalSeconds: 0.5,
    });
    try {
      const runOf = () => t.db.selectFrom('collection_runs').selectAll().where('school_id', '=', id).where('day', '=', '2026-05-10').executeTakeFirst();
      await waitFor('the school day to run', async () => (await runOf()) !== undefined, 30_000);
      const row = await runOf();
      assert.deepEqual([row?.late_fees_posted, row?.late_fee_amount, row?.runs], [1, 3_000, 1]);
      assert.equal(await jobs.tick(), 0, 'a school day with a run is not queued again');
      const early = await createCollectionsRepository().dueSchoolDays(t.db, new Date('2026-05-11T10:00:00Z'), 6, 100);
      assert.equal(early.some((d) => d.schoolId === id), false, '05:00 in Bogotá is before the day starts');
      const later = await createCollectionsRepository().dueSchoolDays(t.db, new Date('2026-05-11T11:00:00Z'), 6, 100);
      assert.deepEqual(later.filter((d) => d.schoolId === id), [{ schoolId: id, day: '2026-05-11' }]);
    } finally {
      await jobs.stop();
    }
  });
});
