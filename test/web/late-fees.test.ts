import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestApp } from '../helpers/app.js';
import { apiAs, browserUnavailable, judge as judgeIn, SCREENSHOTS, signIn, startDemoWebSession, type WebSession } from './browser.js';

/**
 * Late fees in a real Chromium against the real server: a super admin sets a school's
 * policy on its page, runs the day (a second run posts nothing), opens the late-fee
 * invoice the run made — linked to its overdue invoice — and waives part of it. An
 * analyst sees the policy without the forms. Pages fit 390 px with zero axe violations.
 */
const skip = browserUnavailable();
const SHOTS = path.join(SCREENSHOTS, 'late-fees');

describe('web: late fees', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let schoolId = '';
  let studentId = '';
  let overdueId = '';

  before(async () => {
    web = await startDemoWebSession();
    ({ t } = web);
    const root = await apiAs(t, 'super.admin');
    schoolId = (await root.post('/schools', { name: 'Escuela Recargos', currency: 'MXN', timezone: 'America/Mexico_City' })).json<{ id: string }>().id;
    studentId = (await root.post('/students', { schoolId, firstName: 'Tomás', lastName: 'Recargos', grade: '4' })).json<{ id: string }>().id;
    const invoice = await root.post('/invoices', { studentId, amount: 100_000, dueDate: '2026-01-10', description: 'Colegiatura enero' });
    assert.equal(invoice.statusCode, 201, invoice.body);
    overdueId = invoice.json<{ id: string }>().id;
  });
  after(() => web?.close());

  const judge = (page: Parameters<typeof judgeIn>[0], name: string) => judgeIn(page, name, SHOTS);

  test('a super admin sets the policy, runs the day twice, and waives part of the fee on the late-fee invoice', async () => {
    const { page, errors } = await signIn(web, 'super.admin');
    await page.goto(`/schools/${schoolId}`);
    const card = page.getByTestId('late-fees');
    await card.getByText('This school charges no late fees.').waitFor();
    await card.getByRole('button', { name: 'Set a policy' }).click();
    const form = page.getByTestId('late-fee-form');
    await form.getByLabel('Kind').selectOption('fixed');
    await form.getByLabel('Amount (MXN)').fill('250');
    await form.getByLabel('Grace days').fill('5');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await page.getByTestId('late-fee-policy').filter({ hasText: 'MX$250.00 once, from the 6th day after the due date; no cap.' }).waitFor();
    const stored = (await (await apiAs(t, 'super.admin')).get(`/schools/${schoolId}/late-fee-policy`)).json<{ kind: string; value: number; graceDays: number; cap: number | null }>();
    assert.deepEqual([stored.kind, stored.value, stored.graceDays, stored.cap], ['fixed', 25_000, 5, null]);

    await page.getByTestId('run-collections').click();
    await page.getByTestId('collections-result').filter({ hasText: '1 late fee posted, MX$250.00.' }).waitFor();
    await page.getByTestId('run-collections').click();
    await page.getByTestId('collections-result').filter({ hasText: 'nothing new to post (this day already ran).' }).waitFor();
    await page.getByTestId('collection-days').getByText('1 fee, MX$250.00 · ran 2×').waitFor();
    const problems = await judge(page, 'school-late-fees');

    const invoices = (await (await apiAs(t, 'super.admin')).get(`/students/${studentId}/invoices`)).json<{ data: { id: string; kind: string; relatedInvoiceId: string | null }[] }>().data;
    const fee = invoices.find((i) => i.kind === 'late_fee');
    assert.equal(fee?.relatedInvoiceId, overdueId);
    await page.goto(`/invoices/${fee?.id ?? ''}`);
    await page.getByTestId('late-fee-of').waitFor();
    const adjustments = page.getByTestId('adjustment-form');
    assert.equal(await adjustments.getByLabel('Kind').inputValue(), 'waiver');
    await adjustments.getByLabel('Amount (MXN)').fill('100');
    await adjustments.getByLabel('Reason').fill('Primer retraso del año');
    await adjustments.getByRole('button', { name: 'Waive late fee' }).click();
    await page.getByTestId('adjustment-success').filter({ hasText: 'Late fee waived of MX$100.00 recorded' }).waitFor();
    await page.getByTestId('invoice-pending').filter({ hasText: 'MX$150.00' }).waitFor();
    problems.push(...(await judge(page, 'late-fee-invoice')));

    await page.getByTestId('late-fee-of').getByRole('link').click();
    await page.waitForURL(new RegExp(`/invoices/${overdueId}$`));
    await page.getByTestId('late-fee-invoice').filter({ hasText: '(MX$250.00, MX$150.00 open)' }).waitFor();
    assert.equal(await page.getByTestId('late-fee-of').count(), 0, 'the overdue invoice is a regular one');
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  });

  test('a finance analyst reads the policy and has no forms', async () => {
    const { page, errors } = await signIn(web, 'finance.analyst');
    await page.goto(`/schools/${schoolId}`);
    await page.getByTestId('late-fee-policy').filter({ hasText: 'MX$250.00 once' }).waitFor();
    assert.equal(await page.getByTestId('late-fees').getByRole('button').count(), 0);
    assert.deepEqual(errors, []);
  });
});
