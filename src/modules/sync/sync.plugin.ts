import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { problemResponses } from '../../plugins/errors.js';
import { actorOf } from '../auth/auth.routes.js';
import { systemClock } from './clock.js';
import { registerSyncGauges } from './sync.metrics.js';
import {
  AccountBalance,
  AccountPage,
  AccountParams,
  DeadLetter,
  DeadLetterPage,
  DeadLetterParams,
  DeadLetterQuery,
  PageQuery,
  Payouts,
  ResetAccepted,
  ResetRequest,
  RunAccepted,
  RunRequest,
  SyncStatus,
} from './sync.schemas.js';
import { createSyncService } from './sync.service.js';

/**
 * Gateway sync routes under /api/v1 (SPEC §3 "Gateway sync"):
 * accounts and payouts need `accounts:read` (super_admin, finance_analyst — money);
 * sync status and dead letters `sync:read`, runs and retries `sync:run` (developer,
 * super_admin), a reset from a time `sync:reset` (super_admin: it may skip vendor data).
 * school_admin has none of these.
 */
export default function syncRoutes(app: FastifyInstance, options: { database: Database; config: Config }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const sync = createSyncService({ database: options.database, config: options.config, clock: systemClock });
  registerSyncGauges(app.metrics, sync);
  const accounts = { policy: 'accounts:read' as const };
  const read = { policy: 'sync:read' as const };
  const run = { policy: 'sync:run' as const };
  const reset = { policy: 'sync:reset' as const };
  const accountTags = ['accounts'];
  const syncTags = ['sync'];

  api.get(
    '/accounts',
    {
      config: accounts,
      schema: {
        tags: accountTags,
        summary: 'Account balances from the gateway ledger, by account id',
        description: 'Keyset-paginated (limit 1–500, default 50). balance = earned − spent − paidOut; payout is a request and does not move it.',
        querystring: PageQuery,
        response: { 200: AccountPage, ...problemResponses(400, 401, 403) },
      },
    },
    (request) => sync.listAccounts(request.query),
  );

  api.get(
    '/accounts/:id',
    {
      config: accounts,
      schema: {
        tags: accountTags,
        summary: "An account's balance: {accountId, earned, spent, payout, paidOut, balance}",
        description: 'Sums of the ledger entries stored from the vendor feed (minor units), kept in the same transaction as the entries.',
        params: AccountParams,
        response: { 200: AccountBalance, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => sync.getAccount(request.params.id),
  );

  api.get(
    '/accounts/:id/payouts',
    {
      config: accounts,
      schema: {
        tags: accountTags,
        summary: "An account's payouts: {requested, paidOut, outstanding, entries}",
        description: 'requested = Σ payout, outstanding = requested − paidOut; entries = payout and paid_out entries newest first, keyset-paginated.',
        params: AccountParams,
        querystring: PageQuery,
        response: { 200: Payouts, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => sync.getPayouts(request.params.id, request.query),
  );

  api.get(
    '/sync/status',
    {
      config: read,
      schema: {
        tags: syncTags,
        summary: 'Gateway sync status: cursor, lag, last run, requests used in the current window, failures, dead letters',
        response: { 200: SyncStatus, ...problemResponses(401, 403) },
      },
    },
    () => sync.status(),
  );

  api.post(
    '/sync/run',
    {
      config: run,
      schema: {
        tags: syncTags,
        summary: 'Run the sync now (live), or walk the feed from its start (backfill) under the same budget',
        description:
          'Queues a pass on the pg-boss worker and answers 202 at once. backfill restarts the backfill feed at `from` (default: the start). ' +
          'No body = a live run.',
        body: RunRequest,
        response: { 202: RunAccepted, ...problemResponses(400, 401, 403) },
      },
      // "Run now" needs no body: a bodiless POST is an empty one.
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async (request, reply) => reply.code(202).send(await sync.requestRun(request.body)),
  );

  api.post(
    '/sync/reset',
    {
      config: reset,
      schema: {
        tags: syncTags,
        summary: 'Resume the live sync from a time (when the vendor no longer knows its cursor)',
        description:
          'The next live pass asks the vendor for the entries that arrived at or after `from` and continues from the cursor that comes back. ' +
          'Entries already stored are skipped by vendor id (no duplicates; a re-sent identical body is not a conflict), so the default ' +
          "— the newest stored entry's time, `newestEntryAt` in /sync/status — loses nothing. A later `from` skips what arrived in between. " +
          "Open dead letters of the live feed are closed (resolution reset). `from` must not be in the future nor more than 366 days back. Audited; 202.",
        body: ResetRequest,
        response: { 202: ResetAccepted, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(202).send(await sync.resetLive(actorOf(request), request.body)),
  );

  api.get(
    '/sync/dead-letters',
    {
      config: read,
      schema: {
        tags: syncTags,
        summary: 'Pages that failed max-attempts times in a row, newest first',
        querystring: DeadLetterQuery,
        response: { 200: DeadLetterPage, ...problemResponses(400, 401, 403) },
      },
    },
    (request) => sync.listDeadLetters(request.query),
  );

  api.post(
    '/sync/dead-letters/:id/retry',
    {
      config: run,
      schema: {
        tags: syncTags,
        summary: 'Retry a dead-lettered page now (the feed waits on it; nothing is skipped)',
        description: 'A letter that cannot succeed (the vendor no longer knows its cursor) answers 409 SYNC_NEEDS_RESET: reset the sync from a time instead (POST /sync/reset).',
        params: DeadLetterParams,
        response: { 202: DeadLetter, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await sync.retryDeadLetter(request.params.id)),
  );
}

