import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedFamilyLedger, type FamilyLedgerFixture } from './fixture.js';

/**
 * The family statement over a family whose money moved every way the ledger moves it
 * (written straight to the database here, consistent with migration 0014's money model:
 * paid_amount = payments − refunds + credit applied + credit notes + write-offs), read
 * as JSON, CSV and with periods: the running balance, the opening and closing positions
 * and the invariant balance = owed − credit against an independent query.
 *
 * The family is test/families/fixture.ts's (owed 6 500, credit 1 000, balance 5 500).
 */
interface Entry {
  date: string;
  kind: string;
  studentName: string | null;
  invoiceNumber: string | null;
  status: string | null;
  pendingAmount: number | null;
  paidAmount: number | null;
  creditedAmount: number | null;
  document: string | null;
  reference: string | null;
  amount: number;
  debit: number;
  credit: number;
  creditAdded: number;
  creditUsed: number;
  balance: number;
}
interface Position {
  balance: number;
  owed: number;
  credit: number;
}
interface Statement {
  familyId: string;
  familyName: string;
  reference: string;
  primaryGuardian: string | null;
  schoolName: string;
  currency: string;
  period: { from: string | null; to: string | null };
  students: { id: string; name: string; grade: string }[];
  opening: Position;
  closing: Position;
  summary: Record<string, number>;
  entries: Entry[];
  entriesTruncated: boolean;
}

/** owed − credit of a family from the invoices and the family row, written independently of the code under test. */
async function invariantBalance(db: Db, schoolId: string, familyId: string): Promise<Position> {
  const { rows } = await sql<{ owed: string; credit: string }>`
    select (select coalesce(sum(i.amount - i.paid_amount), 0) from invoices i left join students s on s.id = i.student_id
             where i.school_id = ${schoolId} and i.cancelled_at is null
               and (i.family_id = ${familyId} or (i.family_id is null and s.family_id = ${familyId})))::text as owed,
           (select credit_balance from families where id = ${familyId})::text as credit`.execute(db);
  const owed = Number(rows[0]?.owed);
  const credit = Number(rows[0]?.credit);
  return { balance: owed - credit, owed, credit };
}

describe('family statement', () => {
  let t: TestApp;
  let api: Client;
  let analyst: Client;
  let fx: FamilyLedgerFixture;

  before(async () => {
    t = await createTestApp();
    const schoolId = (
      await t.db.insertInto('schools').values({ name: 'Colegio Miraflores', address: 'Av. Reforma 1, CDMX', currency: 'MXN', timezone: 'America/Mexico_City' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    await insertUser(t.db, { username: 'st.root', role: 'super_admin' });
    await insertUser(t.db, { username: 'st.analyst', role: 'finance_analyst' });
    api = client(t.app, (await login(t.app, 'st.root')).accessToken);
    analyst = client(t.app, (await login(t.app, 'st.analyst')).accessToken);
    fx = await seedFamilyLedger(t.db, api, schoolId);
  });
  after(() => t.close());

  const statement = async (query = '', as = api) => {
    const response = await as.get(`/families/${fx.familyId}/statement${query}`);
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /application\/json/);
    return response.json<Statement>();
  };

  /** Each entry's balance is the one before plus its debit minus its credit. */
  function assertRunning(body: Statement) {
    let balance = body.opening.balance;
    for (const entry of body.entries) {
      balance += entry.debit - entry.credit;
      assert.equal(entry.balance, balance, `${entry.date} ${entry.kind} ${entry.invoiceNumber}`);
    }
    assert.equal(balance, body.closing.balance);
  }

  test('the whole account: every movement in order, the running balance, closing = owed − credit = GET /families/:id', async () => {
    const body = await statement();
    assert.equal(body.reference, fx.reference);
    assert.equal(body.familyName, 'Pérez García');
    assert.equal(body.primaryGuardian, 'Ana María García');
    assert.deepEqual(body.students, [{ id: body.students[0]?.id, name: 'Ana Pérez', grade: '3' }, { id: body.students[1]?.id, name: 'Beto Pérez', grade: '5' }]);
    assert.deepEqual(
      body.entries.map((e) => [e.date, e.kind, e.invoiceNumber, e.debit, e.credit]),
      [
        ['2026-09-03', 'payment', 'F-001', 0, 6_000],
        ['2026-09-05', 'invoice', 'F-001', 10_000, 0],
        ['2026-09-05', 'invoice', 'F-002', 8_000, 0],
        ['2026-09-10', 'family_payment', null, 0, 12_000],
        ['2026-09-20', 'credit_note', 'F-002', 0, 1_000],
        ['2026-09-29', 'payment', 'F-004', 0, 3_000],
        ['2026-09-30', 'refund', 'F-004', 1_000, 0],
        ['2026-10-02', 'credit_applied', 'F-004', 0, 0],
        ['2026-10-05', 'invoice', 'F-003', 0, 0],
        ['2026-10-05', 'invoice', 'F-004', 9_000, 0],
        ['2026-10-10', 'write_off', 'F-004', 0, 500],
      ],
    );
    assertRunning(body);
    assert.deepEqual(body.opening, { balance: 0, owed: 0, credit: 0 });
    assert.deepEqual(body.closing, { balance: 5_500, owed: 6_500, credit: 1_000 });
    assert.deepEqual(body.closing, await invariantBalance(t.db, fx.schoolId, fx.familyId));
    const family = (await api.get(`/families/${fx.familyId}`)).json<{ balance: { owed: number; credit: number } }>();
    assert.deepEqual(family.balance, { owed: body.closing.owed, credit: body.closing.credit });
    assert.deepEqual(body.summary, { invoiced: 27_000, paid: 21_000, refunded: 1_000, creditNotes: 1_000, writeOffs: 500, credited: 1_500, creditAdded: 3_000, creditUsed: 2_000 });

    const familyPayment = body.entries.find((e) => e.kind === 'family_payment');
    assert.deepEqual([familyPayment?.creditAdded, familyPayment?.document, familyPayment?.reference], [3_000, 'COL-2026-000002', fx.reference]);
    const direct = body.entries[0];
    assert.deepEqual([direct?.document, direct?.reference, direct?.studentName], ['COL-2026-000001', 'TX-123456789', 'Ana Pérez']);
    const cancelled = body.entries.find((e) => e.invoiceNumber === 'F-003');
    assert.deepEqual([cancelled?.status, cancelled?.amount, cancelled?.debit], ['CANCELLED', 7_000, 0]);
    assert.equal(body.entries.find((e) => e.kind === 'credit_applied')?.creditUsed, 2_000);
    assert.equal(body.entries.find((e) => e.kind === 'credit_note')?.document, 'NC-0001');
    assert.ok(!body.entries.some((e) => e.invoiceNumber?.startsWith('X-')), 'nothing of another family');

    // Each invoice as it stands: cash paid, credited (credit notes and write-offs) and still open add up to its amount.
    const invoices = body.entries.filter((e) => e.kind === 'invoice' && e.status !== 'CANCELLED');
    assert.deepEqual(
      invoices.map((e) => [e.invoiceNumber, e.paidAmount, e.creditedAmount, e.pendingAmount]),
      [
        ['F-001', 10_000, 0, 0],
        ['F-002', 5_000, 1_000, 2_000],
        ['F-004', 4_000, 500, 4_500],
      ],
    );
    for (const e of invoices) {
      assert.equal((e.paidAmount ?? 0) + (e.creditedAmount ?? 0) + (e.pendingAmount ?? 0), e.amount);
    }
    assert.ok(body.entries.filter((e) => e.kind !== 'invoice').every((e) => e.paidAmount === null && e.creditedAmount === null));
  });

  test('a period: what came before is the opening balance (days in the school’s zone), the closing is unchanged', async () => {
    const october = await statement('?from=2026-10-01');
    // The refund at 2026-10-01 03:00 UTC was still 30 September in Mexico City: before the period.
    assert.deepEqual(october.opening, { balance: -3_000, owed: 0, credit: 3_000 });
    assert.deepEqual(october.entries.map((e) => e.kind), ['credit_applied', 'invoice', 'invoice', 'write_off']);
    assert.deepEqual(october.closing, { balance: 5_500, owed: 6_500, credit: 1_000 });
    assertRunning(october);
    assert.deepEqual(october.summary, { invoiced: 9_000, paid: 0, refunded: 0, creditNotes: 0, writeOffs: 500, credited: 500, creditAdded: 0, creditUsed: 2_000 });

    const firstHalf = await statement('?to=2026-09-15');
    assert.deepEqual(firstHalf.closing, { balance: 0, owed: 3_000, credit: 3_000 });
    assert.equal(firstHalf.entries.length, 4);
    assertRunning(firstHalf);

    const window = await statement('?from=2026-09-06&to=2026-09-30');
    assert.deepEqual(window.opening.balance, 12_000);
    assert.deepEqual(window.entries.map((e) => e.date), ['2026-09-10', '2026-09-20', '2026-09-29', '2026-09-30']);
    assert.equal(window.closing.balance, -3_000);
    assertRunning(window);

    const empty = await statement('?from=2027-01-01');
    assert.deepEqual([empty.entries, empty.opening, empty.closing], [[], empty.closing, { balance: 5_500, owed: 6_500, credit: 1_000 }]);

    const reversed = await api.get(`/families/${fx.familyId}/statement?from=2026-10-01&to=2026-09-01`);
    assert.equal(reversed.statusCode, 400);
    assert.equal(problemOf(reversed).errors?.[0]?.field, 'from');
    const badFormat = await api.get(`/families/${fx.familyId}/statement?format=xlsx`);
    assert.equal(badFormat.statusCode, 400);
    assert.equal(problemOf(badFormat).errors?.[0]?.field, 'format');
    const notAcceptable = await api.get(`/families/${fx.familyId}/statement`, { accept: 'image/png' });
    assert.equal(notAcceptable.statusCode, 406);
  });

  test('the analyst reads it masked: family name, students, guardian and payment references', async () => {
    const body = await statement('', analyst);
    assert.equal(body.familyName, 'P.');
    assert.equal(body.primaryGuardian, 'A. G.');
    assert.deepEqual(body.students.map((s) => s.name), ['A. P.', 'B. P.']);
    assert.equal(body.entries[0]?.studentName, 'A. P.');
    assert.equal(body.entries[0]?.reference, '***6789');
    assert.equal(body.reference, fx.reference);
    assert.deepEqual(body.closing, { balance: 5_500, owed: 6_500, credit: 1_000 });
    const csv = await analyst.get(`/families/${fx.familyId}/statement?format=csv`);
    assert.ok(!csv.body.includes('García') && !csv.body.includes('Beto') && !csv.body.includes('TX-123456789'), csv.body);
  });

  test('the CSV for people opened as a spreadsheet opens it: words as headers, dates as dates, numbers in currency units, head values whole', async () => {
    const people = await api.get(`/families/${fx.familyId}/statement?format=csv`);
    const workbook = new ExcelJS.Workbook();
    // ExcelJS reads a CSV as a spreadsheet does: no comments, a number where it reads one, a date where it reads one.
    const sheet = await workbook.csv.read(Readable.from([people.rawPayload.subarray(3)]));
    const rows = (sheet.getSheetValues() as unknown[][]).filter((row) => Array.isArray(row)).map((row) => row.slice(1));
    const cell = (label: string) => rows.find((row) => row[0] === `# ${label}`)?.slice(1);
    assert.deepEqual(cell('Address'), ['Av. Reforma 1, CDMX'], 'one cell, the comma kept');
    assert.deepEqual(cell('Students'), ['Ana Pérez (3), Beto Pérez (5)']);
    assert.deepEqual(cell('Invoiced'), [270]);
    assert.deepEqual(cell('Paid'), [-210]);
    assert.deepEqual(cell('Closing balance'), [55]);
    const headerAt = rows.findIndex((row) => row[0] === 'Date');
    const header = rows[headerAt] ?? [];
    assert.deepEqual(header, ['Date', 'Movement', 'Student', 'Invoice', 'Detail', 'Charges', 'Paid', 'Credited', 'Balance', 'Currency']);
    const body = rows.slice(headerAt + 1);
    assert.equal(body.length, 11);
    const at = (name: string) => header.indexOf(name);
    for (const row of body) {
      assert.ok(row[at('Date')] instanceof Date, `a date: ${String(row[at('Date')])}`);
      assert.equal(typeof row[at('Balance')], 'number');
      for (const name of ['Charges', 'Paid', 'Credited']) {
        assert.ok(row[at(name)] === undefined || row[at(name)] === null || typeof row[at(name)] === 'number', `${name}: ${String(row[at(name)])}`);
      }
    }
    const writeOff = body.find((row) => row[at('Movement')] === 'Write-off');
    assert.deepEqual([writeOff?.[at('Credited')], writeOff?.[at('Balance')]], [5, 55]);
    // The columns add up as the balance does: opening + charges − paid − credited = closing.
    const sum = (name: string) => body.reduce((total, row) => total + (typeof row[at(name)] === 'number' ? (row[at(name)] as number) : 0), 0);
    assert.equal(Math.round((sum('Charges') - sum('Paid') - sum('Credited')) * 100), 5_500);
  });

  test('CSV for people: BOM, words in the reader’s language, amounts in currency units, balances in the head; raw: minor units', async () => {
    const people = await api.get(`/families/${fx.familyId}/statement?format=csv`);
    assert.equal(people.statusCode, 200);
    assert.match(String(people.headers['content-type']), /^text\/csv/);
    assert.match(String(people.headers['content-disposition']), /^attachment; filename="bursar-family-statement-colegio-miraflores-perez-garcia-\d{4}-\d{2}-\d{2}\.csv"/);
    assert.equal(people.headers['cache-control'], 'private, no-store');
    assert.deepEqual([...people.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    const text = people.rawPayload.subarray(3).toString('utf8');
    const comments = text.split('\n').filter((line) => line.startsWith('# '));
    assert.ok(comments.includes('# Family statement'), comments.join('\n'));
    // Head lines are `# label,value`: skipped by readers of comments, two whole cells in a spreadsheet.
    assert.ok(comments.includes(`# Payment reference,"${fx.reference}"`), comments.join('\n'));
    assert.ok(comments.includes('# Address,"Av. Reforma 1, CDMX"'));
    assert.ok(comments.includes('# Opening balance,0.00'));
    assert.ok(comments.includes('# Paid,-210.00'));
    assert.ok(comments.includes('# Credit notes,-10.00'));
    assert.ok(comments.includes('# Written off,-5.00'));
    assert.ok(comments.includes('# Closing balance,55.00'));
    assert.ok(comments.includes('# Family credit held,10.00'));
    assert.ok(comments.some((line) => /^# Generated at,"\d{4}-\d{2}-\d{2} \d{2}:\d{2} America\/Mexico_City \(UTC-0[56]:00\)"$/.test(line)));
    const rows = parse<Record<string, string>>(text, { columns: true, comment: '#' });
    assert.deepEqual(Object.keys(rows[0] ?? {}), ['Date', 'Movement', 'Student', 'Invoice', 'Detail', 'Charges', 'Paid', 'Credited', 'Balance', 'Currency']);
    assert.equal(rows.length, 11);
    assert.deepEqual(rows[0], {
      Date: '2026-09-03',
      Movement: 'Payment',
      Student: 'Ana Pérez',
      Invoice: 'F-001',
      Detail: 'Card · receipt COL-2026-000001 · TX-123456789',
      Charges: '',
      Paid: '60.00',
      Credited: '',
      Balance: '-60.00',
      Currency: 'MXN',
    });
    // Money taken off is Paid (payments, the family payment) or Credited (the credit note, the write-off), never both.
    assert.deepEqual(
      rows.filter((row) => row.Paid !== '' || row.Credited !== '').map((row) => [row.Movement, row.Paid, row.Credited]),
      [
        ['Payment', '60.00', ''],
        ['Family payment', '120.00', ''],
        ['Credit note', '', '10.00'],
        ['Payment', '30.00', ''],
        ['Write-off', '', '5.00'],
      ],
    );
    assert.equal(rows.at(-1)?.Balance, '55.00');
    assert.ok(rows.some((row) => row.Detail === 'Colegiatura F-003 · Cancelled (counts nothing)'));
    assert.ok(rows.some((row) => row.Movement === 'Family payment' && (row.Detail ?? '').endsWith('MXN 30.00 to family credit')));

    const spanish = await api.get(`/families/${fx.familyId}/statement?format=csv&lang=es`);
    const es = parse<Record<string, string>>(spanish.rawPayload.subarray(3).toString('utf8'), { columns: true, comment: '#' });
    assert.deepEqual(Object.keys(es[0] ?? {}), ['Fecha', 'Movimiento', 'Alumno', 'Factura', 'Detalle', 'Cargos', 'Pagado', 'Acreditado', 'Saldo', 'Moneda']);
    assert.ok(spanish.body.includes('# Estado de cuenta familiar'));
    assert.ok(es.some((row) => row.Movimiento === 'Nota de crédito'));

    const byAccept = await api.get(`/families/${fx.familyId}/statement`, { accept: 'text/csv' });
    assert.match(String(byAccept.headers['content-type']), /^text\/csv/);

    const raw = await api.get(`/families/${fx.familyId}/statement?format=csv&style=raw`);
    assert.notEqual(raw.rawPayload[0], 0xef);
    const rawRows = parse<Record<string, string>>(raw.body, { columns: true, comment: '#' });
    assert.deepEqual([rawRows[1]?.kind, rawRows[1]?.debit, rawRows[1]?.balance], ['invoice', '10000', '4000']);
    const f004 = rawRows.find((row) => row.kind === 'invoice' && row.invoiceNumber === 'F-004');
    assert.deepEqual([f004?.paidAmount, f004?.creditedAmount, f004?.pendingAmount], ['4000', '500', '4500']);
    assert.ok(raw.body.includes('# credited: 1500\n'));
    assert.ok(raw.body.includes('# Closing: balance 5500, owed 6500, credit 1000'));
  });
});
