import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { client, type Client } from '../helpers/api.js';
import { createFamily, createInvoice, createSchool, day, type FamilyFixture } from '../familypayments/fixtures.js';
import { outsideMargins, readPdf, renderPng } from './pdf.js';

interface ReceiptJson {
  kind: 'payment' | 'family_payment';
  paymentId: string | null;
  familyPaymentId: string | null;
  number: string | null;
  schoolId: string;
  schoolName: string;
  schoolAddress: string | null;
  schoolPhone: string | null;
  familyId: string | null;
  familyReference: string | null;
  payer: string;
  students: string[];
  lines: { paymentId: string; invoiceId: string; invoiceNumber: string; description: string | null; studentName: string; amount: number; refunded: number }[];
  credited: number;
  total: number;
  refunded: number;
  currency: string;
  method: string;
  reference: string | null;
  paidAt: string;
  localPaidAt: string;
  timeZone: string;
  balanceLeft: { owed: number; credit: number };
  balanceAsOf: string;
}
interface FamilyPaymentBody {
  id: string;
  amount: number;
  credited: number;
  receiptNumber: string;
  paidAt: string;
  allocations: { paymentId: string; invoiceId: string; invoiceNumber: string; amount: number }[];
  balance: { owed: number; credit: number };
}

const SCHOOL = 'Colegio Miraflores de la Sierra Madre Oriental';
const ADDRESS = 'Av. Ignacio Zaragoza 1250, Col. Centro, Monterrey, Nuevo León, México';
/** 1 234 567.89 as a person writes it, built here from the digits, not by the code under test. */
const grouped = (minor: number) => `${Math.floor(minor / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${String(minor % 100).padStart(2, '0')}`;

describe('GET /payments/:id/receipt', () => {
  let t: TestApp;
  let schoolId = '';
  let otherSchool = '';
  let admin: Client;
  let adminB: Client;
  let analyst: Client;
  let developer: Client;
  let family: FamilyFixture;
  let payment: FamilyPaymentBody;
  let invoices: string[] = [];

  before(async () => {
    t = await createTestApp();
    schoolId = await createSchool(t.db, { name: SCHOOL, address: ADDRESS, phone: '+52 81 8000 1234' });
    otherSchool = await createSchool(t.db, { name: 'Otra Escuela' });
    await insertUser(t.db, { username: 'rc.admin', role: 'school_admin', schoolIds: [schoolId] });
    await insertUser(t.db, { username: 'rc.adminb', role: 'school_admin', schoolIds: [otherSchool] });
    await insertUser(t.db, { username: 'rc.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'rc.dev', role: 'developer' });
    admin = client(t.app, (await login(t.app, 'rc.admin')).accessToken);
    adminB = client(t.app, (await login(t.app, 'rc.adminb')).accessToken);
    analyst = client(t.app, (await login(t.app, 'rc.analyst')).accessToken);
    developer = client(t.app, (await login(t.app, 'rc.dev')).accessToken);

    family = await createFamily(t.db, schoolId, {
      name: 'Pérez García',
      language: 'en',
      guardians: [
        { firstName: 'Laura', lastName: 'García' },
        { firstName: 'Jorge', lastName: 'Pérez' },
      ],
      students: [
        { firstName: 'Ana', lastName: 'Pérez' },
        { firstName: 'Beto', lastName: 'Pérez' },
      ],
    });
    const [ana = '', beto = ''] = family.students;
    invoices = [
      await createInvoice(t.db, { schoolId, familyId: family.id, studentId: beto, amount: 350_000, dueDate: day(-30), description: 'Colegiatura de octubre' }),
      await createInvoice(t.db, { schoolId, familyId: family.id, studentId: ana, amount: 450_000, dueDate: day(-20), description: 'Colegiatura de noviembre' }),
      await createInvoice(t.db, { schoolId, familyId: family.id, studentId: ana, amount: 1_234_567_89, dueDate: day(40), description: 'Inscripción' }),
    ];
    const response = await admin.post(
      `/families/${family.id}/payments`,
      { amount: 900_000, method: 'bank_transfer', reference: 'SPEI-20261202-88776655' },
      { 'idempotency-key': randomUUID() },
    );
    assert.equal(response.statusCode, 201, response.body);
    payment = response.json<FamilyPaymentBody>();
  });
  after(() => t.close());

  const receipt = (as: Client, id: string, accept = 'application/json', query = '', headers: Record<string, string> = {}) =>
    as.get(`/payments/${id}/receipt${query}`, { accept, ...headers });

  test('JSON of a family payment: asked by any of its payments or by its own id, the same one receipt', async () => {
    const byFamilyPayment = await receipt(admin, payment.id);
    assert.equal(byFamilyPayment.statusCode, 200, byFamilyPayment.body);
    assert.match(String(byFamilyPayment.headers['content-type']), /^application\/json/);
    assert.equal(byFamilyPayment.headers['cache-control'], 'private, no-store');
    const document = byFamilyPayment.json<ReceiptJson>();
    for (const allocation of payment.allocations) {
      const byPayment = await receipt(admin, allocation.paymentId);
      assert.equal(byPayment.statusCode, 200);
      const other = byPayment.json<ReceiptJson>();
      assert.deepEqual({ ...other, balanceAsOf: '' }, { ...document, balanceAsOf: '' });
    }
    assert.equal(document.kind, 'family_payment');
    assert.equal(document.familyPaymentId, payment.id);
    assert.equal(document.paymentId, null);
    assert.equal(document.number, payment.receiptNumber);
    assert.equal(document.schoolName, SCHOOL);
    assert.equal(document.schoolAddress, ADDRESS);
    assert.equal(document.payer, 'Pérez García', 'no payer named: the family');
    assert.deepEqual(document.students, ['Beto Pérez', 'Ana Pérez']);
    assert.equal(document.familyReference, family.reference);
    assert.deepEqual(
      document.lines.map((line) => [line.invoiceId, line.description, line.studentName, line.amount]),
      [
        [invoices[0], 'Colegiatura de octubre', 'Beto Pérez', 350_000],
        [invoices[1], 'Colegiatura de noviembre', 'Ana Pérez', 450_000],
        [invoices[2], 'Inscripción', 'Ana Pérez', 100_000],
      ],
    );
    assert.deepEqual(document.lines.map((line) => line.invoiceNumber), payment.allocations.map((a) => a.invoiceNumber));
    assert.equal(document.credited, 0);
    assert.equal(document.total, 900_000);
    assert.equal(document.currency, 'MXN');
    assert.equal(document.method, 'bank_transfer');
    assert.equal(document.reference, 'SPEI-20261202-88776655');
    assert.equal(document.paidAt, payment.paidAt);
    assert.equal(document.timeZone, 'America/Mexico_City');
    // The school's wall clock: Mexico City has been UTC−6 all year since 2022.
    const local = new Date(new Date(payment.paidAt).getTime() - 6 * 3_600_000).toISOString().slice(0, 19);
    assert.equal(document.localPaidAt, `${local}-06:00`);
    assert.deepEqual(document.balanceLeft, payment.balance);
    assert.deepEqual(document.balanceLeft, { owed: 1_234_567_89 - 100_000, credit: 0 });
  });

  test('the payer named by payerGuardianId, credit on the receipt, a wholly credited payment by its own id', async () => {
    const [laura = ''] = family.guardians;
    const response = await admin.post(`/families/${family.id}/payments`, { amount: 5_000, method: 'cash', payerGuardianId: laura }, { 'idempotency-key': randomUUID() });
    assert.equal(response.statusCode, 201, response.body);
    const credited = response.json<FamilyPaymentBody>();
    assert.deepEqual(credited.allocations, [], 'Laura pays no invoice of her own: all credit');
    const document = (await receipt(admin, credited.id)).json<ReceiptJson>();
    assert.equal(document.payer, 'Laura García');
    assert.equal(document.credited, 5_000);
    assert.equal(document.total, 5_000);
    assert.deepEqual(document.lines, []);
    assert.deepEqual(document.students, ['Ana Pérez', 'Beto Pérez'], 'the family’s children');
    assert.equal(document.method, 'cash');
    // Laura's own invoices: none, so she owes nothing; the family's credit is there.
    assert.deepEqual(document.balanceLeft, { owed: 0, credit: 5_000 });
  });

  test('a direct payment’s receipt: its invoice, its student as payer when there is no family, its own number', async () => {
    const student = (await t.db.insertInto('students').values({ school_id: schoolId, first_name: 'Iker', last_name: 'Solo', grade: '4' }).returning('id').executeTakeFirstOrThrow()).id;
    const invoice = await admin.post('/invoices', { studentId: student, amount: 80_000, dueDate: day(10), description: 'Uniforme' });
    assert.equal(invoice.statusCode, 201, invoice.body);
    const paid = await admin.pay({ invoiceId: invoice.json<{ id: string }>().id, amount: 30_000, method: 'card', reference: 'VISA-4242' });
    assert.equal(paid.statusCode, 201, paid.body);
    const paymentId = paid.json<{ id: string }>().id;
    const document = (await receipt(admin, paymentId)).json<ReceiptJson>();
    assert.equal(document.kind, 'payment');
    assert.equal(document.paymentId, paymentId);
    assert.match(document.number ?? '', /^[A-Z]{1,4}-\d{4}-\d{6,}$/);
    assert.notEqual(document.number, payment.receiptNumber);
    assert.equal(document.payer, 'Iker Solo');
    assert.deepEqual(document.students, ['Iker Solo']);
    assert.deepEqual(document.lines.map((line) => [line.description, line.amount]), [['Uniforme', 30_000]]);
    assert.equal(document.familyId, null);
    assert.deepEqual(document.balanceLeft, { owed: 50_000, credit: 0 });

    // A refund shows on the receipt, and the balance follows it.
    const refund = await admin.refund(paymentId, { amount: 10_000, reason: 'talla equivocada' });
    assert.equal(refund.statusCode, 201, refund.body);
    const after = (await receipt(admin, paymentId)).json<ReceiptJson>();
    assert.equal(after.refunded, 10_000);
    assert.deepEqual(after.balanceLeft, { owed: 60_000, credit: 0 });
  });

  test('the finance analyst sees names as initials and references as their last 4; a developer 403; other schools 404', async () => {
    const masked = await receipt(analyst, payment.id);
    assert.equal(masked.statusCode, 200, masked.body);
    const document = masked.json<ReceiptJson>();
    assert.equal(document.payer, 'P. G.');
    assert.deepEqual(document.students, ['B. P.', 'A. P.']);
    assert.ok(document.lines.every((line) => /^[A-Z]\. [A-Z]\.$/.test(line.studentName)));
    assert.equal(document.reference, '***6655');
    assert.equal(document.familyReference, `***${family.reference.slice(-4)}`);
    const pdf = await receipt(analyst, payment.id, 'application/pdf');
    const text = (await readPdf(pdf.rawPayload)).flatMap((page) => page.lines).join('\n');
    assert.ok(text.includes('P. G.') && text.includes('B. P.'), text);
    assert.ok(!/Pérez|García|Laura|Beto|88776655/.test(text), 'nothing in clear');

    assert.equal((await receipt(developer, payment.id)).statusCode, 403);
    assert.equal((await receipt(adminB, payment.id)).statusCode, 404);
    assert.equal((await receipt(adminB, payment.allocations[0]?.paymentId ?? '')).statusCode, 404);
    assert.equal((await receipt(admin, randomUUID())).statusCode, 404);
    assert.equal((await receipt(client(t.app, null), payment.id)).statusCode, 401);
    const bad = await receipt(admin, 'not-a-uuid');
    assert.equal(bad.statusCode, 400);
    assert.equal(problemOf(bad).errors?.[0]?.field, 'id');
    const csv = await receipt(admin, payment.id, 'text/csv');
    assert.equal(csv.statusCode, 406);
    problemOf(csv);
    const lang = await receipt(admin, payment.id, 'application/pdf', '?lang=fr');
    assert.equal(lang.statusCode, 400);
    assert.equal(problemOf(lang).errors?.[0]?.field, 'lang');
  });

  test('PDF by default: one A4 page a parent would keep, everything inside the margins', async () => {
    const response = await admin.get(`/payments/${payment.allocations[1]?.paymentId ?? ''}/receipt`);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['content-type'], 'application/pdf');
    assert.match(String(response.headers['content-disposition']), /^attachment; filename="bursar-receipt-colegio-miraflores-de-la-sierra-madre-oriental-[a-z0-9-]+-\d{4}-\d{2}-\d{2}\.pdf"/);
    const png = await renderPng(response.rawPayload, 'family-en');
    const pages = await readPdf(response.rawPayload);
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.ok(page);
    assert.ok(Math.abs(page.width - 595.28) < 1 && Math.abs(page.height - 841.89) < 1, 'A4 portrait');
    assert.deepEqual(outsideMargins(page), []);
    const lines = page.lines;
    const text = lines.join('\n');
    assert.ok(lines.includes(SCHOOL), text);
    assert.ok(lines.some((line) => line.includes(ADDRESS)), 'the address');
    assert.ok(lines.includes(`Receipt ${payment.receiptNumber}`), text);
    assert.ok(lines.includes('Received from: Pérez García'), text);
    assert.ok(lines.includes('Students: Beto Pérez, Ana Pérez'), text);
    assert.ok(lines.includes('Method: Bank transfer'), text);
    assert.ok(lines.includes('Payment reference: SPEI-20261202-88776655'), text);
    assert.ok(lines.includes(`Family reference: ${family.reference}`), text);
    const local = new Date(new Date(payment.paidAt).getTime() - 6 * 3_600_000).toISOString();
    assert.ok(lines.includes(`Date: ${local.slice(0, 10)} ${local.slice(11, 16)} America/Mexico_City (UTC-06:00)`), text);
    // What was paid for: every invoice with its student and amount, then the total.
    for (const allocation of payment.allocations) {
      assert.ok(lines.some((line) => line.startsWith(allocation.invoiceNumber) && line.endsWith(`MXN ${grouped(allocation.amount)}`)), `${allocation.invoiceNumber}: ${text}`);
    }
    assert.ok(lines.includes('Total received MXN 9,000.00'), text);
    assert.ok(lines.includes('Balance left'), text);
    assert.ok(lines.includes(`Still owed MXN ${grouped(1_234_567_89 - 100_000)}`), text);
    assert.ok(lines.some((line) => line.startsWith('Family credit MXN ')), text);
    assert.ok(!lines.some((line) => /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(line)), 'no UTC ISO stamp a person would have to convert');
    if (png !== null) {
      console.log(`# receipt rendered: ${png}`);
    }
  });

  test('in Spanish by ?lang=es, by Accept-Language, and by the family’s language when the request names none', async () => {
    const lines = async (query: string, headers: Record<string, string> = {}) =>
      (await readPdf((await receipt(admin, payment.id, 'application/pdf', query, headers)).rawPayload))[0]?.lines ?? [];
    const spanish = await lines('?lang=es');
    await renderPng((await receipt(admin, payment.id, 'application/pdf', '?lang=es')).rawPayload, 'family-es');
    const text = spanish.join('\n');
    assert.ok(spanish.includes(`Recibo ${payment.receiptNumber}`), text);
    assert.ok(spanish.includes('Recibimos de: Pérez García'), text);
    assert.ok(spanish.includes('Forma de pago: Transferencia'), text);
    assert.ok(spanish.includes('Total recibido MXN 9,000.00'), text);
    assert.ok(spanish.includes('Saldo pendiente'), text);
    assert.ok((await lines('', { 'accept-language': 'es-MX,es;q=0.9' })).includes('Saldo pendiente'));
    assert.ok((await lines('?lang=en', { 'accept-language': 'es-MX' })).includes('Balance left'), 'lang wins');
    assert.ok((await lines('')).includes('Balance left'), 'this family reads English');
    await t.db.updateTable('families').set({ preferred_language: 'es' }).where('id', '=', family.id).execute();
    assert.ok((await lines('')).includes('Saldo pendiente'), 'the family’s language');
    await t.db.updateTable('families').set({ preferred_language: 'en' }).where('id', '=', family.id).execute();
  });

  test('a family payment over 70 invoices with long names is still ONE page, the rest summed in one row', async () => {
    const big = await createFamily(t.db, schoolId, {
      name: 'Fernández-Villavicencio y Rodríguez de la Concepción',
      guardians: [{ firstName: 'María de los Ángeles Guadalupe', lastName: 'Fernández-Villavicencio y Rodríguez de la Concepción' }],
      students: [
        { firstName: 'Juan Pablo Sebastián', lastName: 'Fernández-Villavicencio y Rodríguez' },
        { firstName: 'Ximena Valentina', lastName: 'Fernández-Villavicencio y Rodríguez' },
        { firstName: 'Santiago', lastName: 'Fernández-Villavicencio y Rodríguez' },
      ],
    });
    let total = 0;
    for (let i = 0; i < 70; i++) {
      const amount = 1_000_000 + i * 1_237;
      total += amount;
      await createInvoice(t.db, {
        schoolId,
        familyId: big.id,
        studentId: big.students[i % 3] ?? '',
        amount,
        dueDate: day(-200 + i),
        description: `Pensión mensual, transporte escolar, alimentación y actividades extracurriculares ${i + 1}`,
      });
    }
    const paid = await admin.post(
      `/families/${big.id}/payments`,
      { amount: total + 77_700, method: 'cash_voucher', payerGuardianId: big.guardians[0] },
      { 'idempotency-key': randomUUID() },
    );
    assert.equal(paid.statusCode, 201, paid.body);
    const body = paid.json<FamilyPaymentBody>();
    assert.equal(body.allocations.length, 0, 'the payer has no invoices of her own: the family’s are not hers');

    const all = await admin.post(`/families/${big.id}/payments`, { amount: total + 77_700, method: 'cash_voucher' }, { 'idempotency-key': randomUUID() });
    const allBody = all.json<FamilyPaymentBody>();
    assert.equal(allBody.allocations.length, 70);
    const response = await receipt(admin, allBody.id, 'application/pdf', '?lang=es');
    await renderPng(response.rawPayload, 'family-70-es');
    const pages = await readPdf(response.rawPayload);
    assert.equal(pages.length, 1, 'one page');
    const [page] = pages;
    assert.ok(page);
    assert.deepEqual(outsideMargins(page), []);
    const text = page.lines.join('\n');
    const shown = page.lines.filter((line) => /^FP-\d{6} /.test(line));
    assert.ok(shown.length >= 15, `${shown.length} rows shown`);
    const more = page.lines.find((line) => line.includes('facturas más'));
    assert.ok(more, text);
    assert.ok(more.startsWith(`… ${70 - shown.length} facturas más`), more);
    assert.ok(page.lines.includes(`Saldo a favor de la familia MXN ${grouped(77_700)}`), text);
    assert.ok(page.lines.includes(`Total recibido MXN ${grouped(total + 77_700)}`), text);
    assert.ok(page.lines.includes('Forma de pago: Pago en efectivo con referencia'), text);
    // Amounts are never shortened; long names and descriptions may be, with …
    const amounts = page.items.filter((item) => item.str.startsWith('MXN '));
    for (const item of amounts) {
      assert.match(item.str, /^MXN \d{1,3}(,\d{3})*\.\d{2}$/);
    }
  });
});
