import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Gauge, Counter } from 'prom-client';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { AppError } from '../../shared/errors.js';
import { parseEventId } from './events.js';
import { createLiveHub } from './live.hub.js';
import { liveSocketOf } from './live.socket.js';

/**
 * `GET /api/v1/live` (WebSocket, reports:read): payment events for the schools the
 * caller may see, masked for their role, in a gap-free order (see live.hub.ts).
 *
 * Handshake: the access token as `?token=` (or an Authorization header), optionally
 * `?lastEventId=` to resume; a browser's Origin must be this server's own host. Then
 * the server sends `{type: "hello", lastEventId, heartbeatMs}`, the replay if any,
 * live events `{type: "payment_received" | "payment_failed" | "payment_refunded", id,
 * payment, timestamp}` and `{type: "heartbeat"}` every heartbeatMs. Clients send
 * nothing, but must answer pings (every WebSocket client does): the pongs tell the
 * server how far the client has read. A client with more than 1 MB unread, or that
 * leaves a ping unanswered for two heartbeats, is closed with code 1013 and resumes with
 * the id of the last event it processed.
 */

const LiveQuery = Type.Object(
  {
    token: Type.Optional(Type.String({ description: 'Access token (WebSocket handshakes cannot carry headers in browsers)' })),
    lastEventId: Type.Optional(Type.String({ pattern: '^\\d{1,20}\\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'Resume after this event' })),
  },
  { additionalProperties: false },
);

/** Same-origin browsers only; clients without an Origin header (servers, CLIs) are not browsers. */
function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) {
    return;
  }
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new AppError('FORBIDDEN', 'the Origin header is not a URL');
  }
  if (host !== request.headers.host) {
    throw new AppError('FORBIDDEN', `origin ${origin} may not open the live feed`);
  }
}

export default function liveRoutes(app: FastifyInstance, options: { database: Database; config: Config }) {
  const { database } = options;
  const hub = createLiveHub({ db: database.db, listenConfig: database.pool.options, log: app.log });

  new Gauge({ name: 'bursar_live_clients', help: 'Connected live-feed clients', registers: [app.metrics], collect() { this.set(hub.stats.clients); } });
  new Counter({ name: 'bursar_live_events_delivered_total', help: 'Live events sent to clients', registers: [app.metrics], collect() { this.reset(); this.inc(hub.stats.delivered); } });
  new Counter({
    name: 'bursar_transactions_total',
    help: 'Gateway transactions committed, by status, as read by this process\'s live hub (every API process reads every one: take max across processes, not sum)',
    labelNames: ['status'],
    registers: [app.metrics],
    collect() {
      this.reset();
      for (const [status, count] of Object.entries(hub.stats.transactions)) {
        this.inc({ status }, count);
      }
    },
  });
  new Counter({ name: 'bursar_live_clients_dropped_total', help: 'Live clients closed for being too slow', registers: [app.metrics], collect() { this.reset(); this.inc(hub.stats.dropped); } });

  app.addHook('onReady', () => hub.start());
  app.addHook('onClose', () => hub.stop());

  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/live',
    {
      websocket: true,
      config: { policy: 'reports:read', tokenInQuery: true, rateLimit: false },
      preValidation: (request, _reply, done) => {
        checkOrigin(request);
        done();
      },
      schema: {
        tags: ['live'],
        summary: 'Live payment events (WebSocket)',
        description:
          'Upgrade to a WebSocket. Messages: hello, payment_received | payment_failed | payment_refunded ({id, payment, timestamp}), heartbeat. ' +
          'Resume with ?lastEventId=<id of the last event processed>: the missed events are replayed in order, without gaps or duplicates.',
        querystring: LiveQuery,
        response: problemResponses(400, 401, 403),
      },
    },
    async (socket, request) => {
      const principal = principalOf(request);
      const { lastEventId } = request.query as { lastEventId?: string };
      const resumeAfter = lastEventId === undefined ? undefined : parseEventId(lastEventId);
      // The socket may close while the replay runs: remove the client whichever comes last.
      const state: { closed: boolean; remove?: () => void } = { closed: false };
      socket.on('close', () => {
        state.closed = true;
        state.remove?.();
      });
      socket.on('message', () => socket.close(1003, 'this feed takes no messages'));
      state.remove = await hub.connect(liveSocketOf(socket), principal, resumeAfter);
      if (state.closed) {
        state.remove();
      }
    },
  );
}
