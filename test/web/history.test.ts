import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestApp } from '../helpers/app.js';
import { apiAs, browserUnavailable, judge as judgeIn, SCREENSHOTS, signIn, startDemoWebSession, type WebSession } from './browser.js';

/**
 * The History card (SPEC §9 "a timeline on every school, student, family and invoice
 * page"), in a real Chromium: what was done to the thing, by whom, newest first, in
 * English and in Spanish, at 390 px and on a desktop; absent for a role that may not
 * read the audit log.
 */
const skip = browserUnavailable();
const SHOTS = path.join(SCREENSHOTS, 'history');

describe('web: history', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  const ids = { school: '', student: '', family: '', invoice: '' };

  before(async () => {
    web = await startDemoWebSession();
    ({ t } = web);
    const root = await apiAs(t, 'super.admin');
    const created = async (url: string, body: object) => {
      const response = await root.post(url, body);
      assert.equal(response.statusCode, 201, response.body);
      return response.json<{ id: string }>().id;
    };
    ids.school = await created('/schools', { name: 'Escuela Historial', currency: 'MXN', timezone: 'America/Mexico_City' });
    ids.family = await created('/families', { schoolId: ids.school, name: 'Ríos Luna', guardians: [{ firstName: 'Ana', lastName: 'Luna', relationship: 'mother', isPrimary: true }] });
    ids.student = await created('/students', { schoolId: ids.school, firstName: 'Pablo', lastName: 'Ríos', grade: '3', familyId: ids.family });
    ids.invoice = await created('/invoices', { studentId: ids.student, amount: 125_000, dueDate: '2027-01-10', description: 'Colegiatura enero' });
    const cancelled = await root.delete(`/invoices/${ids.invoice}`);
    assert.ok(cancelled.statusCode < 300, cancelled.body);
  });
  after(() => web?.close());

  test('an invoice’s history, newest first, in both languages; the other pages have theirs', async () => {
    const { page, errors } = await signIn(web, 'super.admin');
    await page.goto(`/invoices/${ids.invoice}`);
    const card = page.getByTestId('history');
    await card.getByRole('heading', { name: 'History' }).waitFor();
    const entries = card.getByTestId('history-entry');
    await entries.first().waitFor();
    const texts = await entries.allInnerTexts();
    assert.equal(texts.length, 2, texts.join(' | '));
    assert.match(texts[0] ?? '', /Invoice cancelled/);
    assert.match(texts[1] ?? '', /Invoice created/);
    assert.match(texts[1] ?? '', /super\.admin/);
    await card.getByTestId('load-more-count').filter({ hasText: 'Showing 2 entries' }).waitFor();
    await entries.nth(1).getByText('amount: MX$1,250.00').waitFor();
    await entries.nth(1).getByText('The whole record').click();
    await entries.nth(1).getByText('"amount": 125000').waitFor();
    const problems = await judgeIn(page, 'invoice-history-en', SHOTS);

    await page.getByTestId('language-switch').locator('button[lang="es"]').click();
    await card.getByRole('heading', { name: 'Historial' }).waitFor();
    await entries.first().getByText('Factura cancelada').waitFor();
    await entries.nth(1).getByText('Factura creada').waitFor();
    await entries.nth(1).getByText('monto: $1,250.00').waitFor();
    problems.push(...(await judgeIn(page, 'invoice-history-es', SHOTS)));

    for (const [url, action] of [
      [`/schools/${ids.school}`, 'Escuela creada'],
      [`/students/${ids.student}`, 'Alumno agregado'],
      [`/families/${ids.family}`, 'Familia creada'],
    ] as const) {
      await page.goto(url);
      await page.getByTestId('history').getByTestId('history-entry').filter({ hasText: action }).first().waitFor();
    }
    // The count agrees with its noun: "Mostrando 1 registro", never "1 registros".
    const count = await page.getByTestId('history').getByTestId('load-more-count').innerText();
    const shown = Number(/^Mostrando (\d+) /.exec(count)?.[1]);
    assert.equal(count, shown === 1 ? 'Mostrando 1 registro' : `Mostrando ${shown} registros`);
    problems.push(...(await judgeIn(page, 'family-history-es', SHOTS)));
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  });

  test('a finance analyst’s pages have no history (the audit log is not theirs to read)', async () => {
    const { page, errors } = await signIn(web, 'finance.analyst');
    await page.goto(`/invoices/${ids.invoice}`);
    await page.getByTestId('invoice-pending').waitFor();
    assert.equal(await page.getByTestId('history').count(), 0);
    assert.deepEqual(errors, []);
  });
});
