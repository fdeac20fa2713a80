import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { writeStatement } from '../../src/modules/reconciliation/sample.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

interface BankImport {
  id: string;
  lines: number;
  matched: number;
  suggested: number;
  unmatched: number;
  ignored: number;
  duplicates: number;
}
interface BankLine {
  id: string;
  bankTransactionId: string;
  amount: number;
  description: string;
  status: 'matched' | 'suggested' | 'unmatched' | 'ignored';
  reason: string | null;
  invoice: { id: string; number: string } | null;
  family: { id: string; reference: string } | null;
  paymentId: string | null;
  familyPaymentId: string | null;
}
interface LinePage {
  data: BankLine[];
  nextCursor: string | null;
  counts: Record<BankLine['status'], number>;
}

/** A wrong check digit for a reference (the matcher must not take it as the family's). */
const mistype = (reference: string) => reference.slice(0, -1) + String((Number(reference.slice(-1)) + 1) % 10);
const money = (minor: number) => (minor / 100).toFixed(2);
const csv = (rows: [string, number, string, string][]) => ['Date,Amount,Description,ID', ...rows.map(([date, amount, text, id]) => `${date},${money(amount)},"${text}",${id}`)].join('\n');

/** SPEC §9 "Bank reconciliation": statements in, lines stored once, matched by reference or invoice number and amount, payments recorded once. */
describe('bank reconciliation', () => {
  let t: TestApp;
  let root: Client;
  const f = {
    school: '', other: '', family: '', reference: '', family2: '', reference2: '',
    exact: { id: '', number: '' }, partly: { id: '', number: '' }, unique: { id: '', number: '' }, loose: { id: '', number: '' },
  };

  const upload = (token: string, schoolId: string, format: string, body: string | Buffer, type = 'text/csv') =>
    t.app.inject({ method: 'POST', url: `/api/v1/reconciliation/imports?schoolId=${schoolId}&format=${format}`, headers: { authorization: `Bearer ${token}`, 'content-type': type }, payload: body });
  let rootToken = '';
  const lines = async (query = ''): Promise<LinePage> => {
    const response = await root.get(`/reconciliation/lines?schoolId=${f.school}&limit=100${query}`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<LinePage>();
  };
  const lineOf = async (bankId: string): Promise<BankLine> => {
    const found = (await lines()).data.find((line) => line.bankTransactionId === bankId);
    assert.ok(found, `line ${bankId}`);
    return found;
  };
  const paymentsCount = async () => Number((await t.db.selectFrom('payments').select((eb) => eb.fn.countAll<string>().as('n')).where('school_id', '=', f.school).executeTakeFirstOrThrow()).n);

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    rootToken = (await login(t.app, 'root')).accessToken;
    root = client(t.app, rootToken);
    const ok = async <T = { id: string }>(response: Promise<{ statusCode: number; body: string }>, status = 201): Promise<T> => {
      const answered = await response;
      assert.equal(answered.statusCode, status, answered.body);
      return JSON.parse(answered.body) as T;
    };
    f.school = (await ok(root.post('/schools', { name: 'Escuela Conciliada', currency: 'MXN', timezone: 'America/Mexico_City' }))).id;
    f.other = (await ok(root.post('/schools', { name: 'Other School', currency: 'USD', timezone: 'America/New_York' }))).id;
    const family = await ok<{ id: string; reference: string }>(root.post('/families', { schoolId: f.school, name: 'López', guardians: [{ firstName: 'María', lastName: 'López', relationship: 'mother', isPrimary: true }] }));
    const family2 = await ok<{ id: string; reference: string }>(root.post('/families', { schoolId: f.school, name: 'Ruiz', guardians: [{ firstName: 'Juan', lastName: 'Ruiz', relationship: 'father', isPrimary: true }] }));
    Object.assign(f, { family: family.id, reference: family.reference, family2: family2.id, reference2: family2.reference });
    const student = async (familyId: string | undefined, name: string) => (await ok(root.post('/students', { schoolId: f.school, firstName: name, lastName: 'X', grade: '1', ...(familyId ? { familyId } : {}) }))).id;
    const ana = await student(f.family, 'Ana');
    const beto = await student(f.family2, 'Beto');
    const solo = await student(undefined, 'Solo');
    const invoice = async (studentId: string, amount: number, dueDate: string) => ok<{ id: string; number: string }>(root.post('/invoices', { studentId, amount, dueDate }));
    await invoice(ana, 450_000, '2026-09-10'); // the López family owes 4 500.00
    f.exact = await invoice(solo, 125_050, '2026-09-10');
    f.partly = await invoice(solo, 200_000, '2026-09-11');
    f.unique = await invoice(solo, 77_700, '2026-09-12');
    f.loose = await invoice(beto, 320_000, '2026-09-13');
    await insertUser(t.db, { username: 'admin.other', role: 'school_admin', schoolIds: [f.other] });
    await insertUser(t.db, { username: 'admin.here', role: 'school_admin', schoolIds: [f.school] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    await insertUser(t.db, { username: 'parent', role: 'guardian' });
  });
  after(() => t.close());

  test('an import stores each line once, matches by invoice number or family reference and amount, and records those payments', async () => {
    const statement = csv([
      ['2026-09-01', 450_000, `SPEI RECIBIDO COLEGIATURA ${f.reference} SEPTIEMBRE`, 'BK-1'],
      ['2026-09-01', 125_050, `DEPOSITO EN EFECTIVO ${f.exact.number}`, 'BK-2'],
      ['2026-09-02', 150_000, `PAGO ${f.partly.number}`, 'BK-3'],
      ['2026-09-02', 320_000, `REF ${mistype(f.reference2)} colegiatura`, 'BK-4'],
      ['2026-09-03', 77_700, 'TRANSFERENCIA RECIBIDA', 'BK-5'],
      ['2026-09-03', 99_900, 'TRANSFERENCIA RECIBIDA', 'BK-6'],
      ['2026-09-04', -1_500, 'COMISION SPEI', 'BK-7'],
      ['2026-09-04', 1_000, 'REPEATED AT A PAGE BREAK', 'BK-8'],
      ['2026-09-04', 1_000, 'REPEATED AT A PAGE BREAK', 'BK-8'],
    ]);
    const before = await paymentsCount();
    const response = await upload(rootToken, f.school, 'csv', statement);
    assert.equal(response.statusCode, 201, response.body);
    const result = response.json<BankImport>();
    assert.deepEqual({ ...result, id: undefined }, { ...result, id: undefined, lines: 8, matched: 2, suggested: 3, unmatched: 2, ignored: 1, duplicates: 1 });
    assert.equal(await paymentsCount(), before + 2, 'one payment for the invoice, one allocation of the family payment');

    const byFamily = await lineOf('BK-1');
    assert.equal(byFamily.status, 'matched');
    assert.equal(byFamily.reason, 'reference');
    assert.equal(byFamily.family?.id, f.family);
    assert.ok(byFamily.familyPaymentId);
    const byInvoice = await lineOf('BK-2');
    assert.equal(byInvoice.status, 'matched');
    assert.equal(byInvoice.invoice?.id, f.exact.id);
    const payment = await t.db.selectFrom('payments').select(['amount', 'method', 'reference', 'paid_at']).where('id', '=', byInvoice.paymentId).executeTakeFirstOrThrow();
    assert.equal(Number(payment.amount), 125_050);
    assert.equal(payment.method, 'bank_transfer');
    assert.equal(payment.reference, 'bank BK-2');
    assert.equal(payment.paid_at.toISOString().slice(0, 10), '2026-09-01', 'dated the booking day');
    assert.deepEqual([(await lineOf('BK-3')).status, (await lineOf('BK-3')).reason, (await lineOf('BK-3')).invoice?.id], ['suggested', 'invoice_amount', f.partly.id]);
    const typo = await lineOf('BK-4');
    assert.deepEqual([typo.status, typo.reason, typo.family?.id], ['suggested', 'check_digit', f.family2], 'a mistyped check digit is never matched silently');
    assert.deepEqual([(await lineOf('BK-5')).status, (await lineOf('BK-5')).reason, (await lineOf('BK-5')).invoice?.id], ['suggested', 'amount', f.unique.id]);
    assert.equal((await lineOf('BK-6')).status, 'unmatched');
    assert.deepEqual([(await lineOf('BK-7')).status, (await lineOf('BK-7')).reason], ['ignored', 'outgoing']);

    // The same file again, and an overlapping one: nothing twice.
    const again = (await upload(rootToken, f.school, 'csv', statement)).json<BankImport>();
    assert.deepEqual([again.lines, again.matched + again.suggested + again.unmatched + again.ignored, again.duplicates], [8, 0, 9]);
    const overlap = csv([
      ['2026-09-04', 1_000, 'REPEATED AT A PAGE BREAK', 'BK-8'],
      ['2026-09-05', 55_500, 'ABONO', 'BK-9'],
    ]);
    const more = (await upload(rootToken, f.school, 'csv', overlap)).json<BankImport>();
    assert.deepEqual([more.lines, more.unmatched, more.duplicates], [2, 1, 1]);
    assert.equal(await paymentsCount(), before + 2);
    const page = await lines();
    assert.equal(page.data.length, 9);
    assert.deepEqual(page.counts, { matched: 2, suggested: 3, unmatched: 3, ignored: 1 });
    assert.deepEqual((await lines('&status=suggested')).data.map((line) => line.bankTransactionId).sort(), ['BK-3', 'BK-4', 'BK-5']);
    // Matching by hand starts from the number a person reads on the statement (any case).
    const byNumber = await root.get(`/invoices?schoolId=${f.school}&number=${f.partly.number.toLowerCase()}`);
    assert.deepEqual(byNumber.json<{ data: { id: string }[] }>().data.map((invoice) => invoice.id), [f.partly.id]);
  });

  test('one click confirms a suggestion; a line is matched once even when two people confirm it at the same time', async () => {
    const typo = await lineOf('BK-4');
    const answers = await Promise.all([root.post(`/reconciliation/lines/${typo.id}/match`, {}), root.post(`/reconciliation/lines/${typo.id}/match`, {})]);
    assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [200, 409], answers.map((a) => a.body).join('\n'));
    const matched = await lineOf('BK-4');
    assert.equal(matched.status, 'matched');
    assert.equal(matched.family?.id, f.family2);
    const rows = await t.db.selectFrom('family_payments').select('amount').where('family_id', '=', f.family2).execute();
    assert.deepEqual(rows.map((row) => Number(row.amount)), [320_000], 'one family payment');
    // A line nothing was found for, matched by hand to an invoice.
    const loose = await lineOf('BK-6');
    const byHand = await root.post(`/reconciliation/lines/${loose.id}/match`, { invoiceId: f.partly.id });
    assert.equal(byHand.statusCode, 200, byHand.body);
    assert.equal(byHand.json<BankLine>().status, 'matched');
    // More than the invoice owes: refused, naming the invoice, nothing recorded.
    const suggested = await lineOf('BK-3');
    const tooMuch = await root.post(`/reconciliation/lines/${suggested.id}/match`, { invoiceId: f.unique.id });
    assert.equal(tooMuch.statusCode, 422, tooMuch.body);
    assert.equal(tooMuch.json<{ errors: { field: string }[] }>().errors[0]?.field, 'invoiceId');
    assert.equal((await lineOf('BK-3')).status, 'suggested');
    // Money paid out is nobody's payment.
    const fee = await lineOf('BK-7');
    assert.equal((await root.post(`/reconciliation/lines/${fee.id}/match`, { invoiceId: f.unique.id })).statusCode, 422);
    const both = await root.post(`/reconciliation/lines/${suggested.id}/match`, { invoiceId: f.unique.id, familyId: f.family });
    assert.equal(both.statusCode, 400);
    assert.equal((await lineOf('BK-3')).status, 'suggested');
  });

  test('unmatching is an explicit, audited reversal: a reason, a refund of what the match recorded, the line waiting again', async () => {
    const line = await lineOf('BK-2');
    const noReason = await root.post(`/reconciliation/lines/${line.id}/unmatch`, {});
    assert.equal(noReason.statusCode, 400);
    assert.equal(noReason.json<{ errors: { field: string }[] }>().errors[0]?.field, 'reason');
    const response = await root.post(`/reconciliation/lines/${line.id}/unmatch`, { reason: 'Era de otra familia' });
    assert.equal(response.statusCode, 200, response.body);
    const after = response.json<BankLine>();
    assert.deepEqual([after.status, after.paymentId], ['unmatched', null]);
    const refunds = await t.db.selectFrom('refunds').select(['amount', 'reason']).where('payment_id', '=', line.paymentId).execute();
    assert.deepEqual(refunds.map((r) => [Number(r.amount), r.reason]), [[125_050, 'bank line unmatched: Era de otra familia']]);
    const invoice = await t.db.selectFrom('invoices').select(['paid_amount']).where('id', '=', f.exact.id).executeTakeFirstOrThrow();
    assert.equal(Number(invoice.paid_amount), 0, 'the invoice is open again');
    const audit = await root.get(`/audit?entityType=bank_line&entityId=${line.id}`);
    assert.deepEqual(audit.json<{ data: { action: string }[] }>().data.map((entry) => entry.action), ['reconciliation.unmatch', 'reconciliation.match']);
    assert.equal((await root.post(`/reconciliation/lines/${line.id}/unmatch`, { reason: 'twice' })).statusCode, 409);
    // Matched again (to the right invoice this time): one more payment, and the books still balance.
    assert.equal((await root.post(`/reconciliation/lines/${line.id}/match`, { invoiceId: f.exact.id })).statusCode, 200);
    const report = await verifyLedgerInvariant(t.db, { schoolId: f.school });
    assert.equal(report.ok, true, JSON.stringify(report));
    // Ignoring sets a line aside; a matched one cannot be.
    const open = await lineOf('BK-9');
    assert.equal((await root.post(`/reconciliation/lines/${open.id}/ignore`, { reason: 'Traspaso entre cuentas' })).json<BankLine>().status, 'ignored');
    assert.equal((await root.post(`/reconciliation/lines/${line.id}/ignore`, {})).statusCode, 409);
  });

  test('the formats: CAMT.053 and OFX files, a saved CSV mapping', async () => {
    const camt = await readFile('test/fixtures/statements/sample.camt053.xml');
    const fromCamt = await upload(rootToken, f.school, 'camt053', camt, 'application/xml');
    assert.equal(fromCamt.statusCode, 201, fromCamt.body);
    const imported = fromCamt.json<BankImport>();
    assert.ok(imported.lines > 0);
    assert.equal(imported.matched + imported.suggested + imported.unmatched + imported.ignored + imported.duplicates, imported.lines);
    const ofx = await upload(rootToken, f.school, 'ofx', await readFile('test/fixtures/statements/sample.ofx'), 'application/x-ofx');
    assert.equal(ofx.statusCode, 201, ofx.body);
    // A bank whose columns are Fecha/Importe/Concepto/Folio, dates day first.
    const put = await root.put(`/schools/${f.school}/statement-mapping`, { date: 'Fecha', amount: 'Importe', description: 'Concepto', id: 'Folio', dateFormat: 'DD/MM/YYYY' });
    assert.equal(put.statusCode, 200, put.body);
    const mapped = await upload(rootToken, f.school, 'csv', `Fecha,Importe,Concepto,Folio\n06/09/2026,777.00,"PAGO ${f.unique.number}",MAP-1\n`);
    assert.equal(mapped.statusCode, 201, mapped.body);
    const line = await lineOf('MAP-1');
    assert.deepEqual([line.status, line.invoice?.id], ['matched', f.unique.id]);
    assert.equal((await root.get(`/schools/${f.school}/statement-mapping`)).json<{ mapping: { dateFormat: string } }>().mapping.dateFormat, 'DD/MM/YYYY');
  });

  test('bad files are refused whole with the field named: malformed, another currency, an XML bomb, empty, a wrong format', async () => {
    const count = async () => Number((await t.db.selectFrom('bank_lines').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const cases: [string, string | Buffer, string][] = [
      ['camt053', '<Document><BkToCstmrStmt><Stmt>', 'application/xml'],
      ['camt053', (await readFile('test/fixtures/statements/sample.camt053.xml', 'utf8')).replaceAll('Ccy="MXN"', 'Ccy="USD"'), 'application/xml'],
      ['camt053', await readFile('test/fixtures/statements/bomb.camt053.xml'), 'application/xml'],
      ['ofx', 'OFXHEADER:100\nnot really', 'application/x-ofx'],
      ['csv', 'Fecha,Importe,Concepto,Folio\n45/13/2026,12.00,"x",Z-1\n', 'text/csv'],
      ['csv', 'Date,Amount,Description,ID\n2026-09-01,12.00,"x",Z-1\n', 'text/csv'],
      ['csv', '', 'text/csv'],
    ];
    for (const [format, body, type] of cases) {
      const response = await upload(rootToken, f.school, format, body, type);
      assert.equal(response.statusCode, 400, `${format}: ${response.body}`);
      const problem = response.json<{ errors: { field: string }[] }>();
      assert.equal(problem.errors[0]?.field, 'body', response.body);
    }
    const badFormat = await upload(rootToken, f.school, 'pdf', 'x');
    assert.equal(badFormat.statusCode, 400);
    assert.equal(badFormat.json<{ errors: { field: string }[] }>().errors[0]?.field, 'format');
    assert.equal(await count(), before, 'nothing half-imported');
  });

  test('a 100 MB upload is refused with 413 from its Content-Length, before the body is read', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (t.app.server.address() as AddressInfo).port;
    assert.ok(address);
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: `/api/v1/reconciliation/imports?schoolId=${f.school}&format=csv`, headers: { authorization: `Bearer ${rootToken}`, 'content-type': 'text/csv', 'content-length': String(100 * 1024 * 1024) } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
          request.destroy();
        },
      );
      request.on('error', (error) => (error.message.includes('socket hang up') || error.message.includes('EPIPE') ? undefined : reject(error)));
      // Only 64 KB of the 100 MB announced is ever sent: the answer cannot wait for the rest.
      request.write(Buffer.alloc(64 * 1024, 'a'));
    });
    assert.equal(status, 413);
  });

  test('a demo school’s sample statement, in each format, imports and matches its own bills; a real school gets none', async () => {
    const real = await root.get(`/reconciliation/sample-statement?schoolId=${f.school}&format=csv`);
    assert.equal(real.statusCode, 404);
    assert.equal(real.json<{ errors: { field: string }[] }>().errors[0]?.field, 'schoolId');
    const demo = await t.db.selectFrom('schools').select('id').where('id', '=', f.school).executeTakeFirstOrThrow();
    await t.db.updateTable('schools').set({ is_demo: true }).where('id', '=', demo.id).execute();
    try {
      const student = await root.post('/students', { schoolId: f.school, firstName: 'Demo', lastName: 'Kid', grade: '2', familyId: f.family });
      for (let n = 0; n < 14; n++) {
        assert.equal((await root.post('/invoices', { studentId: student.json<{ id: string }>().id, amount: 100_000 + n * 1_000, dueDate: `2026-10-${String(n + 1).padStart(2, '0')}` })).statusCode, 201);
      }
      for (const [format, type] of [['csv', 'text/csv'], ['camt053', 'application/xml'], ['ofx', 'application/x-ofx']] as const) {
        const sample = await root.get(`/reconciliation/sample-statement?schoolId=${f.school}&format=${format}`);
        assert.equal(sample.statusCode, 200, sample.body);
        assert.match(String(sample.headers['content-disposition']), /attachment; filename="statement-\d{4}-\d{2}-\d{2}\.(csv|xml|ofx)"/);
        const imported = await upload(rootToken, f.school, format, sample.body, type);
        assert.equal(imported.statusCode, 201, `${format}: ${imported.body}`);
        const result = imported.json<BankImport>();
        assert.ok(result.lines >= 5, `${format}: ${imported.body}`);
        assert.equal(result.ignored + result.duplicates >= 3, true, `${format}: the bank's fees are ignored (or already stored)`);
        if (format === 'csv') {
          assert.ok(result.matched >= 10, `the bills named with their amounts are paid: ${imported.body}`);
          assert.ok(result.suggested >= 2, imported.body);
          // Downloading again after the import: the same movements keep their ids.
          const again = await upload(rootToken, f.school, 'csv', (await root.get(`/reconciliation/sample-statement?schoolId=${f.school}&format=csv`)).body);
          assert.ok(again.json<BankImport>().duplicates > 0, again.body);
        }
      }
      const report = await verifyLedgerInvariant(t.db, { schoolId: f.school });
      assert.equal(report.ok, true, JSON.stringify(report));
    } finally {
      await t.db.updateTable('schools').set({ is_demo: false }).where('id', '=', demo.id).execute();
    }
  });

  test('who may: super_admin and the school’s admins; another school’s admin sees no such school; other roles are refused', async () => {
    const token = async (username: string) => (await login(t.app, username)).accessToken;
    const here = client(t.app, await token('admin.here'));
    assert.equal((await here.get(`/reconciliation/lines?schoolId=${f.school}`)).statusCode, 200);
    const otherToken = await token('admin.other');
    const other = client(t.app, otherToken);
    assert.equal((await other.get(`/reconciliation/lines?schoolId=${f.school}`)).statusCode, 404);
    assert.equal((await upload(otherToken, f.school, 'csv', csv([['2026-09-01', 100, 'x', 'X-1']]))).statusCode, 404);
    const line = await lineOf('BK-3');
    assert.equal((await other.post(`/reconciliation/lines/${line.id}/match`, {})).statusCode, 404);
    for (const username of ['analyst', 'dev', 'parent']) {
      const as = client(t.app, await token(username));
      assert.equal((await as.get(`/reconciliation/lines?schoolId=${f.school}`)).statusCode, 403, username);
      assert.equal((await as.post(`/reconciliation/lines/${line.id}/match`, {})).statusCode, 403, username);
      assert.equal((await upload(await token(username), f.school, 'csv', 'x')).statusCode, 403, username);
    }
    assert.equal((await root.get(`/reconciliation/lines?schoolId=${randomUUID()}`)).statusCode, 404);
  });

  test('a statement paying one invoice twice: the payment is recorded once, the second line waits as an exception, the other matches stand', async () => {
    const created = async <T>(response: Promise<{ statusCode: number; body: string }>): Promise<T> => {
      const answered = await response;
      assert.equal(answered.statusCode, 201, answered.body);
      return JSON.parse(answered.body) as T;
    };
    const student = (await created<{ id: string }>(root.post('/students', { schoolId: f.school, firstName: 'Dora', lastName: 'Twice', grade: '2' }))).id;
    const twice = await created<{ id: string; number: string }>(root.post('/invoices', { studentId: student, amount: 88_800, dueDate: '2026-10-10' }));
    const once = await created<{ id: string; number: string }>(root.post('/invoices', { studentId: student, amount: 66_600, dueDate: '2026-10-11' }));
    const before = await paymentsCount();
    // A camt.053 (the school's saved CSV mapping, from an earlier test, reads other headers).
    const statement = writeStatement([
      { id: 'BK-20', date: '2026-10-01', amount: 88_800, text: `PAGO ${twice.number}`, payer: null },
      { id: 'BK-21', date: '2026-10-01', amount: 66_600, text: `PAGO ${once.number}`, payer: null },
      { id: 'BK-22', date: '2026-10-02', amount: 88_800, text: `PAGO ${twice.number} OTRA VEZ`, payer: null },
    ], 'camt053', { currency: 'MXN', id: 'TWICE' });
    const response = await upload(rootToken, f.school, 'camt053', statement, 'application/xml');
    assert.equal(response.statusCode, 201, response.body);
    assert.deepEqual([response.json<BankImport>().matched, response.json<BankImport>().suggested], [2, 1]);
    assert.equal(await paymentsCount(), before + 2, 'one payment per invoice, never two for the same bill');
    const [first, other, second] = [await lineOf('BK-20'), await lineOf('BK-21'), await lineOf('BK-22')];
    assert.deepEqual([first.status, first.invoice?.id], ['matched', twice.id]);
    assert.ok(first.paymentId);
    assert.deepEqual([other.status, other.invoice?.id], ['matched', once.id]);
    assert.deepEqual([second.status, second.reason, second.paymentId], ['suggested', 'overpayment', null], 'the ledger refused it: a person decides');
    const report = await verifyLedgerInvariant(t.db, { schoolId: f.school });
    assert.equal(report.ok, true);
  });
});
