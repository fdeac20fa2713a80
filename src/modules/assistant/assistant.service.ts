import type { Db } from '../../db/database.js';
import { AppError, notFound } from '../../shared/errors.js';
import { maskName } from '../../shared/masking.js';
import type { Principal } from '../../shared/policy.js';
import { isCurrency, isTimeZone, todayIn } from '../../shared/time.js';
import type { BillingReportsRepository } from '../reporting/billing-reports.repository.js';
import type { DashboardService } from '../reporting/dashboard.service.js';
import {
  collectionRateAnswer,
  owesNothingAnswer,
  compareSchoolsAnswer,
  helpAnswer,
  INTENT_OF_TOOL,
  overdueInSchoolAnswer,
  overdueSummaryAnswer,
  studentBalanceAnswer,
  topDebtorsAnswer,
} from './answers.js';
import type { AssistantRepository } from './assistant.repository.js';
import type {
  AssistantStatus,
  ChatAnswer,
  CollectionMessage,
  ExecutiveSummary,
  FallbackReason,
  MessageBody,
  RiskAnalysis,
  StudentSearchResult,
  SummaryBody,
} from './assistant.schemas.js';
import { formatMoney, smsSize, SMS_LIMIT, toGsm7, type Language } from './format.js';
import { OutputGuard } from './guard.js';
import { parseQuestion } from './intents.js';
import { LlmFailure, type LlmProvider } from './llm.js';
import { composeMessage, type Channel, type ComposedMessage, type MessageFacts } from './messages.js';
import type { Tone } from './risk.js';
import { createAssistantTools, monthWindow, type ToolContext } from './tools.js';

/**
 * The collection assistant. Every endpoint first computes its answer with the rule
 * engine from scoped, masked data; with an LLM configured, the model then writes the
 * narrative parts (chat answer, summaries, recommendations, message wording) from that
 * same data, through tools that go through the caller's scope. Model output is
 * validated — shape, length, facts kept verbatim, every number found in the data, no
 * name or school the caller may not see — and any failure (timeout, HTTP error,
 * malformed or unsafe output) returns the rule engine's answer with `fallbackReason`.
 * Numbers in the response (scores, amounts, KPIs) always come from the data.
 */
interface Provenance {
  generatedBy: 'rules' | 'llm';
  fallbackReason?: FallbackReason;
}

const tr = (language: Language, en: string, es: string) => (language === 'es' ? es : en);
const LANGUAGE_NAME: Record<Language, string> = { en: 'English', es: 'Spanish (Mexico)' };

/** Digit runs of 3+ digits, separators removed ("MX$3,000.00" → "300000"). */
function digitTokens(text: string): string[] {
  return (text.match(/\d[\d.,]*/g) ?? []).map((token) => token.replace(/[.,]/g, '')).filter((token) => token.length >= 3);
}

/** True when every 3+-digit number in `text` appears in the data it was written from. */
export function numbersGrounded(text: string, source: unknown): boolean {
  const known = digitTokens(JSON.stringify(source)).join(' ');
  return digitTokens(text).every((token) => known.includes(token.replace(/^0+(?=\d)/, '')));
}

function text(value: unknown, max: number): string | null {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= max ? value.trim() : null;
}

function texts(value: unknown, maxItems: number, maxLength: number): string[] | null {
  if (!Array.isArray(value) || value.length === 0 || value.length > maxItems) {
    return null;
  }
  const out = value.map((item) => text(item, maxLength));
  return out.every((item): item is string => item !== null) ? out : null;
}

export function createAssistantService(deps: {
  db: Db;
  repo: AssistantRepository;
  dashboard: DashboardService;
  reports: BillingReportsRepository;
  llm: LlmProvider | null;
  ratePerMinute: number;
}) {
  const { db, repo, dashboard, llm } = deps;
  const tools = createAssistantTools(deps);

  const contextFor = (principal: Principal, language: Language): ToolContext => ({
    principal,
    language,
    guard: new OutputGuard(principal, () => repo.schoolNamesOutside(db, principal)),
  });

  /**
   * Runs `attempt` on the LLM when one is configured; any LlmFailure returns `rules`
   * with the reason. Only LlmFailures are caught: a bug is a 500, not a silent fallback.
   */
  async function withLlm<T extends object>(rules: T, attempt: ((model: LlmProvider) => Promise<T>) | null): Promise<T & Provenance> {
    if (!llm || !attempt) {
      return { ...rules, generatedBy: 'rules' };
    }
    try {
      const result = await attempt(llm);
      llm.succeeded();
      return { ...result, generatedBy: 'llm' };
    } catch (error) {
      if (error instanceof LlmFailure) {
        return { ...rules, generatedBy: 'rules', fallbackReason: error.reason };
      }
      throw error;
    }
  }

  /** Throws (guard_blocked / malformed_output) unless generated text is safe and grounded in `source`. */
  async function checkGenerated(model: LlmProvider, ctx: ToolContext, generated: string, source: unknown) {
    if ((await ctx.guard.violation(generated)) !== null) {
      model.rejected('guard_blocked', 'generated text names a student or school the caller may not see');
    }
    if (!numbersGrounded(generated, source)) {
      model.rejected('malformed_output', 'generated text has numbers that are not in the data');
    }
  }

  const narrativeSystem = (language: Language, keys: string) =>
    'You write short texts for the finance team of a school, for Bursar, a school-fee platform. ' +
    `Write in ${LANGUAGE_NAME[language]}. Use only the facts in the user message; never add amounts, dates, names or schools ` +
    'that are not in it, and copy amounts and dates exactly as written there. Student names may be initials: keep them as they are. ' +
    `Answer with one JSON object with exactly these keys: ${keys}.`;

  // --- Risk -----------------------------------------------------------------------------

  async function risk(principal: Principal, studentId: string, language: Language = 'en'): Promise<RiskAnalysis> {
    const ctx = contextFor(principal, language);
    const found = await tools.studentRisk(ctx, studentId);
    if (!found) {
      throw notFound('student');
    }
    const { student, studentName, assessment } = found;
    const { metrics, ...rest } = assessment;
    const rules = {
      studentId,
      studentName,
      schoolId: student.schoolId,
      schoolName: student.schoolName,
      currency: student.currency,
      ...rest,
      metrics,
      language,
      generatedAt: new Date().toISOString(),
    };
    return withLlm(rules, async (model) => {
      const facts = {
        task: 'risk_narrative',
        language,
        student: { name: studentName, school: student.schoolName },
        riskLevel: assessment.riskLevel,
        riskScore: assessment.riskScore,
        predictedPaymentProbability: assessment.predictedPaymentProbability,
        factors: assessment.riskFactors.map((factor) => ({ label: factor.label, points: factor.points, detail: factor.detail })),
        outstanding: formatMoney(metrics.outstandingAmount, student.currency, language),
        overdue: formatMoney(metrics.overdueAmount, student.currency, language),
        draft: { summary: assessment.summary, recommendations: assessment.recommendations, suggestedAction: assessment.suggestedAction },
      };
      const out = await model.json(narrativeSystem(language, 'summary (string, at most 3 sentences), recommendations (array of 1–6 strings), suggestedAction (string)'), facts);
      const summary = text(out.summary, 1200);
      const recommendations = texts(out.recommendations, 8, 400);
      const suggestedAction = text(out.suggestedAction, 400);
      if (summary === null || recommendations === null || suggestedAction === null) {
        return model.rejected('malformed_output', 'risk narrative does not have summary, recommendations and suggestedAction');
      }
      await checkGenerated(model, ctx, [summary, ...recommendations, suggestedAction].join('\n'), facts);
      return { ...rules, summary, recommendations, suggestedAction };
    });
  }

  // --- Collection messages ----------------------------------------------------------------

  const missing = (fields: string[]) =>
    new AppError('VALIDATION_FAILED', `body must have studentId, or ${fields.join(', ')}`, {
      errors: fields.map((field) => ({ field, in: 'body', message: 'required when studentId is not given' })),
    });

  async function message(
    principal: Principal,
    input: Omit<MessageBody, 'channel' | 'language' | 'tone'>,
    options: { channel: Channel; language: Language; tone: Tone },
  ): Promise<CollectionMessage> {
    const ctx = contextFor(principal, options.language);
    let facts: MessageFacts;
    let studentId: string | null = null;
    if (input.studentId !== undefined) {
      const student = await repo.findStudent(db, principal, input.studentId);
      if (!student) {
        throw notFound('student');
      }
      const bills = await repo.openBills(db, principal, student.studentId);
      if (bills.length === 0) {
        // Good news, not an error: an answer that says so, with nothing to send.
        const zero = formatMoney(0, student.currency, options.language);
        return {
          studentId: student.studentId,
          ...options,
          subject: null,
          body: '',
          characters: 0,
          segments: null,
          smsEncoding: null,
          smsUnits: null,
          amounts: { outstanding: 0, overdue: 0, formattedOutstanding: zero, formattedOverdue: zero },
          currency: student.currency,
          dueDates: { oldestOverdue: null, nextDue: null, payBy: null },
          nothingToCollect: true,
          note: owesNothingAnswer(options.language, ctx.guard.name(student.firstName, student.lastName), student.schoolName),
          generatedBy: 'rules',
        };
      }
      studentId = student.studentId;
      facts = {
        studentName: ctx.guard.name(student.firstName, student.lastName),
        schoolName: student.schoolName,
        currency: student.currency,
        today: student.today,
        bills: bills.map((bill) => ({ number: bill.number, dueDate: bill.dueDate, pending: bill.pending, overdue: bill.overdue })),
      };
    } else {
      const absent = (['studentName', 'amount', 'currency', 'dueDate'] as const).filter((field) => input[field] === undefined);
      if (absent.length > 0) {
        throw missing(absent);
      }
      const currency = input.currency ?? '';
      if (!isCurrency(currency)) {
        throw new AppError('VALIDATION_FAILED', 'currency is not an ISO 4217 code', { errors: [{ field: 'currency', in: 'body', message: 'unknown currency' }] });
      }
      const timezone = input.timezone ?? 'UTC';
      if (!isTimeZone(timezone)) {
        throw new AppError('VALIDATION_FAILED', 'timezone is not an IANA zone', { errors: [{ field: 'timezone', in: 'body', message: 'unknown time zone' }] });
      }
      const today = todayIn(timezone);
      const dueDate = input.dueDate ?? today;
      const [first = '', ...rest] = (input.studentName ?? '').trim().split(/\s+/);
      facts = {
        // Masked roles get initials even for a name they typed: answers never carry PII for them.
        studentName: principal.pii === 'masked' ? maskName(first, rest.join(' ')) : (input.studentName ?? '').trim(),
        schoolName: input.schoolName?.trim() ?? null,
        currency,
        today,
        bills: [{ number: null, dueDate, pending: input.amount ?? 0, overdue: dueDate < today }],
      };
    }
    const composed = composeMessage(facts, options);
    const shape = (m: ComposedMessage, subject: string | null, body: string) => ({
      studentId,
      channel: m.channel,
      language: m.language,
      tone: m.tone,
      subject,
      body,
      characters: Array.from(body).length,
      segments: m.channel === 'sms' ? smsSize(body).segments : null,
      smsEncoding: m.channel === 'sms' ? smsSize(body).encoding : null,
      smsUnits: m.channel === 'sms' ? smsSize(body).units : null,
      amounts: m.amounts,
      currency: m.currency,
      dueDates: m.dueDates,
      nothingToCollect: false,
      note: null,
    });
    const rules = shape(composed, composed.subject, composed.body);
    return withLlm(rules, async (model) => {
      const payload = {
        task: 'collection_message',
        channel: options.channel,
        language: options.language,
        tone: options.tone,
        facts: { studentName: facts.studentName, schoolName: facts.schoolName, mustKeepVerbatim: composed.requiredPhrases },
        draft: { subject: composed.subject, body: composed.body },
        constraints:
          options.channel === 'sms'
            ? `at most ${SMS_LIMIT} characters, GSM-7 only (no emoji, no accents other than é ñ ü)`
            : options.channel === 'whatsapp'
              ? 'short paragraphs, *bold* allowed, no links'
              : 'an e-mail with a subject line',
      };
      const keys = options.channel === 'email' ? 'subject (string), body (string)' : 'body (string)';
      const out = await model.json(
        `${narrativeSystem(options.language, keys)} Rewrite the draft as a ${options.tone.replace('_', ' ')} collection message; keep every phrase in facts.mustKeepVerbatim exactly.`,
        payload,
      );
      let body = text(out.body, options.channel === 'sms' ? 400 : 4000);
      const subject = options.channel === 'email' ? text(out.subject, 200) : null;
      if (body === null || (options.channel === 'email' && subject === null)) {
        return model.rejected('malformed_output', 'message without body (or subject)');
      }
      if (options.channel === 'sms') {
        body = toGsm7(body);
        if (smsSize(body).units > SMS_LIMIT) {
          return model.rejected('malformed_output', `SMS longer than ${SMS_LIMIT} characters`);
        }
      }
      const finalBody = body;
      if (!composed.requiredPhrases.every((phrase) => finalBody.includes(phrase))) {
        return model.rejected('malformed_output', 'message lost an amount or a date');
      }
      await checkGenerated(model, ctx, `${subject ?? ''}\n${finalBody}`, payload);
      return shape(composed, subject, finalBody);
    });
  }

  // --- Chat ---------------------------------------------------------------------------------

  async function chatByRules(ctx: ToolContext, question: string): Promise<Omit<ChatAnswer, 'generatedBy' | 'fallbackReason'>> {
    const parsed = parseQuestion(question);
    const { language } = ctx;
    const answer = async <R>(intent: string, tool: string, args: unknown, call: () => Promise<R>, render: (result: R) => string) => {
      const result = await call();
      return { answer: render(result), intent, language, data: [{ tool, args, result }], sources: [tool] };
    };
    switch (parsed.intent) {
      case 'STUDENT_BALANCE': {
        const args = { student: parsed.subject ?? '' };
        return answer('STUDENT_BALANCE', 'get_student_balance', args, () => tools.studentBalance(ctx, args), (r) => studentBalanceAnswer(language, r));
      }
      case 'STUDENT_RISK': {
        const args = { studentId: parsed.subject ?? '' };
        return answer('STUDENT_RISK', 'risk_for_student', args, () => tools.riskForStudent(ctx, args), (r) =>
          r.found
            ? tr(
                language,
                `${r.studentName} (${r.schoolName}) is ${r.riskLevel} risk, ${r.riskScore}/100. ${r.suggestedAction}`,
                `${r.studentName} (${r.schoolName}) tiene riesgo ${r.riskLevel}, ${r.riskScore}/100. ${r.suggestedAction}`,
              )
            : tr(language, 'I found no such student among the schools you can see.', 'No encontré ese alumno en los colegios que usted puede ver.'),
        );
      }
      case 'OVERDUE_IN_SCHOOL': {
        const args = { school: parsed.subject ?? '' };
        return answer('OVERDUE_IN_SCHOOL', 'overdue_in_school', args, () => tools.overdueInSchool(ctx, args), (r) => overdueInSchoolAnswer(language, r));
      }
      case 'OVERDUE_ALL':
        return answer('OVERDUE_ALL', 'overdue_summary', {}, () => tools.overdueSummary(ctx), (r) => overdueSummaryAnswer(language, r));
      case 'TOP_DEBTORS': {
        const args = { limit: parsed.limit ?? 5 };
        return answer('TOP_DEBTORS', 'top_debtors', args, () => tools.topDebtors(ctx, args), (r) => topDebtorsAnswer(language, r));
      }
      case 'COLLECTION_RATE': {
        const args = { month: /\b(last month|previous month|mes pasado|mes anterior)\b/i.test(question) ? ('last' as const) : ('this' as const) };
        return answer('COLLECTION_RATE', 'collection_rate', args, () => tools.collectionRate(ctx, args), (r) => collectionRateAnswer(language, r));
      }
      case 'COMPARE_SCHOOLS':
        return answer('COMPARE_SCHOOLS', 'compare_schools', {}, () => tools.compareSchools(ctx), (r) => compareSchoolsAnswer(language, r));
      case 'HELP':
        return { answer: helpAnswer(language, ctx.principal.pii === 'masked'), intent: 'HELP', language, data: [], sources: [] };
    }
  }

  async function chat(principal: Principal, question: string): Promise<ChatAnswer> {
    const language = parseQuestion(question).language;
    const ctx = contextFor(principal, language);
    // With an LLM the rules answer is only needed on failure: computed lazily.
    if (!llm) {
      return { ...(await chatByRules(ctx, question)), generatedBy: 'rules' };
    }
    try {
      const schools = await repo.visibleSchools(db, principal, 31);
      const system =
        'You are the collection assistant of Bursar, a school-fee platform, answering the finance team of a school. ' +
        'Answer only from tool results: call tools for every figure; never invent amounts, names, dates or schools. ' +
        'Amounts in tool results are integer minor units with a formatted twin (…Formatted): quote the formatted one. ' +
        'Never add amounts of different currencies. Student names may be initials because the user may not see names: ' +
        'never guess or complete them. If a tool finds nothing, say so: the user only sees some schools. ' +
        `Answer in ${LANGUAGE_NAME[language]}, briefly. Today is ${todayIn(schools[0]?.timezone ?? 'UTC')}. ` +
        `Schools the user can see: ${schools.slice(0, 30).map((school) => school.schoolName).join('; ') || 'none'}${schools.length > 30 ? '; and more' : ''}.`;
      const { text: answer, calls } = await llm.runWithTools(system, question, tools.definitions, (name, args) => tools.run(ctx, name, args));
      const data = calls.map((call) => ({ tool: call.name, args: call.args, result: call.result }));
      await checkGenerated(llm, ctx, answer, data);
      llm.succeeded();
      const sources = [...new Set(calls.map((call) => call.name))];
      return { answer, intent: INTENT_OF_TOOL[sources[0] ?? ''] ?? 'GENERAL', language, data, sources, generatedBy: 'llm' };
    } catch (error) {
      if (error instanceof LlmFailure) {
        // A fresh guard: names the model saw must not matter for what the rules print.
        return { ...(await chatByRules(contextFor(principal, language), question)), generatedBy: 'rules', fallbackReason: error.reason };
      }
      throw error;
    }
  }

  // --- Executive summary ----------------------------------------------------------------------

  async function executiveSummary(principal: Principal, body: SummaryBody): Promise<ExecutiveSummary> {
    const language = body.language ?? 'en';
    const ctx = contextFor(principal, language);
    const schoolFilter = body.schoolId !== undefined ? { schoolId: body.schoolId } : {};
    // The KPIs are the dashboard's own answer for this scope (404 for a school not visible).
    const report = await dashboard.get(principal, schoolFilter);
    const timezone = await tools.zoneOf(principal, body.schoolId);
    const today = todayIn(timezone);
    const thisMonth = monthWindow(today, 0);
    const lastMonth = monthWindow(today, -1);
    const [thisReport, lastReport, overdueStudents, schools] = await Promise.all([
      dashboard.get(principal, { ...schoolFilter, from: thisMonth.from, to: thisMonth.to }),
      dashboard.get(principal, { ...schoolFilter, from: lastMonth.from, to: lastMonth.to }),
      repo.topOverdue(db, principal, 5, body.schoolId),
      body.schoolId === undefined ? repo.visibleSchools(db, principal) : Promise.resolve([]),
    ]);
    const figures = (window: typeof thisMonth, rows: typeof thisReport.totalsByCurrency, currency: string) => {
      const row = rows.find((candidate) => candidate.currency === currency);
      const due = row?.amountDue ?? 0;
      const outstanding = row?.amountOutstanding ?? 0;
      return {
        month: window.month,
        amountDue: due,
        amountCollected: row?.amountCollected ?? 0,
        amountOutstanding: outstanding,
        collectionRate: due === 0 ? null : Math.round(((due - outstanding) / due) * 10_000) / 10_000,
      };
    };
    const trends = report.totalsByCurrency.map((row) => {
      const current = figures(thisMonth, thisReport.totalsByCurrency, row.currency);
      const previous = figures(lastMonth, lastReport.totalsByCurrency, row.currency);
      return {
        currency: row.currency,
        thisMonth: current,
        lastMonth: previous,
        collectedChange: previous.amountCollected === 0 ? null : Math.round(((current.amountCollected - previous.amountCollected) / Math.abs(previous.amountCollected)) * 10_000) / 10_000,
      };
    });
    const riskySchools = report.bySchool
      .filter((row) => row.amountOverdue > 0 && row.amountDue > 0)
      .map((row) => ({
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        currency: row.currency,
        amountDue: row.amountDue,
        amountOverdue: row.amountOverdue,
        overdueShare: Math.round((row.amountOverdue / row.amountDue) * 10_000) / 10_000,
      }))
      .sort((a, b) => b.overdueShare - a.overdueShare || b.amountOverdue - a.amountOverdue)
      .slice(0, 5);
    const riskyStudents: ExecutiveSummary['risks']['students'] = [];
    for (const row of overdueStudents.slice(0, 5)) {
      const found = await tools.studentRisk(ctx, row.studentId);
      if (found) {
        riskyStudents.push({
          studentId: row.studentId,
          studentName: found.studentName,
          schoolName: row.schoolName,
          currency: row.currency,
          overdue: row.overdue,
          balance: row.balance,
          riskScore: found.assessment.riskScore,
          riskLevel: found.assessment.riskLevel,
        });
      }
    }
    riskyStudents.sort((a, b) => b.riskScore - a.riskScore || b.overdue - a.overdue);

    const money = (minor: number, currency: string) => formatMoney(minor, currency, language);
    const pct = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)}%`);
    const actions: string[] = [];
    const high = riskyStudents.filter((s) => s.riskLevel === 'HIGH');
    if (high.length > 0) {
      actions.push(
        tr(
          language,
          `Call the families of ${high.length} high-risk student(s) (${high.map((s) => `${s.studentName}, ${money(s.overdue, s.currency)} overdue`).join('; ')}) and agree payment plans.`,
          `Llamar a las familias de ${high.length} alumno(s) de alto riesgo (${high.map((s) => `${s.studentName}, ${money(s.overdue, s.currency)} vencido`).join('; ')}) y acordar planes de pago.`,
        ),
      );
    }
    for (const school of riskySchools.filter((s) => s.overdueShare >= 0.1).slice(0, 3)) {
      actions.push(
        tr(
          language,
          `Focus collection on ${school.schoolName}: ${money(school.amountOverdue, school.currency)} overdue, ${pct(school.overdueShare)} of its billing.`,
          `Enfocar la cobranza en ${school.schoolName}: ${money(school.amountOverdue, school.currency)} vencido, ${pct(school.overdueShare)} de su facturación.`,
        ),
      );
    }
    for (const trend of trends) {
      if (trend.collectedChange !== null && trend.collectedChange < -0.1) {
        actions.push(
          tr(
            language,
            `Collections in ${trend.currency} fell from ${money(trend.lastMonth.amountCollected, trend.currency)} last month to ${money(trend.thisMonth.amountCollected, trend.currency)} so far this month: send reminders before the next due dates.`,
            `La cobranza en ${trend.currency} bajó de ${money(trend.lastMonth.amountCollected, trend.currency)} el mes pasado a ${money(trend.thisMonth.amountCollected, trend.currency)} en lo que va del mes: enviar recordatorios antes de los próximos vencimientos.`,
          ),
        );
      }
    }
    const overdueTotals = report.totalsByCurrency.filter((row) => row.amountOverdue > 0);
    if (overdueTotals.length > 0) {
      actions.push(
        tr(
          language,
          `Send firm reminders for the overdue balance (${overdueTotals.map((row) => money(row.amountOverdue, row.currency)).join(' + ')}), friendly ones for bills due in the next 7 days.`,
          `Enviar recordatorios firmes por el saldo vencido (${overdueTotals.map((row) => money(row.amountOverdue, row.currency)).join(' + ')}) y amables para las facturas que vencen en los próximos 7 días.`,
        ),
      );
    }
    if (actions.length === 0) {
      actions.push(tr(language, 'Nothing overdue: keep the usual reminders.', 'Nada vencido: mantener los recordatorios habituales.'));
    }
    const monthSentence = (trend: (typeof trends)[number] | undefined, lang: Language) => {
      const current = trend?.thisMonth.collectionRate ?? null;
      const previous = trend?.lastMonth.collectionRate ?? null;
      const now =
        current === null
          ? tr(lang, 'Nothing falls due this month', 'Nada vence este mes')
          : tr(lang, `This month ${pct(current)} of the bills due are paid`, `Este mes está pagado el ${pct(current)} de lo que vence`);
      const before = previous === null ? tr(lang, 'nothing fell due last month', 'nada venció el mes pasado') : tr(lang, `last month ${pct(previous)}`, `el mes pasado ${pct(previous)}`);
      return `${now} (${before}).`;
    };
    const narrative = report.totalsByCurrency
      .map((row) => {
        const trend = trends.find((t) => t.currency === row.currency);
        return tr(
          language,
          `${row.currency}: ${money(row.amountDue, row.currency)} billed, ${money(row.amountCollected, row.currency)} collected, ${money(row.amountOutstanding, row.currency)} outstanding of which ${money(row.amountOverdue, row.currency)} overdue. ${monthSentence(trend, 'en')}`,
          `${row.currency}: ${money(row.amountDue, row.currency)} facturado, ${money(row.amountCollected, row.currency)} cobrado, ${money(row.amountOutstanding, row.currency)} pendiente, del cual ${money(row.amountOverdue, row.currency)} vencido. ${monthSentence(trend, 'es')}`,
        );
      })
      .join(' ') || tr(language, 'No schools in scope.', 'Sin colegios en el alcance.');

    const rules = {
      scope: { schoolId: body.schoolId ?? null, schoolCount: body.schoolId !== undefined ? 1 : schools.length },
      kpis: { totals: report.totals, totalsByCurrency: report.totalsByCurrency },
      trends,
      risks: { schools: riskySchools, students: riskyStudents },
      recommendedActions: actions,
      narrative,
      language,
      generatedAt: new Date().toISOString(),
    };
    return withLlm(rules, async (model) => {
      const facts = {
        task: 'executive_summary',
        language,
        kpis: report.totalsByCurrency.map((row) => ({
          currency: row.currency,
          billed: money(row.amountDue, row.currency),
          collected: money(row.amountCollected, row.currency),
          outstanding: money(row.amountOutstanding, row.currency),
          overdue: money(row.amountOverdue, row.currency),
        })),
        trends: trends.map((t) => ({ currency: t.currency, thisMonthCollectionRate: pct(t.thisMonth.collectionRate), lastMonthCollectionRate: pct(t.lastMonth.collectionRate), thisMonthCollected: money(t.thisMonth.amountCollected, t.currency), lastMonthCollected: money(t.lastMonth.amountCollected, t.currency) })),
        riskySchools: riskySchools.map((s) => ({ school: s.schoolName, overdue: money(s.amountOverdue, s.currency), overdueShare: pct(s.overdueShare) })),
        riskyStudents: riskyStudents.map((s) => ({ student: s.studentName, school: s.schoolName, overdue: money(s.overdue, s.currency), riskScore: s.riskScore, riskLevel: s.riskLevel })),
        draft: { narrative, recommendedActions: actions },
      };
      const out = await model.json(narrativeSystem(language, 'narrative (string, one paragraph), recommendedActions (array of 1–6 strings)'), facts);
      const generatedNarrative = text(out.narrative, 3000);
      const recommendedActions = texts(out.recommendedActions, 8, 500);
      if (generatedNarrative === null || recommendedActions === null) {
        return model.rejected('malformed_output', 'summary without narrative and recommendedActions');
      }
      await checkGenerated(model, ctx, [generatedNarrative, ...recommendedActions].join('\n'), facts);
      return { ...rules, narrative: generatedNarrative, recommendedActions };
    });
  }

  // --- Status and student picker ------------------------------------------------------------------

  function status(): AssistantStatus {
    const base = { rateLimitPerMinute: deps.ratePerMinute, tools: tools.definitions.map((tool) => tool.name) };
    if (!llm) {
      return { provider: 'rules', model: null, baseUrlHost: null, healthy: true, lastError: null, lastErrorAt: null, lastSuccessAt: null, ...base };
    }
    const health = llm.health();
    const healthy = health.lastErrorAt === null || (health.lastSuccessAt !== null && health.lastSuccessAt > health.lastErrorAt);
    return {
      provider: 'llm',
      model: llm.model,
      baseUrlHost: llm.host,
      healthy,
      lastError: health.lastError,
      lastErrorAt: health.lastErrorAt?.toISOString() ?? null,
      lastSuccessAt: health.lastSuccessAt?.toISOString() ?? null,
      ...base,
    };
  }

  /**
   * Students to pick in the dashboard. Roles that see names search by name; masked roles
   * cannot (that would let them confirm who is who): they get the largest balances,
   * optionally in the schools whose name matches `q`.
   */
  async function searchStudents(principal: Principal, q: string | undefined, limit: number): Promise<StudentSearchResult> {
    const guard = new OutputGuard(principal, () => Promise.resolve([]));
    if (principal.pii === 'clear' && q !== undefined) {
      const rows = await repo.searchStudentsByName(db, principal, q, limit);
      return {
        matchedBy: 'name',
        data: rows.map((row) => ({
          studentId: row.studentId,
          studentName: guard.name(row.firstName, row.lastName),
          schoolId: row.schoolId,
          schoolName: row.schoolName,
          grade: row.grade,
          currency: row.currency,
          balance: row.balance,
        })),
      };
    }
    let schoolId: string | undefined;
    if (q !== undefined) {
      const [school] = await repo.findSchoolsByName(db, principal, q, 1);
      if (!school) {
        return { matchedBy: 'balance', data: [] };
      }
      schoolId = school.schoolId;
    }
    const rows = await repo.topDebtors(db, principal, { limit, ...(schoolId !== undefined ? { schoolId } : {}) });
    return {
      matchedBy: 'balance',
      data: rows
        .sort((a, b) => b.balance - a.balance)
        .slice(0, limit)
        .map((row) => ({
          studentId: row.studentId,
          studentName: guard.name(row.firstName, row.lastName),
          schoolId: row.schoolId,
          schoolName: row.schoolName,
          grade: row.grade,
          currency: row.currency,
          balance: row.balance,
        })),
    };
  }

  return { risk, message, chat, executiveSummary, status, searchStudents };
}

export type AssistantService = ReturnType<typeof createAssistantService>;
