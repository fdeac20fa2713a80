import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { negotiate } from '../../src/modules/billing/statements.routes.js';
import type { SchoolStatement, StudentStatement } from '../../src/modules/billing/statements.schemas.js';
import { createMemoryCache } from '../../src/shared/cache.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

const NO_SUCH_ID = '01890000-0000-7000-8000-000000000000';

/** Money totals of invoices computed independently of the statements code. */
async function sqlTotals(db: Db, where: { schoolId: string; studentId?: string }) {
  const result = await sql<{ invoiced: number; paid: number; credited: number; pending: number; overdue: number }>`
    select
      coalesce(sum(i.amount) filter (where i.cancelled_at is null), 0) as invoiced,
      coalesce(sum(i.paid_amount - i.credited_amount) filter (where i.cancelled_at is null), 0) as paid,
      coalesce(sum(i.credited_amount) filter (where i.cancelled_at is null), 0) as credited,
      coalesce(sum(i.amount - i.paid_amount) filter (where i.cancelled_at is null), 0) as pending,
      coalesce(sum(i.amount - i.paid_amount) filter (
        where i.cancelled_at is null and i.paid_amount < i.amount and i.due_date < (now() at time zone s.timezone)::date), 0) as overdue
    from invoices i join schools s on s.id = i.school_id
    where i.school_id = ${where.schoolId} and (${where.studentId ?? null}::uuid is null or i.student_id = ${where.studentId ?? null}::uuid)`.execute(db);
  const row = result.rows[0];
  assert.ok(row);
  return { totalInvoiced: row.invoiced, totalPaid: row.paid, totalCredited: row.credited, totalPending: row.pending, totalOverdue: row.overdue };
}

/** The text drawn in a PDF (pdfkit: Flate content streams, hex strings in TJ arrays, WinAnsi). */
function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const texts: string[] = [];
  const start = /(?<!end)stream\r?\n/g;
  for (let match = start.exec(raw); match !== null; match = start.exec(raw)) {
    const from = match.index + match[0].length;
    const to = raw.indexOf('endstream', from);
    const bytes = pdf.subarray(from, to);
    let content: string;
    try {
      content = inflateSync(bytes).toString('latin1');
    } catch {
      content = bytes.toString('latin1');
    }
    for (const array of content.matchAll(/\[([^\]]*)\]\s*TJ/g)) {
      texts.push([...(array[1] ?? '').matchAll(/<([0-9a-fA-F]*)>/g)].map((hex) => Buffer.from(hex[1] ?? '', 'hex').toString('latin1')).join(''));
    }
  }
  return texts.join('\n');
}

const pageCount = (pdf: Buffer) => pdf.toString('latin1').match(/\/Type \/Page(?!s)/g)?.length ?? 0;

describe('statements', () => {
  let t: TestApp;
  let fx: BillingFixture;
  const token: Record<'super' | 'adminA' | 'analyst' | 'developer', string> = { super: '', adminA: '', analyst: '', developer: '' };

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'st.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'st.admin.a', role: 'school_admin', schoolIds: [fx.schoolA] });
    await insertUser(t.db, { username: 'st.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'st.developer', role: 'developer' });
    token.super = (await login(t.app, 'st.super')).accessToken;
    token.adminA = (await login(t.app, 'st.admin.a')).accessToken;
    token.analyst = (await login(t.app, 'st.analyst')).accessToken;
    token.developer = (await login(t.app, 'st.developer')).accessToken;
  });
  after(() => t.close());

  const get = (url: string, options: { as?: keyof typeof token | null; accept?: string } = {}) =>
    t.app.inject({
      method: 'GET',
      url: `/api/v1${url}`,
      headers: {
        ...(options.as === null ? {} : bearer(token[options.as ?? 'super'])),
        ...(options.accept !== undefined ? { accept: options.accept } : {}),
      },
    });
  const studentJson = async (id: string, query = '', as: keyof typeof token | null = 'super') => {
    const response = await get(`/students/${id}/statement${query}`, { as });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<StudentStatement>();
  };
  const schoolJson = async (id: string, query = '', as: keyof typeof token | null = 'super') => {
    const response = await get(`/schools/${id}/statement${query}`, { as });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<SchoolStatement>();
  };

  /** A school of its own (so writes here never disturb the fixture numbers). */
  async function newSchool(name: string, invoices: { amount: number; paid?: number; dueDate: string }[] = []) {
    const schoolId = (await t.db.insertInto('schools').values({ name }).returning('id').executeTakeFirstOrThrow()).id;
    const studentId = (
      await t.db
        .insertInto('students')
        .values({ school_id: schoolId, first_name: 'Eva', last_name: 'Estrada', grade: '1' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    const invoiceIds: string[] = [];
    for (const [i, invoice] of invoices.entries()) {
      const row = await t.db
        .insertInto('invoices')
        .values({ school_id: schoolId, student_id: studentId, number: `N-${i + 1}`, amount: invoice.amount, paid_amount: invoice.paid ?? 0, due_date: invoice.dueDate })
        .returning('id')
        .executeTakeFirstOrThrow();
      invoiceIds.push(row.id);
    }
    return { schoolId, studentId, invoiceIds };
  }

  test('student statements: the fixture numbers, equal to an independent SQL sum', async () => {
    const ana = await studentJson(fx.students.anaA);
    assert.equal(ana.studentName, 'Ana Alvarez');
    assert.equal(ana.schoolId, fx.schoolA);
    assert.equal(ana.schoolName, 'Colegio Alfa');
    assert.equal(ana.currency, 'MXN');
    assert.deepEqual(ana.period, { from: null, to: null });
    assert.deepEqual(ana.summary, { totalInvoiced: 15_000, totalPaid: 12_000, totalCredited: 0, totalPending: 3_000, totalOverdue: 3_000 });
    assert.deepEqual(ana.summary, await sqlTotals(t.db, { schoolId: fx.schoolA, studentId: fx.students.anaA }));
    assert.equal(ana.invoicesTruncated, false);
    const byId = new Map(ana.invoices.map((invoice) => [invoice.id, invoice]));
    assert.deepEqual([...byId.keys()].sort(), [fx.invoices.paidA, fx.invoices.overdueA].sort());
    const paid = byId.get(fx.invoices.paidA);
    assert.equal(paid?.status, 'PAID');
    assert.deepEqual(paid?.payments.map((p) => [p.id, p.amount, p.method, p.refundedAmount]), [
      [fx.payments.paidA1, 6_000, 'card', 0],
      [fx.payments.paidA2, 4_000, 'cash', 0],
    ]);
    assert.match(paid?.payments[0]?.reference ?? '', /^REF-/, 'clear references for a super_admin');
    const overdue = byId.get(fx.invoices.overdueA);
    assert.deepEqual([overdue?.status, overdue?.amount, overdue?.paidAmount, overdue?.pendingAmount], ['OVERDUE', 5_000, 2_000, 3_000]);

    const beto = await studentJson(fx.students.beto);
    assert.deepEqual(beto.summary, { totalInvoiced: 17_000, totalPaid: 6_000, totalCredited: 0, totalPending: 11_000, totalOverdue: 0 });
    assert.deepEqual(beto.summary, await sqlTotals(t.db, { schoolId: fx.schoolA, studentId: fx.students.beto }));
    const partial = beto.invoices.find((invoice) => invoice.id === fx.invoices.partialA);
    assert.deepEqual([partial?.status, partial?.paidAmount, partial?.payments[0]?.amount, partial?.payments[0]?.refundedAmount], ['PARTIAL', 6_000, 9_000, 3_000]);
    const cancelled = beto.invoices.find((invoice) => invoice.id === fx.invoices.cancelledA);
    assert.equal(cancelled?.status, 'CANCELLED', 'the cancelled invoice is listed');
    assert.equal(cancelled?.amount, 7_000);
  });

  test('school statements: totals over non-cancelled invoices, student counts, SQL agreement', async () => {
    const a = await schoolJson(fx.schoolA);
    assert.deepEqual(a.summary, { totalStudents: 2, activeStudents: 2, totalInvoiced: 32_000, totalPaid: 18_000, totalCredited: 0, totalPending: 14_000, totalOverdue: 3_000 });
    const { totalStudents: _s, activeStudents: _a, ...money } = a.summary;
    assert.deepEqual(money, await sqlTotals(t.db, { schoolId: fx.schoolA }));
    assert.equal(a.invoices.length, 5);
    assert.equal(a.invoicesTruncated, false);
    assert.ok(a.invoices.some((invoice) => invoice.id === fx.invoices.cancelledA && invoice.status === 'CANCELLED'), 'cancelled is listed');
    const live = a.invoices.filter((invoice) => invoice.status !== 'CANCELLED');
    assert.equal(live.reduce((sum, invoice) => sum + invoice.amount, 0), a.summary.totalInvoiced, 'and excluded from totalInvoiced');
    assert.equal(live.reduce((sum, invoice) => sum + invoice.pendingAmount, 0), a.summary.totalPending);
    const names = new Map(a.invoices.map((invoice) => [invoice.studentId, invoice.studentName]));
    assert.equal(names.get(fx.students.beto), 'Beto Bravo');
    const dueDates = a.invoices.map((invoice) => invoice.dueDate);
    assert.deepEqual(dueDates, [...dueDates].sort(), 'listed by due date');

    const b = await schoolJson(fx.schoolB);
    assert.equal(b.currency, 'USD');
    assert.deepEqual(b.summary, { totalStudents: 2, activeStudents: 2, totalInvoiced: 35_000, totalPaid: 15_000, totalCredited: 0, totalPending: 20_000, totalOverdue: 20_000 });

    // activeStudents follows is_active; totalStudents ignores soft-deleted students.
    const extra = await t.db.insertInto('students').values({ school_id: fx.schoolB, first_name: 'Inés', last_name: 'Inactiva', grade: '2', is_active: false }).returning('id').executeTakeFirstOrThrow();
    await t.db.insertInto('students').values({ school_id: fx.schoolB, first_name: 'Gone', last_name: 'Away', grade: '2', deleted_at: new Date() }).execute();
    const counts = (await schoolJson(fx.schoolB)).summary;
    assert.deepEqual([counts.totalStudents, counts.activeStudents], [3, 2]);
    await t.db.updateTable('students').set({ deleted_at: new Date() }).where('id', '=', extra.id).execute();
  });

  test('from/to filter invoices by due date, inclusive, and are echoed in period', async () => {
    const future = await schoolJson(fx.schoolA, `?from=${fx.future}`);
    assert.deepEqual(future.period, { from: fx.future, to: null });
    assert.deepEqual(future.invoices.map((invoice) => invoice.id).sort(), [fx.invoices.pendingA, fx.invoices.partialA, fx.invoices.cancelledA].sort());
    assert.deepEqual([future.summary.totalInvoiced, future.summary.totalPaid, future.summary.totalPending, future.summary.totalOverdue], [17_000, 6_000, 11_000, 0]);

    const past = await schoolJson(fx.schoolA, `?from=${fx.past}&to=${fx.past}`);
    assert.deepEqual(past.period, { from: fx.past, to: fx.past });
    assert.deepEqual(past.invoices.map((invoice) => invoice.id).sort(), [fx.invoices.paidA, fx.invoices.overdueA].sort());
    assert.deepEqual([past.summary.totalInvoiced, past.summary.totalPaid, past.summary.totalPending, past.summary.totalOverdue], [15_000, 12_000, 3_000, 3_000]);
    assert.equal(past.summary.totalStudents, 2, 'student counts are not period-bound');

    const ana = await studentJson(fx.students.anaA, `?to=${fx.past}`);
    assert.equal(ana.invoices.length, 2);
    const nothing = await studentJson(fx.students.anaA, `?from=${fx.future}`);
    assert.deepEqual(nothing.invoices, []);
    assert.deepEqual(nothing.summary, { totalInvoiced: 0, totalPaid: 0, totalCredited: 0, totalPending: 0, totalOverdue: 0 });
  });

  test('bad dates and from after to are 400 problems naming the field', async () => {
    const badFrom = await get(`/students/${fx.students.anaA}/statement?from=2026-13-01`);
    assert.equal(badFrom.statusCode, 400);
    const problem = problemOf(badFrom);
    assert.equal(problem.code, 'VALIDATION_FAILED');
    assert.deepEqual(problem.errors?.map((e) => [e.field, e.in]), [['from', 'querystring']]);

    const badTo = await get(`/schools/${fx.schoolA}/statement?to=yesterday`);
    assert.equal(badTo.statusCode, 400);
    assert.equal(problemOf(badTo).errors?.[0]?.field, 'to');

    const reversed = await get(`/schools/${fx.schoolA}/statement?from=2026-06-02&to=2026-06-01`, { accept: 'text/csv' });
    assert.equal(reversed.statusCode, 400);
    const reversedProblem = problemOf(reversed);
    assert.equal(reversedProblem.code, 'VALIDATION_FAILED');
    assert.deepEqual(reversedProblem.errors?.map((e) => [e.field, e.in]), [['from', 'querystring']]);

    const badId = await get('/students/not-a-uuid/statement');
    assert.equal(badId.statusCode, 400);
    assert.equal(problemOf(badId).errors?.[0]?.field, 'id');
  });

  test('the JSON statement is cached between writes and never stale after one', async () => {
    const c = await newSchool('Cache School', [
      { amount: 10_000, dueDate: fx.future },
      { amount: 4_000, paid: 4_000, dueDate: fx.past },
    ]);
    const invoiceId = c.invoiceIds[0] ?? '';
    const first = await get(`/schools/${c.schoolId}/statement`);
    const second = await get(`/schools/${c.schoolId}/statement`);
    assert.equal(first.headers['cache-status'], 'bursar; fwd=miss; stored');
    assert.equal(second.headers['cache-status'], 'bursar; hit');
    assert.equal(second.json<SchoolStatement>().generatedAt, first.json<SchoolStatement>().generatedAt, 'the same cached statement');
    assert.equal(second.json<SchoolStatement>().summary.totalPaid, 4_000);
    const studentFirst = await get(`/students/${c.studentId}/statement`);
    assert.equal((await get(`/students/${c.studentId}/statement`)).headers['cache-status'], 'bursar; hit');

    // A payment written straight to the database, the way the billing service does it.
    await t.db.transaction().execute(async (trx) => {
      await trx.insertInto('payments').values({ school_id: c.schoolId, invoice_id: invoiceId, amount: 2_500, method: 'cash', reference: 'CASH-0001' }).execute();
      await trx
        .updateTable('invoices')
        .set((eb) => ({ paid_amount: eb('paid_amount', '+', 2_500) }))
        .where('id', '=', invoiceId)
        .execute();
    });

    const third = await get(`/schools/${c.schoolId}/statement`);
    assert.equal(third.headers['cache-status'], 'bursar; fwd=miss; stored');
    const fresh = third.json<SchoolStatement>();
    assert.deepEqual([fresh.summary.totalPaid, fresh.summary.totalPending], [6_500, 7_500]);
    assert.equal(fresh.invoices.find((invoice) => invoice.id === invoiceId)?.status, 'PARTIAL');
    const studentAfter = await get(`/students/${c.studentId}/statement`);
    assert.equal(studentAfter.headers['cache-status'], 'bursar; fwd=miss; stored');
    const payments = studentAfter.json<StudentStatement>().invoices.find((invoice) => invoice.id === invoiceId)?.payments;
    assert.deepEqual(payments?.map((payment) => [payment.amount, payment.reference]), [[2_500, 'CASH-0001']]);
    assert.notDeepEqual(studentAfter.json<StudentStatement>().summary, studentFirst.json<StudentStatement>().summary);
    assert.equal((await get(`/schools/${c.schoolId}/statement`)).headers['cache-status'], 'bursar; hit', 'cached again until the next write');

    // Student and school writes invalidate too (a rename shows at once).
    await t.db.updateTable('students').set({ first_name: 'Evita' }).where('id', '=', c.studentId).execute();
    assert.equal((await studentJson(c.studentId)).studentName, 'Evita Estrada');
    await t.db.updateTable('schools').set({ name: 'Cache School Renamed' }).where('id', '=', c.schoolId).execute();
    assert.equal((await schoolJson(c.schoolId)).schoolName, 'Cache School Renamed');
  });

  test('cached entries are per PII visibility and per period', async () => {
    const clear = await get(`/students/${fx.students.beto}/statement?to=${fx.future}`);
    const masked = await get(`/students/${fx.students.beto}/statement?to=${fx.future}`, { as: 'analyst' });
    assert.equal(clear.json<StudentStatement>().studentName, 'Beto Bravo');
    assert.equal(masked.json<StudentStatement>().studentName, 'B. B.');
    const again = await get(`/students/${fx.students.beto}/statement?to=${fx.future}`, { as: 'analyst' });
    assert.equal(again.headers['cache-status'], 'bursar; hit');
    assert.equal(again.json<StudentStatement>().studentName, 'B. B.');
    const otherPeriod = await get(`/students/${fx.students.beto}/statement?to=${fx.past}`, { as: 'analyst' });
    assert.equal(otherPeriod.headers['cache-status'], 'bursar; fwd=miss; stored');
    assert.equal(otherPeriod.json<StudentStatement>().invoices.length, 0);
  });

  test('CSV: streamed attachment, one row per invoice, summary comments, masked for the analyst', async () => {
    const response = await get(`/schools/${fx.schoolA}/statement?style=raw`, { as: 'analyst', accept: 'text/csv' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/csv/);
    const today = (zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
    const mexico = today('America/Mexico_City');
    assert.equal(
      response.headers['content-disposition'],
      `attachment; filename="bursar-statement-colegio-alfa-${mexico}.csv"; filename*=UTF-8''bursar-statement-colegio-alfa-${mexico}.csv`,
    );
    assert.equal(response.headers['cache-control'], 'private, no-store');
    const rows = parse<Record<string, string>>(response.body, { columns: true, comment: '#' });
    assert.deepEqual(rows.map((row) => row.invoiceId).sort(), Object.entries(fx.invoices).filter(([name]) => name.endsWith('A')).map(([, id]) => id).sort());
    assert.deepEqual(new Set(rows.map((row) => row.studentName)), new Set(['A. A.', 'B. B.']));
    assert.doesNotMatch(response.body, /Alvarez|Bravo/);
    const cancelled = rows.find((row) => row.invoiceId === fx.invoices.cancelledA);
    assert.deepEqual([cancelled?.status, cancelled?.amount, cancelled?.currency], ['CANCELLED', '7000', 'MXN']);
    const comments = response.body.split('\n').filter((line) => line.startsWith('# '));
    for (const expected of ['# Total invoiced: 32000', '# Total paid: 18000', '# Total pending: 14000', '# Total overdue: 3000', '# Students: 2 (active 2)']) {
      assert.ok(comments.includes(expected), `has ${expected}`);
    }

    const student = await get(`/students/${fx.students.anaA}/statement?to=${fx.past}&style=raw`, { accept: 'text/csv' });
    assert.equal(
      student.headers['content-disposition'],
      `attachment; filename="bursar-statement-colegio-alfa-ana-alvarez-${mexico}.csv"; filename*=UTF-8''bursar-statement-colegio-alfa-ana-alvarez-${mexico}.csv`,
    );
    const studentRows = parse<Record<string, string>>(student.body, { columns: true, comment: '#' });
    assert.deepEqual(studentRows.map((row) => row.studentName), ['Ana Alvarez', 'Ana Alvarez']);
    assert.ok(student.body.includes(`# Period (due date): open to ${fx.past}`));
  });

  test('CSV cells that look like formulas are neutralised', async () => {
    const f = await newSchool('Evil, =cmd|calc', [{ amount: 100, dueDate: fx.future }]);
    await t.db.updateTable('invoices').set({ description: '@SUM(A1:A9)' }).where('id', '=', f.invoiceIds[0] ?? '').execute();
    await t.db.updateTable('students').set({ first_name: '+Evil', last_name: '-Name' }).where('id', '=', f.studentId).execute();
    const response = await get(`/students/${f.studentId}/statement?style=raw`, { accept: 'text/csv' });
    const [row] = parse<Record<string, string>>(response.body, { columns: true, comment: '#' });
    assert.equal(row?.description, "'@SUM(A1:A9)");
    assert.equal(row?.studentName, "'+Evil -Name");
    assert.ok(response.body.includes("# School: Evil, '=cmd|calc"), 'the comment block too, even split on commas');
    // The same for people: the same neutralisation under the words.
    const people = await get(`/students/${f.studentId}/statement`, { accept: 'text/csv' });
    const [personRow] = parse<Record<string, string>>(people.body, { columns: true, comment: '#', bom: true });
    assert.equal(personRow?.Description, "'@SUM(A1:A9)");
    assert.equal(personRow?.Student, "'+Evil -Name");
    // For people the head's value is one quoted cell: "=cmd" never starts a cell.
    assert.ok(people.body.includes('# School,"Evil, =cmd|calc"'), people.body);
  });

  test('PDF: a streamed %PDF document with the title, school, student, summary and invoices', async () => {
    const response = await get(`/students/${fx.students.anaA}/statement`, { accept: 'application/pdf' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'application/pdf');
    assert.match(String(response.headers['content-disposition']), /^attachment; filename="bursar-statement-colegio-alfa-ana-alvarez-\d{4}-\d{2}-\d{2}\.pdf"; filename\*=UTF-8''/);
    const pdf = response.rawPayload;
    assert.equal(pdf.subarray(0, 4).toString('latin1'), '%PDF');
    assert.match(pdf.subarray(-8).toString('latin1'), /%%EOF\s*$/);
    const text = pdfText(pdf);
    for (const expected of ['Statement of account', 'Colegio Alfa', 'Student: Ana Alvarez', 'Total invoiced', 'MXN 150.00', 'FX-1', 'Overdue', 'Generated at']) {
      assert.ok(text.includes(expected), `PDF shows ${expected}`);
    }

    const masked = await get(`/schools/${fx.schoolA}/statement`, { as: 'analyst', accept: 'application/pdf' });
    const maskedText = pdfText(masked.rawPayload);
    assert.ok(maskedText.includes('School statement'));
    assert.ok(maskedText.includes('A. A.') && maskedText.includes('B. B.'));
    assert.doesNotMatch(maskedText, /Alvarez|Bravo/);
    assert.doesNotMatch(masked.rawPayload.toString('latin1'), /Alvarez|Bravo/, 'nor in the document info');
  });

  test('a school with more invoices than the JSON cap: list truncated, totals complete, CSV all, PDF multi-page', async () => {
    const big = await newSchool('Big School');
    const count = 5_003;
    await sql`
      insert into invoices (school_id, student_id, number, amount, paid_amount, due_date)
      select ${big.schoolId}::uuid, ${big.studentId}::uuid, 'B-' || n, 100 + n % 7, n % 3, ${fx.future}::date + (n % 50)
      from generate_series(1, ${count}) as n`.execute(t.db);
    const expected = await sqlTotals(t.db, { schoolId: big.schoolId });

    const json = await schoolJson(big.schoolId);
    assert.equal(json.invoices.length, 5_000);
    assert.equal(json.invoicesTruncated, true);
    const { totalStudents: _s, activeStudents: _a, ...money } = json.summary;
    assert.deepEqual(money, expected, 'the summary covers every invoice, not only those listed');
    assert.ok(expected.totalInvoiced > json.invoices.reduce((sum, invoice) => sum + invoice.amount, 0));

    const csv = await get(`/schools/${big.schoolId}/statement?style=raw`, { accept: 'text/csv' });
    const rows = parse<Record<string, string>>(csv.body, { columns: true, comment: '#' });
    assert.equal(rows.length, count);
    assert.equal(new Set(rows.map((row) => row.invoiceId)).size, count, 'every invoice exactly once across batches');
    assert.equal(rows.reduce((sum, row) => sum + Number(row.amount), 0), expected.totalInvoiced);

    // Ten of the fifty due dates: about 1 000 invoices, twenty-odd pages.
    const to = new Date(Date.parse(`${fx.future}T00:00:00Z`) + 9 * 86_400_000).toISOString().slice(0, 10);
    const inPeriod = Number((await sql<{ n: number }>`select count(*)::int as n from invoices where student_id = ${big.studentId} and due_date <= ${to}`.execute(t.db)).rows[0]?.n);
    const pdf = await get(`/students/${big.studentId}/statement?to=${to}`, { accept: 'application/pdf' });
    assert.equal(pdf.statusCode, 200);
    assert.ok(pageCount(pdf.rawPayload) > 10, `many pages, got ${pageCount(pdf.rawPayload)}`);
    const text = pdfText(pdf.rawPayload);
    assert.ok(text.includes('Page 2 of'), 'pages are numbered');
    const numbers = text.match(/\bB-\d+\b/g) ?? [];
    assert.equal(new Set(numbers).size, inPeriod, 'every invoice of the period is in the table, once');
  });

  test('content negotiation: JSON by default and for */*, q-values honoured, anything else 406', async () => {
    for (const accept of ['*/*', 'application/json', 'application/*', 'text/html, */*;q=0.1']) {
      const response = await get(`/schools/${fx.schoolA}/statement`, { accept });
      assert.equal(response.statusCode, 200, accept);
      assert.match(String(response.headers['content-type']), /^application\/json/, accept);
    }
    assert.match(String((await get(`/schools/${fx.schoolA}/statement`, { accept: 'text/*' })).headers['content-type']), /^text\/csv/);
    const preferred = await get(`/schools/${fx.schoolA}/statement`, { accept: 'text/csv;q=0.5, application/pdf' });
    assert.equal(preferred.headers['content-type'], 'application/pdf');
    for (const accept of ['text/xml', 'application/json;q=0', 'image/*']) {
      const response = await get(`/schools/${fx.schoolA}/statement`, { accept });
      assert.equal(response.statusCode, 406, accept);
      assert.equal(problemOf(response).code, 'NOT_ACCEPTABLE');
    }
    assert.equal(negotiate(undefined), 'application/json');
    assert.equal(negotiate('text/csv, application/json;q=0.9'), 'text/csv');
    assert.equal(negotiate('*/*;q=0.1, application/pdf;q=0.2'), 'application/pdf');
    assert.equal(negotiate('application/*;q=0.5, application/json;q=0'), 'application/pdf', 'the most specific range decides');
  });

  test('a school_admin sees their school and gets 404 for another school and its students', async () => {
    assert.equal((await get(`/schools/${fx.schoolA}/statement`, { as: 'adminA' })).statusCode, 200);
    assert.equal((await get(`/students/${fx.students.beto}/statement`, { as: 'adminA' })).json<StudentStatement>().studentName, 'Beto Bravo');
    for (const url of [`/schools/${fx.schoolB}/statement`, `/students/${fx.students.carla}/statement`, `/schools/${NO_SUCH_ID}/statement`]) {
      for (const accept of ['application/json', 'text/csv', 'application/pdf']) {
        const response = await get(url, { as: 'adminA', accept });
        assert.equal(response.statusCode, 404, `${url} ${accept}`);
        assert.equal(problemOf(response).code, 'NOT_FOUND');
        assert.doesNotMatch(response.body, /Beta Academy|Carla|Cruz/);
      }
    }
  });

  test('a finance_analyst sees initials and masked payment references', async () => {
    const ana = await studentJson(fx.students.anaA, '', 'analyst');
    assert.equal(ana.studentName, 'A. A.');
    const references = ana.invoices.flatMap((invoice) => invoice.payments.map((payment) => payment.reference));
    assert.equal(references.length, 3);
    for (const reference of references) {
      assert.match(reference ?? '', /^\*\*\*.{4}$/);
    }
    const school = await schoolJson(fx.schoolB, '', 'analyst');
    assert.deepEqual(new Set(school.invoices.map((invoice) => invoice.studentName)), new Set(['C. C.', 'D. D.']));
  });

  test('a developer is refused with 403 in every format', async () => {
    for (const accept of ['application/json', 'text/csv']) {
      const response = await get(`/schools/${fx.schoolA}/statement`, { as: 'developer', accept });
      assert.equal(response.statusCode, 403);
      assert.equal(problemOf(response).code, 'FORBIDDEN');
    }
    assert.equal((await get(`/students/${fx.students.anaA}/statement`, { as: 'developer' })).statusCode, 403);
  });

  test('anonymous readers: 401 unless the school has public statements, then masked', async () => {
    const closed = await get(`/schools/${fx.schoolA}/statement`, { as: null });
    assert.equal(closed.statusCode, 401);
    assert.equal(problemOf(closed).code, 'UNAUTHENTICATED');
    assert.equal((await get(`/students/${fx.students.anaA}/statement`, { as: null, accept: 'text/csv' })).statusCode, 401);
    assert.equal((await get(`/students/${NO_SUCH_ID}/statement`, { as: null })).statusCode, 401, 'no existence leak');
    const badToken = await t.app.inject({ method: 'GET', url: `/api/v1/schools/${fx.schoolA}/statement`, headers: { authorization: 'Bearer nope' } });
    assert.equal(badToken.statusCode, 401, 'a token that is present is still verified');

    await t.db.updateTable('schools').set({ public_statements: true }).where('id', '=', fx.schoolB).execute();
    try {
      const school = await schoolJson(fx.schoolB, '', null);
      assert.deepEqual(new Set(school.invoices.map((invoice) => invoice.studentName)), new Set(['C. C.', 'D. D.']));
      assert.equal(school.summary.totalInvoiced, 35_000);
      const dora = await studentJson(fx.students.dora, '', null);
      assert.equal(dora.studentName, 'D. D.');
      assert.match(dora.invoices[0]?.payments[0]?.reference ?? '', /^\*\*\*.{4}$/);
      const csv = await get(`/schools/${fx.schoolB}/statement`, { as: null, accept: 'text/csv' });
      assert.equal(csv.statusCode, 200);
      assert.doesNotMatch(csv.body, /Carla|Cruz|Dora|Diaz/);
      assert.equal((await get(`/schools/${fx.schoolA}/statement`, { as: null })).statusCode, 401, 'only that school');
    } finally {
      await t.db.updateTable('schools').set({ public_statements: false }).where('id', '=', fx.schoolB).execute();
    }
    assert.equal((await get(`/schools/${fx.schoolB}/statement`, { as: null })).statusCode, 401, 'switching it off takes effect at once');
  });

  test('soft-deleted students and schools are 404', async () => {
    const gone = await newSchool('Gone School', [{ amount: 100, dueDate: fx.future }]);
    assert.equal((await get(`/students/${gone.studentId}/statement`)).statusCode, 200);
    await t.db.updateTable('students').set({ deleted_at: new Date() }).where('id', '=', gone.studentId).execute();
    assert.equal((await get(`/students/${gone.studentId}/statement`)).statusCode, 404);
    assert.equal((await get(`/schools/${gone.schoolId}/statement`)).statusCode, 200);
    await t.db.updateTable('schools').set({ deleted_at: new Date() }).where('id', '=', gone.schoolId).execute();
    const response = await get(`/schools/${gone.schoolId}/statement`, { accept: 'text/csv' });
    assert.equal(response.statusCode, 404);
    assert.equal(problemOf(response).code, 'NOT_FOUND');
  });

  test('OpenAPI documents both routes with their media types and errors', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }>; parameters?: { name: string; in: string }[] } }>;
      components: { schemas: Record<string, unknown> };
    }>();
    for (const path of ['/api/v1/students/{id}/statement', '/api/v1/schools/{id}/statement']) {
      const operation = doc.paths[path]?.get;
      assert.ok(operation, path);
      assert.deepEqual(Object.keys(operation.responses['200']?.content ?? {}).sort(), ['application/json', 'application/pdf', 'text/csv']);
      for (const status of ['400', '401', '403', '404', '406']) {
        assert.ok(operation.responses[status], `${path} documents ${status}`);
      }
      assert.deepEqual(operation.parameters?.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['from', 'lang', 'style', 'to']);
    }
    assert.ok(doc.components.schemas.StudentStatement && doc.components.schemas.SchoolStatement);
  });

  test('the memory cache: hit counters, entry bound, size bound and expiry', async () => {
    const cache = createMemoryCache<{ n: number }>({ maxEntries: 2 });
    assert.equal(await cache.get('a'), undefined);
    await cache.set('a', { n: 1 }, 60_000);
    await cache.set('b', { n: 2 }, 60_000);
    assert.deepEqual(await cache.get('a'), { n: 1 });
    await cache.set('c', { n: 3 }, 60_000); // evicts b, the least recently used
    assert.equal(await cache.get('b'), undefined);
    assert.deepEqual(cache.stats(), { hits: 1, misses: 2, sets: 3, entries: 2, size: 0 });

    const sized = createMemoryCache<{ bytes: number }>({ maxEntries: 100, maxSize: 100, sizeOf: (value) => value.bytes });
    await sized.set('small', { bytes: 60 }, 60_000);
    await sized.set('huge', { bytes: 500 }, 60_000);
    assert.equal(await sized.get('huge'), undefined, 'larger than the whole budget: not kept');
    await sized.set('other', { bytes: 60 }, 60_000);
    assert.equal(await sized.get('small'), undefined, 'evicted to stay within maxSize');
    assert.ok(sized.stats().size <= 100);

    // Time moved by hand: a sleeping test would fail whenever the machine stalls past the TTL between set and get.
    let now = 1_000;
    const short = createMemoryCache<{ n: number }>({ maxEntries: 10, now: () => now });
    await short.set('x', { n: 1 }, 30);
    now += 29;
    assert.deepEqual(await short.get('x'), { n: 1 }, 'still fresh a millisecond before its TTL');
    now += 2;
    assert.equal(await short.get('x'), undefined, 'expired');
    await assert.rejects(short.set('y', { n: 1 }, 0), RangeError);
  });
});
