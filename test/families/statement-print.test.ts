import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedFamilyLedger, type FamilyLedgerFixture } from './fixture.js';
import { readPdf, type PdfPage } from '../helpers/pdf.js';
import { payLinkKey, verifyPayToken } from '../../src/modules/paylinks/paylinks.tokens.js';

/**
 * The printed family statement, read back with pdf.js text extraction (with positions)
 * and held to what a family needs on paper: everything inside the page's margins, every
 * amount whole, the Balance column right-aligned, "Page n of N" on every page, the
 * table's header on every page, the school's name and address, the payment reference,
 * the time in the school's zone, the opening balance first and the closing balance
 * after the last row. When pdftoppm is installed the pages are also rendered to
 * test-artifacts/family-statements/ to be looked at.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'family-statements');
const run = promisify(execFile);


async function renderPng(pdf: Buffer, name: string): Promise<void> {
  const pdftoppm = ['/usr/bin/pdftoppm', '/usr/local/bin/pdftoppm'].find((candidate) => existsSync(candidate));
  if (pdftoppm === undefined) {
    return;
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.pdf`);
  await writeFile(file, pdf);
  await run(pdftoppm, ['-png', '-r', '80', '-f', '1', '-l', '3', file, path.join(ARTIFACTS, name)]);
}

/** Every text item inside its page and inside the 40-point margins (1 point of rounding). */
function assertInsideMargins(pages: PdfPage[], label: string) {
  for (const [n, page] of pages.entries()) {
    for (const item of page.items) {
      const where = `${label} page ${n + 1}: "${item.str}" at ${item.x.toFixed(1)},${item.y.toFixed(1)} w ${item.width.toFixed(1)}`;
      assert.ok(item.x >= 39 && item.x + item.width <= page.width - 39, `inside the margins: ${where}`);
      assert.ok(item.y >= 0 && item.y + item.height <= page.height + 0.5, `inside the page: ${where}`);
    }
  }
}

/** "1,234,567.89" from minor units, built here, not by the code under test. */
const grouped = (minor: number) => {
  const negative = minor < 0;
  const magnitude = Math.abs(minor);
  const whole = Math.floor(magnitude / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${whole}.${String(magnitude % 100).padStart(2, '0')}`;
};

describe('printed family statements (PDF)', () => {
  let t: TestApp;
  let api: Client;
  let analyst: Client;
  let small: FamilyLedgerFixture;
  let bigFamilyId = '';
  const LONG_SCHOOL = 'Colegio Internacional Bilingüe San José de la Montaña del Valle de Aburrá';
  const ADDRESS = 'Carrera 43A # 1 Sur-100, El Poblado, Medellín, Antioquia, Colombia';
  const BIG = 99_999_999_999; // COP 999,999,999.99
  const ROWS = 150;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'print.root', role: 'super_admin' });
    await insertUser(t.db, { username: 'print.analyst', role: 'finance_analyst' });
    api = client(t.app, (await login(t.app, 'print.root')).accessToken);
    analyst = client(t.app, (await login(t.app, 'print.analyst')).accessToken);
    const mxn = (
      await t.db.insertInto('schools').values({ name: 'Colegio Miraflores', address: 'Av. Reforma 1, CDMX', phone: '+52 55 5555 0000', currency: 'MXN', timezone: 'America/Mexico_City' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    small = await seedFamilyLedger(t.db, api, mxn);

    const cop = (
      await t.db.insertInto('schools').values({ name: LONG_SCHOOL, address: ADDRESS, currency: 'COP', timezone: 'America/Bogota' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    const family = (await api.post('/families', { schoolId: cop, name: 'Fernández-Villavicencio y Rodríguez de la Concepción' })).json<{ id: string }>();
    bigFamilyId = family.id;
    const kids: string[] = [];
    for (const firstName of ['María de los Ángeles Guadalupe', 'Juan', 'Sofía']) {
      kids.push((await api.post('/students', { schoolId: cop, firstName, lastName: 'Fernández-Villavicencio', grade: '11', familyId: family.id })).json<{ id: string }>().id);
    }
    // Many invoices (several pages), the largest unpaid, long descriptions, payments on some.
    await sql`
      insert into invoices (school_id, student_id, number, description, amount, paid_amount, due_date, cancelled_at)
      select ${cop}::uuid, (array[${kids[0]}::uuid, ${kids[1]}::uuid, ${kids[2]}::uuid])[1 + g % 3],
             'CMF-2026-' || lpad(g::text, 4, '0'),
             case when g % 4 = 0 then 'Pensión mensual, transporte escolar, alimentación y actividades extracurriculares del mes ' || g else 'Pensión ' || g end,
             case when g = 1 then ${BIG}::bigint else 45000000 + g * 1234567 end,
             case when g % 5 = 0 then 45000000 + g * 1234567 else 0 end,
             date '2026-02-01' + g,
             case when g = 7 then now() else null end
        from generate_series(1, ${ROWS}) as g`.execute(t.db);
    await sql`
      insert into payments (school_id, invoice_id, amount, method, reference, paid_at)
      select school_id, id, paid_amount, 'bank_transfer', 'REF-' || number, (due_date + 1)::timestamp at time zone 'America/Bogota' + interval '10 hours'
        from invoices where school_id = ${cop}::uuid and paid_amount > 0`.execute(t.db);
    await rm(ARTIFACTS, { recursive: true, force: true });
  });
  after(() => t.close());

  const pdf = async (url: string, as = api) => {
    const response = await as.get(url);
    assert.equal(response.statusCode, 200, response.body.slice(0, 300));
    assert.equal(response.headers['content-type'], 'application/pdf');
    return response;
  };

  test('a small MXN statement: one portrait page, head, reference, local time, opening first, closing last, amounts right-aligned', async () => {
    const response = await pdf(`/families/${small.familyId}/statement?format=pdf`);
    await renderPng(response.rawPayload, 'mxn-en');
    const pages = await readPdf(response.rawPayload);
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.ok(page);
    assert.ok(page.height > page.width, 'portrait');
    assertInsideMargins(pages, 'mxn');
    const lines = page.lines;
    assert.equal(lines[0], 'Family statement');
    assert.ok(lines.includes('Colegio Miraflores'));
    assert.ok(lines.includes('Av. Reforma 1, CDMX'));
    assert.ok(lines.includes('Phone: +52 55 5555 0000'));
    assert.ok(lines.includes(`Payment reference: ${small.reference}`), lines.join('\n'));
    assert.ok(lines.includes('Family: Pérez García'));
    assert.ok(lines.includes('Students: Ana Pérez (3), Beto Pérez (5)'));
    assert.ok(lines.some((line) => /^Generated at: \d{4}-\d{2}-\d{2} \d{2}:\d{2} America\/Mexico_City \(UTC-0[56]:00\)$/.test(line)), lines.join('\n'));
    assert.ok(lines.some((line) => line.startsWith('Page 1 of 1 ')), lines.at(-1));

    // The table: the opening balance row first, the movements, the period's totals, the closing balance last.
    // What a movement takes off is Paid (money) or Credited (credit notes, write-offs): they fit side by side here.
    const header = lines.findIndex((line) => line === 'Date Movement Student Invoice Detail Charges Paid Credited Balance');
    assert.ok(header > 0, lines.join('\n'));
    assert.equal(lines[header + 1], 'Opening balance MXN 0.00');
    assert.equal(lines[header + 2], '2026-09-03 Payment Ana Pérez F-001 Card · receipt COL-2026-000001 MXN 60.00 MXN -60.00');
    assert.equal(lines[header + 3], '· TX-123456789', 'a long detail wraps within its column');
    const closing = lines.lastIndexOf('Closing balance MXN 55.00');
    assert.ok(closing > header, 'the closing balance after the movements');
    assert.equal(lines.length, closing + 2, 'then only the footer');
    // Charges (invoices and the refund), Paid (payments and the family payment), Credited (the credit note and the write-off).
    assert.equal(lines[closing - 1], `Totals of the period MXN ${grouped(27_000 + 1_000)} MXN ${grouped(21_000)} MXN ${grouped(1_000 + 500)}`);
    // Each amount under its column: payments under Paid, the credit note and the write-off under Credited.
    const under = (title: string) => {
      // The column's title, not the summary's label of the same word (at the left margin).
      const head = page.items.filter((item) => item.str === title).sort((a, b) => b.x - a.x)[0];
      assert.ok(head, title);
      const edge = head.x + head.width;
      return page.items.filter((item) => item.str.startsWith('MXN ') && Math.abs(item.x + item.width - edge) < 1).map((item) => item.str);
    };
    assert.deepEqual(under('Paid'), ['MXN 60.00', 'MXN 120.00', 'MXN 30.00', `MXN ${grouped(21_000)}`]);
    assert.deepEqual(under('Credited'), ['MXN 10.00', 'MXN 5.00', `MXN ${grouped(1_500)}`]);
    // The cancelled invoice says so (its detail may wrap: "… · Cancelled" / "(counts nothing)").
    const cancelled = lines.findIndex((line) => line.includes('F-003'));
    assert.ok(cancelled > header && cancelled < closing);
    const cancelledText = lines.slice(cancelled, cancelled + 2).join(' ');
    assert.ok(cancelledText.includes('Cancelled') && cancelledText.includes('(counts nothing)'), cancelledText);

    // Every amount in the Balance column ends where its header ends.
    const balanceHeader = page.items.find((item) => item.str === 'Balance');
    assert.ok(balanceHeader);
    const rightEdge = balanceHeader.x + balanceHeader.width;
    const balances = page.items.filter((item) => item.str.startsWith('MXN ') && Math.abs(item.x + item.width - rightEdge) < 1);
    assert.equal(balances.length, 11 + 2, 'one per movement, the opening and the closing');
  });

  test('in Spanish: words, "Página 1 de 1", the reference hint', async () => {
    const response = await pdf(`/families/${small.familyId}/statement?format=pdf&lang=es`);
    await renderPng(response.rawPayload, 'mxn-es');
    const [page] = await readPdf(response.rawPayload);
    assert.ok(page);
    assert.equal(page.lines[0], 'Estado de cuenta familiar');
    assert.ok(page.lines.some((line) => line.startsWith('Página 1 de 1 ')));
    assert.ok(page.lines.includes('Indique esta referencia en cada transferencia bancaria.'));
    assert.ok(page.lines.includes('Saldo final MXN 55.00'));
    assert.ok(page.lines.some((line) => line.includes('Nota de crédito') && line.includes('NC-0001')));
    assert.ok(page.lines.some((line) => /^Generado el: \d{4}-\d{2}-\d{2} \d{2}:\d{2} America\/Mexico_City/.test(line)));
    const byAccept = await api.get(`/families/${small.familyId}/statement`, { accept: 'application/pdf', 'accept-language': 'es-MX,es;q=0.9' });
    assert.equal(byAccept.headers['content-type'], 'application/pdf');
    assert.equal((await readPdf(byAccept.rawPayload))[0]?.lines[0], 'Estado de cuenta familiar');
  });

  test('a long COP statement: several pages, every amount whole, header and "Page n of N" on each, closing after the last row only', async () => {
    const response = await pdf(`/families/${bigFamilyId}/statement?format=pdf`);
    await renderPng(response.rawPayload, 'cop-en');
    const pages = await readPdf(response.rawPayload);
    assert.ok(pages.length >= 3, `several pages, got ${pages.length}`);
    assertInsideMargins(pages, 'cop');
    const first = pages[0]?.lines ?? [];
    assert.ok(first.some((line) => line.includes('Colegio Internacional Bilingüe')), first.join('\n'));
    assert.ok(first.some((line) => line.includes('Carrera 43A # 1 Sur-100')));
    assert.ok(first.some((line) => /America\/Bogota \(UTC-05:00\)$/.test(line)));
    for (const [n, page] of pages.entries()) {
      assert.ok(page.lines.some((line) => line.startsWith(`Page ${n + 1} of ${pages.length} `)), `page ${n + 1}: ${page.lines.at(-1)}`);
      assert.ok(page.items.some((item) => item.str === 'Balance'), `the table's header on page ${n + 1}`);
      assert.ok(!page.items.some((item) => item.y > 40 && item.str.endsWith('…')), 'nothing cut in the body');
    }
    const money = pages.flatMap((page) => page.items.map((item) => item.str)).filter((text) => text.startsWith('COP '));
    for (const text of money) {
      assert.match(text, /^COP -?\d{1,3}(,\d{3})*\.\d{2}$/, 'amounts with every digit');
    }
    assert.ok(money.includes(`COP ${grouped(BIG)}`), 'COP 999,999,999.99 whole');
    const { rows } = await sql<{ owed: string }>`
      select sum(amount - paid_amount)::text as owed from invoices i join students s on s.id = i.student_id
       where s.family_id = ${bigFamilyId} and i.cancelled_at is null`.execute(t.db);
    const closing = `Closing balance COP ${grouped(Number(rows[0]?.owed))}`;
    const last = pages.at(-1)?.lines ?? [];
    assert.ok(last.includes(closing), `${closing}\n${last.join('\n')}`);
    // The summary on page 1 has its own "Closing balance" at the left margin; the table's row is indented (the date column).
    const closingRows = pages.map((page) => page.items.filter((item) => item.str === 'Closing balance' && item.x > 41).length);
    assert.deepEqual(closingRows, [...Array<number>(pages.length - 1).fill(0), 1]);
    // Long descriptions wrap rather than run into the amounts: every word is printed.
    const words = pages.flatMap((page) => page.lines).join(' ');
    for (const part of ['alimentación', 'extracurriculares', 'Fernández-Villavicencio']) {
      assert.ok(words.includes(part), part);
    }
  });

  test('a QR code of a link to pay what the family owes today, with its URL printed; none when it owes nothing, none on the analyst’s copy', async () => {
    const payUrls = (text: string) => text.match(new RegExp(`${t.config.publicUrl.replace(/[.:/]/g, '\\$&')}/pay/[A-Za-z0-9_-]{50}`, 'g')) ?? [];
    const response = await pdf(`/families/${small.familyId}/statement?format=pdf`);
    const lines = (await readPdf(response.rawPayload)).flatMap((page) => page.lines);
    const text = lines.join('\n');
    assert.ok(lines.includes('Scan to pay online'), text);
    assert.ok(lines.some((line) => line.endsWith('Owed today: MXN 65.00')), text);
    const urls = payUrls(text);
    assert.equal(urls.length, 1, text);
    const token = urls[0]?.split('/pay/')[1] ?? '';
    const verified = verifyPayToken(await payLinkKey(t.db), token, new Date());
    assert.ok(typeof verified === 'object' && verified.kind === 'family' && verified.familyId === small.familyId, JSON.stringify(verified));
    const view = await client(t.app, null).get(`/pay-links/${token}`);
    assert.equal(view.statusCode, 200, view.body);
    assert.deepEqual(view.json<{ familyReference: string; amountDue: number }>().amountDue, 6_500);
    // JSON and CSV are unchanged: the link is for the printed statement.
    assert.equal(payUrls((await api.get(`/families/${small.familyId}/statement?format=csv`)).body).length, 0);

    const analystText = (await readPdf((await pdf(`/families/${small.familyId}/statement?format=pdf`, analyst)).rawPayload)).flatMap((page) => page.lines).join('\n');
    assert.deepEqual(payUrls(analystText), [], 'the analyst may not hand out pay links');
    assert.ok(!analystText.includes('Scan to pay online'));

    const settled = (await api.post('/families', { schoolId: small.schoolId, name: 'Al Corriente' })).json<{ id: string }>();
    const settledResponse = await pdf(`/families/${settled.id}/statement?format=pdf&lang=es`);
    await renderPng(settledResponse.rawPayload, 'settled-es');
    const settledText = (await readPdf(settledResponse.rawPayload)).flatMap((page) => page.lines).join('\n');
    assert.deepEqual(payUrls(settledText), [], settledText);
    assert.ok(!settledText.includes('Escanee para pagar en línea'));
  });

  test('the analyst’s PDF is masked and the file is named in the one scheme', async () => {
    const response = await pdf(`/families/${small.familyId}/statement?format=pdf`, analyst);
    const text = (await readPdf(response.rawPayload)).flatMap((page) => page.lines).join('\n');
    assert.ok(text.includes('Family: P.'));
    assert.ok(text.includes('A. P.'));
    assert.ok(!text.includes('García') && !text.includes('Beto') && !text.includes('TX-123456789'), text);
    assert.ok(text.includes('***6789'));
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Mexico_City' }).format(new Date());
    assert.equal(
      String(response.headers['content-disposition']),
      `attachment; filename="bursar-family-statement-colegio-miraflores-p-${today}.pdf"; filename*=UTF-8''bursar-family-statement-colegio-miraflores-p-${today}.pdf`,
    );
  });
});
