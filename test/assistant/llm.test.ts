import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ChatAnswer, CollectionMessage, ExecutiveSummary, RiskAnalysis } from '../../src/modules/assistant/assistant.schemas.js';
import { bearer, createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { startFakeLlm, type FakeLlm, type RecordedRequest } from './fake-llm.js';
import { assertNoNames, insertLatePayer } from './helpers.js';

/**
 * The LLM provider against the scripted OpenAI-compatible server of fake-llm.ts: the
 * tool-calling path, what the prompts contain per role (the fake records every request),
 * the output guard, and the fallback to the rule engine on timeout, HTTP 500, malformed
 * and ungrounded output — always with the same response shapes.
 */
const CLEAR_NAMES = ['Ana', 'Alvarez', 'Beto', 'Bravo', 'Carla', 'Cruz', 'Dora', 'Diaz', 'Lucia', 'Tardanza'];
const API_KEY = 'sk-test-key-never-shown';

/** What the app itself put into prompts: system prompts, tool results and JSON task payloads (not the caller's own question, not the model's own tool calls). */
function dataSent(requests: RecordedRequest[]): string {
  return requests
    .flatMap((request) => request.messages.filter((message) => message.role === 'system' || message.role === 'tool' || request.response_format?.type === 'json_object'))
    .map((message) => message.content ?? '')
    .join('\n');
}

describe('assistant with an LLM (fake OpenAI-compatible server)', () => {
  let t: TestApp;
  let fake: FakeLlm;
  let fx: BillingFixture;
  let latePayer: string;
  const tokens: Record<string, string> = {};

  const post = async <T>(user: string, url: string, payload: Record<string, unknown> = {}): Promise<T> => {
    const response = await t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: bearer(tokens[user] ?? ''), payload });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<T>();
  };
  const chat = (user: string, message: string) => post<ChatAnswer>(user, '/assistant/chat', { message });
  const status = async () =>
    (await t.app.inject({ method: 'GET', url: '/api/v1/assistant/status', headers: bearer(tokens.root ?? '') })).json<{
      provider: string;
      model: string;
      baseUrlHost: string;
      healthy: boolean;
      lastError: string | null;
    }>();

  before(async () => {
    fake = await startFakeLlm();
    t = await createTestApp({
      env: { LLM_BASE_URL: fake.baseUrl, LLM_API_KEY: API_KEY, LLM_MODEL: 'fake-model', LLM_TIMEOUT_MS: '400', ASSISTANT_RATE_LIMIT_PER_MINUTE: '10000' },
    });
    fx = await seedBillingFixture(t.db);
    latePayer = await insertLatePayer(t.db, fx.schoolA);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin-a', role: 'school_admin', schoolIds: [fx.schoolA] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    for (const name of ['root', 'admin-a', 'analyst']) {
      tokens[name] = (await login(t.app, name)).accessToken;
    }
  });
  beforeEach(() => fake.reset());
  after(async () => {
    await t?.close();
    await fake?.close();
  });

  test('status names the model and the host, never the key', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/api/v1/assistant/status', headers: bearer(tokens.root ?? '') });
    const body = response.json<{ provider: string; model: string; baseUrlHost: string }>();
    assert.equal(body.provider, 'llm');
    assert.equal(body.model, 'fake-model');
    assert.equal(body.baseUrlHost, new URL(fake.baseUrl).host);
    assert.ok(!response.body.includes(API_KEY));
  });

  test('chat: the model calls a tool, gets scoped data and answers with its numbers', async () => {
    const answer = await chat('root', 'Who are the top debtors?');
    assert.equal(answer.generatedBy, 'llm');
    assert.equal(answer.fallbackReason, undefined);
    assert.equal(answer.intent, 'TOP_DEBTORS');
    assert.deepEqual(answer.sources, ['top_debtors']);
    assert.match(answer.answer, /^\[AI\] Here is what I found/);
    assert.ok(answer.answer.includes('MX$2,600.00'), 'quotes the balance it received');
    const debtors = (answer.data as { tool: string; args: unknown; result: { debtors: { studentId: string }[] } }[])[0];
    assert.deepEqual(debtors?.args, { limit: 3 });
    assert.equal(debtors?.result.debtors[0]?.studentId, latePayer);
    // Two completions: the tool call, then the answer from the tool result.
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[0]?.authorization, `Bearer ${API_KEY}`);
    assert.equal(fake.requests[0]?.model, 'fake-model');
    assert.ok(fake.requests[0]?.tools?.some((tool) => tool.function.name === 'top_debtors'));
    assert.equal(fake.requests[1]?.messages.at(-1)?.role, 'tool');
  });

  test('school_admin: prompts and answers never contain another school or its students', async () => {
    const outputs = [
      await chat('admin-a', 'top debtors'),
      await chat('admin-a', 'compare schools'),
      await chat('admin-a', 'collection rate'),
      await chat('admin-a', `How much does ${fx.students.carla} owe?`),
      await chat('admin-a', 'Who is overdue in school Beta Academy?'),
      await chat('admin-a', `What is the risk of ${fx.students.dora}?`),
      await post('admin-a', `/assistant/risk/${latePayer}`),
      await post('admin-a', `/assistant/collection-message/${latePayer}`, { channel: 'email', language: 'en' }),
      await post('admin-a', '/assistant/executive-summary'),
    ];
    assert.ok(outputs.every((output) => (output as { generatedBy: string }).generatedBy === 'llm'), JSON.stringify(outputs.map((o) => (o as { fallbackReason?: string }).fallbackReason)));
    const sent = dataSent(fake.requests);
    assert.ok(sent.length > 0);
    assertNoNames(sent, ['Carla', 'Cruz', 'Dora', 'Diaz', 'Beta Academy', 'USD'], 'prompts for school_admin');
    assert.ok(!sent.includes(fx.schoolB), 'no out-of-scope school id in prompts');
    const answers = outputs.slice(0, 6).map((output) => (output as ChatAnswer).answer).join('\n') + JSON.stringify(outputs.slice(6));
    assertNoNames(answers, ['Carla', 'Cruz', 'Dora', 'Diaz', 'Beta Academy'], 'answers for school_admin');
    // The tools refused the out-of-scope student: the model got "not found".
    assert.match(JSON.stringify(outputs[3]), /"found":false/);
  });

  test('finance_analyst: every prompt and every output has initials only', async () => {
    const outputs = [
      await chat('analyst', 'top debtors'),
      await chat('analyst', `How much does ${latePayer} owe?`),
      await chat('analyst', `What is the risk of ${fx.students.anaA}?`),
      await chat('analyst', 'Who is overdue in Colegio Alfa?'),
      await post<RiskAnalysis>('analyst', `/assistant/risk/${latePayer}`),
      await post<CollectionMessage>('analyst', `/assistant/collection-message/${latePayer}`, { channel: 'email', language: 'es' }),
      await post<CollectionMessage>('analyst', `/assistant/collection-message/${latePayer}`, { channel: 'sms', language: 'en', tone: 'firm' }),
      await post<ExecutiveSummary>('analyst', '/assistant/executive-summary'),
    ];
    assert.ok(outputs.every((output) => output.generatedBy === 'llm'), JSON.stringify(outputs.map((o) => o.fallbackReason)));
    // Here the questions name no one, so everything sent — questions included — must be free of names.
    assertNoNames(fake.sentText(), CLEAR_NAMES, 'requests to the model for the analyst');
    assertNoNames(JSON.stringify(outputs), CLEAR_NAMES, 'outputs for the analyst');
    assert.match(fake.sentText(), /L\. T\./);
    assert.match((outputs[0] as ChatAnswer).answer, /L\. T\./);
  });

  test('the output guard: a model that names a masked student or a hidden school is overruled by the rules', async () => {
    fake.mode = 'leak';
    fake.leakText = 'That is Lucia Tardanza.';
    const chatAnswer = await chat('analyst', 'top debtors');
    assert.equal(chatAnswer.generatedBy, 'rules');
    assert.equal(chatAnswer.fallbackReason, 'guard_blocked');
    assertNoNames(JSON.stringify(chatAnswer), CLEAR_NAMES, 'guarded chat');
    assert.match(chatAnswer.answer, /^Top 5 debtors/);
    const risk = await post<RiskAnalysis>('analyst', `/assistant/risk/${latePayer}`);
    assert.equal(risk.fallbackReason, 'guard_blocked');
    assertNoNames(JSON.stringify(risk), CLEAR_NAMES, 'guarded risk');

    fake.leakText = 'Compare with Beta Academy.';
    const admin = await chat('admin-a', 'top debtors');
    assert.equal(admin.fallbackReason, 'guard_blocked');
    assertNoNames(admin.answer, ['Beta Academy'], 'guarded admin chat');
    // A super_admin may see both schools and every name: nothing to block.
    const root = await chat('root', 'top debtors');
    assert.equal(root.generatedBy, 'llm');
  });

  test('fallback to the rules: timeout, HTTP 500, malformed and invented numbers — same shapes, same numbers', async () => {
    const llmRisk = await post<RiskAnalysis>('root', `/assistant/risk/${latePayer}`);
    const llmChat = await chat('root', 'top debtors');
    assert.equal(llmRisk.generatedBy, 'llm');
    assert.match(llmRisk.summary, /^\[AI\]/);

    const cases = [
      ['timeout', 'timeout'],
      ['error', 'llm_error'],
      ['malformed', 'malformed_output'],
      ['invent', 'malformed_output'],
    ] as const;
    for (const [mode, reason] of cases) {
      fake.mode = mode;
      const risk = await post<RiskAnalysis>('root', `/assistant/risk/${latePayer}`);
      assert.equal(risk.generatedBy, 'rules', mode);
      assert.equal(risk.fallbackReason, reason, mode);
      // Same shape and the same numbers; only the narrative differs.
      assert.deepEqual(Object.keys(risk).filter((key) => key !== 'fallbackReason').sort(), Object.keys(llmRisk).sort(), mode);
      assert.equal(risk.riskScore, llmRisk.riskScore);
      assert.deepEqual(risk.riskFactors, llmRisk.riskFactors);
      assert.doesNotMatch(risk.summary, /\[AI\]/);

      const answer = await chat('root', 'top debtors');
      assert.equal(answer.generatedBy, 'rules', mode);
      assert.equal(answer.fallbackReason, reason, mode);
      assert.deepEqual(Object.keys(answer).filter((key) => key !== 'fallbackReason').sort(), Object.keys(llmChat).sort(), mode);
      assert.match(answer.answer, /^Top 5 debtors/);

      const message = await post<CollectionMessage>('root', `/assistant/collection-message/${latePayer}`, { channel: 'email', language: 'en' });
      assert.equal(message.fallbackReason, reason, mode);
      assert.match(message.body, /^Dear family of Lucia Tardanza/);
      const summary = await post<ExecutiveSummary>('root', '/assistant/executive-summary');
      assert.equal(summary.fallbackReason, reason, mode);
    }
    fake.mode = 'timeout';
    await chat('root', 'top debtors');
    const down = await status();
    assert.equal(down.healthy, false);
    assert.match(down.lastError ?? '', /^timeout/);
    fake.mode = 'normal';
    assert.equal((await chat('root', 'top debtors')).generatedBy, 'llm');
    assert.equal((await status()).healthy, true);
  });

  test('messages and the summary through the model keep the facts; an SMS stays within 160', async () => {
    const email = await post<CollectionMessage>('root', `/assistant/collection-message/${latePayer}`, { channel: 'email', language: 'es', tone: 'firm' });
    assert.equal(email.generatedBy, 'llm');
    assert.match(email.body, /^\[AI\] Estimada familia de Lucia Tardanza/);
    assert.ok(email.body.includes('$1,600.00'));
    const sms = await post<CollectionMessage>('root', `/assistant/collection-message/${latePayer}`, { channel: 'sms', language: 'es' });
    assert.equal(sms.generatedBy, 'llm');
    assert.ok((sms.smsUnits ?? 999) <= 160);
    const payload = JSON.parse(fake.requests.at(-1)?.messages.at(-1)?.content ?? '{}') as { facts: { mustKeepVerbatim: string[] } };
    assert.ok(payload.facts.mustKeepVerbatim.includes('$1,600.00'));

    const summary = await post<ExecutiveSummary>('root', '/assistant/executive-summary');
    assert.equal(summary.generatedBy, 'llm');
    assert.match(summary.narrative, /^\[AI\]/);
    const dashboard = (await t.app.inject({ method: 'GET', url: '/api/v1/reports/dashboard', headers: bearer(tokens.root ?? '') })).json<{ totals: unknown; totalsByCurrency: unknown }>();
    assert.deepEqual(summary.kpis, { totals: dashboard.totals, totalsByCurrency: dashboard.totalsByCurrency });
  });
});
