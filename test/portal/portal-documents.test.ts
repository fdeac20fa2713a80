import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { payLinkKey, verifyPayToken } from '../../src/modules/paylinks/paylinks.tokens.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { readPdf } from '../helpers/pdf.js';
import { createFamily, createInvoice, createSchool, day, type FamilyFixture } from '../familypayments/fixtures.js';
import { payUrlsIn, renderPng } from '../invoicedocs/pdf.js';

/**
 * The portal's downloads (SPEC §8, issue 17): a guardian prints their own family's
 * invoices (with the QR pay link), statement and receipts, names in clear, and nothing
 * of another family's (404, as if it did not exist); staff are refused (403).
 */

const PUBLIC_URL = 'https://portal.colegio.example';

describe('portal downloads: invoice PDF, statement, receipts', () => {
  let t: TestApp;
  let root: Client;
  let guardian: Client;
  /** Another guardian of the same family, who reads Spanish. */
  let pedro: Client;
  let mine: FamilyFixture;
  let theirs: FamilyFixture;
  let myInvoice = '';
  let theirInvoice = '';
  let myPayment = '';
  let theirPayment = '';
  let myFamilyPayment = { id: '', allocations: [] as { paymentId: string }[] };

  before(async () => {
    t = await createTestApp({ env: { PUBLIC_URL } });
    await insertUser(t.db, { username: 'docs.root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'docs.root')).accessToken);
    const schoolId = await createSchool(t.db, { name: 'Colegio Portal Documentos', currency: 'COP', timezone: 'America/Bogota' });
    mine = await createFamily(t.db, schoolId, { name: 'Rincón Duarte', language: 'en', guardians: [{ firstName: 'Lucía', lastName: 'Rincón' }, { firstName: 'Pedro', lastName: 'Duarte' }], students: [{ firstName: 'Sofía', lastName: 'Rincón' }] });
    theirs = await createFamily(t.db, schoolId, { name: 'Vecina', language: 'en', guardians: [{ firstName: 'Marta', lastName: 'Vecina' }], students: [{ firstName: 'Tomás', lastName: 'Vecina' }] });
    myInvoice = await createInvoice(t.db, { schoolId, familyId: mine.id, studentId: mine.students[0] ?? '', amount: 350_000_00, dueDate: day(15), description: 'Pensión de noviembre' });
    const myPaid = await createInvoice(t.db, { schoolId, familyId: mine.id, studentId: mine.students[0] ?? '', amount: 120_000_00, dueDate: day(-15), description: 'Transporte' });
    theirInvoice = await createInvoice(t.db, { schoolId, familyId: theirs.id, studentId: theirs.students[0] ?? '', amount: 350_000_00, dueDate: day(15) });
    myPayment = (await root.pay({ invoiceId: myPaid, amount: 120_000_00, method: 'card', reference: 'VISA-4242' })).json<{ id: string }>().id;
    theirPayment = (await root.pay({ invoiceId: theirInvoice, amount: 50_000_00, method: 'cash' })).json<{ id: string }>().id;
    const familyPayment = await root.post(`/families/${mine.id}/payments`, { amount: 100_000_00, method: 'bank_transfer' }, { 'idempotency-key': randomUUID() });
    assert.equal(familyPayment.statusCode, 201, familyPayment.body);
    myFamilyPayment = familyPayment.json<typeof myFamilyPayment>();
    await insertUser(t.db, { username: 'lucia.docs', role: 'guardian', guardian: { schoolId, id: mine.guardians[0] ?? '' } });
    guardian = client(t.app, (await login(t.app, 'lucia.docs')).accessToken);
    // Lucía reads English (a guardian's default is Spanish), Pedro Spanish.
    await t.db.updateTable('guardians').set({ preferred_language: 'en' }).where('id', '=', mine.guardians[0] ?? '').execute();
    await insertUser(t.db, { username: 'pedro.docs', role: 'guardian', guardian: { schoolId, id: mine.guardians[1] ?? '' } });
    pedro = client(t.app, (await login(t.app, 'pedro.docs')).accessToken);
  });
  after(() => t.close());

  const textOf = async (pdf: Buffer) => (await readPdf(pdf)).flatMap((page) => page.lines).join('\n');

  test('GET /portal/invoices/:id/pdf: their own invoice with its pay link, names in clear; another family’s or none 404; staff 403', async () => {
    const response = await guardian.get(`/portal/invoices/${myInvoice}/pdf`);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['content-type'], 'application/pdf');
    assert.equal(response.headers['cache-control'], 'private, no-store');
    assert.match(String(response.headers['content-disposition']), /^attachment; filename="bursar-invoice-colegio-portal-documentos-fp-\d{6}-\d{4}-\d{2}-\d{2}\.pdf"/);
    await renderPng(response.rawPayload, 'portal', 'invoice-en');
    const text = await textOf(response.rawPayload);
    assert.ok(text.includes('Student: Sofía Rincón') && text.includes('Family: Rincón Duarte') && text.includes(mine.reference), text);
    assert.ok(text.includes('Amount due COP 250,000.00'), text);
    const urls = payUrlsIn(text, PUBLIC_URL);
    assert.equal(urls.length, 1, text);
    const verified = verifyPayToken(await payLinkKey(t.db), urls[0]?.split('/pay/')[1] ?? '', new Date());
    assert.ok(typeof verified === 'object' && verified.kind === 'invoice' && verified.invoiceId === myInvoice, JSON.stringify(verified));

    assert.equal((await guardian.get(`/portal/invoices/${theirInvoice}/pdf`)).statusCode, 404);
    assert.equal((await guardian.get(`/portal/invoices/${randomUUID()}/pdf`)).statusCode, 404);
    assert.equal((await guardian.get(`/invoices/${myInvoice}/pdf`)).statusCode, 403, 'the staff route refuses a guardian, for their own invoice too');
    assert.equal((await root.get(`/portal/invoices/${myInvoice}/pdf`)).statusCode, 403, 'the portal refuses staff');
    assert.equal((await client(t.app, null).get(`/portal/invoices/${myInvoice}/pdf`)).statusCode, 401);
  });

  test('the guardian’s language when the request names none; lang and Accept-Language first', async () => {
    const spanish = await textOf((await pedro.get(`/portal/invoices/${myInvoice}/pdf`)).rawPayload);
    assert.ok(spanish.includes('Escanee para pagar en línea'), spanish);
    assert.ok((await textOf((await pedro.get(`/portal/invoices/${myInvoice}/pdf`, { 'accept-language': 'en-US' })).rawPayload)).includes('Scan to pay online'));
    assert.ok((await textOf((await pedro.get('/portal/statement?lang=en')).rawPayload)).includes('Family statement'));
    const statement = await pedro.get('/portal/statement');
    await renderPng(statement.rawPayload, 'portal', 'statement-es');
    assert.ok((await textOf(statement.rawPayload)).includes('Estado de cuenta familiar'));
    assert.ok((await textOf((await pedro.get(`/portal/payments/${myPayment}/receipt`)).rawPayload)).includes('Recibimos de'));
    assert.ok((await textOf((await guardian.get(`/portal/payments/${myPayment}/receipt`)).rawPayload)).includes('Received from'));
  });

  test('GET /portal/statement: their family’s, a PDF with the family pay link by default; JSON and CSV when asked; 406 otherwise; staff 403', async () => {
    const response = await guardian.get('/portal/statement');
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['content-type'], 'application/pdf');
    await renderPng(response.rawPayload, 'portal', 'statement-en');
    const text = await textOf(response.rawPayload);
    assert.ok(text.includes(`Payment reference: ${mine.reference}`) && text.includes('Family: Rincón Duarte'), text);
    const urls = payUrlsIn(text, PUBLIC_URL);
    assert.equal(urls.length, 1, text);
    const verified = verifyPayToken(await payLinkKey(t.db), urls[0]?.split('/pay/')[1] ?? '', new Date());
    assert.ok(typeof verified === 'object' && verified.kind === 'family' && verified.familyId === mine.id, JSON.stringify(verified));
    assert.equal((await guardian.get('/portal/statement', { accept: '*/*' })).headers['content-type'], 'application/pdf');

    const json = await guardian.get('/portal/statement?from=2000-01-01', { accept: 'application/json' });
    assert.equal(json.statusCode, 200, json.body);
    const body = json.json<{ familyId: string; familyName: string; entries: { invoiceId: string | null }[] }>();
    assert.equal(body.familyId, mine.id);
    assert.equal(body.familyName, 'Rincón Duarte');
    assert.ok(body.entries.some((entry) => entry.invoiceId === myInvoice));
    assert.ok(!body.entries.some((entry) => entry.invoiceId === theirInvoice));
    const csv = await guardian.get('/portal/statement?format=csv');
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.equal((await guardian.get('/portal/statement', { accept: 'text/html' })).statusCode, 406);
    assert.equal((await guardian.get('/portal/statement?from=2026-12-01&to=2026-01-01')).statusCode, 400);
    assert.equal((await root.get('/portal/statement')).statusCode, 403);
  });

  test('GET /portal/payments/:id/receipt: their direct payments and family payments (by its id or an allocation’s); another family’s 404', async () => {
    const direct = await guardian.get(`/portal/payments/${myPayment}/receipt`);
    assert.equal(direct.statusCode, 200, direct.body);
    assert.equal(direct.headers['content-type'], 'application/pdf');
    await renderPng(direct.rawPayload, 'portal', 'receipt-en');
    const text = await textOf(direct.rawPayload);
    assert.ok(text.includes('Payment reference: VISA-4242') && text.includes('Sofía Rincón'), text);

    const byId = await guardian.get(`/portal/payments/${myFamilyPayment.id}/receipt`, { accept: 'application/json' });
    assert.equal(byId.statusCode, 200, byId.body);
    assert.equal(byId.json<{ familyPaymentId: string; familyId: string }>().familyPaymentId, myFamilyPayment.id);
    const allocation = myFamilyPayment.allocations[0]?.paymentId;
    assert.ok(allocation, 'the family payment settled an invoice');
    assert.equal((await guardian.get(`/portal/payments/${allocation}/receipt`, { accept: 'application/json' })).json<{ familyPaymentId: string }>().familyPaymentId, myFamilyPayment.id);

    assert.equal((await guardian.get(`/portal/payments/${theirPayment}/receipt`)).statusCode, 404);
    assert.equal((await guardian.get(`/portal/payments/${randomUUID()}/receipt`)).statusCode, 404);
    assert.equal((await guardian.get(`/payments/${myPayment}/receipt`)).statusCode, 403, 'the staff route refuses a guardian');
    assert.equal((await root.get(`/portal/payments/${myPayment}/receipt`)).statusCode, 403);
    assert.equal((await guardian.get(`/portal/payments/${myPayment}/receipt`, { accept: 'text/csv' })).statusCode, 406);
  });
  test('GET /portal/receipts: the family’s receipts newest first (the family payment’s and the direct payment’s), paged, nothing of another family’s', async () => {
    const all = await guardian.get('/portal/receipts');
    assert.equal(all.statusCode, 200, all.body);
    type Receipt = { number: string; paymentId: string; amount: number; method: string; paidAt: string };
    const receipts = all.json<{ data: Receipt[]; nextCursor: string | null }>();
    assert.deepEqual(receipts.data.map((r) => [r.paymentId, r.amount, r.method]), [
      [myFamilyPayment.id, 100_000_00, 'bank_transfer'],
      [myPayment, 120_000_00, 'card'],
    ]);
    assert.ok(receipts.data.every((r) => /\d/.test(r.number)));
    assert.ok(!receipts.data.some((r) => r.paymentId === theirPayment));
    // Each downloads through the receipt route.
    for (const receipt of receipts.data) {
      assert.equal((await guardian.get(`/portal/payments/${receipt.paymentId}/receipt`)).statusCode, 200);
    }
    const first = (await guardian.get('/portal/receipts?limit=1')).json<{ data: Receipt[]; nextCursor: string | null }>();
    assert.equal(first.data.length, 1);
    assert.ok(first.nextCursor);
    const second = (await guardian.get(`/portal/receipts?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)).json<{ data: Receipt[]; nextCursor: string | null }>();
    assert.deepEqual(second.data.map((r) => r.paymentId), [myPayment]);
    assert.equal(second.nextCursor, null);
    assert.equal((await guardian.get('/portal/receipts?cursor=nope')).statusCode, 400);
    assert.equal((await root.get('/portal/receipts')).statusCode, 403);
  });
});
