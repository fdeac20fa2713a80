import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { AppError } from '../../shared/errors.js';
import { createBillingReportsRepository } from '../reporting/billing-reports.repository.js';
import { createDashboardRepository } from '../reporting/dashboard.repository.js';
import { createDashboardService } from '../reporting/dashboard.service.js';
import { createAssistantRepository } from './assistant.repository.js';
import {
  AssistantStatus,
  ChatAnswer,
  ChatBody,
  CollectionMessage,
  ExecutiveSummary,
  MessageBody,
  RiskAnalysis,
  RiskBody,
  StudentMessageBody,
  StudentParams,
  StudentSearchQuery,
  StudentSearchResult,
  SummaryBody,
} from './assistant.schemas.js';
import { createAssistantService } from './assistant.service.js';
import { createLlmProvider } from './llm.js';

/**
 * Collection assistant (SPEC §3 "Collection assistant"): risk analysis, collection
 * messages, billing Q&A and an executive summary, from the rule engine or — when
 * LLM_BASE_URL, LLM_API_KEY and LLM_MODEL are set — an OpenAI-compatible model with
 * scoped tools and the rule engine as fallback. `assistant:use` (super_admin,
 * school_admin in their schools, finance_analyst with names masked; not developer).
 *
 * The generating routes (POST) share one budget per user of ASSISTANT_RATE_LIMIT_PER_MINUTE
 * requests a minute, on top of the global per-user limit: each may cost a model call.
 */
export default function assistantRoutes(app: FastifyInstance, options: { database: Database; config: Config }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { config } = options;
  const db = options.database.db;
  const reports = createBillingReportsRepository();
  const service = createAssistantService({
    db,
    repo: createAssistantRepository(),
    dashboard: createDashboardService({ db, dashboard: createDashboardRepository(), reports }),
    reports,
    llm: config.assistant.llm ? createLlmProvider(config.assistant.llm) : null,
    ratePerMinute: config.assistant.ratePerMinute,
  });

  // One shared window for every generating route (a per-route limit would multiply the budget).
  const limiter = app.createRateLimit({
    max: config.assistant.ratePerMinute,
    timeWindow: 60_000,
    keyGenerator: (request: FastifyRequest) => `assistant:${request.principal?.userId ?? `ip:${request.ip}`}`,
  });
  const generating = async (request: FastifyRequest) => {
    const result = await limiter(request);
    if (!result.isAllowed && result.isExceeded) {
      throw new AppError('RATE_LIMITED', `assistant limit of ${result.max} requests per minute exceeded; retry later`, {
        headers: { 'retry-after': String(result.ttlInSeconds) },
      });
    }
  };

  // POSTs whose body is all optional may be sent without one (as in the reference system).
  const emptyBodyIsObject = (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    request.body ??= {};
    done();
  };

  /** Operators see every fallback in the log (the caller sees it in `fallbackReason`). */
  const logged = async <T extends { fallbackReason?: string }>(request: FastifyRequest, answer: Promise<T>): Promise<T> => {
    const result = await answer;
    if (result.fallbackReason !== undefined) {
      request.log.warn({ fallbackReason: result.fallbackReason, route: request.routeOptions.url }, 'assistant: the LLM was not used, the rule engine answered');
    }
    return result;
  };

  const config_ = { policy: 'assistant:use' as const };
  const tags = ['assistant'];
  const provenanceNote =
    'generatedBy says which provider wrote the text; with an LLM configured, a timeout, error or unsafe/malformed output ' +
    'returns the rule engine’s answer with fallbackReason. Student names are initials for roles that see PII masked.';

  api.get(
    '/assistant/status',
    {
      config: config_,
      schema: {
        tags,
        summary: 'Which provider answers (rules or LLM), its model and health',
        description: 'The LLM base URL is reported as its host only; the key never leaves the server.',
        response: { 200: AssistantStatus, ...problemResponses(401, 403) },
      },
    },
    () => service.status(),
  );

  api.get(
    '/assistant/students',
    {
      config: config_,
      schema: {
        tags,
        summary: 'Students to analyse: by name, or the largest balances',
        description:
          'Roles that see names search by name words (q); roles that see PII masked cannot search by name and get the largest ' +
          'open balances, optionally in the schools whose name matches q (matchedBy says which).',
        querystring: StudentSearchQuery,
        response: { 200: StudentSearchResult, ...problemResponses(400, 401, 403) },
      },
    },
    (request) => service.searchStudents(principalOf(request), request.query.q, request.query.limit ?? 10),
  );

  api.post(
    '/assistant/risk/:studentId',
    {
      config: config_,
      preValidation: emptyBodyIsObject,
      preHandler: generating,
      schema: {
        tags,
        summary: 'Payment risk of a student: score, level, explained factors, recommendations',
        description:
          'Score 0–100 from the student’s payment history (late share and depth, overdue and outstanding amounts, partial ' +
          `payments, trend, tenure; see docs/assistant.md). 404 for a student the caller cannot see. ${provenanceNote}`,
        params: StudentParams,
        body: RiskBody,
        response: { 200: RiskAnalysis, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    (request) => logged(request, service.risk(principalOf(request), request.params.studentId, request.body?.language ?? 'en')),
  );

  api.post(
    '/assistant/collection-message',
    {
      config: config_,
      preHandler: generating,
      schema: {
        tags,
        summary: 'A collection message (e-mail, SMS, WhatsApp; es/en; friendly, firm, final notice)',
        description:
          'From a student’s open bills (studentId) or from explicit fields (studentName, amount in minor units, currency, ' +
          'dueDate, optional schoolName and timezone). SMS bodies are GSM-7 and at most 160 characters. ' +
          `A student who owes nothing gets \`nothingToCollect: true\`, an empty body and a \`note\` saying so. ${provenanceNote}`,
        body: MessageBody,
        response: { 200: CollectionMessage, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    (request) => {
      const { channel = 'email', language = 'es', tone = 'friendly', ...input } = request.body;
      return logged(request, service.message(principalOf(request), input, { channel, language, tone }));
    },
  );

  api.post(
    '/assistant/collection-message/:studentId',
    {
      config: config_,
      preValidation: emptyBodyIsObject,
      preHandler: generating,
      schema: {
        tags,
        summary: 'A collection message for one student, from their open bills',
        description:
          '404 for a student the caller cannot see. A student who owes nothing gets `nothingToCollect: true`, an empty body and ' +
          `a \`note\` saying so. ${provenanceNote}`,
        params: StudentParams,
        body: StudentMessageBody,
        response: { 200: CollectionMessage, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    (request) => {
      const { channel = 'email', language = 'es', tone = 'friendly' } = request.body ?? {};
      return logged(request, service.message(principalOf(request), { studentId: request.params.studentId }, { channel, language, tone }));
    },
  );

  api.post(
    '/assistant/chat',
    {
      config: config_,
      preHandler: generating,
      schema: {
        tags,
        summary: 'Ask about billing data (English or Spanish)',
        description:
          'How much does a student owe, who is overdue in a school, top debtors, collection rate this month, compare schools; ' +
          'anything else gets the list of what can be asked. Answers come from the data the caller may see, returned in ' +
          `\`data\` with the tools used in \`sources\`. ${provenanceNote}`,
        body: ChatBody,
        response: { 200: ChatAnswer, ...problemResponses(400, 401, 403, 429) },
      },
    },
    (request) => logged(request, service.chat(principalOf(request), request.body.message)),
  );

  api.post(
    '/assistant/executive-summary',
    {
      config: config_,
      preValidation: emptyBodyIsObject,
      preHandler: generating,
      schema: {
        tags,
        summary: 'KPIs, trends, risks and recommended actions',
        description:
          'KPIs equal GET /reports/dashboard for the same scope (all visible schools, or schoolId: 404 when not visible); ' +
          `trends compare this calendar month with the last; risks are the schools and students with the most overdue. ${provenanceNote}`,
        body: SummaryBody,
        response: { 200: ExecutiveSummary, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    (request) => logged(request, service.executiveSummary(principalOf(request), request.body ?? {})),
  );
}
