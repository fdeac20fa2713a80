import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import { apiAs, browserUnavailable, judge as judgeIn, schoolIdByName, SCREENSHOTS, settle, signIn as signInTo, startDemoWebSession, type WebSession } from './browser.js';

/**
 * Fee plans and bill runs in a real Chromium: a school admin creates a plan with a
 * monthly item, enrols a grade, previews a bill run (nothing written) and runs it,
 * watching it to the end; the invoices exist and the run is in the school's history.
 * The invoice page of a billed invoice shows its lines (the discount negative), takes a
 * credit note and a write-off (never above what is open: the API's refusal shows under
 * the field it names) and downloads a payment's receipt as a PDF. A finance analyst has
 * no write forms.
 */
const skip = browserUnavailable();
const SHOTS = path.join(SCREENSHOTS, 'billing-year');

describe('web: fee plans and bill runs', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let schoolId = '';
  /** An invoice billed by a bill run: TUITION 2,000.00 and BUS 500.00 less a 200.00 scholarship, 500.00 paid. */
  let invoiceId = '';
  const api = (username: string) => apiAs(t, username);

  before(async () => {
    web = await startDemoWebSession();
    ({ t } = web);
    const admin = await api('school.admin');
    schoolId = await schoolIdByName(admin, 'Colegio Miraflores');
    // One student of a grade of their own, on a plan with two items and a scholarship, billed by a run.
    const created = (response: { statusCode: number; body: string; json: <T>() => T }) => {
      assert.ok(response.statusCode === 201 || response.statusCode === 200, response.body);
      return response.json<{ id: string }>().id;
    };
    const studentId = created(await admin.post('/students', { schoolId, firstName: 'Inés', lastName: 'Factura', grade: 'ZZ' }));
    const planId = created(
      await admin.post('/fee-plans', {
        schoolId,
        name: 'Invoice page plan',
        academicYear: '2026-2027',
        yearStart: '2026-08-01',
        yearEnd: '2027-07-31',
        items: [
          { code: 'TUITION', description: 'Colegiatura septiembre', amount: 200_000, schedule: { kind: 'once', dueDate: '2026-09-05' } },
          { code: 'BUS', description: 'Transporte septiembre', amount: 50_000, schedule: { kind: 'once', dueDate: '2026-09-05' } },
        ],
      }),
    );
    const ruleId = created(await admin.post('/discount-rules', { schoolId, name: 'Beca fija', kind: 'scholarship', basis: 'fixed', value: 20_000, itemCodes: ['TUITION'] }));
    created(await admin.post(`/students/${studentId}/awards`, { ruleId, reason: 'Beca académica' }));
    created(await admin.post(`/students/${studentId}/enrolments`, { feePlanId: planId, from: '2026-08-01' }));
    const run = await admin.post('/bill-runs', { schoolId, through: '2026-09-05' });
    assert.equal(run.json<{ status: string }>().status, 'finished', run.body);
    invoiceId = (await admin.get(`/students/${studentId}/invoices`)).json<{ data: { id: string }[] }>().data[0]?.id ?? '';
    assert.ok(invoiceId);
    assert.equal((await admin.pay({ invoiceId, amount: 50_000, method: 'cash' })).statusCode, 201);
  });
  after(() => web?.close());

  const signIn = (username: string) => signInTo(web, username);
  const judge = (page: Page, name: string) => judgeIn(page, name, SHOTS);

  test('a school admin creates a plan, enrols a grade, previews a bill run and runs it', async () => {
    const { page, errors } = await signIn('school.admin');
    const admin = await api('school.admin');
    const grade = (await admin.get(`/reports/grades?schoolId=${schoolId}`)).json<{ data: string[] }>().data[0] ?? '';
    assert.ok(grade);
    await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Fee plans' }).click();
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === 'H1' && document.activeElement.textContent === 'Fee plans'`);
    assert.equal(await page.title(), 'Fee plans · Bursar');
    await page.getByRole('combobox', { name: 'School' }).selectOption(schoolId);
    const form = page.getByTestId('fee-plan-form');
    await form.getByRole('textbox', { name: 'Plan name' }).fill('Primaria Web');
    await form.locator('input[name="code-0"]').fill('TUITION');
    await form.locator('input[name="amount-0"]').fill('1.200,00');
    await form.locator('input[name="description-0"]').fill('Colegiatura');
    await form.locator('input[name="firstDue-0"]').fill('2026-09-05');
    await form.locator('input[name="count-0"]').fill('10');
    await form.getByRole('button', { name: 'Add an item' }).click();
    await form.locator('input[name="code-1"]').fill('ENROL');
    await form.locator('input[name="amount-1"]').fill('500');
    await form.locator('input[name="description-1"]').fill('Inscripción');
    await form.locator('select[name="kind-1"]').selectOption('once');
    await form.locator('input[name="dueDate-1"]').fill('2026-08-15');
    await form.getByRole('button', { name: 'Create plan' }).click();
    await page.getByTestId('fee-plan-success').waitFor();
    const plan = page.getByTestId('fee-plan').filter({ hasText: 'Primaria Web' });
    await plan.waitFor();
    assert.match(await plan.innerText(), /MX\$1,200\.00/);
    assert.match(await plan.innerText(), /10 × monthly/);

    await plan.getByRole('combobox', { name: 'Grade' }).selectOption(grade);
    await plan.getByRole('button', { name: 'Enrol a grade' }).click();
    const enrolled = plan.getByTestId('enrol-success');
    await enrolled.waitFor();
    const count = Number(/^(\d+) student/.exec(await enrolled.innerText())?.[1]);
    assert.ok(count > 0, await enrolled.innerText());
    const problems = await judge(page, 'fee-plans-school.admin');

    // The bill run: a preview that writes nothing, then the run, watched to the end.
    await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Bill run' }).click();
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === 'H1' && document.activeElement.textContent === 'Bill run'`);
    await page.getByRole('combobox', { name: 'School' }).selectOption(schoolId);
    await page.getByLabel('Bill everything due on or before').fill('2026-10-31');
    const invoicesBefore = (await admin.get(`/bill-runs?schoolId=${schoolId}`)).json<{ data: unknown[] }>().data.length;
    await page.getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByTestId('bill-run-preview');
    await preview.waitFor();
    const previewed = Number((await page.getByTestId('preview-invoices-value').innerText()).replace(/\D/g, ''));
    assert.ok(previewed >= count, `${previewed} invoices previewed for ${count} students`);
    assert.deepEqual((await page.getByTestId('bill-run-preview').getByTestId('bill-run-totals').getByRole('row').allInnerTexts()).map((row) => row.split(/\s/)[0]).sort(), ['ENROL', 'TUITION']);
    assert.equal((await admin.get(`/bill-runs?schoolId=${schoolId}`)).json<{ data: unknown[] }>().data.length, invoicesBefore, 'a preview writes no run');
    problems.push(...(await judge(page, 'bill-run-preview-school.admin')));

    await page.getByRole('button', { name: 'Run bill run' }).click();
    const done = page.getByTestId('bill-run-done');
    await done.waitFor({ timeout: 60_000 });
    const created = Number((await page.getByTestId('bill-run-invoices-value').innerText()).replace(/\D/g, ''));
    assert.equal(created, previewed);
    const runs = (await admin.get(`/bill-runs?schoolId=${schoolId}`)).json<{ data: { status: string; invoicesCreated: number; dryRun: boolean }[] }>().data;
    assert.ok(runs.some((run) => !run.dryRun && run.status === 'finished' && run.invoicesCreated === created));
    // The school's history lists it first, with its through date and counts; it opens to its totals.
    const latest = page.getByTestId('bill-run-history-row').first();
    await page.waitForFunction(
      `(document.querySelector('[data-testid="bill-run-history-row"]')?.textContent ?? '').includes('31 Oct 2026')`,
    );
    assert.match(await latest.innerText(), new RegExp(`Finished\\s*through 31 Oct 2026[\\s·]*${created.toLocaleString('en-US')} invoices`));
    assert.ok((await page.getByTestId('bill-run-history-row').count()) >= 2, 'the run of before() is listed too');
    await latest.locator('summary').click();
    assert.deepEqual((await latest.getByTestId('bill-run-totals').getByRole('row').allInnerTexts()).map((row) => row.split(/\s/)[0]).sort(), ['ENROL', 'TUITION']);
    problems.push(...(await judge(page, 'bill-run-school.admin')));

    // Again: nothing is billed twice. (The history is counted before the click: it may
    // refresh as soon as the run is done.)
    const listed = await page.getByTestId('bill-run-history-row').count();
    await page.getByRole('button', { name: 'Run bill run' }).click();
    await page.waitForFunction(`document.querySelector('[data-testid="bill-run-done"]') && /: 0 invoices/.test(document.querySelector('[data-testid="bill-run-done"]').textContent)`);
    await page.waitForFunction(`document.querySelectorAll('[data-testid="bill-run-history-row"]').length === ${listed + 1}`);
    assert.match(await page.getByTestId('bill-run-history-row').first().innerText(), /0 invoices/);
    assert.deepEqual(problems, [], problems.join('\n\n'));
    assert.deepEqual(errors, [], `uncaught errors: ${errors.join('; ')}`);
  });

  test('the invoice page: lines with the discount negative, a credit note and a write-off never above what is open, a receipt as a PDF', async () => {
    const { page, errors } = await signIn('school.admin');
    const admin = await api('school.admin');
    await page.goto(`/invoices/${invoiceId}`);
    await settle(page);
    const lines = (await page.getByTestId('invoice-lines').getByRole('row').allInnerTexts()).map((row) => row.split('\t').map((cell) => cell.trim()));
    // Charges first (in the order the run wrote them), then the discount.
    assert.deepEqual(lines.slice(0, 2).sort((a, b) => String(a[2]).localeCompare(String(b[2]))), [
      ['Charge', 'Transporte septiembre', 'BUS', 'MX$500.00'],
      ['Charge', 'Colegiatura septiembre', 'TUITION', 'MX$2,000.00'],
    ]);
    assert.equal(lines.length, 3);
    assert.deepEqual([lines[2]?.[0], lines[2]?.[3]], ['Discount', '-MX$200.00'], lines[2]?.join(' | '));
    const stat = (id: string) => page.getByTestId(`${id}-value`).innerText();
    assert.deepEqual([await stat('invoice-paid'), await stat('invoice-credited'), await stat('invoice-pending')], ['MX$500.00', 'MX$0.00', 'MX$1,800.00']);
    const form = page.getByTestId('adjustment-form');
    const submit = form.getByRole('button', { name: 'Issue credit note' });

    // Above what is open: caught here, tied to the field.
    await form.getByLabel(/^Amount/).fill('1,900');
    await submit.click();
    assert.equal(await form.getByTestId('field-error').innerText(), 'At most MX$1,800.00 is open.');

    // Someone else credits 100.00 meanwhile: the page still says 1,800.00 is open, the API refuses, naming amount.
    assert.equal((await admin.post(`/invoices/${invoiceId}/credit-notes`, { amount: 10_000, reason: 'Otra corrección' }, { 'idempotency-key': randomUUID() })).statusCode, 201);
    await form.getByLabel(/^Amount/).fill('1,800.00');
    await form.getByLabel('Reason').fill('Ajuste');
    await submit.click();
    await form.getByTestId('adjustment-error').waitFor();
    assert.match(await form.getByTestId('adjustment-error').innerText(), /^The amount is more than what is open on this invoice\.\n/);
    // The API's field message in words, its amount (170000 minor units) in currency units.
    assert.equal(await form.getByTestId('field-error').innerText(), 'Must not be more than what is open, MX$1,700.00.');
    await page.waitForFunction(`document.querySelector('[data-testid="invoice-pending-value"]').textContent === 'MX$1,700.00'`);

    // A blank reason: the API's 400 shows under Reason.
    await form.getByLabel(/^Amount/).fill('250');
    await form.getByLabel('Reason').fill('');
    await submit.click();
    await form.getByTestId('adjustment-error').waitFor();
    assert.equal(await form.getByTestId('field-error').innerText(), 'Required.');
    assert.equal(await form.getByLabel('Reason').getAttribute('aria-invalid'), 'true');

    // Then the credit note: pending falls, and it is listed with its number and reason.
    await form.getByLabel('Reason').fill('Corrección de tarifa');
    await submit.click();
    await form.getByTestId('adjustment-success').waitFor();
    assert.match(await form.getByTestId('adjustment-success').innerText(), /^Credit note CN-\d{6} of MX\$250\.00 recorded\. Invoice is now Overdue, MX\$1,450\.00 still pending\./);
    await page.waitForFunction(`document.querySelector('[data-testid="invoice-pending-value"]').textContent === 'MX$1,450.00'`);
    assert.equal(await stat('invoice-credited'), 'MX$350.00');
    const listed = page.getByTestId('adjustment');
    await page.waitForFunction(`document.querySelectorAll('[data-testid="adjustment"]').length === 2`);
    assert.match(await listed.nth(1).innerText(), /Credit note CN-\d{6}\s+Corrección de tarifa\s+\d+ \w+ \d{4}, [\d:]+ GMT-6\s+MX\$250\.00/);

    // A write-off, the same way.
    await form.getByLabel('Kind').selectOption('write_off');
    await form.getByLabel(/^Amount/).fill('50');
    await form.getByLabel('Reason').fill('Incobrable');
    await form.getByRole('button', { name: 'Write off' }).click();
    await page.waitForFunction(`document.querySelectorAll('[data-testid="adjustment"]').length === 3`);
    assert.match(await listed.nth(2).innerText(), /Write-off\s+Incobrable\s+\d+ \w+ \d{4}, [\d:]+ GMT-6\s+MX\$50\.00/);
    await page.waitForFunction(`document.querySelector('[data-testid="invoice-pending-value"]').textContent === 'MX$1,400.00'`);
    const after = (await admin.get(`/invoices/${invoiceId}`)).json<{ pendingAmount: number; creditedAmount: number }>();
    assert.deepEqual([after.pendingAmount, after.creditedAmount], [140_000, 40_000]);

    // The payment's receipt: a PDF.
    const link = page.getByTestId('payments-table').getByTestId('receipt-link').first();
    assert.match((await link.getAttribute('aria-label')) ?? '', /^Download receipt \S+-\d{4}-\d{6}$/);
    const [response, download] = await Promise.all([
      page.waitForResponse((r) => /\/payments\/[0-9a-f-]{36}\/receipt$/.test(r.url())),
      page.waitForEvent('download'),
      link.click(),
    ]);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['content-type'], 'application/pdf');
    assert.match(download.suggestedFilename(), /\.pdf$/);
    const file = await download.path();
    assert.equal(readFileSync(file).subarray(0, 5).toString('latin1'), '%PDF-');

    const problems = await judge(page, 'invoice-school.admin');
    assert.deepEqual(problems, [], problems.join('\n\n'));
    assert.deepEqual(errors, [], `uncaught errors: ${errors.join('; ')}`);
  });

  test('a school admin renames a plan: a blank name is refused under the field, then the new name shows', async () => {
    const { page, errors } = await signIn('school.admin');
    const admin = await api('school.admin');
    await page.goto(`/fee-plans?schoolId=${schoolId}`);
    await settle(page);
    const plan = page.getByTestId('fee-plan').filter({ hasText: 'Invoice page plan' });
    await plan.getByRole('button', { name: 'Rename Invoice page plan' }).click();
    const form = plan.getByTestId('rename-plan-form');
    await form.getByLabel('Plan name').fill('   ');
    await form.getByRole('button', { name: 'Save name' }).click();
    await form.getByTestId('field-error').waitFor();
    assert.equal(await form.getByTestId('field-error').innerText(), 'Required.');
    const problems = await judge(page, 'fee-plan-rename-school.admin');
    assert.deepEqual(problems, [], problems.join('\n\n'));
    await form.getByLabel('Plan name').fill('Plan de la factura');
    await form.getByRole('button', { name: 'Save name' }).click();
    await page.getByTestId('fee-plan').filter({ hasText: 'Plan de la factura' }).waitFor();
    const plans = (await admin.get(`/fee-plans?schoolId=${schoolId}`)).json<{ data: { name: string }[] }>().data.map((p) => p.name);
    assert.ok(plans.includes('Plan de la factura') && !plans.includes('Invoice page plan'), plans.join(', '));

    // In Spanish the API's refusal reads in Spanish too (the API answers in English).
    await page.goto(`/fee-plans?schoolId=${schoolId}&lang=es`);
    await settle(page);
    const renamed = page.getByTestId('fee-plan').filter({ hasText: 'Plan de la factura' });
    await renamed.getByRole('button', { name: 'Renombrar Plan de la factura' }).click();
    const formEs = renamed.getByTestId('rename-plan-form');
    await formEs.getByLabel('Nombre del plan').fill('   ');
    await formEs.getByRole('button', { name: 'Guardar nombre' }).click();
    await formEs.getByTestId('field-error').waitFor();
    assert.equal(await formEs.getByTestId('field-error').innerText(), 'Obligatorio.');
    assert.deepEqual(errors, [], `uncaught errors: ${errors.join('; ')}`);
  });

  test('a finance analyst reads plans and bill runs without any write form', async () => {
    const { page, errors } = await signIn('finance.analyst');
    await page.goto(`/fee-plans?schoolId=${schoolId}`);
    await settle(page);
    assert.equal(await page.getByTestId('fee-plan-form').count(), 0);
    assert.equal(await page.getByTestId('enrol-form').count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Rename / }).count(), 0);
    const problems = await judge(page, 'fee-plans-finance.analyst');
    await page.goto(`/bill-runs?schoolId=${schoolId}`);
    await settle(page);
    assert.equal(await page.getByRole('button', { name: 'Run bill run' }).count(), 0);
    await page.getByTestId('bill-run-history-row').first().waitFor();
    problems.push(...(await judge(page, 'bill-run-finance.analyst')));
    // The invoice page: lines and the receipt link, no payment, credit note or write-off form.
    await page.goto(`/invoices/${invoiceId}`);
    await settle(page);
    assert.equal(await page.getByTestId('invoice-lines').getByRole('row').count(), 3);
    assert.equal(await page.getByTestId('adjustment-form').count(), 0);
    assert.equal(await page.getByTestId('payment-form').count(), 0);
    assert.equal(await page.getByTestId('receipt-link').count(), 1);
    problems.push(...(await judge(page, 'invoice-finance.analyst')));
    assert.deepEqual(problems, [], problems.join('\n\n'));
    assert.deepEqual(errors, [], `uncaught errors: ${errors.join('; ')}`);
  });
});
