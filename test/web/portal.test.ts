import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { client } from '../helpers/api.js';
import { login, type TestApp } from '../helpers/app.js';
import { apiAs, browserUnavailable, DESKTOP, judge as judgeIn, PHONE, SCREENSHOTS, signIn, startDemoWebSession, type WebSession } from './browser.js';

/**
 * The family portal in a real Chromium (SPEC §8): a guardian invited by the school
 * accepts the invitation from the link in the outbox, lands on the portal, reads the
 * family's balance, children and invoices, switches between Spanish and English (the
 * choice is remembered), and turns reminders off. Judged at 390 px and at 1440 px in both
 * languages: no sideways scrolling, zero axe violations. Staff at /portal are sent to
 * the dashboard.
 */
const skip = browserUnavailable();
const SHOTS = path.join(SCREENSHOTS, 'portal');

describe('web: the family portal', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;

  before(async () => {
    web = await startDemoWebSession();
    ({ t } = web);
  });
  after(() => web?.close());

  const judge = (page: Parameters<typeof judgeIn>[0], name: string) => judgeIn(page, name, SHOTS);

  test('a guardian accepts the invitation, reads the family’s account in Spanish and English, and turns reminders off', async () => {
    const root = await apiAs(t, 'super.admin');
    // A Miraflores family that owes something (so it has open invoices to show).
    const families = (await root.get('/families?limit=20&schoolId=' + (await schoolOf(root, 'Colegio Miraflores')))).json<{ data: { id: string }[] }>().data;
    type Detail = { id: string; name: string; reference: string; balance: { owed: number }; guardians: { id: string; isPrimary: boolean; email: string | null }[] };
    const details = await Promise.all(families.map(async (f) => (await root.get(`/families/${f.id}`)).json<Detail>()));
    const family = details.find((f) => f.balance.owed > 0);
    assert.ok(family, 'a demo family that owes');
    const guardian = family.guardians.find((g) => g.isPrimary && g.email);
    assert.ok(guardian, JSON.stringify(family));
    const invite = await root.post(`/guardians/${guardian.id}/invite`, {});
    assert.equal(invite.statusCode, 201, invite.body);
    const messages = (await root.get(`/families/${family.id}/messages?limit=100`)).json<{ data: { kind: string; body: string }[] }>().data;
    const link = messages.find((m) => m.kind === 'invitation')?.body.match(/https?:\/\/\S+\/portal\/welcome\?invitation=[A-Za-z0-9_-]+/)?.[0];
    assert.ok(link);

    const context = await web.newContext({ viewport: PHONE, bypassCSP: true, locale: 'es-MX' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(new URL(link).pathname + new URL(link).search);
    const form = page.getByTestId('portal-welcome');
    await form.getByLabel('Usuario').fill('mama.miraflores');
    await form.getByLabel('Contraseña', { exact: true }).fill('una-clave-muy-larga');
    await form.getByLabel('Repita la contraseña').fill('una-clave-muy-larga');
    const problems = await judge(page, 'welcome-es');
    await form.getByRole('button', { name: 'Crear mi acceso' }).click();

    // Signed in on the portal, in Spanish (the browser's language).
    await page.getByRole('heading', { name: family.name }).waitFor();
    const guardianApi = client(t.app, (await login(t.app, 'mama.miraflores', 'una-clave-muy-larga')).accessToken);
    const me = (await guardianApi.get('/portal/me')).json<{ family: { balance: { owed: number }; reference: string }; students: unknown[] }>();
    const owed = new Intl.NumberFormat('es-MX', { style: 'currency', currency: 'MXN', minimumFractionDigits: 2 }).format(me.family.balance.owed / 100);
    await page.getByTestId('portal-owed').filter({ hasText: owed }).waitFor();
    await page.getByTestId('portal-reference').filter({ hasText: family.reference }).waitFor();
    assert.equal(await page.getByTestId('portal-children').getByRole('listitem').count(), me.students.length);
    await page.getByRole('heading', { name: 'Facturas' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'es');
    try {
      await page.getByTestId('portal-invoice').first().waitFor();
    } catch (error) {
      throw new Error(`no open invoice shown: ${(await page.locator('main').innerText()).slice(0, 2000)}`, { cause: error });
    }
    await page.getByTestId('portal-invoice').first().getByText('Qué incluye').click();
    await page.getByTestId('portal-invoice').first().locator('details li').first().waitFor();
    problems.push(...(await judge(page, 'home-es')));

    // English, remembered after a reload.
    await page.getByRole('button', { name: /^EN/ }).click();
    await page.getByRole('heading', { name: 'Invoices' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Balance due' }).waitFor();
    const owedEn = new Intl.NumberFormat('en-MX', { style: 'currency', currency: 'MXN', minimumFractionDigits: 2 }).format(me.family.balance.owed / 100);
    await page.getByTestId('portal-owed').filter({ hasText: owedEn }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    problems.push(...(await judge(page, 'home-en')));

    // Reminders off, saved on the guardian.
    const preferences = page.getByTestId('portal-preferences');
    await preferences.getByLabel('Send me payment reminders').uncheck();
    await preferences.getByRole('button', { name: 'Save' }).click();
    await preferences.getByText('Saved.').waitFor();
    const stored = (await root.get(`/guardians/${guardian.id}`)).json<{ remindersOptOut: boolean }>();
    assert.equal(stored.remindersOptOut, true);

    // Pay all that is due online: the gateway simulator's page, a declined card, then the test card that pays.
    await page.getByTestId('pay-all').click();
    await page.waitForURL(/\/gateway-simulator\/checkout\/sim_cs_/);
    problems.push(...(await judge(page, 'gateway-en')));
    await page.getByLabel('Card number').fill('4000 0000 0000 0002');
    await page.getByLabel('Expiry (MM/YY)').fill('12/34');
    await page.getByLabel('CVC').fill('123');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByText('Your card was declined. Try another card.').waitFor();
    await page.getByLabel('Card number').fill('4242 4242 4242 4242');
    await page.getByLabel('Expiry (MM/YY)').fill('12/34');
    await page.getByLabel('CVC').fill('123');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.waitForURL(/\/portal\?checkout=.+&result=paid/);
    await page.getByTestId('checkout-return').getByText('Thank you! Your payment was received.').waitFor();
    await page.getByTestId('portal-next').filter({ hasText: 'Nothing is due. Thank you!' }).waitFor();
    const after = (await guardianApi.get('/portal/me')).json<{ family: { balance: { owed: number } } }>();
    assert.equal(after.family.balance.owed, 0);
    problems.push(...(await judge(page, 'paid-en')));
    // The family's statement, as a PDF download.
    const [statement] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-statement').click()]);
    assert.match(statement.suggestedFilename(), /\.pdf$/);
    const bytes = await readFile(await statement.path());
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
    // The card payment's receipt heads the receipts list, and downloads.
    const newest = page.getByTestId('portal-receipts').getByRole('listitem').first();
    await newest.filter({ hasText: 'Card' }).waitFor();
    const [receipt] = await Promise.all([page.waitForEvent('download'), newest.getByRole('button', { name: /^PDF \(receipt / }).click()]);
    assert.equal((await readFile(await receipt.path())).subarray(0, 5).toString('latin1'), '%PDF-');
    await page.setViewportSize(DESKTOP);
    problems.push(...(await judge(page, 'paid-en-desktop')));
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  });

  test('a pay link from a reminder opens a no-login page with the school, the invoice number and the amount only', async () => {
    const root = await apiAs(t, 'super.admin');
    const outbox = (await root.get('/outbox?limit=100')).json<{ data: { body: string }[] }>().data;
    const anonymous = client(t.app, null);
    let found: { path: string; view: { schoolName: string; invoiceNumber: string; amountDue: number; currency: string } } | undefined;
    for (const message of outbox) {
      const url = message.body.match(/https?:\/\/\S+\/pay\/([A-Za-z0-9_-]{50})/);
      if (!url?.[1]) {
        continue;
      }
      const view = await anonymous.get(`/pay-links/${url[1]}`);
      if (view.statusCode === 200 && view.json<{ status: string }>().status === 'open') {
        found = { path: `/pay/${url[1]}`, view: view.json() };
        break;
      }
    }
    assert.ok(found, 'a reminder with an open invoice in the demo outbox');
    const context = await web.newContext({ viewport: PHONE, bypassCSP: true, locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(found.path);
    await page.getByRole('heading', { name: `Invoice ${found.view.invoiceNumber}` }).waitFor();
    await page.getByTestId('pay-link').getByText(found.view.schoolName).waitFor();
    // The demo's currencies (MXN, COP, USD) all have two decimals.
    const decimals = 2;
    const region = { MXN: 'MX', COP: 'CO', USD: 'US' }[found.view.currency] ?? 'US';
    const amount = new Intl.NumberFormat(`en-${region}`, { style: 'currency', currency: found.view.currency, minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(found.view.amountDue / 100);
    await page.getByTestId('pay-amount').filter({ hasText: amount }).waitFor();
    // Nothing else: no student, no family, no sign-out (no session).
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    const problems = await judge(page, 'pay-link-en');

    // The Pay button: the gateway's page, the test card, and back to the link, which now says paid.
    await page.getByTestId('pay-link-pay').click();
    await page.waitForURL(/\/gateway-simulator\/checkout\/sim_cs_/);
    await page.getByLabel('Card number').fill('4242424242424242');
    await page.getByLabel('Expiry (MM/YY)').fill('01/31');
    await page.getByLabel('CVC').fill('999');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.waitForURL(new RegExp(`${found.path}\\?checkout=.+&result=paid`));
    await page.getByText('This invoice is paid. Thank you!').waitFor();
    problems.push(...(await judge(page, 'pay-link-paid-en')));

    await page.goto(`${found.path.slice(0, -3)}AAA`);
    await page.getByTestId('pay-link-error').waitFor();
    assert.deepEqual(problems, []);
    assert.deepEqual(errors.filter((e) => !/404/.test(e)), []);
  });

  test('staff who open /portal are pointed to the dashboard', async () => {
    const { page, errors } = await signIn(web, 'school.admin');
    await page.goto('/portal');
    await page.getByTestId('portal-staff').waitFor();
    assert.deepEqual(errors, []);
  });
});

async function schoolOf(api: Awaited<ReturnType<typeof apiAs>>, name: string): Promise<string> {
  const school = (await api.get('/schools?limit=100')).json<{ data: { id: string; name: string }[] }>().data.find((s) => s.name === name);
  assert.ok(school);
  return school.id;
}
