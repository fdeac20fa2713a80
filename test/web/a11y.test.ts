import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { client } from '../helpers/api.js';
import { login, PASSWORD, type TestApp } from '../helpers/app.js';
import { axeViolations, browserUnavailable, horizontalOverflow, SCREENSHOTS, settle, startDemoWebSession, type WebSession } from './browser.js';

/**
 * The dashboard on a phone and for keyboard and screen-reader users, in a real
 * Chromium against the real server with the demo data (one app, one browser):
 * - every page each role can open, detail pages included, at 390 × 844: no wider than
 *   the viewport, zero axe-core violations, a screenshot; then at 1440 × 900: no
 *   overflow either, a screenshot (test-artifacts/screenshots/responsive/);
 * - focus after a route change, Escape in the phone menu, the outcome of Export, Load
 *   more and Record payment, errors tied to fields, filters in the URL, times in named
 *   zones, charts named and out of the tab order.
 * Waits are on conditions, never on time.
 */
const skip = browserUnavailable();
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1440, height: 900 };
const SHOTS = path.join(SCREENSHOTS, 'responsive');

const PAGES: Record<string, string[]> = {
  'super.admin': ['/', '/live', '/pending', '/monitoring', '/schools', '/accounts', '/assistant', '/reconciliation', 'school', 'student', 'invoice', '/families', 'family', '/fee-plans', '/bill-runs', '/outbox'],
  'school.admin': ['/', '/live', '/pending', '/schools', '/assistant', '/reconciliation', 'school', 'student', 'invoice', '/families', 'family', '/fee-plans', '/bill-runs', '/outbox'],
  'finance.analyst': ['/', '/live', '/pending', '/schools', '/accounts', '/assistant', 'school', 'student', 'invoice', '/families', 'family', '/fee-plans', '/bill-runs', '/outbox'],
  developer: ['/monitoring'],
};

describe('web: phone-sized, keyboard and screen-reader use', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  /** A demo school every role with billing pages may open, one of its students, and an invoice of theirs that owes money. */
  const ids = { school: '', student: '', invoice: '', family: '' };

  before(async () => {
    web = await startDemoWebSession();
    ({ t } = web);
    // This run's pictures only (no failure shot of an earlier run left lying around).
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    const admin = await api('school.admin');
    const school = admin.get('/schools').then((r) => r.json<{ data: { id: string; name: string }[] }>().data.find((s) => s.name === 'Colegio Miraflores'));
    ids.school = (await school)?.id ?? '';
    const students = (await admin.get(`/schools/${ids.school}/students?limit=100`)).json<{ data: { id: string }[] }>().data;
    for (const student of students) {
      const invoices = (await admin.get(`/students/${student.id}/invoices?limit=100`)).json<{ data: { id: string; pendingAmount: number; paidAmount: number }[] }>().data;
      const open = invoices.find((invoice) => invoice.pendingAmount > 0 && invoice.paidAmount === 0);
      if (open) {
        ids.student = student.id;
        ids.invoice = open.id;
        break;
      }
    }
    assert.ok(ids.school && ids.student && ids.invoice, 'the demo data has an unpaid invoice in Colegio Miraflores');
    // A family with a guardian and that student, for the family page.
    const family = await admin.post('/families', { schoolId: ids.school, name: 'Rojas Díaz', guardians: [{ firstName: 'Elena', lastName: 'Díaz', email: 'elena@example.com' }] });
    ids.family = family.json<{ id: string }>().id;
    assert.equal((await admin.patch(`/students/${ids.student}`, { familyId: ids.family })).statusCode, 200);
  });
  after(() => web?.close());

  /** The page of the running test: on a failure, its screenshot shows what the browser saw. */
  let current: Page | null = null;
  afterEach(async (context) => {
    const page = current;
    current = null;
    if (page && !page.isClosed() && (context as { passed?: boolean }).passed === false) {
      await page.screenshot({ path: path.join(SHOTS, `failed-${context.name.replace(/\W+/g, '-').slice(0, 60)}.png`), fullPage: true }).catch(() => undefined);
    }
  });

  async function api(username: string) {
    return client(t.app, (await login(t.app, username)).accessToken);
  }

  async function signIn(username: string, options: BrowserContextOptions = {}): Promise<{ page: Page; errors: string[] }> {
    // bypassCSP: axe-core is injected as a script, which the app's CSP (rightly) forbids.
    const context = await web.newContext({ viewport: PHONE, bypassCSP: true, acceptDownloads: true, ...options });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    current = page;
    await page.goto('/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    // Signed in: the shell's Sign out button (the login page has a <main> and an <h1> too).
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { page, errors };
  }

  const urlOf = (entry: string) =>
    entry === 'school' ? `/schools/${ids.school}` : entry === 'student' ? `/students/${ids.student}` : entry === 'invoice' ? `/invoices/${ids.invoice}` : entry === 'family' ? `/families/${ids.family}` : entry;
  const nameOf = (entry: string) => (entry === '/' ? 'overview' : entry.replace(/^\//, ''));
  const describeViolations = (violations: Awaited<ReturnType<typeof axeViolations>>) =>
    violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');

  /** Opens the assistant's student panels too, so their risk and message cards are checked. */
  async function openEverything(page: Page, entry: string): Promise<void> {
    if (entry === '/assistant') {
      await page.getByTestId('student-option').first().click();
      await page.getByTestId('risk-level').waitFor();
      await page.getByTestId('message-body').waitFor();
      await settle(page);
    }
  }

  test('the login page fits a phone and has no axe violations', async () => {
    const context = await web.newContext({ viewport: PHONE, bypassCSP: true });
    const page = await context.newPage();
    await page.goto('/login');
    await settle(page);
    const overflow = await horizontalOverflow(page);
    assert.ok(overflow.scrollWidth <= overflow.innerWidth, `login: ${overflow.scrollWidth} px wide: ${overflow.culprits.join(', ')}`);
    assert.equal(describeViolations(await axeViolations(page)), '');
    assert.equal(await page.title(), 'Sign in · Bursar');
    await page.screenshot({ path: path.join(SHOTS, 'login-390.png'), fullPage: true });
  });

  for (const [username, entries] of Object.entries(PAGES)) {
    test(`${username}: every page fits 390 px with zero axe violations, and fits 1440 px`, async () => {
      const { page, errors } = await signIn(username);
      const problems: string[] = [];
      for (const entry of entries) {
        const label = `${username} ${nameOf(entry)}`;
        await page.setViewportSize(PHONE);
        await page.goto(urlOf(entry));
        await settle(page);
        await openEverything(page, entry);
        const phone = await horizontalOverflow(page);
        if (phone.scrollWidth > phone.innerWidth) {
          problems.push(`${label} at 390 px is ${phone.scrollWidth} px wide: ${phone.culprits.join(', ')}`);
        }
        const violations = await axeViolations(page);
        if (violations.length > 0) {
          problems.push(`${label} at 390 px:\n${describeViolations(violations)}`);
        }
        if (!/\S · Bursar$/.test(await page.title())) {
          problems.push(`${label}: the tab is titled "${await page.title()}", not "<page> · Bursar"`);
        }
        await page.screenshot({ path: path.join(SHOTS, `${nameOf(entry).split('/')[0]}-${username}-390.png`), fullPage: true });

        await page.setViewportSize(DESKTOP);
        await settle(page);
        const desktop = await horizontalOverflow(page);
        if (desktop.scrollWidth > desktop.innerWidth) {
          problems.push(`${label} at 1440 px is ${desktop.scrollWidth} px wide: ${desktop.culprits.join(', ')}`);
        }
        if (entry === '/') {
          // "By grade" used to be cut off at 1440 × 900: its table now fits its card.
          assert.equal(await page.locator('[data-testid="by-grade"] [data-scrolls]').count(), 0, `${label}: By grade scrolls at 1440 px`);
        }
        await page.screenshot({ path: path.join(SHOTS, `${nameOf(entry).split('/')[0]}-${username}-1440.png`), fullPage: true });
      }
      assert.deepEqual(problems, [], problems.join('\n\n'));
      assert.deepEqual(errors, [], `uncaught errors: ${errors.join('; ')}`);
    });
  }

  /** The element that has focus, described. */
  const focused = (page: Page) =>
    page.evaluate<{ tag: string; text: string; testId: string | null; row: number | null; expanded: string | null; invalid: string | null; describedBy: string | null }>(`(() => {
      const el = document.activeElement;
      const rows = el && el.matches('tr[data-row]') ? [...el.parentElement.querySelectorAll('tr[data-row]')] : [];
      return {
        tag: el ? el.tagName.toLowerCase() : '',
        text: el ? (el.textContent || '').trim().slice(0, 200) : '',
        testId: el ? el.getAttribute('data-testid') : null,
        row: rows.length ? rows.indexOf(el) : null,
        expanded: el ? el.getAttribute('aria-expanded') : null,
        invalid: el ? el.getAttribute('aria-invalid') : null,
        describedBy: el ? el.getAttribute('aria-describedby') : null,
      };
    })()`);

  test('keyboard navigation moves focus to the new page’s heading and titles the tab; Back does too', async () => {
    const { page } = await signIn('super.admin', { viewport: DESKTOP });
    await settle(page);
    assert.equal(await page.title(), 'Overview · Bursar');
    await page.getByRole('navigation', { name: 'Main', exact: true }).getByRole('link', { name: 'Pending' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/pending$/);
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === 'H1'`);
    assert.deepEqual([(await focused(page)).text, await page.title()], ['Pending payments', 'Pending payments · Bursar']);
    await page.goBack();
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === 'H1' && document.activeElement.textContent === 'Overview'`);
    assert.equal(await page.title(), 'Overview · Bursar');
  });

  test('Escape closes the phone menu and gives focus back to its button', async () => {
    const { page } = await signIn('finance.analyst');
    const button = page.getByRole('button', { name: 'Menu' });
    await button.click();
    await page.locator('#mobile-nav').waitFor();
    await page.locator('#mobile-nav').getByRole('link').first().focus();
    await page.keyboard.press('Escape');
    await page.locator('#mobile-nav').waitFor({ state: 'detached' });
    const now = await focused(page);
    assert.deepEqual([now.tag, now.text, now.expanded], ['button', 'Menu', 'false']);
  });

  test('the pending queue keeps its filters in the URL, offers the grades that exist, and keeps them across reload and Back', async () => {
    const { page } = await signIn('super.admin', { viewport: DESKTOP });
    await page.goto('/pending');
    await settle(page);
    const grades = (await (await api('super.admin')).get('/reports/grades')).json<{ data: string[] }>().data;
    const options = await page.getByLabel('Grade').locator('option').allInnerTexts();
    assert.deepEqual(options, ['Any grade', ...grades]);
    await page.getByLabel('Status').selectOption('OVERDUE');
    await page.getByLabel('Grade').selectOption('2');
    await page.waitForURL(/status=OVERDUE/);
    assert.match(page.url(), /grade=2/);
    await page.reload();
    await settle(page);
    assert.equal(await page.getByLabel('Status').inputValue(), 'OVERDUE');
    assert.equal(await page.getByLabel('Grade').inputValue(), '2');
    const shown = page.getByTestId('pending-queue').locator('tbody tr');
    assert.ok((await shown.count()) > 0);
    await shown.first().getByRole('link').click();
    await page.waitForURL(/\/invoices\//);
    await page.goBack();
    await settle(page);
    assert.equal(await page.getByLabel('Grade').inputValue(), '2');
    assert.equal(await page.getByLabel('Status').inputValue(), 'OVERDUE');
  });

  test('Export and Load more leave focus on their outcome, not on <body>', async () => {
    const { page } = await signIn('super.admin', { viewport: DESKTOP });
    await page.goto('/pending');
    await settle(page);
    await page.getByRole('button', { name: 'Export CSV' }).focus();
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    await page.getByTestId('export-done').waitFor();
    const afterExport = await focused(page);
    assert.equal(afterExport.testId, 'export-done');
    assert.ok(afterExport.text.includes(download.suggestedFilename()), afterExport.text);

    const rows = page.getByTestId('pending-queue').locator('tbody tr');
    const before = await rows.count();
    assert.equal(before, 50, 'the demo queue has more than one page');
    await page.getByRole('button', { name: 'Load more' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(`document.activeElement && document.activeElement.matches('tr[data-row]')`);
    assert.equal((await focused(page)).row, before, 'focus is on the first new row');
  });

  test('Record payment on a phone: reachable, errors tied to the field, and the outcome stays once the invoice is paid', async () => {
    const { page } = await signIn('school.admin');
    await page.goto(`/invoices/${ids.invoice}`);
    await settle(page);
    const form = page.getByTestId('payment-form');
    const submit = form.getByRole('button', { name: 'Record payment' });
    const box = await submit.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the button is on screen: ${JSON.stringify(box)}`);

    const amount = form.getByLabel(/Amount/);
    await amount.fill('1.500.00');
    await submit.click();
    const invalid = await focused(page);
    assert.equal(invalid.tag, 'input');
    assert.equal(invalid.invalid, 'true');
    const error = await page.evaluate<string>(`document.getElementById(${JSON.stringify(invalid.describedBy?.split(' ')[0] ?? '')})?.textContent ?? ''`);
    assert.match(error, /wrong places/);

    // The whole pending amount, written the Colombian way: the invoice becomes PAID and the form gives way.
    const invoice = (await (await api('school.admin')).get(`/invoices/${ids.invoice}`)).json<{ pendingAmount: number; currency: string }>();
    const units = Math.trunc(invoice.pendingAmount / 100).toLocaleString('de-DE');
    await amount.fill(`${units},${String(invoice.pendingAmount % 100).padStart(2, '0')}`);
    await form.getByLabel('Reference (optional)').fill('A11Y-TEST');
    await submit.click();
    await page.getByText('This invoice is fully paid.').waitFor();
    await page.getByTestId('payments-table').getByText('A11Y-TEST').waitFor();
    const success = page.getByTestId('payment-success');
    assert.match(await success.innerText(), /recorded\. Invoice is now Paid/);
    assert.equal((await focused(page)).testId, 'payment-success');
    // Times on a school's page are in the school's zone, named.
    assert.match(await page.getByText(/^Payments · Mexico City time \(GMT-6\)$/).innerText(), /GMT-6/);
    assert.match(await page.getByTestId('payments-table').locator('td').first().innerText(), /GMT-6$/);
    await success.getByRole('button', { name: 'Dismiss' }).click();
    await success.waitFor({ state: 'detached' });
  });

  test('Live: times in the viewer’s zone, labelled; charts are named images with money axes and no tab stops', async () => {
    const { page } = await signIn('super.admin', { viewport: DESKTOP, timezoneId: 'America/Bogota' });
    await page.goto('/live?period=month');
    await settle(page);
    await page.getByTestId('trend-chart').locator('.recharts-wrapper > svg').waitFor();
    assert.match(await page.getByTestId('trend-chart').locator('h2').innerText(), /your time zone \(GMT-5\)/);
    const peaks = (await page.locator('[data-testid$="-peakHour-value"]').allInnerTexts()).filter((text) => text !== '—');
    assert.ok(peaks.length > 0);
    for (const peak of peaks) {
      assert.match(peak, /^\d\d:00 GMT-5$/);
    }
    const charts = page.locator('.recharts-wrapper > svg');
    assert.ok((await charts.count()) >= 2);
    for (const chart of await charts.all()) {
      assert.equal(await chart.getAttribute('role'), 'img');
      assert.ok(((await chart.getAttribute('aria-label')) ?? '').length > 10);
    }
    assert.equal(await page.locator('.recharts-wrapper [tabindex]:not([tabindex="-1"])').count(), 0);
    // Recharts draws every axis's labels in one layer: the amount axis's carry the currency.
    const ticks = await page.getByTestId('trend-chart').locator('.recharts-cartesian-axis-tick-value').allTextContents();
    assert.ok(ticks.some((tick) => /COP|MX\$|\$/.test(tick)), ticks.join(' | '));
    assert.ok(ticks.every((tick) => !/\d{5}/.test(tick)), ticks.join(' | '));
    // The period and currency are in the URL; one school's page reads its own zone.
    const lincoln = (await (await api('super.admin')).get('/schools')).json<{ data: { id: string; name: string }[] }>().data.find((s) => s.name === 'Lincoln Bilingual School');
    await page.getByLabel('School', { exact: true }).selectOption({ label: 'Lincoln Bilingual School' });
    await page.waitForURL(new RegExp(`schoolId=${lincoln?.id ?? 'x'}`));
    await page.getByTestId('trend-chart').locator('h2', { hasText: /New York time/ }).waitFor();
  });
});
