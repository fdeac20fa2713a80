import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { problemResponses } from '../../plugins/errors.js';
import { createMemoryCache, type Cache } from '../../shared/cache.js';
import { AppError } from '../../shared/errors.js';
import { requestLanguage } from '../../shared/locale.js';
import { negotiateMediaType } from '../../shared/negotiate.js';
import { createRedisCache } from '../../shared/redis-cache.js';
import { IdParams } from './billing.schemas.js';
import { contentDisposition, statementCsv, statementPdf, type RenderOptions } from './statements.render.js';
import {
  SchoolStatement,
  STATEMENT_MEDIA_TYPES,
  StatementQuery,
  statementResponse,
  StudentStatement,
  type StatementMediaType,
} from './statements.schemas.js';
import { createStatementsService, type CachedStatement, type StatementExport } from './statements.service.js';

/**
 * Statement cache, one per app: Redis when REDIS_URL is set (shared by every
 * instance), otherwise in-process. Entries never go stale (their key holds the school's
 * billing version), so the bounds are about memory only: in-process at most 1 000
 * statements and about 64 MB of them (a school statement at the 5 000-invoice cap is
 * ~1.5 MB); everywhere, an entry lives 10 minutes.
 */
const CACHE_MAX_ENTRIES = 1000;
const CACHE_MAX_BYTES = 64 * 1024 * 1024;
const CACHE_TTL_MS = 10 * 60 * 1000;

/** Approximate serialised size of a statement, without serialising it. */
function approximateBytes(entry: CachedStatement): number {
  const invoices = entry.body.invoices.length;
  const payments = entry.kind === 'student' ? entry.body.invoices.reduce((sum, invoice) => sum + invoice.payments.length, 0) : 0;
  return 1024 + invoices * 320 + payments * 200;
}

/** The statement's media type an Accept header prefers (negotiateMediaType; ties: JSON first); no Accept → JSON. */
export function negotiate(accept: string | undefined): StatementMediaType | undefined {
  return negotiateMediaType(accept, STATEMENT_MEDIA_TYPES, 'application/json');
}

/** How a CSV or PDF is rendered for this request: its reader's language (`lang`, else Accept-Language) and the CSV's style. */
function renderOptions(request: { query: StatementQuery; headers: FastifyRequest['headers'] }): RenderOptions {
  return { language: requestLanguage(request), style: request.query.style ?? 'people' };
}

function sendExport(reply: FastifyReply, exported: StatementExport, media: Exclude<StatementMediaType, 'application/json'>, options: RenderOptions) {
  if (media === 'text/csv') {
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', contentDisposition(exported.head, 'csv'))
      .send(statementCsv(exported, options));
  }
  return reply.type('application/pdf').header('content-disposition', contentDisposition(exported.head, 'pdf')).send(statementPdf(exported, options));
}

function statementCache(app: FastifyInstance, config: Config): Cache<CachedStatement> {
  if (config.redisUrl === undefined) {
    return createMemoryCache<CachedStatement>({ maxEntries: CACHE_MAX_ENTRIES, maxSize: CACHE_MAX_BYTES, sizeOf: approximateBytes });
  }
  // Redis trouble only costs cache misses; say so in the log at most once a minute.
  let lastReport = 0;
  const redis = createRedisCache<CachedStatement>(config.redisUrl, {
    prefix: 'bursar:statement:',
    onError: (error) => {
      if (Date.now() - lastReport > 60_000) {
        lastReport = Date.now();
        app.log.warn({ err: error }, 'statement cache (Redis) unavailable; statements are computed from the database');
      }
    },
  });
  app.addHook('onClose', () => redis.close());
  return redis;
}

/** Student and school statements (JSON, CSV, PDF). */
export default function statementsRoutes(app: FastifyInstance, options: { db: Db; config: Config }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.addSchema(StudentStatement);
  api.addSchema(SchoolStatement);

  const cache = statementCache(app, options.config);
  const statements = createStatementsService({ db: options.db, cache, cacheTtlMs: CACHE_TTL_MS });

  const lookups = app.hasDecorator('metrics')
    ? new Counter({
        name: 'bursar_statement_cache_lookups_total',
        help: 'JSON statement cache lookups by result',
        labelNames: ['result'] as const,
        registers: [app.metrics],
      })
    : undefined;

  const routeConfig = { policy: 'billing:read' as const, allowAnonymous: true };
  const tags = ['statements'];
  const description =
    'Invoices filtered by due date (`from`/`to`, inclusive). Summaries are computed over every matching invoice; ' +
    'cancelled invoices are listed but excluded from every total; totalOverdue is the pending amount of OVERDUE invoices. ' +
    '`Accept`: application/json (default), text/csv (streamed, every invoice) or application/pdf (streamed); anything else is 406. ' +
    `The JSON list holds at most 5 000 invoices (invoicesTruncated). Without a token the statement is readable only when the school has publicStatements, ` +
    'and then with names masked; finance analysts always see names and payment references masked.';

  /** Security-relevant headers common to every statement response. */
  const prepare = (reply: FastifyReply, accept: string | undefined): StatementMediaType => {
    const media = negotiate(accept);
    if (media === undefined) {
      throw new AppError('NOT_ACCEPTABLE', `no media type in Accept is offered; a statement is available as ${STATEMENT_MEDIA_TYPES.join(', ')}`);
    }
    // Personal financial data: never stored by shared caches; varies by format and caller.
    reply.header('cache-control', 'private, no-store').header('vary', 'Accept, Authorization');
    return media;
  };

  const markCache = (reply: FastifyReply, cached: boolean) => {
    lookups?.inc({ result: cached ? 'hit' : 'miss' });
    reply.header('cache-status', cached ? 'bursar; hit' : 'bursar; fwd=miss; stored');
  };

  api.get(
    '/students/:id/statement',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: "A student's statement (JSON, CSV or PDF)",
        description,
        params: IdParams,
        querystring: StatementQuery,
        produces: [...STATEMENT_MEDIA_TYPES],
        response: { 200: statementResponse('StudentStatement'), ...problemResponses(400, 401, 403, 404, 406) },
      },
    },
    async (request, reply) => {
      const media = prepare(reply, request.headers.accept);
      if (media === 'application/json') {
        const { statement, cached } = await statements.studentStatement(request.principal, request.params.id, request.query);
        markCache(reply, cached);
        return reply.type('application/json; charset=utf-8').send(statement);
      }
      return sendExport(reply, await statements.studentExport(request.principal, request.params.id, request.query), media, renderOptions(request));
    },
  );

  api.get(
    '/schools/:id/statement',
    {
      config: routeConfig,
      schema: {
        tags,
        summary: "A school's statement (JSON, CSV or PDF)",
        description,
        params: IdParams,
        querystring: StatementQuery,
        produces: [...STATEMENT_MEDIA_TYPES],
        response: { 200: statementResponse('SchoolStatement'), ...problemResponses(400, 401, 403, 404, 406) },
      },
    },
    async (request, reply) => {
      const media = prepare(reply, request.headers.accept);
      if (media === 'application/json') {
        const { statement, cached } = await statements.schoolStatement(request.principal, request.params.id, request.query);
        markCache(reply, cached);
        return reply.type('application/json; charset=utf-8').send(statement);
      }
      return sendExport(reply, await statements.schoolExport(request.principal, request.params.id, request.query), media, renderOptions(request));
    },
  );
}
