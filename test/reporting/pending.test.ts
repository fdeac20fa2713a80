import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../../src/db/database.js';
import { createExportLimiter, EXPORT_STATEMENT_TAG, MAX_CONCURRENT_EXPORTS_PER_USER } from '../../src/modules/reporting/export.js';
import { PENDING_COLUMNS, type PendingPage } from '../../src/modules/reporting/pending.schemas.js';
import { maskName } from '../../src/shared/masking.js';
import { bearer, insertUser, login, problemOf, createTestApp, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The outstanding-payments queue and its export, against the billing fixture plus rows
 * inserted here (formula-looking names, a soft-deleted student, more due dates). Every
 * expectation comes from an independent SQL query over the raw tables that spells the
 * status out by hand instead of calling invoice_status.
 */

const URL_QUEUE = '/api/v1/reports/pending-payments';
const URL_EXPORT = '/api/v1/reports/pending-payments/export';
type Query = Record<string, string | number | undefined>;

function urlOf(base: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `${base}?${text}` : base;
}

interface Expected {
  invoiceId: string;
  schoolId: string;
  firstName: string;
  lastName: string;
  grade: string;
  amount: number;
  paidAmount: number;
  status: string;
  daysOverdue: number;
}

/** The queue as an independent query: outstanding, live school and student, status by hand. */
async function expected(db: Db, filter: { schoolId?: string; schoolIds?: string[]; grade?: string; status?: string; minAmount?: number } = {}): Promise<Expected[]> {
  const { rows } = await sql<Expected>`
    select * from (
      select i.id as "invoiceId", i.school_id as "schoolId", s.first_name as "firstName", s.last_name as "lastName", s.grade,
             i.amount, i.paid_amount as "paidAmount", i.due_date,
             case when i.due_date < (now() at time zone sc.timezone)::date then 'OVERDUE'
                  when i.paid_amount > 0 then 'PARTIAL' else 'PENDING' end as status,
             case when i.due_date < (now() at time zone sc.timezone)::date
                  then (now() at time zone sc.timezone)::date - i.due_date else 0 end as "daysOverdue"
      from invoices i
      join students s on s.id = i.student_id
      join schools sc on sc.id = i.school_id
      where i.cancelled_at is null and i.paid_amount < i.amount and s.deleted_at is null and sc.deleted_at is null
    ) q
    where (${filter.schoolId ?? null}::uuid is null or q."schoolId" = ${filter.schoolId ?? null}::uuid)
      and (${filter.schoolIds ?? null}::uuid[] is null or q."schoolId" = any(${filter.schoolIds ?? null}::uuid[]))
      and (${filter.grade ?? null}::text is null or q.grade = ${filter.grade ?? null})
      and (${filter.status ?? null}::text is null or q.status = ${filter.status ?? null})
      and (${filter.minAmount ?? null}::bigint is null or q.amount - q."paidAmount" >= ${filter.minAmount ?? null}::bigint)
    order by q.due_date, q."invoiceId"`.execute(db);
  return rows;
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('pending payments queue and export', () => {
  let h: TestApp;
  let f: BillingFixture;
  const tokens = { super: '', admin: '', analyst: '', developer: '' };
  const injected = { equals: '', plus: '', at: '' };

  before(async () => {
    h = await createTestApp();
    f = await seedBillingFixture(h.db);
    const student = async (schoolId: string, firstName: string, lastName: string, grade: string) =>
      (await h.db.insertInto('students').values({ school_id: schoolId, first_name: firstName, last_name: lastName, grade }).returning('id').executeTakeFirstOrThrow()).id;
    injected.equals = await student(f.schoolA, '=HYPERLINK("x")', 'Inject', '5');
    injected.plus = await student(f.schoolB, '+1', 'Plus', '3');
    injected.at = await student(f.schoolB, '@cmd', 'At', '9');
    // Inserted already soft-deleted (the student rollup trigger of 0003, another module's, is not under test here).
    const gone = (
      await h.db
        .insertInto('students')
        .values({ school_id: f.schoolA, first_name: 'Gone', last_name: 'Deleted', grade: '3', deleted_at: new Date() })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    let n = 0;
    const invoice = (schoolId: string, studentId: string, amount: number, paid: number, dueDate: string) =>
      h.db.insertInto('invoices').values({ school_id: schoolId, student_id: studentId, number: `PQ-${++n}`, amount, paid_amount: paid, due_date: dueDate }).execute();
    await invoice(f.schoolA, injected.equals, 12_345, 0, day(-3));
    await invoice(f.schoolA, injected.equals, 4_000, 1_000, day(10));
    await invoice(f.schoolB, injected.plus, 50_000, 49_999, day(-100));
    await invoice(f.schoolB, injected.at, 700, 0, day(5));
    await invoice(f.schoolB, injected.at, 900, 300, day(-1));
    // Same due date as another invoice: the id breaks the tie.
    await invoice(f.schoolA, f.students.beto, 1_500, 0, f.future);
    // A soft-deleted student's outstanding invoice never shows.
    await invoice(f.schoolA, gone, 99_999, 0, day(-7));

    await insertUser(h.db, { username: 'pq.super', role: 'super_admin' });
    await insertUser(h.db, { username: 'pq.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    await insertUser(h.db, { username: 'pq.analyst', role: 'finance_analyst' });
    await insertUser(h.db, { username: 'pq.developer', role: 'developer' });
    tokens.super = (await login(h.app, 'pq.super')).accessToken;
    tokens.admin = (await login(h.app, 'pq.admin')).accessToken;
    tokens.analyst = (await login(h.app, 'pq.analyst')).accessToken;
    tokens.developer = (await login(h.app, 'pq.developer')).accessToken;
  });
  after(() => h.close());

  const get = (base: string, query: Query = {}, token: string | null = tokens.super) =>
    h.app.inject({ method: 'GET', url: urlOf(base, query), headers: token === null ? {} : bearer(token) });

  async function page(query: Query = {}, token: string = tokens.super): Promise<PendingPage> {
    const response = await get(URL_QUEUE, { limit: 500, ...query }, token);
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<PendingPage>();
    assert.equal(body.nextCursor, null);
    return body;
  }

  const schoolName = (schoolId: string) => (schoolId === f.schoolA ? 'Colegio Alfa' : 'Beta Academy');

  test('the queue is every outstanding invoice, oldest due first, with its figures', async () => {
    const want = await expected(h.db);
    const body = await page();
    assert.ok(want.length >= 10, 'the data set has enough rows to be meaningful');
    assert.deepEqual(
      body.data.map((row) => row.invoiceId),
      want.map((row) => row.invoiceId),
    );
    assert.equal(body.total, want.length);
    // Never paid, cancelled or a deleted student's invoices.
    const ids = new Set(body.data.map((row) => row.invoiceId));
    for (const excluded of [f.invoices.paidA, f.invoices.paidB, f.invoices.cancelledA]) {
      assert.ok(!ids.has(excluded));
    }
    assert.ok(!body.data.some((row) => row.amount === 99_999));
    const dues = body.data.map((row) => row.dueDate);
    assert.deepEqual(dues, [...dues].sort());
    for (const [i, row] of body.data.entries()) {
      const w = want[i];
      assert.ok(w);
      assert.deepEqual(
        {
          schoolId: row.schoolId,
          schoolName: row.schoolName,
          studentName: row.studentName,
          grade: row.grade,
          amount: row.amount,
          paidAmount: row.paidAmount,
          pendingAmount: row.pendingAmount,
          status: row.status,
          daysOverdue: row.daysOverdue,
          currency: row.currency,
        },
        {
          schoolId: w.schoolId,
          schoolName: schoolName(w.schoolId),
          studentName: `${w.firstName} ${w.lastName}`,
          grade: w.grade,
          amount: w.amount,
          paidAmount: w.paidAmount,
          pendingAmount: w.amount - w.paidAmount,
          status: w.status,
          daysOverdue: w.daysOverdue,
          currency: w.schoolId === f.schoolA ? 'MXN' : 'USD',
        },
      );
    }
    // Hand-checked fixture rows.
    const overdueA = body.data.find((row) => row.invoiceId === f.invoices.overdueA);
    assert.equal(overdueA?.status, 'OVERDUE');
    assert.equal(overdueA.pendingAmount, 3_000);
    assert.ok(overdueA.daysOverdue >= 39 && overdueA.daysOverdue <= 41);
    const partialA = body.data.find((row) => row.invoiceId === f.invoices.partialA);
    assert.deepEqual([partialA?.status, partialA?.daysOverdue, partialA?.pendingAmount], ['PARTIAL', 0, 3_000]);
    const pendingA = body.data.find((row) => row.invoiceId === f.invoices.pendingA);
    assert.deepEqual([pendingA?.status, pendingA?.daysOverdue], ['PENDING', 0]);
  });

  const FILTERS: { name: string; query: Query; filter: () => Parameters<typeof expected>[1] }[] = [
    { name: 'schoolId A', query: {}, filter: () => ({ schoolId: f.schoolA }) },
    { name: 'schoolId B', query: {}, filter: () => ({ schoolId: f.schoolB }) },
    { name: 'grade 3', query: { grade: '3' }, filter: () => ({ grade: '3' }) },
    { name: 'grade 5', query: { grade: '5' }, filter: () => ({ grade: '5' }) },
    { name: 'status OVERDUE', query: { status: 'OVERDUE' }, filter: () => ({ status: 'OVERDUE' }) },
    { name: 'status PENDING', query: { status: 'PENDING' }, filter: () => ({ status: 'PENDING' }) },
    { name: 'status PARTIAL', query: { status: 'PARTIAL' }, filter: () => ({ status: 'PARTIAL' }) },
    { name: 'minAmount 3000', query: { minAmount: 3_000 }, filter: () => ({ minAmount: 3_000 }) },
    { name: 'minAmount 1 (a 1-cent balance counts)', query: { minAmount: 1 }, filter: () => ({ minAmount: 1 }) },
    { name: 'minAmount 2 (drops the 1-cent balance)', query: { minAmount: 2 }, filter: () => ({ minAmount: 2 }) },
    { name: 'combined', query: { grade: '5', status: 'PENDING', minAmount: 1_000 }, filter: () => ({ schoolId: f.schoolA, grade: '5', status: 'PENDING', minAmount: 1_000 }) },
  ];
  for (const { name, query, filter } of FILTERS) {
    test(`filter ${name} matches an independent query`, async () => {
      const wanted = filter();
      const want = await expected(h.db, wanted);
      const body = await page({ ...query, schoolId: wanted?.schoolId });
      assert.deepEqual(
        body.data.map((row) => row.invoiceId),
        want.map((row) => row.invoiceId),
      );
      assert.equal(body.total, want.length);
      if (wanted?.status !== undefined) {
        assert.ok(body.data.every((row) => row.status === wanted.status));
      }
    });
  }

  test('filters that differ give different answers (the data set can tell them apart)', async () => {
    const [all, overdue, minTwo] = await Promise.all([expected(h.db), expected(h.db, { status: 'OVERDUE' }), expected(h.db, { minAmount: 2 })]);
    assert.ok(overdue.length > 0 && overdue.length < all.length);
    assert.equal(minTwo.length, all.length - 1);
  });

  test('a keyset walk with limit=1 visits every row once, in order, with the same total', async () => {
    const want = await expected(h.db);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await get(URL_QUEUE, { limit: 1, cursor });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json<PendingPage>();
      assert.equal(body.total, want.length);
      assert.ok(body.data.length <= 1);
      seen.push(...body.data.map((row) => row.invoiceId));
      cursor = body.nextCursor ?? undefined;
      assert.ok(++pages <= want.length + 1, 'pagination does not terminate');
    } while (cursor !== undefined);
    assert.deepEqual(seen, want.map((row) => row.invoiceId));
    assert.equal(new Set(seen).size, seen.length);
  });

  test('a walk with a filter keeps the filter and its total', async () => {
    const want = await expected(h.db, { status: 'OVERDUE' });
    const first = (await get(URL_QUEUE, { limit: 2, status: 'OVERDUE' })).json<PendingPage>();
    assert.ok(first.nextCursor);
    const second = (await get(URL_QUEUE, { limit: 500, status: 'OVERDUE', cursor: first.nextCursor })).json<PendingPage>();
    assert.deepEqual([...first.data, ...second.data].map((row) => row.invoiceId), want.map((row) => row.invoiceId));
    assert.equal(second.total, want.length);
    // The same cursor with other filters is refused rather than answered wrongly.
    const replayed = await get(URL_QUEUE, { limit: 500, status: 'PENDING', cursor: first.nextCursor });
    assert.equal(replayed.statusCode, 400);
    assert.equal(problemOf(replayed).errors?.[0]?.field, 'cursor');
  });

  test('a school_admin sees only their schools, and a filter on another school is a 404', async () => {
    const want = await expected(h.db, { schoolIds: [f.schoolA] });
    const body = await page({}, tokens.admin);
    assert.deepEqual(body.data.map((row) => row.invoiceId), want.map((row) => row.invoiceId));
    assert.equal(body.total, want.length);
    assert.ok(body.data.every((row) => row.schoolId === f.schoolA));
    const other = await get(URL_QUEUE, { schoolId: f.schoolB }, tokens.admin);
    assert.equal(other.statusCode, 404);
    assert.equal(problemOf(other).code, 'NOT_FOUND');
    const exported = await get(URL_EXPORT, { schoolId: f.schoolB }, tokens.admin);
    assert.equal(exported.statusCode, 404);
  });

  test('a finance analyst sees initials instead of names', async () => {
    const want = await expected(h.db);
    const body = await page({}, tokens.analyst);
    assert.equal(body.data.length, want.length);
    for (const [i, row] of body.data.entries()) {
      const w = want[i];
      assert.ok(w);
      assert.equal(row.studentName, maskName(w.firstName, w.lastName));
      assert.notEqual(row.studentName, `${w.firstName} ${w.lastName}`);
    }
    assert.ok(!JSON.stringify(body).includes('Alvarez'));
  });

  test('developer 403, anonymous 401 (queue and export)', async () => {
    for (const base of [URL_QUEUE, URL_EXPORT]) {
      const developer = await get(base, {}, tokens.developer);
      assert.equal(developer.statusCode, 403);
      assert.equal(problemOf(developer).code, 'FORBIDDEN');
      const anonymous = await get(base, {}, null);
      assert.equal(anonymous.statusCode, 401);
    }
  });

  test('bad input is a 400 naming the field', async () => {
    const cases: [Query, string][] = [
      [{ status: 'PAID' }, 'status'],
      [{ status: 'nope' }, 'status'],
      [{ minAmount: -1 }, 'minAmount'],
      [{ minAmount: 'ten' }, 'minAmount'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 501 }, 'limit'],
      [{ schoolId: 'not-a-uuid' }, 'schoolId'],
      [{ grade: 'x'.repeat(21) }, 'grade'],
      [{ schoolID: f.schoolA }, 'schoolID'],
      [{ cursor: 'garbage' }, 'cursor'],
    ];
    for (const [query, field] of cases) {
      const response = await get(URL_QUEUE, query);
      assert.equal(response.statusCode, 400, `${JSON.stringify(query)} → ${response.body}`);
      assert.ok(problemOf(response).errors?.some((error) => error.field === field), `${JSON.stringify(query)} names ${field}: ${response.body}`);
    }
    const badFormat = await get(URL_EXPORT, { format: 'pdf' });
    assert.equal(badFormat.statusCode, 400);
    assert.ok(problemOf(badFormat).errors?.some((error) => error.field === 'format'));
    const limitOnExport = await get(URL_EXPORT, { limit: 10 });
    assert.equal(limitOnExport.statusCode, 400);
  });

  // --- export --------------------------------------------------------------------------

  function parseCsv(body: string): Record<string, string>[] {
    return parse<Record<string, string>>(body, { columns: true, skip_empty_lines: true });
  }

  test('CSV export: every matching row, header, amounts intact, formulas neutralised', async () => {
    const want = await expected(h.db);
    const total = (await page()).total;
    const response = await get(URL_EXPORT, { format: 'csv', style: 'raw' });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^text\/csv/);
    assert.match(
      String(response.headers['content-disposition']),
      /^attachment; filename="bursar-pending-payments-all-schools-\d{4}-\d{2}-\d{2}\.csv"; filename\*=UTF-8''bursar-pending-payments-all-schools-\d{4}-\d{2}-\d{2}\.csv$/,
    );
    const [header] = response.body.split('\n');
    assert.equal(header, PENDING_COLUMNS.join(','));
    const rows = parseCsv(response.body);
    assert.equal(rows.length, total);
    assert.deepEqual(rows.map((row) => row.invoiceId), want.map((row) => row.invoiceId));
    for (const [i, row] of rows.entries()) {
      const w = want[i];
      assert.ok(w);
      assert.equal(Number(row.amount), w.amount);
      assert.equal(Number(row.paidAmount), w.paidAmount);
      assert.equal(Number(row.pendingAmount), w.amount - w.paidAmount);
      assert.equal(row.status, w.status);
    }
    const names = rows.map((row) => row.studentName);
    assert.ok(names.includes(`'=HYPERLINK("x") Inject`), names.join('|'));
    assert.ok(names.includes(`'+1 Plus`));
    assert.ok(names.includes(`'@cmd At`));
    assert.ok(!names.some((name) => name === undefined || /^[=+\-@\t\r]/.test(name)));
    assert.ok(!/^[=+@]/m.test(response.body.replaceAll('"', '')), 'no line starts a formula');
  });

  test('CSV export honours the filters', async () => {
    const want = await expected(h.db, { schoolId: f.schoolB, status: 'OVERDUE' });
    const response = await get(URL_EXPORT, { schoolId: f.schoolB, status: 'OVERDUE', style: 'raw' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(parseCsv(response.body).map((row) => row.invoiceId), want.map((row) => row.invoiceId));
    const admin = await get(URL_EXPORT, { style: 'raw' }, tokens.admin);
    const adminWant = await expected(h.db, { schoolIds: [f.schoolA] });
    assert.deepEqual(parseCsv(admin.body).map((row) => row.invoiceId), adminWant.map((row) => row.invoiceId));
  });

  test('CSV export is masked for the analyst', async () => {
    const want = await expected(h.db);
    const response = await get(URL_EXPORT, { style: 'raw' }, tokens.analyst);
    assert.equal(response.statusCode, 200);
    const rows = parseCsv(response.body);
    assert.deepEqual(rows.map((row) => row.studentName), want.map((row) => maskName(row.firstName, row.lastName)));
    for (const clear of ['Alvarez', 'HYPERLINK', 'Plus', 'cmd']) {
      assert.ok(!response.body.includes(clear), clear);
    }
  });

  test('XLSX export: a zip workbook with a header and every row; text stays text', async () => {
    const want = await expected(h.db);
    const response = await get(URL_EXPORT, { format: 'xlsx', style: 'raw' });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['content-type'], 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    assert.match(String(response.headers['content-disposition']), /filename="bursar-pending-payments-all-schools-\d{4}-\d{2}-\d{2}\.xlsx"/);
    const bytes = response.rawPayload;
    assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0];
    assert.ok(sheet);
    assert.equal(sheet.actualRowCount, want.length + 1);
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    assert.deepEqual(header, [...PENDING_COLUMNS]);
    const idColumn = PENDING_COLUMNS.indexOf('invoiceId') + 1;
    const nameColumn = PENDING_COLUMNS.indexOf('studentName') + 1;
    const amountColumn = PENDING_COLUMNS.indexOf('amount') + 1;
    const ids: unknown[] = [];
    for (let r = 2; r <= want.length + 1; r++) {
      const row: ExcelJS.Row = sheet.getRow(r);
      ids.push(row.getCell(idColumn).value);
      assert.equal(row.getCell(amountColumn).value, want[r - 2]?.amount);
      const name = row.getCell(nameColumn);
      assert.equal(name.type, ExcelJS.ValueType.String, 'a name is a text cell, never a formula');
    }
    assert.deepEqual(ids, want.map((row) => row.invoiceId));
  });

  // --- export for people (style=people, the default) ------------------------------------

  /** Minor units as the decimal text a person's CSV has, computed here independently: 12345 → "123.45" (2 digits), JPY 0, KWD 3. */
  const units = (minor: number, digits: number) => (digits === 0 ? String(minor) : (minor / 10 ** digits).toFixed(digits));
  const STATUS_EN: Record<string, string> = { PENDING: 'Pending', PARTIAL: 'Partially paid', OVERDUE: 'Overdue' };
  const PEOPLE_HEADER_EN = ['Invoice', 'School', 'Student', 'Grade', 'Due date', 'Amount', 'Paid', 'Credited', 'Pending', 'Currency', 'Status', 'Days overdue'];
  const PEOPLE_HEADER_ES = ['Factura', 'Escuela', 'Alumno', 'Grado', 'Vencimiento', 'Importe', 'Pagado', 'Acreditado', 'Pendiente', 'Moneda', 'Estado', 'Días de atraso'];

  test('CSV for people (the default): words as headers, a BOM, amounts in currency units with a Currency column, statuses in words', async () => {
    const want = await expected(h.db);
    const numbers = new Map(
      (await h.db.selectFrom('invoices').select(['id', 'number']).execute()).map((row) => [row.id, row.number]),
    );
    const response = await get(URL_EXPORT, { format: 'csv' });
    assert.equal(response.statusCode, 200, response.body);
    const bytes = response.rawPayload;
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'starts with a UTF-8 byte-order mark');
    const text = bytes.subarray(3).toString('utf8');
    assert.equal(text.split('\n')[0], PEOPLE_HEADER_EN.join(','));
    const rows = parse<Record<string, string>>(response.body, { columns: true, bom: true, skip_empty_lines: true });
    assert.equal(rows.length, want.length);
    for (const [i, row] of rows.entries()) {
      const w = want[i];
      assert.ok(w);
      const currency = w.schoolId === f.schoolA ? 'MXN' : 'USD';
      assert.equal(row.Invoice?.replace(/^'/, ''), numbers.get(w.invoiceId));
      assert.equal(row.Amount, units(w.amount, 2), 'plain decimal, two digits, no separators');
      assert.equal(row.Paid, units(w.paidAmount, 2));
      assert.equal(row.Pending, units(w.amount - w.paidAmount, 2));
      assert.equal(row.Currency, currency);
      assert.equal(row.Status, STATUS_EN[w.status]);
      assert.equal(row['Days overdue'], String(w.daysOverdue));
      assert.match(row['Due date'] ?? '', /^\d{4}-\d{2}-\d{2}$/);
    }
    assert.ok(!Object.keys(rows[0] ?? {}).some((header) => /\bid\b|[a-z]Id$/.test(header)), 'no ids for people');
    // The 123.45 of the 12 345-cent invoice, not 12345.
    assert.ok(rows.some((row) => row.Amount === '123.45' && row.Currency === 'MXN'));
    // Formula neutralisation and masking are the raw export's.
    const names = rows.map((row) => row.Student);
    assert.ok(names.includes(`'=HYPERLINK("x") Inject`), names.join('|'));
    assert.ok(names.includes(`'+1 Plus`));
    const masked = await get(URL_EXPORT, {}, tokens.analyst);
    const maskedRows = parse<Record<string, string>>(masked.body, { columns: true, bom: true });
    assert.deepEqual(maskedRows.map((row) => row.Student), want.map((row) => maskName(row.firstName, row.lastName)));
    assert.ok(!masked.body.includes('Alvarez'));
  });

  test('the reader\'s language: ?lang=, else Accept-Language, else English; bad values are 400s naming the field', async () => {
    const header = (response: { rawPayload: Buffer }) => response.rawPayload.subarray(3).toString('utf8').split('\n')[0];
    const spanish = await h.app.inject({ method: 'GET', url: URL_EXPORT, headers: { ...bearer(tokens.super), 'accept-language': 'es-MX,es;q=0.9,en;q=0.5' } });
    assert.equal(header(spanish), PEOPLE_HEADER_ES.join(','));
    const rows = parse<Record<string, string>>(spanish.body, { columns: true, bom: true });
    assert.ok(rows.some((row) => row.Estado === 'Vencida'));
    const overridden = await h.app.inject({ method: 'GET', url: `${URL_EXPORT}?lang=en`, headers: { ...bearer(tokens.super), 'accept-language': 'es' } });
    assert.equal(header(overridden), PEOPLE_HEADER_EN.join(','));
    assert.equal(header(await get(URL_EXPORT, { lang: 'es' })), PEOPLE_HEADER_ES.join(','));
    const unsupported = await h.app.inject({ method: 'GET', url: URL_EXPORT, headers: { ...bearer(tokens.super), 'accept-language': 'fr-FR, de;q=0.8' } });
    assert.equal(header(unsupported), PEOPLE_HEADER_EN.join(','));
    for (const [query, field] of [[{ lang: 'fr' }, 'lang'], [{ style: 'pretty' }, 'style']] as const) {
      const response = await get(URL_EXPORT, query);
      assert.equal(response.statusCode, 400, response.body);
      assert.ok(problemOf(response).errors?.some((error) => error.field === field), response.body);
    }
  });

  test('each currency keeps its own digits: JPY 0, KWD 3, MXN 2 (CSV and XLSX)', async () => {
    const school = async (name: string, currency: string, amount: number) => {
      const id = (await h.db.insertInto('schools').values({ name, currency, timezone: 'Asia/Tokyo' }).returning('id').executeTakeFirstOrThrow()).id;
      const student = (await h.db.insertInto('students').values({ school_id: id, first_name: 'Kei', last_name: 'Digits', grade: '1' }).returning('id').executeTakeFirstOrThrow()).id;
      await h.db.insertInto('invoices').values({ school_id: id, student_id: student, number: `D-${currency}`, amount, paid_amount: 1, due_date: day(3) }).execute();
      return id;
    };
    const cases = [
      { id: await school('Digits Yen', 'JPY', 450_000), amount: '450000', paid: '1', format: '#,##0 "JPY"' },
      { id: await school('Digits Dinar', 'KWD', 450_000), amount: '450.000', paid: '0.001', format: '#,##0.000 "KWD"' },
    ];
    for (const c of cases) {
      const [row] = parse<Record<string, string>>((await get(URL_EXPORT, { schoolId: c.id })).body, { columns: true, bom: true });
      assert.deepEqual([row?.Amount, row?.Paid], [c.amount, c.paid]);
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load((await get(URL_EXPORT, { schoolId: c.id, format: 'xlsx' })).rawPayload as unknown as ArrayBuffer);
      const cell = workbook.worksheets[0]?.getRow(2).getCell(PEOPLE_HEADER_EN.indexOf('Amount') + 1);
      assert.equal(cell?.value, Number(c.amount));
      assert.match(cell?.numFmt ?? '', new RegExp(`^${c.format.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}`));
    }
  });

  test('XLSX for people: typed cells (numbers with a format per currency, date cells), words as headers, frozen header, widths', async () => {
    const want = await expected(h.db);
    const currencies = new Map((await h.db.selectFrom('schools').select(['id', 'currency']).execute()).map((row) => [row.id, row.currency]));
    const digits: Record<string, number> = { JPY: 0, KWD: 3 };
    const response = await get(URL_EXPORT, { format: 'xlsx', lang: 'es' });
    assert.equal(response.statusCode, 200, response.body);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(response.rawPayload as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0];
    assert.ok(sheet);
    assert.equal(sheet.name, 'Pagos pendientes');
    assert.deepEqual((sheet.getRow(1).values as unknown[]).slice(1), PEOPLE_HEADER_ES);
    assert.equal(sheet.getRow(1).font?.bold, true);
    assert.deepEqual(
      sheet.views.map((view) => [view.state, (view as { ySplit?: number }).ySplit]),
      [['frozen', 1]],
      'the header row stays in view',
    );
    const widths = PEOPLE_HEADER_ES.map((_, index) => sheet.getColumn(index + 1).width ?? 0);
    assert.ok(widths.every((width) => width >= 8), widths.join(','));
    assert.ok((widths[PEOPLE_HEADER_ES.indexOf('Alumno')] ?? 0) > (widths[PEOPLE_HEADER_ES.indexOf('Grado')] ?? 0));
    assert.equal(sheet.actualRowCount, want.length + 1);
    const col = (name: string) => PEOPLE_HEADER_ES.indexOf(name) + 1;
    for (let r = 2; r <= want.length + 1; r++) {
      const w = want[r - 2];
      assert.ok(w);
      const row: ExcelJS.Row = sheet.getRow(r);
      const currency = currencies.get(w.schoolId) ?? '';
      const scale = 10 ** (digits[currency] ?? 2);
      const amount: ExcelJS.Cell = row.getCell(col('Importe'));
      assert.equal(amount.type, ExcelJS.ValueType.Number);
      assert.equal(amount.value, w.amount / scale);
      assert.match(amount.numFmt, new RegExp(`^#,##0(\\.0+)? "${currency}";`));
      if (currency === 'MXN' || currency === 'USD') {
        assert.equal(amount.numFmt, `#,##0.00 "${currency}";-#,##0.00 "${currency}"`);
      }
      assert.equal(row.getCell(col('Pendiente')).value, (w.amount - w.paidAmount) / scale);
      const due = row.getCell(col('Vencimiento'));
      assert.equal(due.type, ExcelJS.ValueType.Date);
      assert.ok(due.value instanceof Date);
      assert.equal(due.value.getUTCHours(), 0, 'a date-only cell');
      assert.equal(due.numFmt, 'yyyy-mm-dd');
      assert.equal(row.getCell(col('Días de atraso')).value, w.daysOverdue);
      assert.equal(row.getCell(col('Moneda')).value, currency);
      assert.equal(row.getCell(col('Alumno')).type, ExcelJS.ValueType.String, 'a name is a text cell, never a formula');
      assert.equal(row.getCell(col('Estado')).value, { PENDING: 'Pendiente', PARTIAL: 'Pago parcial', OVERDUE: 'Vencida' }[w.status]);
    }
  });

  test('download names: bursar-pending-payments-<school>-<date in the school\'s zone>, with an RFC 6266 filename*', async () => {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Mexico_City' }).format(new Date());
    const csv = await get(URL_EXPORT, { schoolId: f.schoolA });
    assert.equal(
      csv.headers['content-disposition'],
      `attachment; filename="bursar-pending-payments-colegio-alfa-${today}.csv"; filename*=UTF-8''bursar-pending-payments-colegio-alfa-${today}.csv`,
    );
    const accented = (await h.db.insertInto('schools').values({ name: 'Escuela San José / Ñuñoa', timezone: 'America/Mexico_City' }).returning('id').executeTakeFirstOrThrow()).id;
    const xlsx = await get(URL_EXPORT, { schoolId: accented, format: 'xlsx', style: 'raw' });
    assert.equal(
      xlsx.headers['content-disposition'],
      `attachment; filename="bursar-pending-payments-escuela-san-jose-nunoa-${today}.xlsx"; filename*=UTF-8''bursar-pending-payments-escuela-san-jos%C3%A9-%C3%B1u%C3%B1oa-${today}.xlsx`,
    );
  });

  test('the export limiter allows N per user and frees slots exactly once', () => {
    const limiter = createExportLimiter(2);
    const a = limiter.tryAcquire('u1');
    const b = limiter.tryAcquire('u1');
    assert.ok(a && b);
    assert.equal(limiter.tryAcquire('u1'), undefined);
    assert.ok(limiter.tryAcquire('u2'), 'another user has their own slots');
    a();
    a();
    assert.equal(limiter.active('u1'), 1);
    const c = limiter.tryAcquire('u1');
    assert.ok(c);
    assert.equal(limiter.tryAcquire('u1'), undefined);
    b();
    c();
    assert.equal(limiter.active('u1'), 0);
    assert.equal(MAX_CONCURRENT_EXPORTS_PER_USER, 2);
  });

  test('a third concurrent export of one user is a 429 with Retry-After; slots are freed afterwards', async () => {
    // Hold two exports open: they wait on a lock while opening their cursor.
    const locker = new pg.Client({ connectionString: h.url });
    await locker.connect();
    // pg_stat_activity is a snapshot per transaction: watch from outside the locker's.
    const watcher = new pg.Client({ connectionString: h.url });
    await watcher.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table invoices in access exclusive mode');
      const first = get(URL_EXPORT, {}, tokens.analyst);
      const second = get(URL_EXPORT, { format: 'xlsx' }, tokens.analyst);
      // Only the exports' statements: other work (the live hub's poll) may queue on the lock too.
      await waitFor('two exports waiting on the lock', async () => {
        const { rows } = await watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'
             and (starts_with(query, $1) or starts_with(query, 'declare bursar_export '))`,
          [EXPORT_STATEMENT_TAG],
        );
        return rows[0]?.n === 2;
      });
      const third = await get(URL_EXPORT, {}, tokens.analyst);
      assert.equal(third.statusCode, 429, third.body);
      assert.equal(problemOf(third).code, 'RATE_LIMITED');
      assert.ok(Number(third.headers['retry-after']) > 0);
      // Another user is not affected by this user's exports (it too waits on the lock).
      const otherUser = get(URL_EXPORT, {}, tokens.super);
      await locker.query('commit');
      const [a, b, c] = await Promise.all([first, second, otherUser]);
      assert.equal(a.statusCode, 200);
      assert.equal(b.statusCode, 200);
      assert.equal(c.statusCode, 200);
    } finally {
      await locker.end();
      await watcher.end();
    }
    // Both slots came back.
    const again = await Promise.all([get(URL_EXPORT, {}, tokens.analyst), get(URL_EXPORT, {}, tokens.analyst)]);
    assert.deepEqual(again.map((r) => r.statusCode), [200, 200]);
    await waitFor('no busy connections', () => h.pool.totalCount - h.pool.idleCount === 0);
  });

  test('a client that disconnects mid-export leaves no busy connection and frees its slot', async () => {
    // A few thousand rows more, in a school of their own (this test runs last).
    const school = (await h.db.insertInto('schools').values({ name: 'Bulk School' }).returning('id').executeTakeFirstOrThrow()).id;
    const bulkStudent = (await h.db.insertInto('students').values({ school_id: school, first_name: 'Bulk', last_name: 'Student', grade: '1' }).returning('id').executeTakeFirstOrThrow()).id;
    await sql`
      insert into invoices (school_id, student_id, number, amount, due_date)
      select ${school}::uuid, ${bulkStudent}::uuid, 'BULK-' || g, 1000 + g, current_date - (g % 400)
      from generate_series(1, 12000) as g`.execute(h.db);

    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    const abortAfterFirstChunk = () =>
      new Promise<number>((resolve, reject) => {
        const request = http.get({ host: '127.0.0.1', port, path: `${URL_EXPORT}?format=csv`, headers: bearer(tokens.super) }, (response) => {
          response.once('data', () => {
            request.destroy();
            resolve(response.statusCode ?? 0);
          });
        });
        request.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ECONNRESET') {
            reject(error);
          }
        });
      });
    assert.equal(await abortAfterFirstChunk(), 200);
    assert.equal(await abortAfterFirstChunk(), 200);
    await waitFor('the pool to have no busy connection', () => h.pool.totalCount - h.pool.idleCount === 0);
    // And the server is not still running (or blocked sending) either export's COPY.
    await waitFor('no COPY left running on the server', async () => {
      const { rows: copying } = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state <> 'idle' and starts_with(query, ${EXPORT_STATEMENT_TAG})`.execute(h.db);
      return copying[0]?.n === 0;
    });
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and state like 'idle in transaction%'`.execute(h.db);
    assert.equal(rows[0]?.n, 0);
    // Both aborted exports gave their slot back: two more run at once.
    const [a, b] = await Promise.all([get(URL_EXPORT, { schoolId: f.schoolA }), get(URL_EXPORT, { schoolId: f.schoolA })]);
    assert.deepEqual([a.statusCode, b.statusCode], [200, 200]);
    // And a full export of the bulk data set is complete.
    const full = await get(URL_EXPORT, { schoolId: school });
    assert.equal(parseCsv(full.body).length, 12_000);
  });
});

