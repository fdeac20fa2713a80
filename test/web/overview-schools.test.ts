import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { bearer, login, type TestApp } from '../helpers/app.js';
import { browserUnavailable, judge as judgeIn, PHONE, SCREENSHOTS, settle, signIn, startDemoWebSession, type WebSession } from './browser.js';

/**
 * The Overview's "By school" card over more schools than one page: the demo data plus
 * 60 more schools with an invoice each. The first page is the 50 largest outstanding;
 * Load more brings the rest, each school once, and moves focus to the first new row;
 * the count says how many there are. In English and in Spanish, at 1440 and 390 px.
 */
const skip = browserUnavailable();
const SHOTS = path.join(SCREENSHOTS, 'overview-schools');

describe('web: the Overview’s schools, a page at a time', { skip: skip ?? false }, () => {
  let web: WebSession;
  let t: TestApp;
  let schools = 0;

  before(async () => {
    web = await startDemoWebSession();
    ({ t } = web);
    // 60 small schools, school N owing N × 1 000 pesos, so the order is known.
    await sql`
      with s as (
        insert into schools (name, currency, timezone)
        select 'Escuela ' || lpad(n::text, 2, '0'), 'MXN', 'America/Mexico_City' from generate_series(1, 60) n
        returning id, name
      ), st as (
        insert into students (school_id, first_name, last_name, grade)
        select id, 'Ana', 'Prueba', '1' from s
        returning id, school_id
      )
      insert into invoices (school_id, student_id, number, amount, due_date, description)
      select st.school_id, st.id, 'PG-' || substr(s.name, 9), substr(s.name, 9)::int * 100_000, current_date + 30, 'Colegiatura'
        from st join s on s.id = st.school_id`.execute(t.db);
    schools = Number((await sql<{ n: number }>`select count(*)::int as n from schools where deleted_at is null`.execute(t.db)).rows[0]?.n);
  });
  after(() => web?.close());

  test('50 schools first, largest outstanding first; Load more brings the rest once each and focuses the first new one', async () => {
    const { page, errors } = await signIn(web, 'super.admin');
    await page.goto('/');
    await settle(page);
    const card = page.getByTestId('by-school');
    const links = card.getByRole('link');
    assert.equal(await links.count(), 50);
    const first = (await links.allInnerTexts()).map((name) => name.trim());
    assert.equal(new Set(first).size, 50);
    await card.getByTestId('load-more-count').filter({ hasText: `Showing 50 of ${schools} schools` }).waitFor();
    const problems = await judgeIn(page, 'overview-schools-first-page', SHOTS);

    await card.getByRole('button', { name: 'Load more' }).click();
    await card.getByTestId('load-more-count').filter({ hasText: `Showing ${schools} of ${schools} schools` }).waitFor();
    const all = (await links.allInnerTexts()).map((name) => name.trim());
    assert.equal(all.length, schools);
    assert.equal(new Set(all).size, schools, 'each school once');
    assert.deepEqual(all.slice(0, 50), first);
    assert.equal(await card.getByRole('button', { name: 'Load more' }).count(), 0, 'no more pages');
    const focused = await page.evaluate<string>("document.activeElement?.textContent ?? ''");
    assert.ok(focused.includes(all[50] ?? '\u0000'), `focus on the first new school (${all[50]}), not "${focused.slice(0, 60)}"`);
    // The API's order: largest outstanding first.
    const token = (await login(t.app, 'super.admin')).accessToken;
    const api = (await t.app.inject({ method: 'GET', url: '/api/v1/reports/dashboard?schoolsLimit=200', headers: bearer(token) })).json<{
      bySchool: { schoolName: string; amountOutstanding: number }[];
    }>();
    assert.deepEqual(all, api.bySchool.map((row) => row.schoolName));
    assert.deepEqual(errors, []);
    assert.deepEqual(problems, []);
  });

  test('in Spanish on a phone: the count and the button in Spanish', async () => {
    const { page, errors } = await signIn(web, 'super.admin');
    await page.getByTestId('language-switch').locator('button[lang="es"]').click();
    await page.getByRole('button', { name: 'Cerrar sesión' }).waitFor();
    await page.setViewportSize(PHONE);
    await settle(page);
    const card = page.getByTestId('by-school');
    await card.getByTestId('load-more-count').filter({ hasText: `Mostrando 50 de ${schools} escuelas` }).waitFor();
    await card.getByRole('button', { name: 'Cargar más' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'overview-schools-es-390.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
