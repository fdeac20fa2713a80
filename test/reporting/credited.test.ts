import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { readPdf } from '../helpers/pdf.js';

/**
 * Credit notes and write-offs in every output that reads "paid" (issue 16 point 6).
 * Since migration 0014 invoices.paid_amount is everything that settled an invoice and
 * credited_amount its credit notes and write-offs; people and exports read cash paid
 * and credited side by side, so that paid + credited + pending = amount on every row
 * and every total.
 *
 * Written through the API (the ledger writes the figures): one MXN school, one student,
 *   I1 10 000 due 30 days ago: paid 3 000 (card), credit note 2 000, write-off 1 500
 *      → paid 3 000, credited 3 500, pending 3 500 (OVERDUE)
 *   I2  5 000 due 30 days ago: paid 1 000 → paid 1 000, credited 0, pending 4 000
 * Totals: invoiced 15 000, paid 4 000, credited 3 500, pending 7 500.
 */

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

const I1 = { amount: 10_000, paid: 3_000, credited: 3_500, pending: 3_500 };
const I2 = { amount: 5_000, paid: 1_000, credited: 0, pending: 4_000 };
const TOTAL = { amount: 15_000, paid: 4_000, credited: 3_500, pending: 7_500 };

/** MXN minor units as the people CSV writes them (100 → "1.00"), computed here. */
const units = (minor: number) => (minor / 100).toFixed(2);
/** As a person reads them on paper: "MXN 10,000.00". */
const printed = (minor: number) => `MXN ${(minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;

describe('credit notes and write-offs in statements, the pending queue, its export and the billing reports', () => {
  let t: TestApp;
  let api: Client;
  let schoolId = '';
  let studentId = '';
  let i1 = '';
  let i2 = '';

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'credited.root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'credited.root')).accessToken);
    schoolId = (await api.post('/schools', { name: 'Colegio Crédito', currency: 'MXN', timezone: 'America/Mexico_City' })).json<{ id: string }>().id;
    studentId = (await api.post('/students', { schoolId, firstName: 'Ana', lastName: 'Abono', grade: '4' })).json<{ id: string }>().id;
    const invoice = async (amount: number, number: string) => {
      const response = await api.post('/invoices', { studentId, amount, dueDate: day(-30), description: `Colegiatura ${number}` });
      assert.equal(response.statusCode, 201, response.body);
      return response.json<{ id: string }>().id;
    };
    i1 = await invoice(I1.amount, '1');
    i2 = await invoice(I2.amount, '2');
    const ok = async (response: Promise<{ statusCode: number; body: string }>) => {
      const done = await response;
      assert.equal(done.statusCode, 201, done.body);
    };
    await ok(api.pay({ invoiceId: i1, amount: 3_000, method: 'card' }));
    await ok(api.post(`/invoices/${i1}/credit-notes`, { amount: 2_000, reason: 'sibling discount' }, { 'idempotency-key': randomUUID() }));
    await ok(api.post(`/invoices/${i1}/write-offs`, { amount: 1_500, reason: 'bad debt' }, { 'idempotency-key': randomUUID() }));
    await ok(api.pay({ invoiceId: i2, amount: 1_000, method: 'cash' }));
  });
  after(() => t.close());

  /** The figures an invoice has in the database, read independently of the outputs. */
  test('the fixture is what the ledger wrote', async () => {
    const { rows } = await sql<{ id: string; paid: string; credited: string }>`
      select id, paid_amount::text as paid, credited_amount::text as credited from invoices where school_id = ${schoolId}`.execute(t.db);
    const of = (id: string) => rows.find((row) => row.id === id);
    assert.deepEqual([of(i1)?.paid, of(i1)?.credited], [String(I1.paid + I1.credited), String(I1.credited)]);
    assert.deepEqual([of(i2)?.paid, of(i2)?.credited], [String(I2.paid), '0']);
  });

  for (const kind of ['student', 'school'] as const) {
    const url = () => (kind === 'student' ? `/students/${studentId}/statement` : `/schools/${schoolId}/statement`);

    test(`${kind} statement JSON: paidAmount is cash, creditedAmount beside it, totals add up`, async () => {
      const response = await api.get(url());
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json<{
        summary: { totalInvoiced: number; totalPaid: number; totalCredited: number; totalPending: number };
        invoices: { id: string; amount: number; paidAmount: number; creditedAmount: number; pendingAmount: number }[];
      }>();
      const row = (id: string) => body.invoices.find((invoice) => invoice.id === id);
      assert.deepEqual(
        [row(i1)?.amount, row(i1)?.paidAmount, row(i1)?.creditedAmount, row(i1)?.pendingAmount],
        [I1.amount, I1.paid, I1.credited, I1.pending],
      );
      assert.deepEqual([row(i2)?.paidAmount, row(i2)?.creditedAmount, row(i2)?.pendingAmount], [I2.paid, I2.credited, I2.pending]);
      assert.deepEqual(
        [body.summary.totalInvoiced, body.summary.totalPaid, body.summary.totalCredited, body.summary.totalPending],
        [TOTAL.amount, TOTAL.paid, TOTAL.credited, TOTAL.pending],
      );
      for (const invoice of body.invoices) {
        assert.equal(invoice.paidAmount + invoice.creditedAmount + invoice.pendingAmount, invoice.amount);
      }
    });

    test(`${kind} statement CSV: a Credited column in currency units (people), creditedAmount in minor units (raw)`, async () => {
      const people = await api.get(url(), { accept: 'text/csv' });
      assert.equal(people.statusCode, 200, people.body);
      const comments = people.body.split('\n').filter((line) => line.startsWith('# '));
      assert.ok(comments.includes('# Total paid,40.00'), comments.join('\n'));
      assert.ok(comments.includes('# Total credited (credit notes and write-offs),35.00'), comments.join('\n'));
      assert.ok(comments.includes('# Total pending,75.00'), comments.join('\n'));
      const rows = parse<Record<string, string>>(people.body, { columns: true, comment: '#', bom: true });
      const row = rows.find((r) => r.Description === 'Colegiatura 1');
      assert.deepEqual([row?.Amount, row?.Paid, row?.Credited, row?.Pending], [I1.amount, I1.paid, I1.credited, I1.pending].map(units));

      const raw = await api.get(`${url()}?style=raw`, { accept: 'text/csv' });
      const rawRows = parse<Record<string, string>>(raw.body, { columns: true, comment: '#' });
      const rawRow = rawRows.find((r) => r.invoiceId === i1);
      assert.deepEqual([rawRow?.amount, rawRow?.paidAmount, rawRow?.creditedAmount, rawRow?.pendingAmount], [I1.amount, I1.paid, I1.credited, I1.pending].map(String));
      assert.ok(raw.body.includes(`# Total credited: ${TOTAL.credited}\n`));
    });

    test(`${kind} statement PDF: Paid, Credited and Pending columns on the row and in the totals`, async () => {
      const response = await api.get(url(), { accept: 'application/pdf' });
      assert.equal(response.statusCode, 200);
      const [page] = await readPdf(response.rawPayload);
      assert.ok(page);
      assert.ok(page.lines.some((line) => /Amount Paid Credited Pending$/.test(line)), page.lines.join('\n'));
      const cells = (line: string | undefined) => line?.match(/MXN [\d,]+\.\d{2}/g) ?? [];
      const first = page.lines.find((line) => line.includes(kind === 'student' ? 'Colegiatura 1' : 'Ana Abono') && cells(line).length === 4 && line.includes(printed(I1.amount)));
      assert.deepEqual(cells(first), [I1.amount, I1.paid, I1.credited, I1.pending].map(printed), page.lines.join('\n'));
      const totals = page.lines.find((line) => line.startsWith('Totals'));
      assert.deepEqual(cells(totals), [TOTAL.amount, TOTAL.paid, TOTAL.credited, TOTAL.pending].map(printed), page.lines.join('\n'));
      assert.ok(page.lines.some((line) => line.startsWith('Total credited') && line.endsWith(printed(TOTAL.credited))), page.lines.join('\n'));
    });
  }

  test('pending queue JSON: paidAmount is cash, creditedAmount beside it', async () => {
    const response = await api.get(`/reports/pending-payments?schoolId=${schoolId}`);
    assert.equal(response.statusCode, 200, response.body);
    const rows = response.json<{ data: { invoiceId: string; amount: number; paidAmount: number; creditedAmount: number; pendingAmount: number }[] }>().data;
    const row = rows.find((r) => r.invoiceId === i1);
    assert.deepEqual([row?.amount, row?.paidAmount, row?.creditedAmount, row?.pendingAmount], [I1.amount, I1.paid, I1.credited, I1.pending]);
    for (const r of rows) {
      assert.equal(r.paidAmount + r.creditedAmount + r.pendingAmount, r.amount);
    }
  });

  test('pending export CSV: Credited in currency units for people, creditedAmount in minor units raw', async () => {
    const people = await api.get(`/reports/pending-payments/export?schoolId=${schoolId}`);
    assert.equal(people.statusCode, 200, people.body);
    const rows = parse<Record<string, string>>(people.body, { columns: true, bom: true });
    const row = rows.find((r) => r.Amount === units(I1.amount));
    assert.deepEqual([row?.Paid, row?.Credited, row?.Pending], [I1.paid, I1.credited, I1.pending].map(units));
    const raw = await api.get(`/reports/pending-payments/export?schoolId=${schoolId}&style=raw`);
    const rawRow = parse<Record<string, string>>(raw.body, { columns: true }).find((r) => r.invoiceId === i1);
    assert.deepEqual([rawRow?.paidAmount, rawRow?.creditedAmount, rawRow?.pendingAmount], [I1.paid, I1.credited, I1.pending].map(String));
  });

  test('pending export XLSX: a Credited number cell in currency units (people), creditedAmount (raw)', async () => {
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load((await api.get(`/reports/pending-payments/export?schoolId=${schoolId}&format=xlsx`)).rawPayload as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0];
    assert.ok(sheet);
    const headers = (sheet.getRow(1).values as unknown[]).slice(1);
    const col = (name: string) => headers.indexOf(name) + 1;
    const rows = [2, 3].map((n) => sheet.getRow(n));
    const row = rows.find((r) => r.getCell(col('Amount')).value === I1.amount / 100);
    assert.ok(row, 'the invoice with a credit note and a write-off');
    assert.equal(row.getCell(col('Credited')).type, ExcelJS.ValueType.Number);
    assert.deepEqual(
      ['Paid', 'Credited', 'Pending'].map((name) => row.getCell(col(name)).value),
      [I1.paid, I1.credited, I1.pending].map((minor) => minor / 100),
    );
    assert.match(row.getCell(col('Credited')).numFmt, /"MXN"/);

    const rawBook = new ExcelJS.Workbook();
    await rawBook.xlsx.load((await api.get(`/reports/pending-payments/export?schoolId=${schoolId}&format=xlsx&style=raw`)).rawPayload as unknown as ArrayBuffer);
    const rawSheet = rawBook.worksheets[0];
    assert.ok(rawSheet);
    const rawHeaders = (rawSheet.getRow(1).values as unknown[]).slice(1);
    const rawRow = [2, 3].map((n) => rawSheet.getRow(n)).find((r) => r.getCell(rawHeaders.indexOf('invoiceId') + 1).value === i1);
    assert.ok(rawRow);
    assert.deepEqual(
      ['paidAmount', 'creditedAmount', 'pendingAmount'].map((name) => Number(rawRow.getCell(rawHeaders.indexOf(name) + 1).value)),
      [I1.paid, I1.credited, I1.pending],
    );
  });

  test('billing reports: cash paid and credited beside it, JSON and CSV, and the collection rate over what is owed', async () => {
    const json = async <T>(path: string) => {
      const response = await api.get(`/reports/${path}${path.includes('?') ? '&' : '?'}schoolId=${schoolId}`);
      assert.equal(response.statusCode, 200, response.body);
      return response.json<{ data: T[] }>().data;
    };
    const [balance] = await json<{ totalInvoiced: number; totalPaid: number; totalCredited: number; balance: number }>('students/balance');
    assert.deepEqual([balance?.totalInvoiced, balance?.totalPaid, balance?.totalCredited, balance?.balance], [TOTAL.amount, TOTAL.paid, TOTAL.credited, TOTAL.pending]);
    const [summary] = await json<{ totalInvoiced: number; totalPaid: number; totalCredited: number; totalPending: number; collectionRate: number }>('schools/summary');
    assert.deepEqual(
      [summary?.totalInvoiced, summary?.totalPaid, summary?.totalCredited, summary?.totalPending, summary?.collectionRate],
      [TOTAL.amount, TOTAL.paid, TOTAL.credited, TOTAL.pending, Number((TOTAL.paid / (TOTAL.amount - TOTAL.credited)).toFixed(4))],
    );
    for (const path of ['invoices/details', 'invoices/overdue']) {
      const rows = await json<{ invoiceId: string; amount: number; paidAmount: number; creditedAmount: number; pendingAmount: number }>(path);
      const row = rows.find((r) => r.invoiceId === i1);
      assert.deepEqual([row?.paidAmount, row?.creditedAmount, row?.pendingAmount], [I1.paid, I1.credited, I1.pending], path);
    }
    const csv = await api.get(`/reports/invoices/details?schoolId=${schoolId}&format=csv`);
    const rows = parse<Record<string, string>>(csv.body, { columns: true, bom: true });
    const row = rows.find((r) => r.Description === 'Colegiatura 1');
    assert.deepEqual([row?.Amount, row?.Paid, row?.Credited, row?.Pending], [I1.amount, I1.paid, I1.credited, I1.pending].map(units));
    const balanceCsv = parse<Record<string, string>>((await api.get(`/reports/students/balance?schoolId=${schoolId}&format=csv`)).body, { columns: true, bom: true });
    assert.deepEqual([balanceCsv[0]?.Paid, balanceCsv[0]?.Credited, balanceCsv[0]?.Balance], [TOTAL.paid, TOTAL.credited, TOTAL.pending].map(units));
  });
});
