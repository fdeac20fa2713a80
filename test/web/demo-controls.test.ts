import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { client } from '../helpers/api.js';
import { insertUser, login, PASSWORD, type TestApp } from '../helpers/app.js';
import { browserUnavailable, SCREENSHOTS, startWebSession, type WebSession } from './browser.js';

/**
 * The demo's marks in the dashboard (web/src/features/billing/DemoControls.tsx): the
 * "Demo" badge on demo schools in the Schools list and on a demo school's page, and the
 * "Simulated traffic" switch there, which PATCHes the school. In a real browser on the
 * real server; every wait is on a condition.
 */
const skip = browserUnavailable();

describe('web demo controls', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let realSchool: string;

  before(async () => {
    web = await startWebSession(async (app) => {
      await insertUser(app.db, { username: 'demo.analyst', role: 'finance_analyst' });
      const root = client(app.app, (await login(app.app, 'super.admin')).accessToken);
      realSchool = (await root.post('/schools', { name: 'Escuela Real' })).json<{ id: string }>().id;
    }, { demo: true });
    ({ t } = web);
  });
  after(() => web?.close());

  async function signIn(username: string): Promise<{ page: Page; errors: string[] }> {
    const page = await (await web.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByTestId('whoami').waitFor();
    return { page, errors };
  }

  const schoolsApi = async () =>
    (await client(t.app, (await login(t.app, 'super.admin')).accessToken).get('/schools')).json<{ data: { id: string; name: string; simulatorEnabled: boolean }[] }>().data;

  test('the Schools list badges the demo schools, and only them', async () => {
    const { page, errors } = await signIn('super.admin');
    await page.getByRole('link', { name: 'Schools' }).click();
    const rows = page.getByTestId('schools-table').getByRole('row');
    await rows.first().waitFor();
    await page.getByTestId('demo-badge').first().waitFor();
    const badged: string[] = [];
    for (const row of await rows.all()) {
      if ((await row.getByTestId('demo-badge').count()) > 0) {
        badged.push((await row.getByTestId('school-link').innerText()).trim());
      }
    }
    assert.deepEqual(badged.sort(), ['Colegio Miraflores', 'Instituto Andino', 'Lincoln Bilingual School']);
    assert.equal(await rows.filter({ hasText: 'Escuela Real' }).getByTestId('demo-badge').count(), 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'schools-demo.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  test('a demo school’s page: badge and switch; switching it off and on goes to the API', async () => {
    const { page, errors } = await signIn('school.admin');
    await page.getByRole('link', { name: 'Schools' }).click();
    await page.getByTestId('school-link').filter({ hasText: 'Colegio Miraflores' }).click();
    const controls = page.getByTestId('simulator-controls');
    await controls.waitFor();
    await controls.getByTestId('demo-badge').waitFor();
    const toggle = page.getByRole('switch', { name: 'Simulated traffic' });
    assert.equal(await toggle.getAttribute('aria-checked'), 'true');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'school-demo.png'), fullPage: true });

    const patched = page.waitForResponse((response) => response.request().method() === 'PATCH' && /\/api\/v1\/schools\//.test(response.url()));
    await toggle.click();
    assert.equal((await patched).status(), 200);
    await page.getByTestId('simulator-state').filter({ hasText: 'Off' }).waitFor();
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    assert.equal((await schoolsApi()).find((s) => s.name === 'Colegio Miraflores')?.simulatorEnabled, false);

    // Keyboard: the switch is a button, Space toggles it back on (once it takes input again).
    await page.locator('[data-testid="simulator-toggle"]:not([disabled])').waitFor();
    await toggle.focus();
    await page.keyboard.press('Space');
    await page.getByTestId('simulator-state').filter({ hasText: 'On' }).waitFor();
    assert.equal((await schoolsApi()).find((s) => s.name === 'Colegio Miraflores')?.simulatorEnabled, true);
    assert.deepEqual(errors, []);
  });

  test('a real school’s page has no demo controls; a read-only role sees the switch disabled', async () => {
    const { page: root } = await signIn('super.admin');
    await root.goto(`/schools/${realSchool}`);
    await root.getByTestId('statement').waitFor();
    assert.equal(await root.getByTestId('simulator-controls').count(), 0);
    assert.equal(await root.getByTestId('demo-badge').count(), 0);

    const { page } = await signIn('demo.analyst');
    await page.getByRole('link', { name: 'Schools' }).click();
    await page.getByTestId('school-link').filter({ hasText: 'Lincoln Bilingual School' }).click();
    const toggle = page.getByRole('switch', { name: 'Simulated traffic' });
    await toggle.waitFor();
    assert.equal(await toggle.isDisabled(), true);
    await page.getByText('Your role may not change this.').waitFor();
  });
});
