import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { createSyncWorker } from '../../src/modules/sync/sync.worker.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { client } from '../helpers/api.js';
import { insertUser, login, PASSWORD, type TestApp } from '../helpers/app.js';
import { browserUnavailable, SCREENSHOTS, startWebSession, type WebSession } from './browser.js';

/**
 * The Accounts page and the Monitoring page's sync panel in a real browser, against the
 * real server, with a ledger synced from the vendor simulator. Waits are on conditions.
 */
const skip = browserUnavailable();

describe('web: accounts and sync status', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let vendor: VendorSimulator;
  // A month back: far enough that the feed is never "caught up" on the server's clock, near enough to reset from.
  const clock = new VirtualClock(Date.now() - 30 * 86_400_000);
  const worker = () =>
    createSyncWorker({ db: t.db, clock, vendor: { url: vendor.url, apiKey: t.config.vendor.apiKey, timeoutMs: 2000 }, pageSize: 100, requestsPerMinute: 5, maxAttempts: 2 });

  before(async () => {
    web = await startWebSession(async (app) => {
      vendor = createVendorSimulator({ clock, apiKeys: [app.config.vendor.apiKey], entriesPerSecond: 0, accounts: 7, seed: 17 });
      await vendor.start();
      await insertUser(app.db, { username: 'root', role: 'super_admin' });
      await insertUser(app.db, { username: 'dev', role: 'developer' });
      await insertUser(app.db, { username: 'analyst', role: 'finance_analyst' });
    });
    ({ t } = web);
  });

  after(async () => {
    await web?.close();
    await vendor?.close();
  });

  async function signIn(username: string): Promise<{ page: Page; errors: string[] }> {
    const context = await web.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByTestId('whoami').waitFor();
    return { page, errors };
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

  test('before any sync the Accounts page says so; after it, every account with its balance', async () => {
    const { page, errors } = await signIn('analyst');
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByText('No accounts yet').waitFor();

    vendor.append(400);
    const result = await worker().runPass();
    assert.equal(result.status, 'caught_up');
    await page.reload();
    await page.getByTestId('account-row').first().waitFor();
    const rows = page.getByTestId('account-row');
    assert.equal(await rows.count(), 7);
    const api = client(t.app, (await login(t.app, 'analyst')).accessToken);
    const accounts = (await api.get('/accounts')).json<{ data: { accountId: string; balance: number; payout: number; paidOut: number }[] }>().data;
    const shown = (await page.getByTestId('account-balance').allInnerTexts()).map((text) => (text.includes('−') ? -1 : 1) * Number(text.replace(/[^0-9]/g, '')));
    assert.deepEqual(shown, accounts.map((a) => a.balance));
    await shot(page, 'accounts');

    // Keyboard: focus the second account's button and open its payouts with Enter.
    const second = accounts[1];
    assert.ok(second);
    await page.getByRole('button', { name: second.accountId }).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('payouts-requested').waitFor();
    const payouts = (await api.get(`/accounts/${second.accountId}/payouts?limit=20`)).json<{ requested: number; paidOut: number; outstanding: number; entries: unknown[] }>();
    const minor = async (id: string) => Number((await page.getByTestId(id).innerText()).replace(/[^0-9]/g, ''));
    assert.equal(await minor('payouts-requested'), payouts.requested);
    assert.equal(await minor('payouts-paid-out'), payouts.paidOut);
    assert.equal(await minor('payouts-outstanding'), payouts.outstanding);
    await page.getByTestId('payout-entry').first().waitFor();
    assert.equal(await page.getByTestId('payout-entry').count(), payouts.entries.length);
    assert.deepEqual(errors, []);
  });

  test('Monitoring shows the sync status, and a developer retries a dead letter from it', async () => {
    vendor.append(50);
    vendor.fault({ kind: 'error', count: 2 });
    clock.advance(120_000);
    assert.equal((await worker().runPass()).status, 'blocked');

    const { page, errors } = await signIn('dev');
    await page.getByRole('link', { name: 'Monitoring' }).click();
    await page.getByTestId('sync-panel').waitFor();
    await page.getByTestId('dead-letter').waitFor();
    assert.equal(await page.getByTestId('sync-cursor').innerText(), '400');
    assert.equal(await page.getByTestId('sync-live-status').innerText(), 'Blocked');
    assert.match(await page.getByTestId('sync-summary').innerText(), /A page failed 2 times in a row/);
    assert.match(await page.getByTestId('dead-letter-why').innerText(), /failed 2 times/);
    assert.match(await page.getByTestId('sync-dead-letters').innerText(), /1/);
    assert.equal(await page.getByTestId('sync-reset-form').count(), 0, 'a developer may not reset');
    await shot(page, 'monitoring-sync');
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('button', { name: 'Retrying…' }).waitFor();
    // One state, from the server: unparked, and a month behind on this clock — never "caught up" next to that lag.
    // (The status is read again after the retry answers: wait for it rather than read it at once.)
    await page
      .waitForFunction(`document.querySelector('[data-testid="sync-live-status"]')?.textContent === 'Behind'`, undefined, { timeout: 10_000 })
      .catch(() => undefined);
    assert.equal(await page.getByTestId('sync-live-status').innerText(), 'Behind');
    assert.doesNotMatch(await page.getByTestId('sync-lag').innerText(), /caught up/);

    assert.equal((await worker().runPass()).status, 'caught_up');
    await page.reload();
    await page.getByText('No dead letters').waitFor();
    assert.equal(await page.getByTestId('sync-cursor').innerText(), '450');
    // A developer sees no money: no Accounts link.
    assert.equal(await page.getByRole('link', { name: 'Accounts' }).count(), 0);
    assert.deepEqual(errors, []);
  });

  test('a super_admin resets a sync whose cursor the vendor forgot, from the newest stored entry by default', async () => {
    vendor.fault({ kind: 'reset' });
    vendor.append(20);
    clock.advance(120_000);
    assert.equal((await worker().runPass()).status, 'needs_reset');

    const { page, errors } = await signIn('root');
    await page.getByRole('link', { name: 'Monitoring' }).click();
    await page.getByTestId('sync-reset-form').waitFor();
    assert.equal(await page.getByTestId('sync-live-status').innerText(), 'Needs reset');
    assert.match(await page.getByTestId('sync-action').innerText(), /Reset the sync from a time/);
    const api = client(t.app, (await login(t.app, 'root')).accessToken);
    const newest = (await api.get('/sync/status')).json<{ newestEntryAt: string }>().newestEntryAt;
    // The input shows the newest stored entry's time in the viewer's zone, to the second (rounded down).
    const shown = await page.getByTestId('sync-reset-from').evaluate((input) => new Date((input as unknown as { value: string }).value).toISOString());
    assert.equal(shown, new Date(Math.floor(Date.parse(newest) / 1000) * 1000).toISOString());
    await shot(page, 'monitoring-sync-needs-reset');
    await page.getByRole('button', { name: 'Reset sync' }).click();
    await page.getByTestId('sync-reset-done').waitFor();
    await page.getByText('Reset: resuming from').waitFor();
    assert.equal(await page.getByTestId('sync-live-status').innerText(), 'Behind');

    const resumed = await worker().runPass();
    assert.equal(resumed.status, 'caught_up');
    await page.reload();
    await page.getByTestId('sync-cursor').waitFor();
    assert.equal(await page.getByTestId('sync-cursor').innerText(), vendor.cursorAt(470));
    assert.equal((await api.get('/sync/status')).json<{ entries: number; conflicts: number }>().entries, 470);
    assert.deepEqual(errors, []);
  });
});
