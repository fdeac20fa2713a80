import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { client, type Client } from '../helpers/api.js';
import { insertUser, login } from '../helpers/app.js';
import { browserUnavailable, DESKTOP, horizontalOverflow, judge as judgeIn, PHONE, SCREENSHOTS, settle, signIn as signInTo, startWebSession, type WebSession } from './browser.js';

/**
 * The Reconciliation page in a real Chromium against the real server (its own school,
 * family and invoices made over the API, so the statement's lines match): a super admin
 * uploads a CSV statement and sees what it matched, confirms a suggestion with one
 * click (in English, on a desktop), then on a 390 px phone in Spanish undoes a match
 * with a reason (a refund), matches the line by hand to an invoice number and sets a
 * line aside; the CSV mapping is saved. The page fits 390 px with zero axe violations
 * in both languages. A finance analyst has no such page. Waits are on conditions.
 */
const skip = browserUnavailable();
const SHOTS = path.join(SCREENSHOTS, 'reconciliation');

interface BankLine {
  id: string;
  bankTransactionId: string;
  status: 'matched' | 'suggested' | 'unmatched' | 'ignored';
  reason: string | null;
  invoice: { id: string; number: string } | null;
  paymentId: string | null;
}

const money = (minor: number) => (minor / 100).toFixed(2);

describe('web: bank reconciliation', { skip: skip ?? false }, () => {
  let web: WebSession;
  let root: Client;
  const f = { school: '', other: '', family: '', reference: '', exact: { id: '', number: '' }, partly: { id: '', number: '' }, unique: { id: '', number: '' } };
  let statement = '';

  before(async () => {
    web = await startWebSession(async (app) => {
      await insertUser(app.db, { username: 'root', role: 'super_admin' });
      await insertUser(app.db, { username: 'analyst', role: 'finance_analyst' });
      root = client(app.app, (await login(app.app, 'root')).accessToken);
      const ok = async <T = { id: string }>(response: Promise<{ statusCode: number; body: string }>): Promise<T> => {
        const answered = await response;
        assert.equal(answered.statusCode, 201, answered.body);
        return JSON.parse(answered.body) as T;
      };
      f.school = (await ok(root.post('/schools', { name: 'Escuela Conciliación', currency: 'MXN', timezone: 'America/Mexico_City' }))).id;
      f.other = (await ok(root.post('/schools', { name: 'Colegio Norte', currency: 'USD', timezone: 'America/New_York' }))).id;
      await insertUser(app.db, { username: 'admin.recon', role: 'school_admin', schoolIds: [f.school] });
      const family = await ok<{ id: string; reference: string }>(
        root.post('/families', { schoolId: f.school, name: 'López Ortega', guardians: [{ firstName: 'María', lastName: 'López', relationship: 'mother', isPrimary: true }] }),
      );
      Object.assign(f, { family: family.id, reference: family.reference });
      const student = async (name: string, familyId?: string) => (await ok(root.post('/students', { schoolId: f.school, firstName: name, lastName: 'X', grade: '1', ...(familyId ? { familyId } : {}) }))).id;
      const ana = await student('Ana', f.family);
      const solo = await student('Solo');
      const invoice = (studentId: string, amount: number, dueDate: string) => ok<{ id: string; number: string }>(root.post('/invoices', { studentId, amount, dueDate }));
      await invoice(ana, 450_000, '2026-09-10'); // the family owes 4,500.00
      f.exact = await invoice(solo, 125_050, '2026-09-10');
      f.partly = await invoice(solo, 200_000, '2026-09-11');
      f.unique = await invoice(solo, 77_700, '2026-09-12');
    });
    const rows: [string, number, string, string][] = [
      ['2026-09-01', 450_000, `SPEI RECIBIDO COLEGIATURA ${f.reference} SEPTIEMBRE`, 'BK-1'],
      ['2026-09-01', 125_050, `DEPOSITO EN EFECTIVO ${f.exact.number}`, 'BK-2'],
      ['2026-09-02', 150_000, `PAGO ${f.partly.number}`, 'BK-3'],
      ['2026-09-03', 77_700, 'TRANSFERENCIA RECIBIDA', 'BK-5'],
      ['2026-09-03', 99_900, 'TRANSFERENCIA RECIBIDA SIN REFERENCIA DE UN ORDENANTE CON UN CONCEPTO MUY LARGO QUE NO CABE EN UNA LINEA', 'BK-6'],
      ['2026-09-04', -1_500, 'COMISION SPEI', 'BK-7'],
    ];
    statement = ['Date,Amount,Description,ID', ...rows.map(([date, amount, text, id]) => `${date},${money(amount)},"${text}",${id}`)].join('\n');
  });
  after(() => web?.close());

  let current: Page | null = null;
  afterEach(async (context) => {
    const page = current;
    current = null;
    if (page && !page.isClosed() && (context as { passed?: boolean }).passed === false) {
      await page.screenshot({ path: path.join(SHOTS, `failed-${context.name.replace(/\W+/g, '-').slice(0, 60)}.png`), fullPage: true }).catch(() => undefined);
    }
  });
  const signIn = async (username: string) => {
    const session = await signInTo(web, username);
    current = session.page;
    return session;
  };
  const lineOf = async (bankId: string): Promise<BankLine> => {
    const page = (await root.get(`/reconciliation/lines?schoolId=${f.school}&limit=100`)).json<{ data: BankLine[] }>();
    const found = page.data.find((line) => line.bankTransactionId === bankId);
    assert.ok(found, bankId);
    return found;
  };
  const row = (page: Page, bankId: string) => page.locator(`[data-testid="bank-line"][data-bank-id="${bankId}"]`);
  const figure = async (page: Page, testId: string) => (await page.getByTestId(`${testId}-value`).innerText()).trim();

  test('upload a statement, see what matched, confirm a suggestion in one click (English, desktop)', async () => {
    const { page, errors } = await signIn('root');
    await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Reconciliation' }).click();
    await page.waitForURL(/\/reconciliation/);
    await page.getByRole('heading', { level: 1, name: 'Bank reconciliation' }).waitFor();
    assert.equal(await page.title(), 'Bank reconciliation · Bursar');
    // Two schools: the picker chooses.
    await page.getByRole('combobox', { name: 'School' }).selectOption({ label: 'Escuela Conciliación' });
    await page.waitForURL(new RegExp(`schoolId=${f.school}`));
    await page.getByTestId('recon-rate').getByText('No statement lines yet').waitFor();

    // The format follows the extension, and can be changed.
    const fileInput = page.getByLabel('Statement file');
    const format = page.getByTestId('recon-upload').locator('select[name="format"]');
    await fileInput.setInputFiles({ name: 'movimientos.qfx', mimeType: 'application/x-ofx', buffer: Buffer.from('OFXHEADER:100\nnot really') });
    assert.equal(await format.inputValue(), 'ofx');
    await fileInput.setInputFiles({ name: 'statement.xml', mimeType: 'application/xml', buffer: Buffer.from('<Document/>') });
    assert.equal(await format.inputValue(), 'camt053');

    // A file the bank's columns do not fit: refused whole, the reason in words.
    await fileInput.setInputFiles({ name: 'wrong-columns.csv', mimeType: 'text/csv', buffer: Buffer.from('Fecha,Importe,Concepto\n2026-09-01,10.00,x\n') });
    assert.equal(await format.inputValue(), 'csv');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const refused = page.getByTestId('upload-error');
    await refused.waitFor();
    assert.match(await refused.innerText(), /The statement was not imported/);
    assert.match(await refused.innerText(), /no column "date"/);
    assert.match(await refused.innerText(), /Nothing was imported/);

    // The statement: two matched, two suggested, one unmatched, one paid out.
    await fileInput.setInputFiles({ name: 'september.csv', mimeType: 'text/csv', buffer: Buffer.from(statement) });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByTestId('upload-result').waitFor();
    assert.equal(await refused.count(), 0);
    const imported = Object.fromEntries(await Promise.all(['lines', 'matched', 'suggested', 'unmatched', 'ignored', 'duplicates'].map(async (key) => [key, await figure(page, `import-${key}`)] as const)));
    assert.deepEqual(imported, { lines: '6', matched: '2', suggested: '2', unmatched: '1', ignored: '1', duplicates: '0' });
    await page.getByTestId('match-rate').filter({ hasText: '40% matched' }).waitFor();
    assert.equal(await page.getByTestId('count-matched').innerText(), '2');

    // The suggestions, with what they point at and why, in words.
    const suggested = page.getByTestId('bank-line');
    await row(page, 'BK-3').waitFor();
    assert.equal(await suggested.count(), 2);
    assert.match(await row(page, 'BK-3').getByTestId('line-target').innerText(), new RegExp(`Invoice ${f.partly.number}.*owes MX\\$2,000\\.00`));
    assert.match(await row(page, 'BK-3').getByTestId('line-reason').innerText(), /the amount differs from what it owes/);
    assert.match(await row(page, 'BK-3').getByTestId('line-amount').innerText(), /MX\$1,500\.00$/);
    assert.match(await row(page, 'BK-5').getByTestId('line-reason').innerText(), /Only the amount fits/);

    // One click confirms: the payment is recorded, the line leaves the queue, the rate moves.
    await row(page, 'BK-5').getByRole('button', { name: /^Confirm/ }).click();
    await page.getByTestId('queue-notice').filter({ hasText: 'Matched: the payment of MX$777.00 was recorded.' }).waitFor();
    await row(page, 'BK-5').waitFor({ state: 'detached' });
    await page.getByTestId('match-rate').filter({ hasText: '60% matched' }).waitFor();
    const confirmed = await lineOf('BK-5');
    assert.equal(confirmed.status, 'matched');
    assert.equal(confirmed.invoice?.id, f.unique.id);
    assert.ok(confirmed.paymentId);
    const invoice = (await root.get(`/invoices/${f.unique.id}`)).json<{ pendingAmount: number }>();
    assert.equal(invoice.pendingAmount, 0);

    // The same file again adds nothing.
    await fileInput.setInputFiles({ name: 'september.csv', mimeType: 'text/csv', buffer: Buffer.from(statement) });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByTestId('upload-result').getByText('Every line was already imported').waitFor();
    assert.equal(await figure(page, 'import-duplicates'), '6');
    assert.equal(await figure(page, 'import-matched'), '0');

    // The matched tab lists what was matched and to what.
    await page.getByTestId('tab-matched').click();
    await row(page, 'BK-1').waitFor();
    assert.match(await row(page, 'BK-1').getByTestId('line-target').innerText(), new RegExp(`Matched to: López Ortega · ${f.reference}`));
    assert.match(await row(page, 'BK-1').getByTestId('line-reason').innerText(), /names the family’s reference/);
    await page.getByTestId('tab-suggested').click();
    await row(page, 'BK-3').waitFor();

    await page.evaluate('window.scrollTo(0, 0)');
    const problems = await judgeIn(page, 'reconciliation-en', SHOTS);
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  });

  test('undo a match with a reason (a refund), match by hand, set a line aside, save the CSV columns (Spanish, 390 px)', async () => {
    const { page, errors } = await signIn('root');
    await page.setViewportSize(PHONE);
    await page.goto(`/reconciliation?schoolId=${f.school}&status=matched`);
    await page.getByTestId('language-switch').locator('button[lang="es"]').click();
    await page.getByRole('heading', { level: 1, name: 'Conciliación bancaria' }).waitFor();
    await page.getByTestId('match-rate').filter({ hasText: /60\s?%\sconciliado/ }).waitFor();

    // An OFX the bank wrote wrong: refused whole, the line and the reason in Spanish.
    const ofx = ['OFXHEADER:100', '<OFX>', '<BANKMSGSRSV1>', '<STMTTRNRS>', '<STMTRS>', '<CURDEF>MXN', '<BANKTRANLIST>', '<STMTTRN>', '<TRNTYPE>CREDIT', '<DTPOSTED>20270905', '<TRNAMT>diez', '<FITID>1', '</STMTTRN>', '</BANKTRANLIST>', '</STMTRS>', '</STMTTRNRS>', '</BANKMSGSRSV1>', '</OFX>'];
    await page.getByLabel('Archivo del estado de cuenta').setInputFiles({ name: 'septiembre.ofx', mimeType: 'application/x-ofx', buffer: Buffer.from(ofx.join('\n')) });
    await page.getByRole('button', { name: 'Subir', exact: true }).click();
    const refused = page.getByTestId('upload-error');
    await refused.waitFor();
    assert.match(await refused.innerText(), /No se pudo leer el estado de cuenta: línea 8: el monto "diez" no es un monto/);
    assert.doesNotMatch(await refused.innerText(), /cannot be read|TRNAMT/);

    // Unmatch: the warning says the payment is refunded; a reason is required.
    const matched = row(page, 'BK-2');
    await matched.waitFor();
    await matched.getByRole('button', { name: 'Desconciliar…' }).click();
    const warning = matched.getByTestId('unmatch-warning');
    assert.match(await warning.innerText(), /\$1,250\.50.*se reembolsará/);
    await matched.getByRole('button', { name: 'Desconciliar y reembolsar' }).click();
    await matched.getByText('Escriba un motivo de al menos 3 caracteres.').waitFor();
    assert.equal((await lineOf('BK-2')).status, 'matched');
    await matched.getByLabel('¿Por qué la conciliación era incorrecta?').fill('Era de otra familia');
    const horizontal = await horizontalOverflow(page);
    assert.ok(horizontal.scrollWidth <= horizontal.innerWidth, horizontal.culprits.join(', '));
    await matched.getByRole('button', { name: 'Desconciliar y reembolsar' }).click();
    await page.getByTestId('queue-notice').filter({ hasText: 'Desconciliada: se reembolsó el pago de $1,250.50.' }).waitFor();
    await matched.waitFor({ state: 'detached' });
    const unmatched = await lineOf('BK-2');
    assert.deepEqual([unmatched.status, unmatched.paymentId], ['unmatched', null]);
    assert.equal((await root.get(`/invoices/${f.exact.id}`)).json<{ pendingAmount: number }>().pendingAmount, 125_050, 'the invoice is open again');
    await page.getByTestId('match-rate').filter({ hasText: /40\s?%\sconciliado/ }).waitFor();

    // The unmatched tab: match it again by hand, by the invoice number as printed.
    await page.getByTestId('tab-unmatched').click();
    const waiting = row(page, 'BK-2');
    await waiting.waitFor();
    assert.match(await waiting.getByTestId('line-reason').innerText(), /Desconciliada a mano/);
    await waiting.getByRole('button', { name: 'Conciliar…' }).click();
    // An invoice that is not open (paid by the confirmed suggestion) is named as such.
    await waiting.getByLabel('Número de factura').fill(f.unique.number.toLowerCase());
    await waiting.getByRole('button', { name: 'Conciliar con esta factura' }).click();
    await waiting.getByText(`No hay una factura abierta ${f.unique.number.toLowerCase()} en esta escuela.`).waitFor();
    await waiting.getByLabel('Número de factura').fill(f.exact.number);
    await waiting.getByRole('button', { name: 'Conciliar con esta factura' }).click();
    await page.getByTestId('queue-notice').filter({ hasText: 'Conciliada: se registró el pago de $1,250.50.' }).waitFor();
    await waiting.waitFor({ state: 'detached' });
    assert.deepEqual([(await lineOf('BK-2')).status, (await lineOf('BK-2')).invoice?.id], ['matched', f.exact.id]);

    // A line nobody pays with: set aside, with its reason shown on the ignored tab.
    const loose = row(page, 'BK-6');
    await loose.getByRole('button', { name: 'Ignorar…' }).click();
    await loose.getByLabel('Motivo (opcional)').fill('Traspaso entre cuentas');
    await loose.getByRole('button', { name: 'Ignorar línea' }).click();
    await page.getByTestId('queue-notice').filter({ hasText: 'La línea se apartó.' }).waitFor();
    await page.getByTestId('bank-lines').waitFor({ state: 'detached' });
    await page.getByText('No hay líneas sin conciliar.').waitFor();
    assert.equal((await lineOf('BK-6')).status, 'ignored');
    await page.getByTestId('tab-ignored').click();
    await row(page, 'BK-6').getByText('Apartada: «Traspaso entre cuentas»').waitFor();
    assert.match(await row(page, 'BK-7').getByTestId('line-reason').innerText(), /Dinero que salió de la cuenta/);

    // The bank's CSV columns, saved and read back.
    const mapping = page.getByTestId('recon-mapping');
    await mapping.getByText('Aún no se ha guardado').waitFor();
    await mapping.getByLabel('Columna de fecha').fill('Fecha');
    await mapping.getByLabel('Columna de monto').fill('Importe');
    await mapping.getByLabel('Columna de concepto').fill('Concepto');
    await mapping.getByRole('combobox', { name: 'Formato de fecha' }).selectOption('DD/MM/YYYY');
    await mapping.getByRole('button', { name: 'Guardar columnas' }).click();
    await mapping.getByTestId('mapping-outcome').filter({ hasText: 'Guardado.' }).waitFor();
    const saved = (await root.get(`/schools/${f.school}/statement-mapping`)).json<{ mapping: Record<string, string> }>().mapping;
    assert.deepEqual(saved, { date: 'Fecha', amount: 'Importe', description: 'Concepto', dateFormat: 'DD/MM/YYYY' });
    await page.reload();
    await page.getByTestId('recon-mapping').getByText('Guardado por última vez').waitFor();
    assert.equal(await page.getByTestId('recon-mapping').getByLabel('Columna de fecha').inputValue(), 'Fecha');

    // The suggested tab for the pictures: one suggestion left, with its Confirm button.
    await page.getByTestId('tab-suggested').click();
    await row(page, 'BK-3').waitFor();
    // Matching to a family searches the school's families by name (then Cancel: nothing recorded).
    await row(page, 'BK-3').getByRole('button', { name: 'Conciliar…' }).click();
    await row(page, 'BK-3').getByRole('radio', { name: 'Una familia' }).check();
    await row(page, 'BK-3').getByLabel('Nombre o referencia de la familia').fill('López');
    await row(page, 'BK-3').getByRole('button', { name: `Conciliar con López Ortega · ${f.reference}` }).waitFor();
    await row(page, 'BK-3').getByRole('button', { name: 'Cancelar' }).click();
    assert.equal((await lineOf('BK-3')).status, 'suggested');
    await settle(page);
    await page.evaluate('window.scrollTo(0, 0)');
    const problems = await judgeIn(page, 'reconciliation-es', SHOTS);
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
    await page.setViewportSize(DESKTOP);
  });

  test('a school admin has the page; a finance analyst has neither the link nor the page', async () => {
    const admin = await signIn('admin.recon');
    await admin.page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Reconciliation' }).click();
    await admin.page.getByRole('heading', { level: 1, name: 'Bank reconciliation' }).waitFor();
    // One school: no picker, its lines straight away.
    await admin.page.getByTestId('recon-rate').getByText(/matched|No statement lines yet/).first().waitFor();
    assert.equal(await admin.page.getByRole('combobox', { name: 'School' }).count(), 0);
    assert.deepEqual(admin.errors, []);

    const { page, errors } = await signIn('analyst');
    assert.equal(await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Reconciliation' }).count(), 0);
    await page.goto('/reconciliation');
    await page.waitForURL((url) => url.pathname === '/');
    assert.deepEqual(errors, []);
  });
});
