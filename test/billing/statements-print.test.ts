import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { bearer, createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { readPdf, type PdfPage } from '../helpers/pdf.js';

/**
 * Statements that print: every PDF is read back with a real PDF text extraction
 * (pdf.js), with positions, and held to what a person needs on paper — every piece of
 * text inside the page, the Pending column's header and every amount whole ("COP
 * 999,999,999.99", never "COP 999,999,9"), "Page n of N", the school's name and
 * address, the time in the school's zone, totals after the last row. When pdftoppm is
 * installed the pages are also rendered to test-artifacts/statements/ to be looked at.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'statements');
const run = promisify(execFile);


/** Renders `pdf` to PNG pages in test-artifacts/statements/<name>-<n>.png when pdftoppm is installed. */
async function renderPng(pdf: Buffer, name: string): Promise<string[]> {
  const pdftoppm = ['/usr/bin/pdftoppm', '/usr/local/bin/pdftoppm'].find((candidate) => existsSync(candidate));
  if (pdftoppm === undefined) {
    return [];
  }
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.pdf`);
  await writeFile(file, pdf);
  await run(pdftoppm, ['-png', '-r', '80', '-f', '1', '-l', '3', file, path.join(ARTIFACTS, name)]);
  return [file];
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** COP 999,999,999.99 as a person writes it, built here from the digits, not by the code under test. */
const grouped = (minor: number) => {
  const whole = Math.floor(minor / 100).toString();
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${String(minor % 100).padStart(2, '0')}`;
};

describe('printed statements (PDF) and statements for people (CSV)', () => {
  let t: TestApp;
  let token = '';
  let analyst = '';
  let schoolId = '';
  let studentId = '';
  let smallSchoolId = '';
  const LONG_SCHOOL = 'Colegio Internacional Bilingüe San José de la Montaña del Valle de Aburrá';
  const ADDRESS = 'Carrera 43A # 1 Sur-100, El Poblado, Medellín, Antioquia, Colombia';
  const LONG_FIRST = 'María de los Ángeles Guadalupe';
  const LONG_LAST = 'Fernández-Villavicencio y Rodríguez de la Concepción';
  const BIG = 99_999_999_999; // COP 999,999,999.99
  const ROWS = 140;

  before(async () => {
    t = await createTestApp();
    schoolId = (
      await t.db
        .insertInto('schools')
        .values({ name: LONG_SCHOOL, address: ADDRESS, phone: '+57 604 444 0000', currency: 'COP', timezone: 'America/Bogota' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    studentId = (
      await t.db.insertInto('students').values({ school_id: schoolId, first_name: LONG_FIRST, last_name: LONG_LAST, grade: '11' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    const other = (await t.db.insertInto('students').values({ school_id: schoolId, first_name: 'Ana', last_name: 'Alvarez', grade: '3' }).returning('id').executeTakeFirstOrThrow()).id;
    // Many rows (several pages), the largest amount unpaid, long descriptions, every status.
    await sql`
      insert into invoices (school_id, student_id, number, description, amount, paid_amount, due_date, cancelled_at)
      select ${schoolId}::uuid, case when g % 3 = 0 then ${other}::uuid else ${studentId}::uuid end,
             'CMF-2026' || lpad(g::text, 2, '0') || '-' || lpad(g::text, 4, '0'),
             case when g % 4 = 0 then 'Pensión mensual, transporte escolar, alimentación y actividades extracurriculares del mes ' || g else 'Pensión ' || g end,
             case when g = 1 then ${BIG}::bigint else 45000000 + g * 1234567 end,
             case when g % 5 = 0 then 45000000 + g * 1234567 when g % 5 = 1 and g > 1 then 1000000 else 0 end,
             ${day(-60)}::date + g,
             case when g = 7 then now() else null end
      from generate_series(1, ${ROWS}) as g`.execute(t.db);
    smallSchoolId = (
      await t.db.insertInto('schools').values({ name: 'Colegio Alfa', address: 'Av. Reforma 1, CDMX', currency: 'MXN', timezone: 'America/Mexico_City' }).returning('id').executeTakeFirstOrThrow()
    ).id;
    const small = (await t.db.insertInto('students').values({ school_id: smallSchoolId, first_name: 'Beto', last_name: 'Bravo', grade: '5' }).returning('id').executeTakeFirstOrThrow()).id;
    await t.db.insertInto('invoices').values({ school_id: smallSchoolId, student_id: small, number: 'INV-000001', description: 'Colegiatura', amount: 450_000, paid_amount: 0, due_date: day(-5) }).execute();

    await insertUser(t.db, { username: 'print.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'print.analyst', role: 'finance_analyst' });
    token = (await login(t.app, 'print.super')).accessToken;
    analyst = (await login(t.app, 'print.analyst')).accessToken;
    await rm(ARTIFACTS, { recursive: true, force: true });
  });
  after(() => t.close());

  const get = (url: string, accept: string, headers: Record<string, string> = {}, as = token) =>
    t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { ...bearer(as), accept, ...headers } });

  /** Every text item lies inside its page, and inside the page's margins but for none. */
  function assertInsidePages(pages: PdfPage[], label: string) {
    for (const [n, page] of pages.entries()) {
      for (const item of page.items) {
        const where = `${label} page ${n + 1}: "${item.str}" at ${item.x.toFixed(1)},${item.y.toFixed(1)} w ${item.width.toFixed(1)}`;
        assert.ok(item.x >= 0 && item.x + item.width <= page.width + 0.5, `inside horizontally: ${where} (page ${page.width})`);
        assert.ok(item.y >= 0 && item.y + item.height <= page.height + 0.5, `inside vertically: ${where}`);
        assert.ok(item.x >= 39 && item.x + item.width <= page.width - 39, `inside the margins: ${where}`);
      }
    }
  }

  /** The expected pending amounts of an independent query, as "COP 1,234.56". */
  async function expectedPending(where: { schoolId: string; studentId?: string }): Promise<string[]> {
    const { rows } = await sql<{ pending: string; currency: string }>`
      select (i.amount - i.paid_amount)::text as pending, s.currency from invoices i join schools s on s.id = i.school_id
      where i.school_id = ${where.schoolId} and (${where.studentId ?? null}::uuid is null or i.student_id = ${where.studentId ?? null}::uuid)`.execute(t.db);
    return rows.map((row) => `${row.currency} ${grouped(Number(row.pending))}`);
  }

  for (const kind of ['school', 'student'] as const) {
    test(`${kind} statement PDF: every column whole, inside the page, page numbers, school head, local time, totals last`, async () => {
      const url = kind === 'school' ? `/schools/${schoolId}/statement` : `/students/${studentId}/statement`;
      const started = Date.now();
      const response = await get(url, 'application/pdf');
      const finished = Date.now();
      assert.equal(response.statusCode, 200, response.body);
      const pdf = response.rawPayload;
      await renderPng(pdf, `${kind}-cop-en`);
      const pages = await readPdf(pdf);
      assert.ok(pages.length >= 3, `several pages, got ${pages.length}`);
      assertInsidePages(pages, kind);

      const all = pages.flatMap((page) => page.lines);
      const first = pages[0]?.lines ?? [];
      // The school's name and address in the head, the student for a student statement.
      assert.ok(first.some((line) => line.includes(LONG_SCHOOL)), first.join('\n'));
      assert.ok(first.some((line) => line.includes(ADDRESS)), 'the address');
      if (kind === 'student') {
        assert.ok(first.join(' ').includes(`${LONG_FIRST} ${LONG_LAST}`), 'the student');
      }
      // Generated at, in the school's zone (Bogotá: UTC−5 all year), with the zone named.
      const stamp = first.map((line) => /Generated at: (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}) America\/Bogota \(UTC-05:00\)/.exec(line)).find((m) => m !== null);
      assert.ok(stamp, `a local generated-at: ${first.join(' | ')}`);
      const [, y, mo, d, h, mi] = stamp.map(Number);
      const printedUtc = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, (h ?? 0) + 5, mi ?? 0);
      assert.ok(printedUtc >= started - 60_000 && printedUtc <= finished, 'the time it was made, read in Bogotá');
      assert.ok(!all.some((line) => /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(line)), 'no UTC ISO stamp anywhere a person reads');

      // "Page n of N" on every page, N the real count.
      for (const [n, page] of pages.entries()) {
        assert.ok(page.lines.some((line) => line.startsWith(`Page ${n + 1} of ${pages.length} `)), `page ${n + 1}: ${page.lines.at(-1)}`);
      }
      // The Pending header whole on every page, and every pending amount whole.
      for (const page of pages) {
        assert.ok(page.items.some((item) => item.str === 'Pending'), 'the Pending header');
        // Nothing in the page's body is cut (the footer's running title may be shortened with …).
        assert.ok(!page.items.some((item) => item.y > 40 && /^Pendin$|…$/.test(item.str)), 'nothing cut');
      }
      const moneyItems = pages.flatMap((page) => page.items.map((item) => item.str)).filter((text) => text.startsWith('COP '));
      for (const text of moneyItems) {
        assert.match(text, /^COP \d{1,3}(,\d{3})*\.\d{2}$/, 'amounts with every digit');
      }
      assert.ok(moneyItems.includes(`COP ${grouped(BIG)}`), 'COP 999,999,999.99 whole');
      const pending = await expectedPending(kind === 'school' ? { schoolId } : { schoolId, studentId });
      for (const amount of pending) {
        assert.ok(moneyItems.includes(amount), `pending ${amount} printed`);
      }
      // The long name wraps: every word of it is printed, on more than one line.
      if (kind === 'school') {
        const words = all.join(' ');
        for (const part of ['María', 'Guadalupe', 'Fernández-Villavicencio', 'Concepción']) {
          assert.ok(words.includes(part), part);
        }
      }
      // Totals after the last row, on the last page only.
      const last = pages.at(-1)?.lines ?? [];
      assert.ok(last.some((line) => line.startsWith('Totals (cancelled invoices excluded)')), last.join('\n'));
      assert.ok(!pages.slice(0, -1).some((page) => page.lines.some((line) => line.startsWith('Totals'))));
      const totals = await sql<{ invoiced: string; pending: string }>`
        select sum(amount)::text as invoiced, sum(amount - paid_amount)::text as pending from invoices
        where school_id = ${schoolId} and cancelled_at is null and (${kind === 'student'} = false or student_id = ${studentId})`.execute(t.db);
      const totalsLine = last.find((line) => line.startsWith('Totals')) ?? '';
      assert.ok(totalsLine.includes(`COP ${grouped(Number(totals.rows[0]?.invoiced))}`), totalsLine);
      assert.ok(totalsLine.includes(`COP ${grouped(Number(totals.rows[0]?.pending))}`), totalsLine);
    });
  }

  test('a small MXN statement in Spanish: portrait, "Página 1 de 1", MXN 4,500.00 whole under "Pendiente"', async () => {
    const response = await get(`/schools/${smallSchoolId}/statement`, 'application/pdf', { 'accept-language': 'es-MX,es;q=0.9' });
    assert.equal(response.statusCode, 200);
    await renderPng(response.rawPayload, 'school-mxn-es');
    const pages = await readPdf(response.rawPayload);
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.ok(page);
    assert.ok(page.height > page.width, 'portrait');
    assertInsidePages(pages, 'mxn');
    assert.ok(page.lines.some((line) => line.startsWith('Página 1 de 1 ')), page.lines.join('\n'));
    assert.ok(page.lines.some((line) => line.includes('Av. Reforma 1, CDMX')));
    assert.ok(page.lines.some((line) => /^Generado el: \d{4}-\d{2}-\d{2} \d{2}:\d{2} America\/Mexico_City \(UTC-0[56]:00\)$/.test(line)), page.lines.join('\n'));
    const header = page.items.find((item) => item.str === 'Pendiente');
    const amount = page.items.filter((item) => item.str === 'MXN 4,500.00');
    assert.ok(header && amount.length >= 2, 'header and the amount (row and totals)');
    for (const item of amount) {
      assert.ok(item.x + item.width <= page.width - 40 + 0.5, 'inside the margin');
    }
    assert.ok(page.lines.some((line) => line.startsWith('Totales (sin facturas canceladas)')));
    assert.ok(page.lines.some((line) => line.includes('Vencida')), 'statuses in words');
  });

  test('names are masked in the PDF for the analyst, and the file is named in the one scheme', async () => {
    const response = await get(`/students/${studentId}/statement`, 'application/pdf', {}, analyst);
    assert.equal(response.statusCode, 200);
    const text = (await readPdf(response.rawPayload)).flatMap((page) => page.lines).join('\n');
    assert.ok(text.includes('M. F.'));
    assert.ok(!text.includes('Guadalupe') && !text.includes('Villavicencio'));
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota' }).format(new Date());
    const disposition = String(response.headers['content-disposition']);
    assert.equal(
      disposition,
      `attachment; filename="bursar-statement-colegio-internacional-bilingue-san-jose-de-la-m-f-${today}.pdf"; ` +
        `filename*=UTF-8''bursar-statement-colegio-internacional-biling%C3%BCe-san-jos%C3%A9-de-la-m-f-${today}.pdf`,
    );
  });

  test('statement CSV for people: BOM, words, local time, amounts in currency units; ?style=raw keeps minor units', async () => {
    const people = await get(`/students/${studentId}/statement`, 'text/csv');
    assert.equal(people.statusCode, 200);
    assert.deepEqual([...people.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    const body = people.rawPayload.subarray(3).toString('utf8');
    const comments = body.split('\n').filter((line) => line.startsWith('# '));
    assert.ok(comments.includes('# Statement of account'), comments.join('\n'));
    // Head lines are a label cell and a value cell: the address keeps its commas, amounts are numbers.
    assert.ok(comments.includes(`# School,"${LONG_SCHOOL}"`), comments.join('\n'));
    assert.ok(comments.includes(`# Address,"${ADDRESS}"`));
    assert.ok(comments.some((line) => /^# Total invoiced,\d+\.\d{2}$/.test(line)), comments.join('\n'));
    assert.ok(comments.some((line) => /^# Generated at,"\d{4}-\d{2}-\d{2} \d{2}:\d{2} America\/Bogota \(UTC-05:00\)"$/.test(line)), comments.join('\n'));
    const rows = parse<Record<string, string>>(body, { columns: true, comment: '#' });
    assert.deepEqual(Object.keys(rows[0] ?? {}), ['Invoice', 'Student', 'Description', 'Due date', 'Status', 'Amount', 'Paid', 'Credited', 'Pending', 'Currency']);
    const big = rows.find((row) => row.Invoice === 'CMF-202601-0001');
    assert.deepEqual([big?.Amount, big?.Currency, big?.Status], ['999999999.99', 'COP', 'Overdue']);
    assert.ok(rows.some((row) => row.Status === 'Cancelled'));
    for (const row of rows) {
      assert.match(row.Pending ?? '', /^\d+\.\d{2}$/);
    }

    const spanish = await get(`/students/${studentId}/statement?lang=es`, 'text/csv');
    const es = parse<Record<string, string>>(spanish.rawPayload.subarray(3).toString('utf8'), { columns: true, comment: '#' });
    assert.deepEqual(Object.keys(es[0] ?? {}), ['Factura', 'Alumno', 'Concepto', 'Vencimiento', 'Estado', 'Importe', 'Pagado', 'Acreditado', 'Pendiente', 'Moneda']);
    assert.ok(spanish.body.includes('# Generado el,"'));

    const raw = await get(`/students/${studentId}/statement?style=raw`, 'text/csv');
    assert.notEqual(raw.rawPayload[0], 0xef, 'no BOM for machines');
    const rawRows = parse<Record<string, string>>(raw.body, { columns: true, comment: '#' });
    assert.equal(rawRows.find((row) => row.number === 'CMF-202601-0001')?.amount, String(BIG));
    assert.ok(raw.body.includes('# Currency: COP (amounts in minor units)'));
  });
});
