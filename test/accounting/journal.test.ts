import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

interface Line {
  entryId: string;
  date: string;
  account: string;
  debit: number;
  credit: number;
  currency: string;
  description: string;
  sourceType: string;
  sourceId: string;
}
interface Page {
  data: Line[];
  nextCursor: string | null;
}

const FROM = '2020-01-01';
const TO = '2099-12-31';

/** Σ (amount − paid) of the school's open invoices, and its families' unapplied credit: what the receivable and family-credit accounts must hold. */
async function ledgerTruth(db: Db, schoolId: string): Promise<{ open: number; credit: number }> {
  const { rows } = await sql<{ open: string; credit: string }>`
    select (select coalesce(sum(amount - paid_amount), 0) from invoices where school_id = ${schoolId} and cancelled_at is null) as open,
           (select coalesce(sum(credited), 0) from family_payments where school_id = ${schoolId})
             - (select coalesce(sum(amount), 0) from credit_applications where school_id = ${schoolId}) as credit`.execute(db);
  return { open: Number(rows[0]?.open), credit: Number(rows[0]?.credit) };
}

const balance = (lines: Line[], account: string) => lines.filter((line) => line.account === account).reduce((sum, line) => sum + line.debit - line.credit, 0);

function unbalanced(lines: Line[]): string[] {
  const sums = new Map<string, number>();
  for (const line of lines) {
    sums.set(line.entryId, (sums.get(line.entryId) ?? 0) + line.debit - line.credit);
  }
  return [...sums].filter(([, sum]) => sum !== 0).map(([id, sum]) => `${id}: ${sum}`);
}

/** SPEC §9 "Accounting": the journal balances, entry by entry and against the ledger, in every layout. */
describe('accounting journal', () => {
  let t: TestApp;
  const f = { schoolA: '', schoolB: '', beto: '', carla: '', cancelled: '' };
  let root: Client;
  let familyId = '';

  const journal = async (as: Client, schoolId: string, extra = ''): Promise<Line[]> => {
    const lines: Line[] = [];
    let cursor: string | null = null;
    do {
      const response = await as.get(`/accounting/journal?schoolId=${schoolId}&from=${FROM}&to=${TO}&limit=500${extra}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<Page>();
      lines.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return lines;
  };

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    const ok = async (response: Promise<{ statusCode: number; body: string }>, status = 201) => {
      const answered = await response;
      assert.equal(answered.statusCode, status, answered.body);
      return JSON.parse(answered.body) as { id: string };
    };
    const key = () => ({ 'idempotency-key': randomUUID() });
    // Everything through the API, so the ledger wrote it (lines, payments, adjustments).
    f.schoolA = (await ok(root.post('/schools', { name: 'Escuela Contable', currency: 'MXN', timezone: 'America/Mexico_City' }))).id;
    f.schoolB = (await ok(root.post('/schools', { name: 'Other School', currency: 'USD', timezone: 'America/New_York' }))).id;
    await insertUser(t.db, { username: 'admin.b', role: 'school_admin', schoolIds: [f.schoolB] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    const ana = (await ok(root.post('/students', { schoolId: f.schoolA, firstName: 'Ana', lastName: 'A', grade: '1' }))).id;
    f.beto = (await ok(root.post('/students', { schoolId: f.schoolA, firstName: 'Beto', lastName: 'B', grade: '2' }))).id;
    f.carla = (await ok(root.post('/students', { schoolId: f.schoolB, firstName: 'Carla', lastName: 'C', grade: '3' }))).id;
    const invoice = async (studentId: string, amount: number, dueDate = '2027-01-10') => (await ok(root.post('/invoices', { studentId, amount, dueDate }))).id;
    const paid = await invoice(ana, 10_000);
    const payment = (await ok(root.pay({ invoiceId: paid, amount: 6_000, method: 'card' }))).id;
    await ok(root.pay({ invoiceId: paid, amount: 4_000, method: 'cash' }));
    await ok(root.refund(payment, { amount: 1_500, reason: 'Cobro doble' }));
    const overdue = await invoice(ana, 5_000, '2026-01-10');
    await ok(root.post(`/invoices/${overdue}/write-offs`, { amount: 500, reason: 'Incobrable' }, key()));
    f.cancelled = await invoice(ana, 7_000);
    await ok(root.delete(`/invoices/${f.cancelled}`), 200);
    const pending = await invoice(f.beto, 8_000);
    await ok(root.post(`/invoices/${pending}/credit-notes`, { amount: 1_000, reason: 'Tarifa corregida' }, key()));
    await invoice(f.beto, 3_000);
    await invoice(f.carla, 20_000);
    familyId = (await ok(root.post('/families', { schoolId: f.schoolA, name: 'Beto family', guardians: [{ firstName: 'Lu', lastName: 'B', relationship: 'mother', isPrimary: true }] }))).id;
    await ok(root.patch(`/students/${f.beto}`, { familyId }), 200);
    // 10 000 owed by Beto's family; 12 000 paid: 2 000 of family credit.
    await ok(root.post(`/families/${familyId}/payments`, { amount: 12_000, method: 'card' }, key()));
    // A late fee on the overdue invoice, partly waived.
    await ok(root.put(`/schools/${f.schoolA}/late-fee-policy`, { kind: 'fixed', value: 2_500, graceDays: 0 }), 200);
    await ok(root.post('/collections/run', { schoolId: f.schoolA }), 200);
    const fee = await t.db.selectFrom('invoices').select('id').where('related_invoice_id', '=', overdue).executeTakeFirstOrThrow();
    await ok(root.post(`/invoices/${fee.id}/waivers`, { amount: 1_000, reason: 'Primer retraso' }, key()));
  });

  after(async () => {
    await t?.close();
  });

  test('every entry balances, and the receivable and family-credit accounts equal what the ledger holds', async () => {
    const lines = await journal(root, f.schoolA);
    assert.ok(lines.length > 10);
    assert.deepEqual(unbalanced(lines), []);
    const truth = await ledgerTruth(t.db, f.schoolA);
    assert.ok(truth.credit > 0, 'the family payment left credit');
    assert.equal(balance(lines, '1200'), truth.open);
    assert.equal(balance(lines, '2100'), 0 - truth.credit);
    const kinds = new Set(lines.map((line) => line.sourceType));
    assert.equal(balance(lines, '4100'), -1_500, 'late fee 2 500 charged, 1 000 waived');
    for (const kind of ['invoice', 'payment', 'family_payment', 'refund', 'credit_note', 'write_off', 'waiver']) {
      assert.ok(kinds.has(kind), `${kind} in ${[...kinds].join(', ')}`);
    }
    // The cancelled invoice: its charge and its reversal.
    const cancelled = lines.filter((line) => line.sourceId === f.cancelled);
    assert.equal(cancelled.reduce((sum, line) => sum + (line.account === '4000' ? line.credit - line.debit : 0), 0), 0);
    assert.ok(lines.every((line) => line.currency === 'MXN' && /^\d{4}-\d{2}-\d{2}$/.test(line.date)));
  });

  test('small pages give the same lines as one large page (keyset)', async () => {
    const all = await journal(root, f.schoolA);
    const paged: Line[] = [];
    let cursor: string | null = null;
    do {
      const response = await root.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const page = response.json<Page>();
      assert.ok(page.data.length <= 3);
      paged.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(paged, all);
  });

  test('CSV, Xero and QuickBooks files carry the same lines in currency units; XLSX is a workbook', async () => {
    const lines = await journal(root, f.schoolA);
    const csv = await root.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}&format=csv`);
    assert.equal(csv.statusCode, 200, csv.body);
    assert.match(csv.headers['content-type'] as string, /text\/csv/);
    assert.match(csv.headers['content-disposition'] as string, /bursar-journal-.*\.csv/);
    const rows = parse<Record<string, string>>(csv.body, { columns: true, bom: true });
    assert.equal(rows.length, lines.length);
    const units = (minor: number) => (minor / 100).toFixed(2);
    assert.deepEqual(
      rows.map((row) => [row.entryId, row.account, row.debit, row.credit]),
      lines.map((line) => [line.entryId, line.account, units(line.debit), units(line.credit)]),
    );

    const xero = parse<Record<string, string>>((await root.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}&format=xero`)).body, { columns: true, bom: true });
    const byNarration = new Map<string, number>();
    for (const row of xero) {
      byNarration.set(row['*Narration'] ?? '', (byNarration.get(row['*Narration'] ?? '') ?? 0) + Math.round(Number(row['*Amount']) * 100));
    }
    assert.equal(xero.length, lines.length);
    assert.ok([...byNarration.values()].every((sum) => sum === 0), 'each Xero journal sums to zero');

    const qbo = parse<Record<string, string>>((await root.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}&format=quickbooks`)).body, { columns: true, bom: true });
    const journals = new Map<string, number>();
    for (const row of qbo) {
      const no = row['Journal No.'] ?? '';
      journals.set(no, (journals.get(no) ?? 0) + Math.round(Number(row.Debits || 0) * 100) - Math.round(Number(row.Credits || 0) * 100));
    }
    assert.equal(journals.size, new Set(lines.map((line) => line.entryId)).size);
    assert.ok([...journals.values()].every((sum) => sum === 0), 'each QuickBooks journal balances');

    const xlsx = await root.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}&format=xlsx`);
    assert.equal(xlsx.statusCode, 200);
    assert.equal(xlsx.rawPayload.subarray(0, 2).toString(), 'PK');
  });

  test('the chart of accounts: defaults, then a mapping per method; the journal follows it', async () => {
    const defaults = await root.get(`/schools/${f.schoolA}/accounts`);
    assert.equal(defaults.statusCode, 200, defaults.body);
    assert.equal(defaults.json<{ updatedAt: string | null; receivable: string }>().updatedAt, null);
    const mapping = { receivable: '1300', cash: '1000', cashByMethod: { card: '1010' }, income: '4000', discounts: '4900', lateFees: '4100', creditNotes: '4950', writeOffs: '6100', familyCredit: '2200' };
    const put = await root.put(`/schools/${f.schoolA}/accounts`, mapping);
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.json<{ cashByMethod: Record<string, string> }>().cashByMethod.card, '1010');
    const lines = await journal(root, f.schoolA);
    const truth = await ledgerTruth(t.db, f.schoolA);
    assert.equal(balance(lines, '1300'), truth.open);
    assert.equal(balance(lines, '1200'), 0);
    assert.equal(balance(lines, '2200'), 0 - truth.credit);
    assert.ok(lines.some((line) => line.account === '1010' && line.sourceType === 'family_payment'), 'card money on the card account');
    // The files (written by PostgreSQL) name the same accounts as the JSON pages, line for line.
    for (const [format, column] of [['csv', 'account'], ['xero', '*AccountCode'], ['quickbooks', 'Account']] as const) {
      const file = parse<Record<string, string>>((await root.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}&format=${format}`)).body, { columns: true, bom: true });
      assert.deepEqual(file.map((row) => row[column]), lines.map((line) => line.account), format);
    }
    const bad = await root.put(`/schools/${f.schoolA}/accounts`, { ...mapping, receivable: '' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /receivable/);
    const analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);
    assert.equal((await analyst.put(`/schools/${f.schoolA}/accounts`, mapping)).statusCode, 403);
    assert.equal((await analyst.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}`)).statusCode, 200);
  });

  test('scoped by school; bad input is a 400 naming the field', async () => {
    const adminB = client(t.app, (await login(t.app, 'admin.b')).accessToken);
    assert.equal((await adminB.get(`/accounting/journal?schoolId=${f.schoolA}&from=${FROM}&to=${TO}`)).statusCode, 404);
    assert.equal((await adminB.get(`/schools/${f.schoolA}/accounts`)).statusCode, 404);
    assert.deepEqual(unbalanced(await journal(adminB, f.schoolB)), []);
    const dev = client(t.app, (await login(t.app, 'dev')).accessToken);
    assert.equal((await dev.get(`/accounting/journal?schoolId=${f.schoolB}&from=${FROM}&to=${TO}`)).statusCode, 403);
    for (const [query, field] of [
      [`schoolId=${f.schoolA}&from=2026-02-01&to=2026-01-01`, 'from'],
      [`from=${FROM}&to=${TO}`, 'schoolId'],
      [`schoolId=${f.schoolA}&from=2026-02-30&to=${TO}`, 'from'],
      [`schoolId=${f.schoolA}&from=${FROM}&to=${TO}&format=pdf`, 'format'],
      [`schoolId=${f.schoolA}&from=${FROM}&to=${TO}&cursor=nope`, 'cursor'],
    ] as const) {
      const response = await root.get(`/accounting/journal?${query}`);
      assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
      assert.ok(response.body.includes(field), `${query} names ${field}: ${response.body}`);
    }
  });

  test('property: whatever invoices, payments, refunds and credit notes a school gets, the journal balances against the ledger', async () => {
    const studentId = f.carla;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('invoice' as const), amount: fc.integer({ min: 1, max: 50_000 }) }),
      fc.record({ kind: fc.constant('pay' as const), share: fc.double({ min: 0.05, max: 1, noNaN: true }) }),
      fc.record({ kind: fc.constant('refund' as const), share: fc.double({ min: 0.05, max: 1, noNaN: true }) }),
      fc.record({ kind: fc.constant('credit' as const), share: fc.double({ min: 0.05, max: 1, noNaN: true }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
        const invoices: string[] = [];
        const payments: { id: string; amount: number }[] = [];
        for (const step of ops) {
          const open = async () => {
            const id = invoices.at(-1);
            if (id === undefined) {
              return undefined;
            }
            const invoice = (await root.get(`/invoices/${id}`)).json<{ id: string; pendingAmount: number; status: string }>();
            return invoice.pendingAmount > 0 && invoice.status !== 'CANCELLED' ? invoice : undefined;
          };
          if (step.kind === 'invoice') {
            const created = await root.post('/invoices', { studentId, amount: step.amount, dueDate: '2027-03-10' });
            assert.equal(created.statusCode, 201, created.body);
            invoices.push(created.json<{ id: string }>().id);
          } else if (step.kind === 'pay' || step.kind === 'credit') {
            const invoice = await open();
            if (invoice === undefined) {
              continue;
            }
            const amount = Math.max(1, Math.floor(invoice.pendingAmount * step.share));
            const response =
              step.kind === 'pay'
                ? await root.pay({ invoiceId: invoice.id, amount, method: 'cash' })
                : await root.post(`/invoices/${invoice.id}/credit-notes`, { amount, reason: 'Ajuste' }, { 'idempotency-key': randomUUID() });
            assert.equal(response.statusCode, 201, response.body);
            if (step.kind === 'pay') {
              payments.push({ id: response.json<{ id: string }>().id, amount });
            }
          } else {
            const payment = payments.at(-1);
            if (payment === undefined) {
              continue;
            }
            const amount = Math.max(1, Math.floor(payment.amount * step.share));
            const response = await root.refund(payment.id, { amount, reason: 'Devolución' });
            assert.equal(response.statusCode, 201, response.body);
            payments.pop();
          }
        }
        const lines = await journal(root, f.schoolB);
        assert.deepEqual(unbalanced(lines), []);
        const truth = await ledgerTruth(t.db, f.schoolB);
        assert.equal(balance(lines, '1200'), truth.open);
      }),
      { numRuns: 12 },
    );
  });
});

/** The demo's year (bill runs with discounts, late fees and reminders, family payments, credit notes) through the journal. */
describe('accounting journal over the demo data', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ demo: true });
  });
  after(async () => {
    await t?.close();
  });

  test('each demo school’s journal balances entry by entry and against its ledger', async () => {
    const root = client(t.app, (await login(t.app, 'super.admin', 'Correct-Horse-9')).accessToken);
    const schools = await t.db.selectFrom('schools').select(['id', 'name']).where('is_demo', '=', true).execute();
    assert.equal(schools.length, 3);
    for (const school of schools) {
      const lines: Line[] = [];
      let cursor: string | null = null;
      do {
        const response = await root.get(`/accounting/journal?schoolId=${school.id}&from=${FROM}&to=${TO}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(response.statusCode, 200, response.body);
        const page = response.json<Page>();
        lines.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor !== null);
      assert.deepEqual(unbalanced(lines), [], school.name);
      const truth = await ledgerTruth(t.db, school.id);
      assert.equal(balance(lines, '1200'), truth.open, `${school.name}: receivable`);
      assert.equal(balance(lines, '2100'), 0 - truth.credit, `${school.name}: family credit`);
      const kinds = new Set(lines.map((line) => line.sourceType));
      assert.ok(kinds.has('invoice') && kinds.has('family_payment') && kinds.has('credit_note'), [...kinds].join(', '));
      assert.ok(lines.some((line) => line.account === '4900'), `${school.name}: discounts posted`);
    }
  });
});
