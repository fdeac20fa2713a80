import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { client } from '../helpers/api.js';
import { login, PASSWORD, type TestApp } from '../helpers/app.js';
import { browserUnavailable, SCREENSHOTS, startDemoWebSession, type WebSession } from './browser.js';

/**
 * The Assistant page in a real browser against the real server (rule engine, demo
 * data): chat answers, the risk card and the message preview show exactly what the API
 * returns for the same role, the copy button copies it, names stay masked for the
 * analyst, and the developer has no Assistant page. Every wait is on a condition.
 */
const skip = browserUnavailable();

interface StudentSearch {
  data: { studentId: string; studentName: string; schoolName: string }[];
}

describe('web assistant', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let base: string;

  before(async () => {
    web = await startDemoWebSession();
    ({ t, base } = web);
  });

  after(() => web?.close());

  async function signIn(username: string): Promise<{ page: Page; errors: string[] }> {
    const context = await web.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await context.newPage();
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

  const api = async (username: string) => client(t.app, (await login(t.app, username)).accessToken);
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

  test('chat, risk card and message preview show what the API returns; the copy button copies the message', async () => {
    const { page, errors } = await signIn('super.admin');
    await page.getByRole('link', { name: 'Assistant' }).click();
    await page.waitForURL(/\/assistant$/);
    assert.match(await page.getByTestId('assistant-provider').innerText(), /Rule engine/);

    // Chat: typed question, Enter to send; the answer equals the API's for the same question.
    const root = await api('super.admin');
    const question = 'Who are the top debtors?';
    const expected = (await root.post('/assistant/chat', { message: question })).json<{ answer: string }>().answer;
    await page.getByTestId('chat-input').fill(question);
    await page.getByTestId('chat-input').press('Enter');
    const answer = page.getByTestId('chat-answer').first();
    await answer.waitFor();
    assert.equal((await answer.locator('p').innerText()).trim(), expected.trim());

    // Student picker: search by part of a debtor's last name.
    const debtors = (await root.get('/assistant/students')).json<StudentSearch>().data;
    const target = debtors[0];
    assert.ok(target, 'the demo data has debtors');
    const lastName = target.studentName.split(' ').slice(1).join(' ');
    await page.getByTestId('student-search').fill(lastName.slice(0, 5));
    const option = page.getByTestId('student-option').filter({ hasText: target.studentName }).first();
    await option.waitFor();
    await option.click();

    const risk = (await root.post(`/assistant/risk/${target.studentId}`, { language: 'en' })).json<{ riskScore: number; riskLevel: string; summary: string }>();
    await page.getByTestId('risk-score').waitFor();
    assert.equal(Number((await page.getByTestId('risk-score').innerText()).replace(/\/100.*/s, '').trim()), risk.riskScore);
    assert.equal((await page.getByTestId('risk-level').innerText()).trim(), risk.riskLevel);
    assert.equal((await page.getByTestId('risk-summary').innerText()).trim(), risk.summary);

    // Message preview: e-mail in Spanish by default, then SMS.
    const email = (await root.post(`/assistant/collection-message/${target.studentId}`, { channel: 'email', language: 'es', tone: 'friendly' })).json<{ subject: string; body: string }>();
    await page.getByTestId('message-body').waitFor();
    assert.equal(await page.getByTestId('message-subject').innerText(), email.subject);
    assert.equal(await page.getByTestId('message-body').innerText(), email.body);
    await page.getByTestId('copy-message').click();
    await page.getByTestId('copy-message').filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), `${email.subject}\n\n${email.body}`);

    const sms = (await root.post(`/assistant/collection-message/${target.studentId}`, { channel: 'sms', language: 'es', tone: 'friendly' })).json<{ body: string; smsUnits: number }>();
    await page.getByLabel('Channel').selectOption('sms');
    await page.getByTestId('message-body').filter({ hasText: sms.body }).waitFor();
    assert.ok(sms.smsUnits <= 160);
    assert.match(await page.getByTestId('message-meta').innerText(), new RegExp(`${sms.smsUnits} / 160 GSM-7`));
    await shot(page, 'assistant');
    assert.deepEqual(errors, [], `uncaught errors in the page: ${errors.join('; ')}`);
  });

  test('a finance analyst sees initials only: picker, chat and risk card', async () => {
    const { page } = await signIn('finance.analyst');
    await page.getByRole('link', { name: 'Assistant' }).click();
    const options = page.getByTestId('student-option');
    await options.first().waitFor();
    for (const text of await options.locator('span.font-medium').allInnerTexts()) {
      assert.match(text.trim(), /^(\p{Lu}\.\s?)+$/u, `not masked: ${text}`);
    }
    const analyst = await api('finance.analyst');
    const expected = (await analyst.post('/assistant/chat', { message: 'Who are the top debtors?' })).json<{ answer: string; data: unknown }>();
    await page.getByRole('button', { name: 'Who are the top debtors?' }).click();
    const answer = page.getByTestId('chat-answer').first();
    await answer.waitFor();
    assert.equal((await answer.locator('p').innerText()).trim(), expected.answer.trim());
    // Every student name in the data behind the answer is initials.
    const names = [...JSON.stringify(expected.data).matchAll(/"studentName":"([^"]*)"/g)].map((match) => match[1] ?? '');
    assert.ok(names.length > 0);
    for (const name of names) {
      assert.match(name, /^(\p{Lu}\.\s?)+$/u);
    }
    await options.first().click();
    await page.getByTestId('risk-card').getByTestId('risk-score').waitFor();
    assert.match(await page.getByTestId('risk-card').locator('h2').innerText(), /Payment risk — (\p{Lu}\.\s?)+$/u);
  });

  test('the developer has no Assistant page', async () => {
    const { page } = await signIn('developer');
    await page.waitForURL(/\/monitoring$/);
    assert.equal(await page.getByRole('link', { name: 'Assistant' }).count(), 0);
    await page.goto('/assistant');
    await page.waitForURL(/\/monitoring$/);
  });
});
