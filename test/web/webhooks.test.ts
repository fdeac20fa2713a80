import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { deliverDueWebhooks } from '../../src/modules/webhooks/webhooks.delivery.js';
import { insertUser, PASSWORD } from '../helpers/app.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';
import { browserUnavailable, SCREENSHOTS, startWebSession, type WebSession } from './browser.js';

/**
 * The Webhooks page in a real browser against the real server: add an endpoint (secret
 * shown once), send a test event to a real receiver, read the delivery log, replay.
 * Deliveries are made by the delivery round itself (the worker does not run under test).
 */
const skip = browserUnavailable();

describe('web: webhooks page', { skip: skip ?? false }, () => {
  let web: WebSession;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver();
    web = await startWebSession(
      async (app) => {
        await insertUser(app.db, { username: 'root', role: 'super_admin' });
        await insertUser(app.db, { username: 'analyst', role: 'finance_analyst' });
        await app.db.insertInto('schools').values({ name: 'Colegio Webhook' }).execute();
      },
      { env: { WEBHOOKS_ALLOW_LOCAL: 'on' } },
    );
  });
  after(async () => {
    await web?.close();
    await receiver?.close();
  });

  async function signIn(username: string): Promise<{ page: Page; errors: string[] }> {
    const context = await web.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('/login?lang=en');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByTestId('whoami').waitFor();
    return { page, errors };
  }
  const deliver = () => deliverDueWebhooks(web.t.db, { now: new Date(), allowLocal: true, timeoutMs: 2_000 });

  test('add an endpoint (secret shown once), send a test event, see it delivered, replay it', async () => {
    const { page, errors } = await signIn('root');
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByText('No endpoints yet').waitFor();

    await page.getByLabel('URL').fill(receiver.url);
    await page.getByRole('checkbox', { name: 'invoice.created' }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = (await page.getByTestId('webhook-secret').innerText()).trim();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    const stored = await web.t.db.selectFrom('webhook_endpoints').select(['secret', 'events']).executeTakeFirstOrThrow();
    assert.equal(stored.secret, secret);
    assert.deepEqual([...stored.events].sort(), ['invoice.created', 'invoice.paid', 'payment.succeeded']);
    await page.getByTestId('webhook-endpoint-row').first().waitFor();
    assert.equal(await page.getByTestId('webhook-endpoint-row').count(), 1);

    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByTestId('webhooks-notice').waitFor();
    await deliver();
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0];
    assert.equal(got?.json.type, 'endpoint.test');
    const headers = { 'webhook-id': String(got?.headers['webhook-id']), 'webhook-timestamp': String(got?.headers['webhook-timestamp']), 'webhook-signature': String(got?.headers['webhook-signature']) };
    assert.doesNotThrow(() => new Webhook(secret).verify(got?.body ?? '', headers));

    await page.getByRole('button', { name: 'Deliveries' }).click();
    const row = page.getByTestId('webhook-delivery-row').first();
    await row.waitFor();
    await page.locator('[data-testid="webhook-delivery-row"][data-status="succeeded"]').waitFor();
    assert.match(await row.innerText(), /endpoint\.test/);
    assert.match(await row.innerText(), /200/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'webhooks.png'), fullPage: true });

    await row.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('Queued again with the same webhook-id.').waitFor();
    await deliver();
    assert.equal(receiver.received.length, 2);
    assert.equal(receiver.received[1]?.headers['webhook-id'], headers['webhook-id']);
    await page.locator('[data-testid="webhook-delivery-row"][data-status="succeeded"]').waitFor();

    // The secret is not shown again after a reload.
    await page.reload();
    await page.getByTestId('webhook-endpoint-row').first().waitFor();
    assert.equal(await page.getByTestId('webhook-secret').count(), 0);
    assert.ok(!(await page.content()).includes(secret));
    assert.deepEqual(errors, []);
  });

  test('a role without webhooks:manage has no Webhooks link', async () => {
    const { page } = await signIn('analyst');
    await page.getByRole('link', { name: 'Overview' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Webhooks' }).count(), 0);
  });
});
