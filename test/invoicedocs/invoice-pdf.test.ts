import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { payLinkKey, verifyPayToken } from '../../src/modules/paylinks/paylinks.tokens.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { readPdf } from '../helpers/pdf.js';
import { createFamily, createInvoice, createSchool, day, type FamilyFixture } from '../familypayments/fixtures.js';
import { outsideMargins } from '../receipts/pdf.js';
import { payUrlsIn, renderPng } from './pdf.js';

/**
 * GET /invoices/:id/pdf (issue 17): the printed invoice, read back with pdf.js, and its
 * QR code's pay link — printed under the code as text, so the tests read it there and
 * check it opens the invoice's pay page. Pages are rendered to test-artifacts/invoices/.
 */

const PUBLIC_URL = 'https://pagos.colegio.example';
const SCHOOL = 'Colegio Miraflores de la Sierra Madre Oriental';
const ADDRESS = 'Av. Ignacio Zaragoza 1250, Col. Centro, Monterrey, Nuevo León, México';

describe('GET /invoices/:id/pdf', () => {
  let t: TestApp;
  let schoolId = '';
  let admin: Client;
  let adminB: Client;
  let analyst: Client;
  let developer: Client;
  let family: FamilyFixture;
  let open = '';
  let openNumber = '';

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL } });
    schoolId = await createSchool(t.db, { name: SCHOOL, address: ADDRESS, phone: '+52 81 8000 1234' });
    const otherSchool = await createSchool(t.db, { name: 'Otra Escuela' });
    await insertUser(t.db, { username: 'inv.admin', role: 'school_admin', schoolIds: [schoolId] });
    await insertUser(t.db, { username: 'inv.adminb', role: 'school_admin', schoolIds: [otherSchool] });
    await insertUser(t.db, { username: 'inv.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'inv.dev', role: 'developer' });
    admin = client(t.app, (await login(t.app, 'inv.admin')).accessToken);
    adminB = client(t.app, (await login(t.app, 'inv.adminb')).accessToken);
    analyst = client(t.app, (await login(t.app, 'inv.analyst')).accessToken);
    developer = client(t.app, (await login(t.app, 'inv.dev')).accessToken);
    family = await createFamily(t.db, schoolId, {
      name: 'Pérez García',
      language: 'en',
      guardians: [{ firstName: 'Laura', lastName: 'García' }],
      students: [{ firstName: 'Ana', lastName: 'Pérez' }],
    });
    // Tuition 4,500.00 less a sibling discount of 450.00, with pronto pago: 4,050.00 − 202.50 by the 5th.
    open = await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[0] ?? '', amount: 450_000, dueDate: day(20), description: 'Colegiatura de noviembre' });
    await t.db.insertInto('invoice_lines').values({ school_id: schoolId, invoice_id: open, kind: 'discount', code: 'sibling', description: 'Descuento por hermanos 10%', amount: -45_000 }).execute();
    await t.db.updateTable('invoices').set({ amount: 405_000, early_discount: 20_250, early_by: day(10) }).where('id', '=', open).execute();
    openNumber = (await t.db.selectFrom('invoices').select('number').where('id', '=', open).executeTakeFirstOrThrow()).number;
  });
  after(() => t.close());

  const pdfText = async (pdf: Buffer) => (await readPdf(pdf)).flatMap((page) => page.lines);

  test('an open invoice: one A4 page with the school, number, dates, people, lines, totals, the offer and a pay link that opens its pay page', async () => {
    const response = await admin.get(`/invoices/${open}/pdf`);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['content-type'], 'application/pdf');
    assert.equal(response.headers['cache-control'], 'private, no-store');
    assert.equal(response.rawPayload.subarray(0, 5).toString(), '%PDF-');
    assert.match(String(response.headers['content-disposition']), new RegExp(`^attachment; filename="bursar-invoice-colegio-miraflores-de-la-sierra-madre-oriental-${openNumber.toLowerCase()}-\\d{4}-\\d{2}-\\d{2}\\.pdf"`));
    await renderPng(response.rawPayload, 'invoices', 'open-en');
    const pages = await readPdf(response.rawPayload);
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.ok(page);
    assert.ok(Math.abs(page.width - 595.28) < 1 && Math.abs(page.height - 841.89) < 1, 'A4 portrait');
    assert.deepEqual(outsideMargins(page), []);
    const lines = page.lines;
    const text = lines.join('\n');
    assert.ok(lines.includes(SCHOOL), text);
    assert.ok(lines.includes(ADDRESS), text);
    assert.ok(lines.includes(`Invoice ${openNumber}`) && lines.includes('Pending'), text);
    assert.ok(lines.includes(`Due date: ${day(20)}`), text);
    assert.ok(lines.some((line) => /^Issue date: \d{4}-\d{2}-\d{2}$/.test(line)), text);
    assert.ok(lines.includes('Student: Ana Pérez'), text);
    assert.ok(lines.includes('Family: Pérez García'), text);
    assert.ok(lines.includes(`Family reference: ${family.reference} (quote it on every bank transfer)`), text);
    assert.ok(lines.includes('Colegiatura de noviembre MXN 4,500.00'), text);
    assert.ok(lines.includes('Descuento por hermanos 10% MXN -450.00'), text);
    assert.ok(lines.includes('Total MXN 4,050.00'), text);
    assert.ok(lines.includes('Paid MXN 0.00'), text);
    assert.ok(lines.includes('Amount due MXN 4,050.00'), text);
    assert.ok(lines.includes(`Pay MXN 3,847.50 by ${day(10)} and save MXN 202.50`), text);
    assert.ok(lines.includes('Scan to pay online'), text);

    const urls = payUrlsIn(text, PUBLIC_URL);
    assert.equal(urls.length, 1, text);
    const token = urls[0]?.split('/pay/')[1] ?? '';
    const verified = verifyPayToken(await payLinkKey(t.db), token, new Date());
    assert.ok(typeof verified === 'object' && verified.kind === 'invoice', JSON.stringify(verified));
    assert.equal(verified.invoiceId, open);
    const days = (verified.expiresAt.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in 30 days: ${days}`);
    const lastDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Mexico_City' }).format(verified.expiresAt);
    assert.ok(lines.includes(`Link valid until ${lastDay}`), text);
    const view = await client(t.app, null).get(`/pay-links/${token}`);
    assert.equal(view.statusCode, 200, view.body);
    assert.deepEqual(view.json<{ kind: string; invoiceNumber: string; amountDue: number }>().amountDue, 405_000);
  });

  test('in Spanish by ?lang=es, by Accept-Language, and by the payer’s or family’s language when the request names none', async () => {
    const lines = async (query: string, headers: Record<string, string> = {}) => pdfText((await admin.get(`/invoices/${open}/pdf${query}`, headers)).rawPayload);
    const spanish = await lines('?lang=es');
    await renderPng((await admin.get(`/invoices/${open}/pdf?lang=es`)).rawPayload, 'invoices', 'open-es');
    const text = spanish.join('\n');
    assert.ok(spanish.includes(`Factura ${openNumber}`) && spanish.includes('Pendiente'), text);
    assert.ok(spanish.includes('Saldo a pagar MXN 4,050.00'), text);
    assert.ok(spanish.includes(`Pague MXN 3,847.50 a más tardar el ${day(10)} y ahorre MXN 202.50`), text);
    assert.ok(spanish.includes('Escanee para pagar en línea'), text);
    assert.ok((await lines('', { 'accept-language': 'es-MX,es;q=0.9' })).includes('Escanee para pagar en línea'));
    assert.ok((await lines('?lang=en', { 'accept-language': 'es-MX' })).includes('Scan to pay online'), 'lang wins');
    assert.ok((await lines('')).includes('Scan to pay online'), 'this family reads English');
    await t.db.updateTable('families').set({ preferred_language: 'es' }).where('id', '=', family.id).execute();
    assert.ok((await lines('')).includes('Escanee para pagar en línea'), 'the family’s language');
    await t.db.updateTable('families').set({ preferred_language: 'en' }).where('id', '=', family.id).execute();
    assert.equal((await admin.get(`/invoices/${open}/pdf?lang=fr`)).statusCode, 400);
  });

  test('paid and cancelled invoices carry no pay link', async () => {
    const student = family.students[0] ?? '';
    const paid = await createInvoice(t.db, { schoolId, familyId: family.id, studentId: student, amount: 80_000, dueDate: day(-5), description: 'Uniforme' });
    const payment = await admin.pay({ invoiceId: paid, amount: 80_000, method: 'card' });
    assert.equal(payment.statusCode, 201, payment.body);
    const paidPdf = await admin.get(`/invoices/${paid}/pdf`);
    assert.equal(paidPdf.statusCode, 200);
    await renderPng(paidPdf.rawPayload, 'invoices', 'paid-en');
    const paidText = (await pdfText(paidPdf.rawPayload)).join('\n');
    assert.ok(paidText.includes('Amount due MXN 0.00') && paidText.includes('Paid MXN 800.00'), paidText);
    assert.ok(paidText.includes('Paid in full. Thank you.'), paidText);
    assert.deepEqual(payUrlsIn(paidText, PUBLIC_URL), []);
    assert.ok(!paidText.includes('Scan to pay online'));

    const cancelled = await createInvoice(t.db, { schoolId, familyId: family.id, studentId: student, amount: 70_000, dueDate: day(5), cancelled: true });
    const cancelledPdf = await admin.get(`/invoices/${cancelled}/pdf?lang=es`);
    assert.equal(cancelledPdf.statusCode, 200);
    await renderPng(cancelledPdf.rawPayload, 'invoices', 'cancelled-es');
    const cancelledText = (await pdfText(cancelledPdf.rawPayload)).join('\n');
    assert.ok(cancelledText.includes('Cancelada') && cancelledText.includes('Esta factura está cancelada'), cancelledText);
    assert.deepEqual(payUrlsIn(cancelledText, PUBLIC_URL), []);
  });

  test('the finance analyst’s copy is masked and has no pay link; a developer 403; another school’s admin 404', async () => {
    const masked = await analyst.get(`/invoices/${open}/pdf`);
    assert.equal(masked.statusCode, 200, masked.body);
    await renderPng(masked.rawPayload, 'invoices', 'analyst-en');
    const text = (await pdfText(masked.rawPayload)).join('\n');
    assert.ok(text.includes('Student: A. P.') && text.includes('Family: P. G.'), text);
    assert.ok(text.includes(`Family reference: ***${family.reference.slice(-4)}`), text);
    assert.ok(!/Pérez|García|Ana |Laura/.test(text), 'nothing in clear');
    assert.ok(!text.includes(family.reference));
    assert.deepEqual(payUrlsIn(text, PUBLIC_URL), [], 'no pay link for a role that may not make one');
    assert.ok(text.includes('Amount due MXN 4,050.00'));

    assert.equal((await developer.get(`/invoices/${open}/pdf`)).statusCode, 403);
    assert.equal((await adminB.get(`/invoices/${open}/pdf`)).statusCode, 404);
    assert.equal((await admin.get(`/invoices/${randomUUID()}/pdf`)).statusCode, 404);
    assert.equal((await admin.get('/invoices/not-a-uuid/pdf')).statusCode, 400);
    assert.equal((await client(t.app, null).get(`/invoices/${open}/pdf`)).statusCode, 401);
  });

  test('an invoice of many long lines, split between payers, is still ONE page, the rest summed in one row', async () => {
    const student = family.students[0] ?? '';
    const payer = family.guardians[0] ?? '';
    const many = await createInvoice(t.db, { schoolId, familyId: family.id, studentId: student, amount: 100_000, dueDate: day(3), payerGuardianId: payer, description: 'Pensión mensual, transporte escolar, alimentación y actividades extracurriculares del mes de noviembre, primer concepto' });
    let total = 100_000;
    for (let i = 0; i < 60; i++) {
      await t.db.insertInto('invoice_lines').values({ school_id: schoolId, invoice_id: many, kind: 'late_fee', code: `lf${i}`, description: `Recargo por pago tardío del día ${i + 1}`, amount: 1_000 + i }).execute();
      total += 1_000 + i;
    }
    await t.db.updateTable('invoices').set({ amount: total }).where('id', '=', many).execute();
    const response = await admin.get(`/invoices/${many}/pdf?lang=es`);
    assert.equal(response.statusCode, 200, response.body);
    await renderPng(response.rawPayload, 'invoices', 'many-es');
    const pages = await readPdf(response.rawPayload);
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.ok(page);
    assert.deepEqual(outsideMargins(page), []);
    const text = page.lines.join('\n');
    assert.ok(page.lines.includes('A cargo de: Laura García'), text);
    const more = page.lines.find((line) => line.includes('conceptos más'));
    assert.ok(more, text);
    assert.equal(payUrlsIn(text, PUBLIC_URL).length, 1, 'the pay link still fits');
    const amounts = page.items.filter((item) => item.str.startsWith('MXN '));
    for (const item of amounts) {
      assert.match(item.str, /^MXN -?\d{1,3}(,\d{3})*\.\d{2}$/);
    }
  });
});
