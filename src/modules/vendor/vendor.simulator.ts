import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { EntryGenerator, FeedLog, type VendorEntry } from './vendor.feed.js';

/**
 * The payment gateway's account feed, simulated (SPEC §3 "Gateway sync"): its own small
 * HTTP server with the vendor's limits and faults on demand, used by `npm start` (the
 * demo), `npm run vendor`, the tests and the bench.
 *
 *   GET /v1/entries?after=<cursor>&limit=<1..1000>   header X-Api-Key
 *     200 { entries, nextCursor, hasMore, remaining }   in ARRIVAL order
 *     400 bad cursor or limit · 401 unknown key · 429 + Retry-After beyond the limit
 *   POST /control/faults { kind, count?, ms?, retryAfterSeconds?, ageMs? }  (X-Api-Key)
 *   GET  /control/stats                                                      (X-Api-Key)
 *
 * The limit is a sliding window per API key on the injected clock: at most
 * `requestsPerMinute` accepted requests in any `windowMs`. Every accepted request counts,
 * whatever it answers (a 5xx or a hang too); a 429 does not.
 */
export interface SimulatorClock {
  now(): number;
}

export type FaultKind =
  /** The next `count` accepted requests answer 503. */
  | 'error'
  /** The next `count` accepted requests never answer (until the client gives up). */
  | 'hang'
  /** The next `count` accepted requests answer after `ms` real milliseconds. */
  | 'slow'
  /** The next `count` requests answer 429 with Retry-After `retryAfterSeconds`, before the limiter. */
  | 'rate_limit'
  /** The next `count` pages hand out a cursor one entry short: their last entry comes again on the next page. */
  | 'overlap'
  /** Appends `count` entries re-sending earlier ids with another amount. */
  | 'changed_body'
  /** Appends `count` new entries whose createdAt is `ageMs` (default 1 h) in the past. */
  | 'late';

export interface FaultRequest {
  kind: FaultKind;
  count?: number;
  ms?: number;
  retryAfterSeconds?: number;
  ageMs?: number;
}

export interface VendorStats {
  /** Every request that reached the feed route with a valid key. */
  requests: number;
  /** Requests the limiter let through (they count against the limit). */
  accepted: number;
  /** Requests refused by the limiter: requests over the limit. */
  overLimit: number;
  /** 429s forced by the rate_limit fault. */
  forced429: number;
  errors: number;
  hangs: number;
  /** The most accepted requests seen in any window of `windowMs`, per key (≤ the limit by construction). */
  maxInWindow: number;
  /** Accepted requests per clock minute (epoch minute → count), for the tests' per-minute check. */
  perMinute: Map<number, number>;
  entriesServed: number;
  feedLength: number;
  /** Each feed request's clock time and status, when `timeline` is on (tests). */
  timeline: { at: number; status: number }[];
}

export interface VendorSimulatorOptions {
  clock?: SimulatorClock;
  apiKeys: string[];
  /** New entries per second of the clock (production rate); 0 = only `append()`. */
  entriesPerSecond: number;
  requestsPerMinute?: number;
  windowMs?: number;
  maxPageSize?: number;
  accounts?: number;
  seed?: number;
  host?: string;
  port?: number;
  /** Entries already in the feed at start (history). */
  history?: number;
  /** Record every feed request's time and status in stats().timeline. */
  timeline?: boolean;
}

export interface VendorSimulator {
  /** http://host:port, after start(). */
  readonly url: string;
  start(): Promise<string>;
  close(): Promise<void>;
  fault(request: FaultRequest): void;
  /** Appends `count` generated entries created now. */
  append(count: number): void;
  /** Generates the entries due by the clock's now (also done on every feed request). */
  produce(): void;
  stats(): VendorStats;
  feedLength(): number;
  /** The entry at a feed position. */
  entryAt(seq: number): VendorEntry;
  /**
   * The vendor's data as Bursar should hold it after reading the feed up to `upTo`
   * (default all): the first body of each id, by id. Later bodies of an id are in
   * `changed`.
   */
  truth(upTo?: number): { entries: Map<string, VendorEntry>; changed: VendorEntry[] };
}

const DEFAULT_WINDOW_MS = 60_000;
const ENTRY_TYPES_CHANGE = 7;

export function createVendorSimulator(options: VendorSimulatorOptions): VendorSimulator {
  const clock = options.clock ?? { now: () => Date.now() };
  const limit = options.requestsPerMinute ?? 5;
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const maxPageSize = options.maxPageSize ?? 1000;
  const keys = new Set(options.apiKeys);
  const generator = new EntryGenerator(options.accounts ?? 50, options.seed ?? 1);
  const feed = new FeedLog();
  const startedAt = clock.now();
  let generated = 0;
  const rate = options.entriesPerSecond;
  const accepted = new Map<string, number[]>();
  const stats: VendorStats = {
    requests: 0,
    accepted: 0,
    overLimit: 0,
    forced429: 0,
    errors: 0,
    hangs: 0,
    maxInWindow: 0,
    perMinute: new Map(),
    entriesServed: 0,
    feedLength: 0,
    timeline: [],
  };
  const pending = { error: 0, hang: 0, slow: 0, slowMs: 0, rateLimit: 0, retryAfterSeconds: 1, overlap: 0 };
  const hung = new Set<() => void>();
  let server: FastifyInstance | undefined;
  let url = '';

  const appendOne = (createdAt: number) => {
    feed.push({ ...generator.next(), createdAt });
  };

  for (let i = 0; i < (options.history ?? 0); i++) {
    // History: spread over the day before start.
    appendOne(startedAt - 86_400_000 + Math.floor((i * 86_400_000) / Math.max(1, options.history ?? 1)));
  }

  /** Entries due at the production rate by now: the k-th is created at start + k / rate. */
  const produce = () => {
    if (rate <= 0) {
      return;
    }
    const due = Math.floor(((clock.now() - startedAt) * rate) / 1000);
    while (generated < due) {
      appendOne(startedAt + Math.floor((generated * 1000) / rate));
      generated += 1;
    }
  };

  const fault = (request: FaultRequest) => {
    const count = Math.max(0, Math.floor(request.count ?? 1));
    switch (request.kind) {
      case 'error':
        pending.error += count;
        break;
      case 'hang':
        pending.hang += count;
        break;
      case 'slow':
        pending.slow += count;
        pending.slowMs = request.ms ?? 1000;
        break;
      case 'rate_limit':
        pending.rateLimit += count;
        pending.retryAfterSeconds = request.retryAfterSeconds ?? 30;
        break;
      case 'overlap':
        pending.overlap += count;
        break;
      case 'changed_body': {
        produce();
        for (let i = 0; i < count && feed.length > 0; i++) {
          const original = feed.get(Math.floor((feed.length * (i + 1)) / (count + 1)));
          const accountIndex = Number(original.accountId.slice(5));
          feed.push({ id: original.id, accountIndex, type: original.type, amount: original.amount + ENTRY_TYPES_CHANGE, createdAt: Date.parse(original.createdAt) });
        }
        break;
      }
      case 'late': {
        produce();
        const age = request.ageMs ?? 3_600_000;
        for (let i = 0; i < count; i++) {
          appendOne(clock.now() - age - i);
        }
        break;
      }
    }
  };

  /** Sliding-window limiter on the injected clock; true when the request may proceed. */
  const admit = (key: string, now: number): { ok: true } | { ok: false; retryAfterMs: number } => {
    const times = (accepted.get(key) ?? []).filter((t) => t > now - windowMs);
    if (times.length >= limit) {
      accepted.set(key, times);
      return { ok: false, retryAfterMs: (times[times.length - limit] ?? now) + windowMs - now };
    }
    times.push(now);
    accepted.set(key, times);
    stats.accepted += 1;
    stats.maxInWindow = Math.max(stats.maxInWindow, times.length);
    const minute = Math.floor(now / 60_000);
    stats.perMinute.set(minute, (stats.perMinute.get(minute) ?? 0) + 1);
    return { ok: true };
  };

  const keyOf = (header: string | string[] | undefined) => (typeof header === 'string' && keys.has(header) ? header : undefined);
  const unauthorized = (reply: FastifyReply) => reply.code(401).send({ error: 'unknown or missing X-Api-Key' });

  const build = () => {
    const app = Fastify({ logger: false, forceCloseConnections: true });

    app.get<{ Querystring: { after?: string; limit?: string } }>('/v1/entries', async (request, reply) => {
      const key = keyOf(request.headers['x-api-key']);
      if (key === undefined) {
        return unauthorized(reply);
      }
      stats.requests += 1;
      if (options.timeline === true) {
        // In arrival order; the status is filled in when the answer goes out (or the socket closes).
        const call = { at: clock.now(), status: 0 };
        stats.timeline.push(call);
        reply.raw.once('close', () => {
          // 599: the client gave up before any answer (a hang).
          call.status = reply.raw.writableFinished ? reply.statusCode : 599;
        });
      }
      if (pending.rateLimit > 0) {
        pending.rateLimit -= 1;
        stats.forced429 += 1;
        return reply.code(429).header('retry-after', String(pending.retryAfterSeconds)).send({ error: 'rate limited' });
      }
      const now = clock.now();
      const admitted = admit(key, now);
      if (!admitted.ok) {
        stats.overLimit += 1;
        return reply
          .code(429)
          .header('retry-after', String(Math.max(1, Math.ceil(admitted.retryAfterMs / 1000))))
          .send({ error: `more than ${limit} requests in ${windowMs / 1000} s` });
      }
      if (pending.error > 0) {
        pending.error -= 1;
        stats.errors += 1;
        return reply.code(503).send({ error: 'simulated outage' });
      }
      if (pending.hang > 0) {
        pending.hang -= 1;
        stats.hangs += 1;
        await new Promise<void>((resolve) => {
          hung.add(resolve);
          request.raw.socket.once('close', resolve);
        });
        return reply.code(503).send({ error: 'hung' });
      }
      if (pending.slow > 0) {
        pending.slow -= 1;
        await delay(pending.slowMs);
      }
      produce();
      const after = request.query.after ?? '0';
      const size = request.query.limit === undefined ? maxPageSize : Number(request.query.limit);
      if (!/^\d{1,15}$/.test(after) || Number(after) > feed.length) {
        return reply.code(400).send({ error: 'after is not a cursor of this feed' });
      }
      if (!Number.isInteger(size) || size < 1 || size > maxPageSize) {
        return reply.code(400).send({ error: `limit must be an integer from 1 to ${maxPageSize}` });
      }
      const from = Number(after);
      const to = Math.min(feed.length, from + size);
      const entries: VendorEntry[] = [];
      for (let seq = from; seq < to; seq++) {
        entries.push(feed.get(seq));
      }
      let next = to;
      if (pending.overlap > 0 && to - from >= 2) {
        pending.overlap -= 1;
        next = to - 1;
      }
      stats.entriesServed += entries.length;
      return reply
        .type('application/json')
        .send(JSON.stringify({ entries, nextCursor: String(next), hasMore: next < feed.length, remaining: feed.length - next }));
    });

    app.post<{ Body: FaultRequest }>('/control/faults', async (request, reply) => {
      if (keyOf(request.headers['x-api-key']) === undefined) {
        return unauthorized(reply);
      }
      const kinds: FaultKind[] = ['error', 'hang', 'slow', 'rate_limit', 'overlap', 'changed_body', 'late'];
      if (typeof request.body !== 'object' || !kinds.includes(request.body.kind)) {
        return reply.code(400).send({ error: `kind must be one of ${kinds.join(', ')}` });
      }
      fault(request.body);
      return reply.code(204).send();
    });

    app.get('/control/stats', async (request, reply) => {
      if (keyOf(request.headers['x-api-key']) === undefined) {
        return unauthorized(reply);
      }
      produce();
      const { perMinute: _perMinute, timeline: _timeline, ...rest } = snapshot();
      return reply.send({ ...rest, limit, windowMs, entriesPerSecond: rate });
    });
    return app;
  };

  const snapshot = (): VendorStats => ({ ...stats, perMinute: new Map(stats.perMinute), timeline: stats.timeline.map((call) => ({ ...call })), feedLength: feed.length });

  return {
    get url() {
      return url;
    },
    async start() {
      server = build();
      await server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
      const address = server.server.address() as AddressInfo;
      url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;
      return url;
    },
    async close() {
      for (const release of hung) {
        release();
      }
      hung.clear();
      await server?.close();
      server = undefined;
    },
    fault,
    append(count: number) {
      for (let i = 0; i < count; i++) {
        appendOne(clock.now());
      }
    },
    produce,
    stats: snapshot,
    feedLength: () => {
      produce();
      return feed.length;
    },
    entryAt: (seq) => feed.get(seq),
    truth(upTo = feed.length) {
      const entries = new Map<string, VendorEntry>();
      const changed: VendorEntry[] = [];
      for (let seq = 0; seq < Math.min(upTo, feed.length); seq++) {
        const entry = feed.get(seq);
        const first = entries.get(entry.id);
        if (first === undefined) {
          entries.set(entry.id, entry);
        } else if (first.amount !== entry.amount || first.type !== entry.type || first.accountId !== entry.accountId || first.createdAt !== entry.createdAt) {
          changed.push(entry);
        }
      }
      return { entries, changed };
    },
  };
}
