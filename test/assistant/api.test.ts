import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { ChatAnswer, CollectionMessage, ExecutiveSummary, RiskAnalysis } from '../../src/modules/assistant/assistant.schemas.js';
import { todayIn } from '../../src/shared/time.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { assertNoNames, insertLatePayer, localDay } from './helpers.js';

/**
 * The assistant over HTTP with no LLM configured (the rule engine), on the billing
 * fixture (Colegio Alfa in MXN: Ana, Beto; Beta Academy in USD: Carla, Dora) plus a
 * student with a hand-built late-payment history in Colegio Alfa. Answers are checked
 * against values worked out by hand and against independent SQL over the raw tables.
 */
const CLEAR_NAMES = ['Ana', 'Alvarez', 'Beto', 'Bravo', 'Carla', 'Cruz', 'Dora', 'Diaz', 'Lucia', 'Tardanza'];

describe('assistant (rule engine)', () => {
  let t: TestApp;
  let fx: BillingFixture;
  let latePayer: string;
  const tokens: Record<string, string> = {};

  const post = (user: string, url: string, payload: unknown = {}) =>
    t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: bearer(tokens[user] ?? ''), payload: payload as Record<string, unknown> });
  const ok = async <T>(user: string, url: string, payload: unknown = {}): Promise<T> => {
    const response = await post(user, url, payload);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<T>();
  };
  const chat = (user: string, message: string) => ok<ChatAnswer>(user, '/assistant/chat', { message });

  before(async () => {
    t = await createTestApp({ env: { ASSISTANT_RATE_LIMIT_PER_MINUTE: '10000' } });
    fx = await seedBillingFixture(t.db);
    latePayer = await insertLatePayer(t.db, fx.schoolA);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin-a', role: 'school_admin', schoolIds: [fx.schoolA] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    for (const name of ['root', 'admin-a', 'analyst', 'dev']) {
      tokens[name] = (await login(t.app, name)).accessToken;
    }
  });
  after(() => t.close());

  test('status: the rule engine, no model, the configured rate limit', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/api/v1/assistant/status', headers: bearer(tokens.root ?? '') });
    assert.equal(response.statusCode, 200);
    const status = response.json<{ provider: string; model: string | null; baseUrlHost: string | null; healthy: boolean; rateLimitPerMinute: number; tools: string[] }>();
    assert.equal(status.provider, 'rules');
    assert.equal(status.model, null);
    assert.equal(status.baseUrlHost, null);
    assert.equal(status.healthy, true);
    assert.equal(status.rateLimitPerMinute, 10_000);
    assert.ok(status.tools.includes('top_debtors'));
    // Every assistant route is documented in the OpenAPI document, with its policy.
    const openapi = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    for (const path of ['/assistant/status', '/assistant/students', '/assistant/risk/{studentId}', '/assistant/collection-message', '/assistant/collection-message/{studentId}', '/assistant/chat', '/assistant/executive-summary']) {
      assert.ok(openapi.paths[`/api/v1${path}`], path);
    }
    assert.ok(t.app.routePolicies.filter((route) => route.url.startsWith('/api/v1/assistant/')).every((route) => route.policy === 'assistant:use'));
  });

  test('risk of the hand-built late payer: the same factors as computed by hand, from the database', async () => {
    const risk = await ok<RiskAnalysis>('root', `/assistant/risk/${latePayer}`);
    assert.equal(risk.generatedBy, 'rules');
    assert.equal(risk.fallbackReason, undefined);
    assert.equal(risk.studentName, 'Lucia Tardanza');
    assert.equal(risk.currency, 'MXN');
    assert.deepEqual(Object.fromEntries(risk.riskFactors.map((f) => [f.code, f.points])), {
      LATE_SHARE: 24,
      LATE_DEPTH: 15,
      OVERDUE_AMOUNT: 20,
      PARTIAL_PAYMENTS: 5,
      OUTSTANDING: 2,
      TREND: 5,
      TENURE: 5,
    });
    assert.equal(risk.riskScore, 76);
    assert.equal(risk.riskLevel, 'HIGH');
    assert.equal(risk.predictedPaymentProbability, 0.26);
    assert.equal(risk.metrics.overdueAmount, 160_000);
    assert.equal(risk.metrics.outstandingAmount, 260_000);
    assert.equal(risk.metrics.oldestOverdueDueDate, localDay(-66));
    // The bill paid in two halves was settled by the second one, 30 days late.
    assert.equal(risk.metrics.maxDaysLate, 66);
    assert.equal(risk.metrics.averageDaysLate, 36.8);
    assert.equal(risk.suggestedTone, 'final_notice');
  });

  test('risk of a good payer with one bill overdue (Ana), in Spanish', async () => {
    const risk = await ok<RiskAnalysis>('root', `/assistant/risk/${fx.students.anaA}`, { language: 'es' });
    // Matured: the paid bill (paid 5 and 1 days early → on time) and the overdue one → late 1/2 → 15 points;
    // 40 days late → 15; overdue 3 000 of an average bill of 7 500 = 0.4 → 5; partly paid → 5; tenure 0 days → 5.
    assert.deepEqual(Object.fromEntries(risk.riskFactors.map((f) => [f.code, f.points])), {
      LATE_SHARE: 15,
      LATE_DEPTH: 15,
      OVERDUE_AMOUNT: 5,
      PARTIAL_PAYMENTS: 5,
      OUTSTANDING: 0,
      TREND: 0,
      TENURE: 5,
    });
    assert.equal(risk.riskScore, 45);
    assert.equal(risk.riskLevel, 'MEDIUM');
    assert.equal(risk.language, 'es');
    assert.match(risk.summary, /Ana Alvarez \(Colegio Alfa\) tiene riesgo MEDIUM, 45\/100/);
    assert.match(risk.summary, /\$30\.00 vencidos/);
  });

  test('collection messages from the database: amounts, currency and dates in both languages; SMS within 160', async () => {
    const es = await ok<CollectionMessage>('root', `/assistant/collection-message/${latePayer}`, { channel: 'email', language: 'es', tone: 'firm' });
    assert.equal(es.studentId, latePayer);
    assert.equal(es.currency, 'MXN');
    assert.deepEqual(es.amounts, { outstanding: 260_000, overdue: 160_000, formattedOutstanding: '$2,600.00', formattedOverdue: '$1,600.00' });
    assert.deepEqual(es.dueDates, { oldestOverdue: localDay(-66), nextDue: localDay(25), payBy: localDay(7) });
    assert.match(es.subject ?? '', /Saldo vencido de \$1,600\.00 de Lucia Tardanza/);
    const longDay = (day: string, locale: string) => new Intl.DateTimeFormat(locale, { timeZone: 'UTC', dateStyle: 'long' }).format(new Date(`${day}T00:00:00Z`));
    assert.ok(es.body.includes(`desde el ${longDay(localDay(-66), 'es-MX')}`), es.body);
    assert.ok(es.body.includes(`a más tardar el ${longDay(localDay(7), 'es-MX')}`), es.body);

    const en = await ok<CollectionMessage>('root', '/assistant/collection-message', { studentId: fx.students.carla, channel: 'email', language: 'en', tone: 'friendly' });
    // Carla: 20 000 USD cents overdue since the fixture's past date (New York).
    assert.equal(en.currency, 'USD');
    assert.equal(en.amounts.formattedOverdue, '$200.00');
    assert.ok(en.body.includes(`$200.00 for Carla Cruz has been overdue since ${longDay(fx.past, 'en-US')}`), en.body);

    for (const language of ['es', 'en'] as const) {
      for (const tone of ['friendly', 'firm', 'final_notice'] as const) {
        const sms = await ok<CollectionMessage>('root', `/assistant/collection-message/${latePayer}`, { channel: 'sms', language, tone });
        assert.equal(sms.smsEncoding, 'GSM-7');
        assert.ok((sms.smsUnits ?? 999) <= 160, sms.body);
        assert.equal(sms.segments, 1);
        assert.ok(sms.body.includes(language === 'es' ? '$1,600.00' : 'MX$1,600.00'), sms.body);
      }
    }
  });

  test('collection message from explicit fields, and its validation', async () => {
    const message = await ok<CollectionMessage>('root', '/assistant/collection-message', {
      studentName: 'Pedro Páramo',
      schoolName: 'Colegio Comala',
      amount: 250_050,
      currency: 'COP',
      dueDate: '2099-01-31',
      channel: 'whatsapp',
      language: 'es',
      tone: 'friendly',
    });
    assert.equal(message.studentId, null);
    assert.match(message.body, /Pedro Páramo tiene un pago de \*\$ 2\.500,50\* que vence el 31 ene 2099/);
    const missing = await post('root', '/assistant/collection-message', { studentName: 'X', channel: 'sms' });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(problemOf(missing).errors?.map((e) => e.field), ['amount', 'currency', 'dueDate']);
    const badChannel = await post('root', '/assistant/collection-message', { studentId: fx.students.anaA, channel: 'fax' });
    assert.equal(badChannel.statusCode, 400);
    // The all-optional bodies may be left out entirely.
    const noBody = await t.app.inject({ method: 'POST', url: `/api/v1/assistant/collection-message/${fx.students.anaA}`, headers: bearer(tokens.root ?? '') });
    assert.equal(noBody.statusCode, 200, noBody.body);
    assert.equal(noBody.json<CollectionMessage>().channel, 'email');
    for (const url of [`/assistant/risk/${fx.students.anaA}`, '/assistant/executive-summary']) {
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: bearer(tokens.root ?? '') })).statusCode, 200, url);
    }
    assert.equal(noBody.json<CollectionMessage>().nothingToCollect, false);
    assert.equal(noBody.json<CollectionMessage>().note, null);
  });

  test('collection message for a student who owes nothing: a friendly 200 that says so in the asked language, with nothing to send', async () => {
    // Dora (Beta Academy, USD) has paid her only bill.
    const es = await ok<CollectionMessage>('root', `/assistant/collection-message/${fx.students.dora}`, {});
    assert.equal(es.nothingToCollect, true);
    assert.equal(es.note, 'Dora Diaz (Beta Academy) no debe nada: no tiene facturas pendientes.');
    assert.equal(es.language, 'es');
    assert.equal(es.body, '');
    assert.equal(es.subject, null);
    assert.equal(es.characters, 0);
    assert.equal(es.studentId, fx.students.dora);
    assert.equal(es.currency, 'USD');
    assert.deepEqual([es.amounts.outstanding, es.amounts.overdue], [0, 0]);
    assert.match(es.amounts.formattedOutstanding, /^\$0\.00$/);
    assert.deepEqual(es.dueDates, { oldestOverdue: null, nextDue: null, payBy: null });
    assert.equal(es.generatedBy, 'rules');

    const en = await ok<CollectionMessage>('root', '/assistant/collection-message', { studentId: fx.students.dora, channel: 'sms', language: 'en', tone: 'firm' });
    assert.equal(en.nothingToCollect, true);
    assert.equal(en.note, 'Dora Diaz (Beta Academy) owes nothing: no open bills.');
    assert.deepEqual([en.channel, en.tone, en.body, en.segments, en.smsUnits], ['sms', 'firm', '', null, null]);
    assert.equal(en.amounts.formattedOutstanding, '$0.00');

    // A masked role reads initials in the note too.
    const masked = await ok<CollectionMessage>('analyst', `/assistant/collection-message/${fx.students.dora}`, { language: 'en' });
    assert.equal(masked.note, 'D. D. (Beta Academy) owes nothing: no open bills.');
    assertNoNames(JSON.stringify(masked), CLEAR_NAMES, 'the nothing-to-collect answer');
  });

  test('chat: how much does a student owe, in English and Spanish, equals SQL', async () => {
    const owed = await sql<{ total: number; overdue: number }>`
      select sum(amount - paid_amount)::bigint as total,
             coalesce(sum(amount - paid_amount) filter (where due_date < (now() at time zone 'America/Mexico_City')::date), 0)::bigint as overdue
        from invoices where student_id = ${latePayer} and cancelled_at is null`.execute(t.db);
    assert.equal(owed.rows[0]?.total, 260_000);
    const en = await chat('root', 'How much does Lucia Tardanza owe?');
    assert.equal(en.intent, 'STUDENT_BALANCE');
    assert.equal(en.language, 'en');
    assert.match(en.answer, /Lucia Tardanza \(Colegio Alfa\) owes MX\$2,600\.00 in 3 open bill\(s\), of which MX\$1,600\.00 is overdue/);
    const data = en.data as { result: { outstanding: number; overdue: number } }[];
    assert.equal(data[0]?.result.outstanding, owed.rows[0]?.total);
    assert.equal(data[0]?.result.overdue, owed.rows[0]?.overdue);
    const es = await chat('root', '¿Cuánto debe lucia tardanza?');
    assert.equal(es.language, 'es');
    assert.match(es.answer, /Lucia Tardanza \(Colegio Alfa\) debe \$2,600\.00 en 3 factura\(s\) pendiente\(s\), de los cuales \$1,600\.00 están vencidos/);
    const unknown = await chat('root', 'How much does Nobody Atall owe?');
    assert.match(unknown.answer, /no such student/);
  });

  test('chat: who is overdue in a school, equals SQL', async () => {
    const rows = await sql<{ id: string; overdue: number }>`
      select st.id, sum(i.amount - i.paid_amount)::bigint as overdue
        from invoices i join students st on st.id = i.student_id join schools sc on sc.id = i.school_id
       where sc.id = ${fx.schoolA} and i.cancelled_at is null and i.paid_amount < i.amount
         and i.due_date < (now() at time zone sc.timezone)::date
       group by st.id order by overdue desc`.execute(t.db);
    const answer = await chat('root', 'Who is overdue in school Colegio Alfa?');
    assert.equal(answer.intent, 'OVERDUE_IN_SCHOOL');
    const result = (answer.data as { result: { studentCount: number; overdueAmount: number; students: { studentId: string; overdue: number }[] } }[])[0]?.result;
    assert.equal(result?.studentCount, rows.rows.length);
    assert.equal(result?.overdueAmount, rows.rows.reduce((sum, row) => sum + row.overdue, 0));
    assert.deepEqual(result?.students.map((s) => [s.studentId, s.overdue]), rows.rows.map((row) => [row.id, row.overdue]));
    assert.match(answer.answer, /2 student\(s\) are overdue in Colegio Alfa, MX\$1,630\.00 in 3 bill\(s\)/);
    const es = await chat('root', '¿Quién tiene pagos vencidos en el colegio Alfa?');
    assert.match(es.answer, /2 alumno\(s\) tienen pagos vencidos en Colegio Alfa/);
  });

  test('chat: top debtors per currency, equals SQL', async () => {
    const rows = await sql<{ id: string; currency: string; balance: number }>`
      select st.id, sc.currency::text as currency, sum(i.amount - i.paid_amount)::bigint as balance
        from invoices i join students st on st.id = i.student_id join schools sc on sc.id = i.school_id
       where i.cancelled_at is null and i.paid_amount < i.amount
       group by st.id, sc.currency order by sc.currency, balance desc`.execute(t.db);
    const answer = await chat('root', 'top debtors');
    assert.equal(answer.intent, 'TOP_DEBTORS');
    const debtors = (answer.data as { result: { debtors: { studentId: string; currency: string; balance: number }[] } }[])[0]?.result.debtors ?? [];
    assert.deepEqual(
      debtors.map((d) => [d.studentId, d.currency, d.balance]),
      rows.rows.map((row) => [row.id, row.currency, row.balance]),
    );
    assert.match(answer.answer, /MXN:\n1\. Lucia Tardanza \(Colegio Alfa\): MX\$2,600\.00, MX\$1,600\.00 overdue\n2\. Beto Bravo/);
    assert.match(answer.answer, /USD:\n1\. Carla Cruz \(Beta Academy\): \$200\.00/);
  });

  test('chat: collection rate this month and compare schools, equal SQL', async () => {
    const today = todayIn('UTC'); // two schools in different zones: the month is UTC's
    const from = `${today.slice(0, 7)}-01`;
    const due = await sql<{ currency: string; due: number; outstanding: number }>`
      select sc.currency::text as currency, coalesce(sum(i.amount), 0)::bigint as due, coalesce(sum(i.amount - i.paid_amount), 0)::bigint as outstanding
        from invoices i join schools sc on sc.id = i.school_id
       where i.cancelled_at is null and i.due_date >= ${from}::date and i.due_date < (${from}::date + interval '1 month')
       group by sc.currency`.execute(t.db);
    const answer = await chat('root', 'What is the collection rate this month?');
    assert.equal(answer.intent, 'COLLECTION_RATE');
    const result = (answer.data as { result: { month: string; byCurrency: { currency: string; amountDue: number; amountOutstanding: number; collectionRate: number | null }[] } }[])[0]?.result;
    assert.equal(result?.month, today.slice(0, 7));
    for (const row of result?.byCurrency ?? []) {
      const expected = due.rows.find((r) => r.currency === row.currency);
      assert.equal(row.amountDue, expected?.due ?? 0, row.currency);
      assert.equal(row.amountOutstanding, expected?.outstanding ?? 0, row.currency);
      assert.equal(row.collectionRate, expected && expected.due > 0 ? Math.round(((expected.due - expected.outstanding) / expected.due) * 10_000) / 10_000 : null);
    }

    const schools = await sql<{ id: string; rate: string }>`
      select sc.id, round(sum(i.paid_amount - i.credited_amount)::numeric / nullif(sum(i.amount - i.credited_amount), 0), 4)::text as rate
        from invoices i join schools sc on sc.id = i.school_id where i.cancelled_at is null group by sc.id order by 2 desc`.execute(t.db);
    const compare = await chat('root', 'Compare schools');
    const compared = (compare.data as { result: { schools: { schoolId: string; collectionRate: number }[] } }[])[0]?.result.schools ?? [];
    assert.deepEqual(compared.map((s) => [s.schoolId, s.collectionRate]), schools.rows.map((row) => [row.id, Number(row.rate)]));
    assert.match(compare.answer, /1\. Colegio Alfa: /);
  });

  test('chat: anything else gets the list of what can be asked', async () => {
    const answer = await chat('root', 'Tell me a joke');
    assert.equal(answer.intent, 'HELP');
    assert.match(answer.answer, /I can answer questions like/);
    const es = await chat('root', '¿Qué puedes hacer por mí?');
    assert.match(es.answer, /Puedo responder preguntas como/);
  });

  test('executive summary: KPIs equal GET /reports/dashboard for each role and scope', async () => {
    for (const [user, schoolId] of [['root', undefined], ['admin-a', undefined], ['analyst', undefined], ['root', fx.schoolB]] as const) {
      const summary = await ok<ExecutiveSummary>(user, '/assistant/executive-summary', schoolId ? { schoolId } : {});
      const dashboard = await t.app.inject({ method: 'GET', url: `/api/v1/reports/dashboard${schoolId ? `?schoolId=${schoolId}` : ''}`, headers: bearer(tokens[user] ?? '') });
      const report = dashboard.json<{ totals: unknown; totalsByCurrency: unknown }>();
      assert.deepEqual(summary.kpis, { totals: report.totals, totalsByCurrency: report.totalsByCurrency }, `${user} ${schoolId ?? 'all'}`);
      assert.equal(summary.generatedBy, 'rules');
    }
    const root = await ok<ExecutiveSummary>('root', '/assistant/executive-summary', {});
    assert.deepEqual(root.trends.map((trend) => trend.currency), ['MXN', 'USD']);
    // The riskiest student is the hand-built late payer (HIGH, 76).
    assert.equal(root.risks.students[0]?.studentId, latePayer);
    assert.equal(root.risks.students[0]?.riskScore, 76);
    // Beta Academy: 20 000 overdue of 35 000 billed.
    assert.deepEqual(root.risks.schools[0], { schoolId: fx.schoolB, schoolName: 'Beta Academy', currency: 'USD', amountDue: 35_000, amountOverdue: 20_000, overdueShare: 0.5714 });
    assert.ok(root.recommendedActions.some((action) => action.includes('Lucia Tardanza')));
    assert.match(root.narrative, /USD: \$350\.00 billed/);
  });

  test('school_admin: other schools are 404 and never appear in any answer', async () => {
    for (const url of [`/assistant/risk/${fx.students.carla}`, `/assistant/collection-message/${fx.students.carla}`]) {
      const response = await post('admin-a', url, {});
      assert.equal(response.statusCode, 404, url);
      assert.equal(problemOf(response).code, 'NOT_FOUND');
    }
    assert.equal((await post('admin-a', '/assistant/collection-message', { studentId: fx.students.dora })).statusCode, 404);
    assert.equal((await post('admin-a', '/assistant/executive-summary', { schoolId: fx.schoolB })).statusCode, 404);
    // Questions naming another school's student or school: only the caller's own words come back (in args).
    const named = [
      await chat('admin-a', 'How much does Carla Cruz owe?'),
      await chat('admin-a', `How much does ${fx.students.carla} owe?`),
      await chat('admin-a', 'Who is overdue in school Beta Academy?'),
    ];
    const answers = [
      await chat('admin-a', 'top debtors'),
      await chat('admin-a', 'Who is overdue?'),
      await chat('admin-a', 'Compare schools'),
      await chat('admin-a', 'collection rate this month'),
      await ok('admin-a', '/assistant/executive-summary', {}),
      await t.app.inject({ method: 'GET', url: '/api/v1/assistant/students', headers: bearer(tokens['admin-a'] ?? '') }).then((r) => r.json<unknown>()),
    ];
    const text = JSON.stringify(answers) + named.map((answer) => answer.answer).join('\n');
    assertNoNames(text, ['Carla', 'Cruz', 'Dora', 'Diaz', 'Beta Academy', 'USD'], 'school_admin answers');
    assert.ok(!text.includes(fx.students.carla) && !text.includes(fx.students.dora) && !text.includes(fx.schoolB), 'no out-of-scope ids');
    for (const answer of named) {
      assert.deepEqual((answer.data as { result: { found: boolean } }[]).map((d) => d.result.found), [false]);
    }
    assert.match(named[0]?.answer ?? '', /no such student among the schools you can see/);
    assert.match(named[1]?.answer ?? '', /no such student among the schools you can see/);
    assert.match(named[2]?.answer ?? '', /no school by that name among the schools you can see/);
  });

  test('finance_analyst: names are initials in every output, and name lookups are refused', async () => {
    const risk = await ok<RiskAnalysis>('analyst', `/assistant/risk/${latePayer}`);
    assert.equal(risk.studentName, 'L. T.');
    const message = await ok<CollectionMessage>('analyst', `/assistant/collection-message/${latePayer}`, { channel: 'email', language: 'en' });
    assert.match(message.subject ?? '', /for L\. T\./);
    const sms = await ok<CollectionMessage>('analyst', `/assistant/collection-message/${latePayer}`, { channel: 'sms', language: 'es' });
    const explicit = await ok<CollectionMessage>('analyst', '/assistant/collection-message', { studentName: 'Lucia Tardanza', amount: 100, currency: 'MXN', dueDate: '2099-01-01' });
    assert.match(explicit.body, /L\. T\./);
    const byName = await chat('analyst', 'How much does Lucia Tardanza owe?');
    assert.match(byName.answer, /sees student names masked/);
    const byId = await chat('analyst', `How much does ${latePayer} owe?`);
    assert.match(byId.answer, /L\. T\. \(Colegio Alfa\) owes MX\$2,600\.00/);
    const outputs = [
      risk,
      message,
      sms,
      explicit,
      byId,
      await chat('analyst', 'top debtors'),
      await chat('analyst', 'Who is overdue in Colegio Alfa?'),
      await chat('analyst', 'Who is overdue?'),
      await chat('analyst', `What is the risk of ${fx.students.anaA}?`),
      await ok('analyst', '/assistant/executive-summary', {}),
    ];
    const search = await t.app.inject({ method: 'GET', url: '/api/v1/assistant/students?q=Lucia', headers: bearer(tokens.analyst ?? '') });
    assert.equal(search.json<{ matchedBy: string }>().matchedBy, 'balance');
    const text = JSON.stringify(outputs) + search.body + byName.answer;
    // Only the analyst's own question (which we do not echo) had the name.
    assertNoNames(text, CLEAR_NAMES, 'analyst outputs');
    assert.match(JSON.stringify(outputs[5]), /"studentName":"L\. T\."/);
  });

  test('developer: 403 on every assistant route', async () => {
    const routes: [string, string, unknown][] = [
      ['GET', '/assistant/status', undefined],
      ['GET', '/assistant/students', undefined],
      ['POST', `/assistant/risk/${fx.students.anaA}`, {}],
      ['POST', '/assistant/collection-message', { studentId: fx.students.anaA }],
      ['POST', `/assistant/collection-message/${fx.students.anaA}`, {}],
      ['POST', '/assistant/chat', { message: 'top debtors' }],
      ['POST', '/assistant/executive-summary', {}],
    ];
    for (const [method, url, payload] of routes) {
      const response = await t.app.inject({ method: method as 'GET' | 'POST', url: `/api/v1${url}`, headers: bearer(tokens.dev ?? ''), ...(payload ? { payload: payload as Record<string, unknown> } : {}) });
      assert.equal(response.statusCode, 403, url);
      assert.equal(problemOf(response).code, 'FORBIDDEN');
    }
    const anonymous = await t.app.inject({ method: 'POST', url: '/api/v1/assistant/chat', payload: { message: 'hi' } });
    assert.equal(anonymous.statusCode, 401);
  });

  test('student picker: by name for roles that see names', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/api/v1/assistant/students?q=tarda', headers: bearer(tokens['admin-a'] ?? '') });
    assert.equal(response.statusCode, 200);
    const body = response.json<{ matchedBy: string; data: { studentId: string; studentName: string; balance: number }[] }>();
    assert.equal(body.matchedBy, 'name');
    assert.deepEqual(body.data.map((s) => [s.studentId, s.studentName, s.balance]), [[latePayer, 'Lucia Tardanza', 260_000]]);
    // Accents are ignored on both sides.
    const accented = await t.app.inject({ method: 'GET', url: `/api/v1/assistant/students?q=${encodeURIComponent('ÁLVAREZ')}`, headers: bearer(tokens['admin-a'] ?? '') });
    assert.deepEqual(accented.json<{ data: { studentId: string }[] }>().data.map((s) => s.studentId), [fx.students.anaA]);
    const other = await t.app.inject({ method: 'GET', url: '/api/v1/assistant/students?q=Carla', headers: bearer(tokens['admin-a'] ?? '') });
    assert.deepEqual(other.json<{ data: unknown[] }>().data, []);
  });
});

describe('assistant rate limit', () => {
  let t: TestApp;
  let token: string;
  let other: string;
  before(async () => {
    t = await createTestApp({ env: { ASSISTANT_RATE_LIMIT_PER_MINUTE: '3' } });
    await insertUser(t.db, { username: 'busy', role: 'super_admin' });
    await insertUser(t.db, { username: 'calm', role: 'super_admin' });
    token = (await login(t.app, 'busy')).accessToken;
    other = (await login(t.app, 'calm')).accessToken;
  });
  after(() => t.close());

  test('the N+1th generating call of a user in a minute is 429 problem+json, whatever the route; other users and status are unaffected', async () => {
    const call = (auth: string, url: string, payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: `/api/v1/assistant/${url}`, headers: bearer(auth), payload });
    assert.equal((await call(token, 'chat', { message: 'top debtors' })).statusCode, 200);
    assert.equal((await call(token, 'chat', { message: 'compare schools' })).statusCode, 200);
    assert.equal((await call(token, 'executive-summary', {})).statusCode, 200);
    const limited = await call(token, 'chat', { message: 'top debtors' });
    assert.equal(limited.statusCode, 429);
    const problem = problemOf(limited);
    assert.equal(problem.code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await call(token, 'collection-message', { studentName: 'A B', amount: 1, currency: 'MXN', dueDate: '2099-01-01' })).statusCode, 429);
    assert.equal((await call(other, 'chat', { message: 'top debtors' })).statusCode, 200);
    const status = await t.app.inject({ method: 'GET', url: '/api/v1/assistant/status', headers: bearer(token) });
    assert.equal(status.statusCode, 200);
    assert.equal(status.json<{ rateLimitPerMinute: number }>().rateLimitPerMinute, 3);
  });
});
