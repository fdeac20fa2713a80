import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { Feed, newFeedDefinition, type FeedDefinition, type VendorEntry } from './vendor.feed.js';
import type { FeedStore } from './vendor.store.js';

/**
 * The payment gateway's account feed, simulated (SPEC §3 "Gateway sync"): its own small
 * HTTP server with the vendor's limits and faults on demand, used by `npm start` (the
 * demo), `npm run vendor`, the tests and the bench.
 *
 *   GET /v1/entries?after=<cursor>&limit=<1..1000>   header X-Api-Key
 *   GET /v1/entries?since=<ISO time>&limit=<1..1000>  the entries that arrived at or after a time
 *     200 { entries, nextCursor, hasMore, remaining }   in ARRIVAL order
 *     400 bad cursor, time or limit · 401 unknown key · 429 + Retry-After beyond the limit
 *   POST /control/faults { kind, count?, ms?, retryAfterSeconds?, ageMs? }  (X-Api-Key)
 *   GET  /control/stats                                                      (X-Api-Key)
 *
 * The limit is a sliding window per API key on the injected clock: at most
 * `requestsPerMinute` accepted requests in any `windowMs`. Every accepted request counts,
 * whatever it answers (a 5xx or a hang too); a 429 does not.
 *
 * The feed is derived from a small definition (vendor.feed.ts). With a `store`, the
 * definition is loaded from it (or created in it) by start() and saved after every
 * change, so a restarted simulator serves the same feed: the cursors it handed out stay
 * valid and every id keeps its body. Without one, the feed lives as long as the object.
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
  | 'late'
  /** The vendor forgets every cursor it handed out (its data stays): the next request after one is a 400. */
  | 'reset';

export const FAULT_KINDS: readonly FaultKind[] = ['error', 'hang', 'slow', 'rate_limit', 'overlap', 'changed_body', 'late', 'reset'];

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
  /** Requests refused because their cursor is not one of this feed (400). */
  unknownCursors: number;
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
  /** A new feed's account count and seed (a stored feed keeps its own). */
  accounts?: number;
  seed?: number;
  host?: string;
  port?: number;
  /** A new feed's entries already there at start (history, created over the day before). */
  history?: number;
  /** Record every feed request's time and status in stats().timeline. */
  timeline?: boolean;
  /** Where the feed's definition is kept across restarts; none = in this object only. */
  store?: FeedStore;
  /** A failed save of the definition (the feed goes on; a restart would lose the last change). */
  onStoreError?: (error: unknown) => void;
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
  /** The feed position a cursor of this feed stands for (undefined: not one of its cursors). */
  positionOf(cursor: string): number | undefined;
  /** The cursor this feed hands out for a position. */
  cursorAt(seq: number): string;
  /** The first position whose entry arrived at or after `time` (what `since` starts at). */
  positionAt(time: number): number;
  /** The feed's definition (what a store keeps). */
  definition(): FeedDefinition;
  /**
   * The vendor's data as Bursar should hold it after reading the feed up to `upTo`
   * (default all): the first body of each id, by id. Later bodies of an id are in
   * `changed`.
   */
  truth(upTo?: number, from?: number): { entries: Map<string, VendorEntry>; changed: VendorEntry[] };
}

const DEFAULT_WINDOW_MS = 60_000;
const CHANGED_AMOUNT_DELTA = 7;

/** A short random id that namespaces a stored feed's entry ids and cursors. */
const newFeedId = () =>
  [...randomBytes(6)].map((byte) => (byte % 36).toString(36)).join('');

export function createVendorSimulator(options: VendorSimulatorOptions): VendorSimulator {
  const clock = options.clock ?? { now: () => Date.now() };
  const limit = options.requestsPerMinute ?? 5;
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const maxPageSize = options.maxPageSize ?? 1000;
  const keys = new Set(options.apiKeys);
  const rate = options.entriesPerSecond;
  const store = options.store;
  const fresh = (feedId: string) =>
    newFeedDefinition({ feedId, seed: options.seed ?? 1, accounts: options.accounts ?? 50, history: options.history ?? 0, rate, at: clock.now() });

  // Saves run one after another; close() waits for the last.
  let saving: Promise<void> = Promise.resolve();
  const save = (definition: FeedDefinition) => {
    if (store === undefined) {
      return;
    }
    const snapshot = structuredClone(definition);
    saving = saving.then(() => store.save(snapshot)).catch((error: unknown) => options.onStoreError?.(error));
  };
  // Without a store the feed exists at once (tests append before start()); with one, start() loads it.
  let feed: Feed | undefined = store === undefined ? new Feed(fresh(''), save) : undefined;
  const current = (): Feed => {
    if (feed === undefined) {
      throw new Error('the vendor simulator has a store: call start() before using its feed');
    }
    return feed;
  };

  const accepted = new Map<string, number[]>();
  const stats: VendorStats = {
    requests: 0,
    accepted: 0,
    overLimit: 0,
    forced429: 0,
    errors: 0,
    hangs: 0,
    unknownCursors: 0,
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

  /**
   * A cursor is the feed position in decimal, prefixed by what identifies the feed when
   * there is something to tell apart: a stored feed's id, and the generation after a
   * reset fault (`k3x9qz-r2.1200`). A cursor of another feed or generation is refused.
   */
  const cursorPrefix = () => {
    const def = current().definition;
    return [def.feedId, def.generation > 0 ? `r${def.generation}` : ''].filter((part) => part !== '').join('-');
  };
  const cursorAt = (seq: number) => {
    const prefix = cursorPrefix();
    return prefix === '' ? String(seq) : `${prefix}.${seq}`;
  };
  const positionOf = (cursor: string): number | undefined => {
    const prefix = cursorPrefix();
    const digits = prefix === '' ? cursor : cursor.startsWith(`${prefix}.`) ? cursor.slice(prefix.length + 1) : '';
    if (!/^\d{1,15}$/.test(digits)) {
      return undefined;
    }
    const seq = Number(digits);
    return seq <= current().length(clock.now()) ? seq : undefined;
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
      case 'changed_body':
        current().changed(clock.now(), count, CHANGED_AMOUNT_DELTA);
        break;
      case 'late':
        current().late(clock.now(), count, request.ageMs ?? 3_600_000);
        break;
      case 'reset':
        current().reset();
        break;
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

    app.get<{ Querystring: { after?: string; since?: string; limit?: string } }>('/v1/entries', async (request, reply) => {
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
      const log = current();
      const length = log.length(clock.now());
      const size = request.query.limit === undefined ? maxPageSize : Number(request.query.limit);
      let from: number;
      if (request.query.since !== undefined) {
        const since = Date.parse(request.query.since);
        if (request.query.after !== undefined || !/^\d{4}-\d{2}-\d{2}T/.test(request.query.since) || Number.isNaN(since)) {
          return reply.code(400).send({ error: 'since must be an ISO 8601 time, without after' });
        }
        from = log.firstArrivedAtOrAfter(since, clock.now());
      } else {
        const position = positionOf(request.query.after ?? cursorAt(0));
        if (position === undefined) {
          stats.unknownCursors += 1;
          return reply.code(400).send({ error: 'after is not a cursor of this feed' });
        }
        from = position;
      }
      if (!Number.isInteger(size) || size < 1 || size > maxPageSize) {
        return reply.code(400).send({ error: `limit must be an integer from 1 to ${maxPageSize}` });
      }
      const to = Math.min(length, from + size);
      const entries: VendorEntry[] = [];
      for (let seq = from; seq < to; seq++) {
        entries.push(log.get(seq));
      }
      let next = to;
      if (pending.overlap > 0 && to - from >= 2) {
        pending.overlap -= 1;
        next = to - 1;
      }
      stats.entriesServed += entries.length;
      return reply
        .type('application/json')
        .send(JSON.stringify({ entries, nextCursor: cursorAt(next), hasMore: next < length, remaining: length - next }));
    });

    app.post<{ Body: FaultRequest }>('/control/faults', async (request, reply) => {
      if (keyOf(request.headers['x-api-key']) === undefined) {
        return unauthorized(reply);
      }
      if (typeof request.body !== 'object' || !FAULT_KINDS.includes(request.body.kind)) {
        return reply.code(400).send({ error: `kind must be one of ${FAULT_KINDS.join(', ')}` });
      }
      fault(request.body);
      return reply.code(204).send();
    });

    app.get('/control/stats', async (request, reply) => {
      if (keyOf(request.headers['x-api-key']) === undefined) {
        return unauthorized(reply);
      }
      const { perMinute: _perMinute, timeline: _timeline, ...rest } = snapshot();
      const def = current().definition;
      return reply.send({ ...rest, limit, windowMs, entriesPerSecond: current().rate(), feedId: def.feedId, generation: def.generation });
    });
    return app;
  };

  const snapshot = (): VendorStats => ({
    ...stats,
    perMinute: new Map(stats.perMinute),
    timeline: stats.timeline.map((call) => ({ ...call })),
    feedLength: feed?.length(clock.now()) ?? 0,
  });

  /** Loads the stored feed (or stores a new one) and continues it at this run's rate. */
  const load = async (from: FeedStore) => {
    const definition = (await from.load()) ?? (await from.create(fresh(newFeedId())));
    feed = new Feed(definition, save);
    // The live rate continues from wall-clock time; a new rate applies from now on.
    feed.setRate(clock.now(), rate);
  };

  return {
    get url() {
      return url;
    },
    async start() {
      if (store !== undefined && feed === undefined) {
        await load(store);
      }
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
      await saving;
    },
    fault,
    append(count: number) {
      current().append(clock.now(), Math.max(0, Math.floor(count)));
    },
    produce() {
      current().length(clock.now());
    },
    stats: snapshot,
    feedLength: () => current().length(clock.now()),
    entryAt: (seq) => {
      if (!Number.isInteger(seq) || seq < 0 || seq >= current().length(clock.now())) {
        throw new RangeError(`no feed entry ${seq}`);
      }
      return current().get(seq);
    },
    positionOf,
    cursorAt,
    positionAt: (time) => current().firstArrivedAtOrAfter(time, clock.now()),
    definition: () => structuredClone(current().definition),
    truth(upTo?: number, from = 0) {
      const log = current();
      const end = Math.min(upTo ?? Number.POSITIVE_INFINITY, log.length(clock.now()));
      const entries = new Map<string, VendorEntry>();
      const changed: VendorEntry[] = [];
      for (let seq = from; seq < end; seq++) {
        const entry = log.get(seq);
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
