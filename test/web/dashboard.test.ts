import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { client } from '../helpers/api.js';
import { login, PASSWORD, type TestApp } from '../helpers/app.js';
import { browserUnavailable, SCREENSHOTS, startDemoWebSession, type WebSession } from './browser.js';
import { EVENTS_FINAL_WITHIN_MS } from '../helpers/live.js';

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against
 * the real server on a real socket, on this file's own database with the demo data.
 * Every wait is on a condition (a selector, a response, a download), never on time.
 */
const skip = browserUnavailable();

describe('web dashboard', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let base: string;

  before(async () => {
    web = await startDemoWebSession();
    ({ t, base } = web);
  });

  after(() => web?.close());

  async function signIn(username: string): Promise<Page> {
    const context = await web.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('/');
    await page.waitForURL(/\/login/);
    if (username === 'super.admin') {
      await page.getByLabel('Username').waitFor();
      await shot(page, 'login');
    }
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    // Keyboard: Enter submits the form.
    await page.getByLabel('Password').press('Enter');
    await page.getByTestId('whoami').waitFor();
    assert.deepEqual(errors, [], `uncaught errors in the page: ${errors.join('; ')}`);
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const navLabels = async (page: Page) => (await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link').allInnerTexts()).map((text) => text.trim());
  const api = async (username: string) => client(t.app, (await login(t.app, username)).accessToken);
  /** "-MX$1,234.50" → -123450 (every demo currency has two decimals). */
  const minorOf = (text: string) => (text.includes('-') ? -1 : 1) * Number(text.replace(/[^0-9]/g, ''));

  test('the login page is served at / and client routes fall back to it; API paths do not', async () => {
    const deep = await fetch(`${base}/schools/some/client/route`);
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<div id="root">/);
    const api404 = await fetch(`${base}/api/v1/nothing-here`);
    assert.equal(api404.status, 404);
    assert.match(api404.headers.get('content-type') ?? '', /problem\+json/);
    const missingAsset = await fetch(`${base}/assets/nope.js`);
    assert.equal(missingAsset.status, 404);
  });

  test('each role signs in and sees only the pages it may use', async () => {
    const expected: Record<string, string[]> = {
      'super.admin': ['Overview', 'Live', 'Pending', 'Monitoring', 'Schools', 'Families', 'Fee plans', 'Bill run', 'Outbox', 'Accounts', 'Reconciliation', 'Webhooks', 'Assistant'],
      'school.admin': ['Overview', 'Live', 'Pending', 'Schools', 'Families', 'Fee plans', 'Bill run', 'Outbox', 'Reconciliation', 'Webhooks', 'Assistant'],
      'finance.analyst': ['Overview', 'Live', 'Pending', 'Schools', 'Families', 'Fee plans', 'Bill run', 'Outbox', 'Accounts', 'Assistant'],
      developer: ['Monitoring'],
    };
    for (const [username, labels] of Object.entries(expected)) {
      const page = await signIn(username);
      assert.deepEqual(await navLabels(page), labels, username);
      await page.locator('main h1').first().waitFor();
      await shot(page, `home-${username}`);
    }
  });

  test('the developer lands on Monitoring and its numbers equal the API', async () => {
    const page = await signIn('developer');
    await page.waitForURL(/\/monitoring$/);
    const report = (await (await api('developer')).get('/reports/transactions/failures?lastHours=24')).json<{ total: number }>();
    await page.getByTestId('failures-total-value').waitFor();
    assert.equal(Number((await page.getByTestId('failures-total-value').innerText()).replace(/\D/g, '')), report.total);
    await shot(page, 'monitoring');
    // A page the role may not use redirects instead of failing.
    await page.goto('/pending');
    await page.waitForURL(/\/monitoring$/);
  });

  test('Overview totals equal GET /reports/dashboard', async () => {
    const page = await signIn('super.admin');
    const dashboard = (await (await api('super.admin')).get('/reports/dashboard')).json<{
      totalsByCurrency: { currency: string; amountDue: number; amountCollected: number; amountOutstanding: number; amountOverdue: number }[];
    }>();
    assert.ok(dashboard.totalsByCurrency.length >= 3);
    for (const totals of dashboard.totalsByCurrency) {
      for (const key of ['amountDue', 'amountCollected', 'amountOutstanding', 'amountOverdue'] as const) {
        const cell = page.getByTestId(`total-${totals.currency}-${key}-value`);
        await cell.waitFor();
        assert.equal(minorOf(await cell.innerText()), totals[key], `${totals.currency} ${key}`);
      }
    }
    await page.getByTestId('outstanding-sample').getByRole('row').nth(1).waitFor();
    // The chart is loaded when it comes into view (WhenVisible): in view at this size.
    await page.locator('.recharts-surface').first().waitFor();
    await shot(page, 'overview');
    // Above the fold only: the source of docs/screenshots/overview.png (scripts/docs-screenshots.ts).
    await page.screenshot({ path: path.join(SCREENSHOTS, 'docs-overview.png') });
  });

  test('the pending queue exports a CSV of every matching row', async () => {
    const page = await signIn('finance.analyst');
    await page.getByRole('link', { name: 'Pending' }).click();
    const rows = page.getByTestId('pending-queue').getByTestId('student-name');
    await rows.first().waitFor();
    // The rows the queue itself lists (every page), to compare with the file.
    const analyst = await api('finance.analyst');
    const listed: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page: { data: { number: string }[]; nextCursor: string | null } = (
        await analyst.get(`/reports/pending-payments?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      ).json();
      listed.push(...page.data.map((row) => row.number));
      cursor = page.nextCursor;
    }
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    assert.match(download.suggestedFilename(), /^bursar-pending-payments-all-schools-\d{4}-\d{2}-\d{2}\.csv$/);
    // The export for people: words as headers, invoice numbers first (the queue's, every page).
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.replace(/^\ufeff/, '').trim().split(/\r?\n/);
    assert.match(lines[0] ?? '', /^Invoice,School,Student,Grade,Due date,Amount,Paid,Credited,Pending,Currency,Status,Days overdue$/);
    assert.deepEqual(lines.slice(1).map((line) => line.split(',')[0]).sort(), listed.sort());
    await shot(page, 'pending');
  });

  test('a finance analyst sees student names masked to initials', async () => {
    const page = await signIn('finance.analyst');
    await page.getByRole('link', { name: 'Pending' }).click();
    const names = page.getByTestId('pending-queue').getByTestId('student-name');
    await names.first().waitFor();
    const shown = await names.allInnerTexts();
    assert.ok(shown.length > 0);
    for (const name of shown) {
      assert.match(name.trim(), /^(\p{Lu}\.\s?)+$/u, `not masked: ${name}`);
    }
    await page.getByRole('link', { name: 'Overview' }).click();
    const sample = page.getByTestId('outstanding-sample').getByTestId('student-name');
    await sample.first().waitFor();
    for (const name of await sample.allInnerTexts()) {
      assert.match(name.trim(), /^(\p{Lu}\.\s?)+$/u, `not masked: ${name}`);
    }
  });

  test('a school admin sees only their schools', async () => {
    const page = await signIn('school.admin');
    await page.getByRole('link', { name: 'Schools' }).click();
    const links = page.getByTestId('school-link');
    await links.first().waitFor();
    const shown = (await links.allInnerTexts()).map((name) => name.trim()).sort();
    const visible = (await (await api('school.admin')).get('/schools')).json<{ data: { name: string }[] }>().data.map((s) => s.name).sort();
    assert.deepEqual(shown, visible);
    assert.deepEqual(shown, ['Colegio Miraflores', 'Instituto Andino']);
    await shot(page, 'schools');
    // The overview's per-school table is scoped the same way.
    await page.getByRole('link', { name: 'Overview' }).click();
    const bySchool = page.getByTestId('by-school');
    await bySchool.getByRole('link').first().waitFor();
    assert.deepEqual((await bySchool.getByRole('link').allInnerTexts()).map((name) => name.trim()).sort(), visible);
  });

  test('a payment entered through Schools → Students → Invoice is recorded', async () => {
    const page = await signIn('school.admin');
    await page.getByRole('link', { name: 'Schools' }).click();
    await page.getByTestId('school-link').filter({ hasText: 'Colegio Miraflores' }).click();
    await page.getByTestId('statement').getByText('Invoiced').waitFor();
    await shot(page, 'school');
    await page.getByTestId('student-link').first().click();
    await page.getByTestId('invoice-link').first().waitFor();
    await shot(page, 'student');

    // An invoice of this student that still owes money.
    const studentId = page.url().split('/').pop() ?? '';
    const admin = await api('school.admin');
    const invoices = admin.get(`/students/${studentId}/invoices?limit=100`);
    const open = (await invoices).json<{ data: { id: string; number: string; pendingAmount: number; status: string }[] }>().data.find(
      (invoice) => invoice.pendingAmount >= 100 && invoice.status !== 'CANCELLED',
    );
    assert.ok(open, 'the demo student has an invoice that still owes money');
    await page.getByTestId('invoice-link').filter({ hasText: open.number }).click();
    const form = page.getByTestId('payment-form');
    await form.waitFor();
    const reference = `UI-TEST-${Date.now()}`;
    await form.getByLabel(/Amount/).fill('1.00');
    await form.getByLabel('Method').selectOption('cash');
    await form.getByLabel('Reference (optional)').fill(reference);
    await form.getByRole('button', { name: 'Record payment' }).click();
    await page.getByTestId('payment-success').waitFor();
    await page.getByTestId('payments-table').getByText(reference).waitFor();
    await shot(page, 'invoice-payment');

    const payments = (await admin.get(`/invoices/${open.id}/payments`)).json<{ data: { amount: number; method: string; reference: string | null }[] }>().data;
    const made = payments.filter((payment) => payment.reference === reference);
    assert.equal(made.length, 1);
    assert.equal(made[0]?.amount, 100);
    assert.equal(made[0]?.method, 'cash');
    const after = (await admin.get(`/invoices/${open.id}`)).json<{ pendingAmount: number }>();
    assert.equal(after.pendingAmount, open.pendingAmount - 100);
  });

  // ------------------------------------------------------------------ Live
  // Payments are posted through the API (app.inject on the same server as the page's
  // socket); each has a unique amount so its event is found by invoice and amount.
  let nextAmount = 7001;
  const schoolIds = new Map<string, string>();
  async function schoolIdOf(name: string): Promise<string> {
    if (!schoolIds.has(name)) {
      const schools = (await (await api('super.admin')).get('/schools?limit=100')).json<{ data: { id: string; name: string }[] }>().data;
      for (const school of schools) {
        schoolIds.set(school.name, school.id);
      }
    }
    const id = schoolIds.get(name);
    assert.ok(id, `demo school ${name}`);
    return id;
  }
  interface Posted {
    invoiceId: string;
    amount: number;
    paymentId: string;
  }
  async function postPayment(schoolName: string): Promise<Posted> {
    const admin = await api('super.admin');
    const pending = (await admin.get(`/reports/pending-payments?schoolId=${await schoolIdOf(schoolName)}&limit=50`)).json<{ data: { invoiceId: string; pendingAmount: number }[] }>().data;
    const invoice = pending.find((row) => row.pendingAmount >= 100_000);
    assert.ok(invoice, `${schoolName} has an invoice that still owes money`);
    const amount = nextAmount++;
    const response = await admin.pay({ invoiceId: invoice.invoiceId, amount, method: 'card', reference: `LIVE-TEST-${amount}` });
    assert.equal(response.statusCode, 201, response.body);
    return { invoiceId: invoice.invoiceId, amount, paymentId: response.json<{ id: string }>().id };
  }
  const eventOf = (page: Page, posted: Pick<Posted, 'invoiceId' | 'amount'>, type = 'payment_received') =>
    page.locator(`[data-testid="live-event"][data-event="${type}"][data-invoice-id="${posted.invoiceId}"][data-amount="${posted.amount}"]`);
  /** The socket said hello (LIVE) and the history is in: from here every new event arrives over the socket. */
  async function openLive(username: string): Promise<Page> {
    const page = await signIn(username);
    await page.getByRole('link', { name: 'Live' }).click();
    await page.locator('[data-testid="live-indicator"][data-status="connected"]').waitFor();
    await page.locator('[data-testid="event-list"], [data-testid="empty-state"]').first().waitFor();
    return page;
  }
  /** One attribute of every listed event, top (newest) first. */
  const listedEvents = async (page: Page, attribute: string) =>
    Promise.all((await page.getByTestId('live-event').all()).map((row) => row.getAttribute(attribute)));
  /**
   * How long an event may take to show: generous, because this is not a latency test
   * (the bench measures that) and an event becomes final only once every transaction
   * older than it in the cluster has ended (see EVENTS_FINAL_WITHIN_MS); an event that
   * is never shown still fails.
   */
  const SHOWN_WITHIN = { timeout: EVENTS_FINAL_WITHIN_MS };

  test('the Live page shows metrics, charts and the stream, and updates per period', async () => {
    const page = await openLive('super.admin');
    const metrics = (await (await api('super.admin')).get('/analytics/metrics?period=month')).json<{
      byCurrency: { currency: string; totalPayments: number; failedPayments: number }[];
    }>();
    assert.ok(metrics.byCurrency.length >= 3);
    await page.getByRole('group', { name: 'Period' }).getByRole('button', { name: 'Month' }).click();
    for (const row of metrics.byCurrency) {
      for (const key of ['totalPayments', 'failedPayments'] as const) {
        const cell = page.getByTestId(`metric-${row.currency}-${key}-value`);
        await page.locator(`[data-testid="metric-${row.currency}-${key}-value"]`, { hasText: new RegExp(`^${row[key].toLocaleString('en-US')}$`) }).waitFor();
        assert.equal(Number((await cell.innerText()).replace(/\D/g, '')), row[key], `${row.currency} ${key}`);
      }
    }
    await page.getByTestId('trend-chart').locator('.recharts-surface').first().waitFor();
    await page.getByTestId('methods-chart').locator('.recharts-surface').first().waitFor();
    await page.getByTestId('live-event').first().waitFor();
  });

  test('a payment posted through the API appears on the Live page', async () => {
    const page = await openLive('super.admin');
    const posted = await postPayment('Colegio Miraflores');
    await eventOf(page, posted).waitFor(SHOWN_WITHIN);
    // Received is green; a refund of it arrives amber.
    assert.match((await eventOf(page, posted).getAttribute('class')) ?? '', /emerald/);
    const refund = await (await api('super.admin')).refund(posted.paymentId, { amount: posted.amount, reason: 'live test' });
    assert.equal(refund.statusCode, 201, refund.body);
    await eventOf(page, posted, 'payment_refunded').waitFor(SHOWN_WITHIN);
    assert.match((await eventOf(page, posted, 'payment_refunded').getAttribute('class')) ?? '', /amber/);
  });

  test('pause stops the stream; resume shows what was missed, in order', async () => {
    const page = await openLive('super.admin');
    await page.getByRole('button', { name: 'Pause' }).click();
    assert.equal(await page.getByTestId('live-indicator').getAttribute('data-status'), 'paused');
    const first = await postPayment('Instituto Andino');
    const second = await postPayment('Lincoln Bilingual School');
    // Both arrived (the button counts them) but neither is shown.
    await page.getByRole('button', { name: 'Resume (2 new)' }).waitFor(SHOWN_WITHIN);
    assert.equal(await eventOf(page, first).count(), 0);
    assert.equal(await eventOf(page, second).count(), 0);
    await page.getByRole('button', { name: /^Resume/ }).click();
    await eventOf(page, first).waitFor(SHOWN_WITHIN);
    await eventOf(page, second).waitFor(SHOWN_WITHIN);
    await page.locator('[data-testid="live-indicator"][data-status="connected"]').waitFor();
    // Newest first: the second payment above the first, directly.
    const invoices = await listedEvents(page, 'data-invoice-id');
    const amounts = await listedEvents(page, 'data-amount');
    const order = invoices.map((invoice, i) => `${invoice}/${amounts[i]}`);
    const at = (posted: Posted) => order.indexOf(`${posted.invoiceId}/${posted.amount}`);
    assert.equal(at(second) + 1, at(first), order.slice(0, 5).join(' '));
    await shot(page, 'live');
    // One school (one currency) over a month: the source of docs/screenshots/live.png.
    await page.getByLabel('School', { exact: true }).selectOption({ label: 'Colegio Miraflores' });
    await page.getByRole('group', { name: 'Period' }).getByRole('button', { name: 'Month' }).click();
    await page.locator('[data-testid="live-metrics"] section').nth(1).waitFor({ state: 'detached' });
    await page.getByTestId('trend-chart').getByText('last 30 days').waitFor();
    await page.getByTestId('methods-chart').locator('.recharts-bar-rectangle').first().waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'docs-live.png'), fullPage: true });
  });

  test('the Live CSV export contains the listed events', async () => {
    const page = await openLive('super.admin');
    const posted = await postPayment('Colegio Miraflores');
    await eventOf(page, posted).waitFor(SHOWN_WITHIN);
    const listed = await listedEvents(page, 'data-transaction-id');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    assert.match(download.suggestedFilename(), /^bursar-live-events-all-schools-\d{4}-\d{2}-\d{2}\.csv$/);
    const rows = parse<Record<string, string>>(await readFile(await download.path(), 'utf8'), { columns: true, bom: true });
    assert.deepEqual(rows.map((row) => row['Transaction ID']), listed);
    // Amounts in currency units (MXN: two digits), not cents; words as headers and values.
    const row = rows.find((candidate) => candidate.School === 'Colegio Miraflores' && candidate.Amount === (posted.amount / 100).toFixed(2));
    assert.ok(row, 'the posted payment is in the CSV');
    assert.equal(row.Event, 'Received');
    assert.equal(row.Currency, 'MXN');
    assert.equal(row.Method, 'Card');
    assert.match(Object.keys(row)[0] ?? '', /^Time \(.+\)$/, 'local times, the zone named');
  });

  test('a finance analyst sees masked student names on the Live page', async () => {
    const page = await openLive('finance.analyst');
    const posted = await postPayment('Lincoln Bilingual School');
    await eventOf(page, posted).waitFor(SHOWN_WITHIN);
    assert.match((await eventOf(page, posted).getByTestId('event-student').innerText()).trim(), /^(\p{Lu}\.\s?)+$/u);
    const names = (await page.getByTestId('event-student').allInnerTexts()).map((name) => name.trim()).filter((name) => name !== '—');
    assert.ok(names.length > 0);
    for (const name of names) {
      assert.match(name, /^(\p{Lu}\.\s?)+$/u, `not masked: ${name}`);
    }
    await shot(page, 'live-finance.analyst');
  });

  test("a school admin's Live page shows only their schools' events", async () => {
    const page = await openLive('school.admin');
    // The other school's payment commits first: events arrive in order, so once the
    // second one is shown the first would have been too, had it been sent.
    const elsewhere = await postPayment('Lincoln Bilingual School');
    const own = await postPayment('Colegio Miraflores');
    await eventOf(page, own).waitFor(SHOWN_WITHIN);
    assert.equal(await eventOf(page, elsewhere).count(), 0);
    const schools = new Set((await page.getByTestId('event-school').allInnerTexts()).map((name) => name.trim()));
    assert.deepEqual([...schools].filter((name) => !['Colegio Miraflores', 'Instituto Andino'].includes(name)), []);
    await shot(page, 'live-school.admin');
  });
});
