import { readFileSync } from 'node:fs';
import helmet from '@fastify/helmet';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { createAuthRepository } from './modules/auth/auth.repository.js';
import authRoutes from './modules/auth/auth.routes.js';
import { createAuthService } from './modules/auth/auth.service.js';
import { createAccessTokens } from './modules/auth/tokens.js';
import { createUsersRepository } from './modules/auth/users.repository.js';
import usersRoutes from './modules/auth/users.routes.js';
import { createUsersService } from './modules/auth/users.service.js';
import analyticsRoutes from './modules/analytics/analytics.routes.js';
import assistantRoutes from './modules/assistant/assistant.routes.js';
import billingRoutes from './modules/billing/billing.routes.js';
import collectionsRoutes from './modules/collections/collections.routes.js';
import familiesRoutes from './modules/families/families.routes.js';
import billRunsRoutes from './modules/billruns/billruns.routes.js';
import billRunsWorkerPlugin from './modules/billruns/billruns.worker.plugin.js';
import collectionsWorkerPlugin from './modules/collections/collections.worker.plugin.js';
import messagesWorkerPlugin from './modules/messages/messages.worker.plugin.js';
import messagesRoutes from './modules/messages/messages.routes.js';
import { MESSAGES_SCHEMAS } from './modules/messages/messages.schemas.js';
import { BILLING_SCHEMAS } from './modules/billing/billing.schemas.js';
import portalRoutes from './modules/portal/portal.routes.js';
import payLinksRoutes from './modules/paylinks/paylinks.routes.js';
import gatewayRoutes from './modules/gateway/gateway.routes.js';
import gatewaySimulatorPlugin from './modules/gatewaysim/gatewaysim.plugin.js';
import familyPaymentsRoutes from './modules/familypayments/familypayments.routes.js';
import statementsRoutes from './modules/billing/statements.routes.js';
import discountsRoutes from './modules/discounts/discounts.routes.js';
import feePlansRoutes from './modules/feeplans/feeplans.routes.js';
import healthRoutes from './modules/health/health.routes.js';
import liveRoutes from './modules/live/live.routes.js';
import billingReportsRoutes from './modules/reporting/billing-reports.routes.js';
import dashboardRoutes from './modules/reporting/dashboard.routes.js';
import failuresRoutes from './modules/reporting/failures.routes.js';
import gradesRoutes from './modules/reporting/grades.routes.js';
import pendingRoutes from './modules/reporting/pending.routes.js';
import receiptsRoutes from './modules/receipts/receipts.routes.js';
import invoiceDocsRoutes from './modules/invoicedocs/invoicedocs.routes.js';
import simulatorPlugin from './modules/simulator/simulator.plugin.js';
import syncRoutes from './modules/sync/sync.plugin.js';
import syncWorkerPlugin from './modules/sync/sync.worker.plugin.js';
import maintenancePlugin from './jobs/maintenance.plugin.js';
import authGuard from './plugins/auth.js';
import compression from './plugins/compression.js';
import docs from './plugins/docs.js';
import errors, { clientErrorHandler, frameworkErrorHandler } from './plugins/errors.js';
import metrics from './plugins/metrics.js';
import rateLimit from './plugins/rate-limit.js';
import requestId, { requestIdFor } from './plugins/request-id.js';
import { compactLogDestination, OneLinePerRequest } from './plugins/request-log.js';
import { createValidatorFactory } from './plugins/validation.js';
import auditRoutes from './modules/audit/audit.routes.js';
import accountingRoutes from './modules/accounting/accounting.routes.js';
import webhooksRoutes from './modules/webhooks/webhooks.routes.js';
import webhooksWorkerPlugin from './modules/webhooks/webhooks.worker.plugin.js';
import reconciliationRoutes from './modules/reconciliation/reconciliation.routes.js';
import { systemClock, type Clock } from './shared/clock.js';

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * What a process runs (see docs/processes.md): `all` is `npm start` (HTTP and the
 * background jobs in one process), `api` serves HTTP only, `worker` runs the jobs.
 */
export type ProcessRole = 'all' | 'api' | 'worker';

export interface AppOptions {
  config: Config;
  /** The primary: every write, and every read that must see them (statements, the live feed). */
  database: Database;
  /**
   * A read replica (DATABASE_READ_URL) for reports, analytics and exports; defaults to
   * `database`. Replicas lag: what is read there may be a moment behind the primary.
   */
  readDatabase?: Database;
  /** `all` (default) also runs the background jobs; `api` serves HTTP only. */
  role?: Exclude<ProcessRole, 'worker'>;
  /** The resolved JWT signing secret (see server.ts for how it is chosen). */
  jwtSecret: string;
  /** Fastify logger options; false in tests that don't look at logs. */
  logger?: FastifyServerOptions['logger'];
  /**
   * Business time for online payment, pay links and invoice documents (what "now" is for
   * a checkout, a webhook, a link's expiry, a payment's paidAt): the system clock, or the
   * virtual one of `bursar simulate`.
   */
  clock?: Clock;
}

/**
 * `url` with its credentials replaced: any `token` query parameter (WebSocket handshakes
 * carry the access token there), a portal invitation (`?invitation=`) and a pay link's
 * token (`/pay/<token>`, `/pay-links/<token>`).
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|invitation)=)[^&#]*/gi, '$1[redacted]').replace(/(\/pay(?:-links)?\/)[^/?#]+/g, '$1[redacted]');
}

/** Fastify's request log fields, with the URL redacted. */
function requestForLog(request: FastifyRequest) {
  return { method: request.method, url: redactUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket.remotePort };
}

/**
 * The logger options, with the redacting request serializer whatever the caller passed.
 * By default JSON lines on stdout (for log collectors); in development on a terminal,
 * the same lines printed one short line each (see request-log.ts).
 */
export function loggerOptions(
  config: Config,
  logger: AppOptions['logger'],
  stdout: { isTTY?: boolean; write(text: string): unknown } = process.stdout,
): FastifyServerOptions['logger'] {
  if (logger === false) {
    return false;
  }
  const readable = config.env === 'development' && stdout.isTTY === true;
  const base = typeof logger === 'object' ? logger : { level: config.logLevel, ...(readable ? { stream: compactLogDestination(stdout, { colours: true }) } : {}) };
  return { ...base, serializers: { ...base.serializers, req: requestForLog } };
}

/** The Fastify instance with Bursar's logger, request ids, validation and error-edge settings (exported for tests of the bare edge). */
export function createFastify(config: Config, logger: AppOptions['logger']): FastifyInstance {
  return Fastify({
    logger: loggerOptions(config, logger),
    genReqId: requestIdFor,
    requestIdHeader: false,
    // One line per request, when it completes (not Fastify's two); none for probes and scrapes.
    logController: new OneLinePerRequest({ requestIdLogLabel: 'requestId' }),
    trustProxy: config.trustProxy,
    bodyLimit: 1024 * 1024,
    // Strict JSON bodies (no type coercion), coerced querystrings and paths, and the
    // storable-text / finite-number guard on every part (src/plugins/validation.ts).
    schemaController: { compilersFactory: { buildValidator: createValidatorFactory() } },
    // Every 4xx and 5xx is problem+json, the ones Fastify and Node's HTTP parser answer
    // before any hook runs included: a malformed or over-long path (frameworkErrors),
    // oversized headers or query strings and malformed HTTP (clientErrorHandler), and a
    // request that arrives while the server drains (the errors plugin answers it).
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
}

/**
 * Builds the HTTP app: the composition root. Order matters and is fixed:
 * errors → request ids → security headers → JSON compression → access guard (must see every route) →
 * OpenAPI (collects every route) → metrics → rate limits → modules under /api/v1.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, database } = options;
  const readDb = (options.readDatabase ?? database).db;
  const role = options.role ?? 'all';
  const clock = options.clock ?? systemClock;
  const app = createFastify(config, options.logger);

  const tokens = createAccessTokens({
    secret: options.jwtSecret,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttlSeconds: config.auth.accessTokenTtlSeconds,
  });
  const authRepository = createAuthRepository();
  const usersRepository = createUsersRepository();
  const auth = createAuthService({
    db: database.db,
    tokens,
    auth: authRepository,
    users: usersRepository,
    refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
    throttle: {
      maxPerUser: config.auth.loginMaxFailuresPerUser,
      maxPerIp: config.auth.loginMaxFailuresPerIp,
      windowSeconds: config.auth.loginThrottleWindowSeconds,
    },
  });
  const users = createUsersService({ db: database.db, users: usersRepository, auth: authRepository });

  await app.register(errors);
  await app.register(requestId);
  await app.register(helmet, {
    // The API answers JSON; the docs UI needs inline styles and scripts of its own.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        // Served over plain HTTP on a LAN too; upgrading subresources would break it.
        upgradeInsecureRequests: null,
      },
    },
  });
  await app.register(compression);
  // Before the guard: its onRequest marks upgrade requests, so a refused handshake (401,
  // 403 from the guard) still gets its socket closed after the HTTP answer.
  await app.register(websocket, { options: { maxPayload: 4096 } });
  await app.register(authGuard, { authenticate: (token) => auth.authenticate(token) });
  await app.register(docs, { version: VERSION });
  await app.register(metrics, { pool: database.pool });
  await app.register(rateLimit, { config });

  await app.register(healthRoutes, { db: database.db, version: VERSION });
  await app.register(
    async (api) => {
      // Shapes more than one module answers with (Invoice, Message, …): registered once here, seen by every route below.
      for (const schema of [...BILLING_SCHEMAS, ...MESSAGES_SCHEMAS]) {
        api.addSchema(schema);
      }
      await api.register(authRoutes, { auth });
      await api.register(usersRoutes, { users });
      await api.register(billingRoutes, { db: database.db });
      await api.register(statementsRoutes, { db: database.db, config });
      await api.register(feePlansRoutes, { db: database.db });
      await api.register(discountsRoutes, { db: database.db });
      await api.register(familiesRoutes, { db: database.db, publicUrl: config.publicUrl });
      await api.register(billRunsRoutes, { db: database.db, config });
      await api.register(familyPaymentsRoutes, { db: database.db });
      await api.register(receiptsRoutes, { db: database.db });
      await api.register(invoiceDocsRoutes, { db: database.db, config, clock });
      await api.register(collectionsRoutes, { db: database.db, config });
      await api.register(messagesRoutes, { db: database.db });
      await api.register(auditRoutes, { db: database.db });
      await api.register(accountingRoutes, { db: database.db });
      await api.register(webhooksRoutes, { db: database.db, config, clock });
      await api.register(reconciliationRoutes, { db: database.db, clock });
      await api.register(payLinksRoutes, { db: database.db, config, clock });
      await api.register(gatewayRoutes, { db: database.db, config, clock });
      await api.register(portalRoutes, { db: database.db, config });
      // Reports, analytics and exports read from the replica when there is one.
      await api.register(billingReportsRoutes, { db: readDb });
      // Their reads fold the rollup deltas first, on the primary (a replica cannot write).
      await api.register(dashboardRoutes, { db: readDb, primaryDb: database.db });
      await api.register(gradesRoutes, { db: readDb });
      await api.register(pendingRoutes, { db: readDb, primaryDb: database.db });
      await api.register(failuresRoutes, { db: readDb });
      await api.register(analyticsRoutes, { db: readDb });
      await api.register(liveRoutes, { database, config });
      await api.register(syncRoutes, { database, config });
      await api.register(assistantRoutes, { database, config });
    },
    { prefix: '/api/v1' },
  );
  if (config.gateway.provider === 'simulator') {
    // The bundled stand-in for a payment gateway: its hosted page, and webhooks to the route above.
    await app.register(gatewaySimulatorPlugin, { db: database.db, config, retry: config.env !== 'test', clock });
  }
  await app.register(import('./plugins/web.js'));
  await app.register(simulatorPlugin, { db: database.db, config, online: true });
  if (role === 'all') {
    await registerJobs(app, { config, database, role });
  }
  return app;
}

/** The background jobs, after every route so they start on a complete app. */
async function registerJobs(app: FastifyInstance, options: { config: Config; database: Database; role: ProcessRole }): Promise<void> {
  await app.register(syncWorkerPlugin, { database: options.database, config: options.config });
  await app.register(maintenancePlugin, options);
  await app.register(billRunsWorkerPlugin, { database: options.database, config: options.config });
  await app.register(collectionsWorkerPlugin, { database: options.database, config: options.config });
  await app.register(messagesWorkerPlugin, { database: options.database, config: options.config });
  await app.register(webhooksWorkerPlugin, { database: options.database, config: options.config });
}

export interface WorkerAppOptions {
  config: Config;
  database: Database;
  logger?: FastifyServerOptions['logger'];
}

/**
 * The worker process (`bursar worker`): the pg-boss jobs (gateway sync, maintenance),
 * the demo simulators when switched on, and only /health, /health/db and /metrics over
 * HTTP for probes and scrapes. No API, no live feed, no rate limits.
 */
export async function buildWorkerApp(options: WorkerAppOptions): Promise<FastifyInstance> {
  const { config, database } = options;
  const app = createFastify(config, options.logger);
  await app.register(errors);
  await app.register(requestId);
  await app.register(metrics, { pool: database.pool });
  await app.register(healthRoutes, { db: database.db, version: VERSION });
  await app.register(simulatorPlugin, { db: database.db, config });
  await registerJobs(app, { config, database, role: 'worker' });
  return app;
}
