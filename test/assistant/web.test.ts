import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CollectionMessage } from '../../src/modules/assistant/assistant.schemas.js';
import { client } from '../helpers/api.js';
import { insertUser, login, PASSWORD, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { browserUnavailable, startWebSession, type WebSession } from '../web/browser.js';

/**
 * The Assistant page for a student who owes nothing: the message preview shows the
 * assistant's answer (that the student owes nothing) as a normal answer, not a red
 * error, and there is nothing to copy. Real browser, real server (rule engine).
 */
const skip = browserUnavailable();

describe('web assistant: nothing to collect', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let fx: BillingFixture;

  before(async () => {
    web = await startWebSession(async (app) => {
      fx = await seedBillingFixture(app.db);
      await insertUser(app.db, { username: 'root', role: 'super_admin' });
    });
    ({ t } = web);
  });
  after(() => web?.close());

  test('the preview says the student owes nothing, in the chosen language, as an answer; Copy is off', async () => {
    const api = client(t.app, (await login(t.app, 'root')).accessToken);
    const page = await (await web.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByTestId('whoami').waitFor();
    await page.getByRole('link', { name: 'Assistant' }).click();
    await page.waitForURL(/\/assistant$/);

    // Dora Diaz (Beta Academy) has paid her only bill.
    await page.getByTestId('student-search').fill('Diaz');
    const option = page.getByTestId('student-option').filter({ hasText: 'Dora Diaz' }).first();
    await option.waitFor();
    await option.click();

    const expected = (await api.post(`/assistant/collection-message/${fx.students.dora}`, { channel: 'email', language: 'es', tone: 'friendly' })).json<CollectionMessage>();
    assert.equal(expected.nothingToCollect, true);
    const note = page.getByTestId('message-note');
    await note.waitFor();
    assert.equal((await note.innerText()).trim(), expected.note);
    const preview = page.getByTestId('message-preview');
    assert.equal(await preview.getByTestId('error-state').count(), 0, 'not shown as an error');
    assert.equal(await preview.getByTestId('message-body').count(), 0, 'no message body');
    assert.equal(await page.getByTestId('copy-message').isDisabled(), true);

    const english = (await api.post(`/assistant/collection-message/${fx.students.dora}`, { channel: 'email', language: 'en', tone: 'friendly' })).json<CollectionMessage>();
    await preview.locator('select[name="language"]').selectOption('en');
    await page.getByTestId('message-note').filter({ hasText: english.note ?? '' }).waitFor();
    assert.match(english.note ?? '', /owes nothing/);
    assert.deepEqual(errors, [], `uncaught errors in the page: ${errors.join('; ')}`);
  });
});
