import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { daysBetween, formatMoney } from '../../src/modules/assistant/format.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { formatReport, verifyRollups } from '../../src/modules/reporting/rollups.js';
import { DAY_MS } from '../../src/modules/simulator/demo-plan.js';
import { httpPortalClient, loopbackBase, payTokenIn } from '../../src/modules/simulator/portal-client.js';
import { formatSummary, SimulateError, simulateSchoolYear, type SchoolYearSummary } from '../../src/modules/simulator/school-year.js';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { todayIn } from '../../src/shared/time.js';
import { parseSimulateArgs } from '../../src/simulate.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, login, PASSWORD, type TestApp } from '../helpers/app.js';
import { snapshot } from './helpers.js';

/**
 * Issue 17 part 7: `bursar simulate` runs the demo schools' days on a virtual clock —
 * bill runs, late fees, reminders, families paying (some online, through the pay-link,
 * checkout, hosted-page and webhook routes over HTTP, some answering a reminder) — and
 * leaves a person's school alone. The clock starts today, so everything it writes is
 * dated in the future: the services read the virtual clock, not the machine's.
 */
describe('bursar simulate: a school year on a virtual clock', () => {
  let t: TestApp;
  let admin: Client;
  let clock: VirtualClock;
  let summary: SchoolYearSummary;
  const log = pino({ level: 'silent' });
  const START = Date.now();
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const THROUGH = day(START + 34 * DAY_MS);
  const mine = { school: '', invoice: '' };
  let untouched: unknown;

  const run = (options: { through: string; schools?: string[] }) =>
    simulateSchoolYear({
      db: t.db,
      clock,
      through: options.through,
      ...(options.schools ? { schools: options.schools } : {}),
      portal: httpPortalClient(() => loopbackBase(t.app)),
      reminders: { sending: new Set(), publicUrl: t.config.publicUrl },
      fromHour: 6,
      log,
      seed: 17,
    });

  before(async () => {
    clock = new VirtualClock(START);
    t = await createTestApp({ clock, env: { GATEWAY: 'simulator' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    await seedDemoData(t.db, { password: PASSWORD, now: new Date(START) });
    admin = client(t.app, (await login(t.app, 'super.admin')).accessToken);

    // A person's school: an overdue bill and a late-fee policy. No day of it may run.
    const school = await admin.post('/schools', { name: 'Escuela Real', currency: 'MXN' });
    assert.equal(school.statusCode, 201, school.body);
    mine.school = school.json<{ id: string }>().id;
    const student = await admin.post('/students', { schoolId: mine.school, firstName: 'Rosa', lastName: 'Vega', grade: '4' });
    assert.equal(student.statusCode, 201, student.body);
    const invoice = await admin.post('/invoices', { studentId: student.json<{ id: string }>().id, amount: 300_000, dueDate: day(START - 20 * DAY_MS) });
    assert.equal(invoice.statusCode, 201, invoice.body);
    mine.invoice = invoice.json<{ id: string }>().id;
    const policy = await admin.put(`/schools/${mine.school}/late-fee-policy`, { kind: 'fixed', value: 20_000, graceDays: 0 });
    assert.equal(policy.statusCode, 200, policy.body);
    untouched = await snapshot(t.db, [mine.school], [mine.invoice]);

    summary = await run({ through: THROUGH });
  });

  after(async () => {
    await t?.close();
  });

  test('every demo school lives every day once: bills, late fees, reminders on all three channels, payments', async () => {
    // Each school's days from its local today (the Americas are behind UTC) through THROUGH, each run once.
    const firstDays = summary.schools.map((school) => todayIn(school.timezone, new Date(START)));
    assert.equal(summary.from, [...firstDays].sort()[0]);
    assert.equal(summary.through, THROUGH);
    assert.equal(summary.days, daysBetween(summary.from, THROUGH) + 1);
    assert.ok(summary.days >= 35 && summary.days <= 36);
    assert.deepEqual(summary.schools.map((school) => school.currency).sort(), ['COP', 'MXN', 'USD']);
    const { rows } = await sql<{ school: string; days: number; min: string; max: string; repeated: number }>`
      select school_id as school, count(*)::int as days, min(day)::text as min, max(day)::text as max, count(*) filter (where runs > 1)::int as repeated
        from collection_runs where school_id = any(${summary.schools.map((school) => school.id)}::uuid[])
       group by school_id`.execute(t.db);
    assert.equal(rows.length, 3);
    for (const [index, school] of summary.schools.entries()) {
      const row = rows.find((r) => r.school === school.id);
      const first = firstDays[index] as string;
      assert.deepEqual(row && [row.days, row.min, row.max, row.repeated], [daysBetween(first, THROUGH) + 1, first, THROUGH, 0], school.name);
    }
    assert.equal(summary.collections.runs, rows.reduce((sum, row) => sum + row.days, 0));
    for (const [currency, money] of Object.entries(summary.money)) {
      assert.ok(money.billed > 0, `${currency} billed`);
      assert.ok(money.collected > 0, `${currency} collected`);
      assert.ok(money.lateFees > 0, `${currency} late fees`);
      assert.ok(money.outstanding.days1to30 > 0 && money.outstanding.notDue > 0, `${currency} outstanding by age: ${JSON.stringify(money.outstanding)}`);
    }
    for (const channel of ['email', 'sms', 'whatsapp']) {
      const statuses = summary.reminders[channel] ?? {};
      assert.ok((statuses.outbox ?? 0) > 0, `${channel} reminders in the outbox: ${JSON.stringify(summary.reminders)}`);
      assert.deepEqual(Object.keys(statuses), ['outbox'], 'simulated reminders are never sent');
    }
    const families = summary.families;
    assert.ok(families.payments > 100 && families.familyPayments > 0 && families.invoices > 0, JSON.stringify(families));
    assert.ok(families.online > 0 && families.afterReminder > 0 && families.afterReminder <= families.online, JSON.stringify(families));
    assert.equal(families.errors, 0);
  });

  test('online payments went through the gateway and were dated by the virtual clock', async () => {
    const { rows } = await sql<{ n: number; later: number; reminders: number }>`
      select count(*)::int as n,
             count(*) filter (where p.paid_at > ${new Date(START + 2 * DAY_MS)})::int as later,
             count(*) filter (where c.via = 'pay_link')::int as reminders
        from gateway_payments g
        join payments p on p.school_id = g.school_id and p.id = g.payment_id
        left join checkout_sessions c on c.school_id = g.school_id and c.id = g.checkout_id
       where g.outcome = 'succeeded'`.execute(t.db);
    const row = rows[0];
    assert.ok(row !== undefined && row.n === summary.families.online, `gateway payments ${JSON.stringify(row)} vs ${summary.families.online} online`);
    assert.ok(row.later > 0, 'payments dated after the machine’s today');
    assert.equal(row.reminders, row.n, 'every online payment came through a pay link');
    // Late fees stop once the bill is paid: no paid bill keeps an open late fee the simulator left.
    const dangling = await sql<{ n: number }>`
      select count(*)::int as n from invoices f join invoices i on i.school_id = f.school_id and i.id = f.related_invoice_id
       where f.kind = 'late_fee' and f.paid_amount = 0 and f.cancelled_at is null and i.paid_amount = i.amount and i.touched_by_person_at is null
         and exists (select 1 from payments p where p.school_id = i.school_id and p.invoice_id = i.id and p.paid_at > ${new Date(START)})
         and not exists (select 1 from students s join demo_students d on d.school_id = s.school_id and d.student_id = s.id
                          where s.id = i.student_id and d.behaviour in ('partial', 'never'))`.execute(t.db);
    assert.equal(dangling.rows[0]?.n, 0);
  });

  test('the ledger and the rollups still balance', async () => {
    const ledger = await verifyLedgerInvariant(t.db);
    assert.ok(ledger.ok, formatLedgerInvariantReport(ledger));
    const rollups = await verifyRollups(t.db);
    assert.ok(rollups.ok, formatReport(rollups));
  });

  test('a person’s school is never touched, and cannot be chosen', async () => {
    assert.deepEqual(await snapshot(t.db, [mine.school], [mine.invoice]), untouched);
    const runs = await t.db.selectFrom('collection_runs').select('day').where('school_id', '=', mine.school).execute();
    assert.deepEqual(runs, []);
    await assert.rejects(run({ through: day(START + 40 * DAY_MS), schools: [mine.school] }), (error: unknown) => error instanceof SimulateError && /not a demo school/.test(error.message));
    await assert.rejects(run({ through: day(START + 40 * DAY_MS), schools: ['Escuela Real'] }), (error: unknown) => error instanceof SimulateError && /not a demo school/.test(error.message));
  });

  test('a second run continues after the last day run, for the chosen school only; an earlier date is refused', async () => {
    await assert.rejects(run({ through: THROUGH }), (error: unknown) => error instanceof SimulateError && error.message.includes(`through ${THROUGH}`));
    const lincoln = summary.schools.find((school) => school.currency === 'USD');
    assert.ok(lincoln);
    const next = await run({ through: day(Date.parse(`${THROUGH}T00:00:00Z`) + 3 * DAY_MS), schools: ['Lincoln Bilingual School'] });
    assert.equal(next.from, day(Date.parse(`${THROUGH}T00:00:00Z`) + DAY_MS));
    assert.deepEqual(next.schools.map((school) => school.id), [lincoln.id]);
    assert.deepEqual(Object.keys(next.money), ['USD']);
    const later = await t.db.selectFrom('collection_runs').select(['school_id']).where('day', '>', THROUGH).execute();
    assert.deepEqual(new Set(later.map((row) => row.school_id)), new Set([lincoln.id]));
    assert.equal(later.length, 3);
  });

  test('the summary reads in Spanish and English, money in currency units', () => {
    const es = formatSummary(summary, 'es');
    const en = formatSummary(summary, 'en');
    const mxn = summary.money.MXN;
    assert.ok(mxn);
    assert.ok(es.includes('Cobrado') && es.includes(formatMoney(mxn.collected, 'MXN', 'es')), es);
    assert.ok(en.includes('Collected') && en.includes(formatMoney(mxn.collected, 'MXN', 'en')), en);
    assert.match(en, /Reminders: e-mail \d+ \(\d+ in the outbox\); SMS \d+/);
    assert.match(es, /más de 90 días vencido/);
    assert.doesNotMatch(en, /-[^\d\s]*\s?0\.00(?!\d)/, 'no negative zero');
  });
});

describe('bursar simulate: the command line', () => {
  test('--through is required and must be a date; options are checked', () => {
    const bad = (args: string[], pattern: RegExp) => assert.throws(() => parseSimulateArgs(args, {}), (error: unknown) => error instanceof SimulateError && pattern.test(error.message));
    bad([], /--through YYYY-MM-DD is required/);
    bad(['--through', '2027-13-01'], /--through 2027-13-01: not a date/);
    bad(['--through', '2027-02-30'], /not a date/);
    bad(['--through', '2027-02-01', '--language', 'fr'], /--language fr: es or en/);
    bad(['--through', '2027-02-01', '--seed', 'x'], /--seed x/);
    bad(['--through', '2027-02-01', '--bogus'], /bogus/);
    bad(['2027-02-01'], /positional|argument/i);
  });

  test('options are read as given; the language falls back to LANG', () => {
    assert.equal(parseSimulateArgs(['--help'], {}), 'help');
    assert.deepEqual(parseSimulateArgs(['--through', '2027-06-30', '--school', 'A', '--school', ' B ', '--seed', '42', '--json'], { LANG: 'es_MX.UTF-8' }), {
      through: '2027-06-30',
      schools: ['A', 'B'],
      language: 'es',
      json: true,
      seed: 42,
    });
    const plain = parseSimulateArgs(['--through', '2027-06-30'], { LANG: 'C.UTF-8' });
    assert.ok(plain !== 'help' && plain.language === 'en' && plain.schools === undefined && plain.seed === undefined && !plain.json);
  });

  test('a pay link is found in a reminder’s text', () => {
    const token = 'A'.repeat(25) + '-_' + 'b'.repeat(23);
    assert.equal(payTokenIn(`Pague aquí: https://bursar.example/pay/${token} antes del 10`), token);
    assert.equal(payTokenIn('no link here'), undefined);
    assert.equal(payTokenIn(`https://x/pay/${token}X`), undefined);
  });
});
