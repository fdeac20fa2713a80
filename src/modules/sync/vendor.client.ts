/**
 * The vendor's feed API as the worker sees it: one GET per page, every outcome a value
 * (never a throw), so the worker decides what counts as a failure. Uses the global
 * fetch (undici) with AbortSignal.timeout; the fetch function is injectable for tests.
 *
 * The contract Bursar expects of a vendor (the simulator implements it):
 *   GET /v1/entries?after=<cursor>&limit=n   the page after a cursor (no cursor: the start)
 *   GET /v1/entries?since=<ISO time>&limit=n the entries that arrived at or after a time
 *   → { entries, nextCursor, hasMore, remaining? } in arrival order.
 * A cursor the vendor does not know is answered 410, or 400/404 with a body that
 * mentions the cursor (`{"error":"after is not a cursor of this feed"}`): that is
 * `cursor_unknown`, which no retry can heal.
 */
export const FEED_TYPES = ['earned', 'spent', 'payout', 'paid_out'] as const;
export type FeedEntryType = (typeof FEED_TYPES)[number];

export interface FeedEntry {
  id: string;
  accountId: string;
  /** Epoch milliseconds (the vendor sends an ISO timestamp). */
  createdAt: number;
  type: FeedEntryType;
  amount: number;
}

export type PageResult =
  | { kind: 'page'; entries: FeedEntry[]; nextCursor: string; hasMore: boolean; remaining: number | null }
  | { kind: 'rate_limited'; retryAfterMs: number }
  | { kind: 'failed'; reason: FailureReason; status?: number; message: string };

/** Why a request failed. Only cursor_unknown cannot heal by itself. */
export type FailureReason = 'timeout' | 'network' | 'server' | 'client' | 'invalid' | 'cursor_unknown';

/** Where a page starts: after a cursor (null: the feed's start), or at a time (after a reset). */
export type FeedPosition = { after: string | null } | { since: number };

export type Fetcher = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

export interface VendorClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  fetch?: Fetcher;
}

const MAX_ID = 128;

/** Retry-After is delta-seconds or an HTTP date; missing or unreadable → 60 s (a full window). */
export function retryAfterMs(header: string | null, now: number): number {
  if (header !== null && /^\d+$/.test(header.trim())) {
    return Number(header.trim()) * 1000;
  }
  const date = header === null ? Number.NaN : Date.parse(header);
  return Number.isNaN(date) ? 60_000 : Math.max(0, date - now);
}

function parseEntry(value: unknown): FeedEntry | string {
  if (typeof value !== 'object' || value === null) {
    return 'entry is not an object';
  }
  const entry = value as Record<string, unknown>;
  const { id, accountId, createdAt, type, amount } = entry;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) {
    return 'entry id is not a string of 1–128 characters';
  }
  if (typeof accountId !== 'string' || accountId.length === 0 || accountId.length > MAX_ID) {
    return `entry ${id}: accountId is not a string of 1–128 characters`;
  }
  const at = typeof createdAt === 'string' ? Date.parse(createdAt) : Number.NaN;
  if (Number.isNaN(at)) {
    return `entry ${id}: createdAt is not a timestamp`;
  }
  if (typeof type !== 'string' || !(FEED_TYPES as readonly string[]).includes(type)) {
    return `entry ${id}: type is not one of ${FEED_TYPES.join(', ')}`;
  }
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    return `entry ${id}: amount is not a non-negative integer (minor units)`;
  }
  return { id, accountId, createdAt: at, type: type as FeedEntryType, amount };
}

/** Checks a page body; a malformed page is a failure like a 5xx (it may heal on retry). */
export function parsePage(body: unknown): PageResult {
  if (typeof body !== 'object' || body === null) {
    return { kind: 'failed', reason: 'invalid', message: 'page is not an object' };
  }
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.entries) || typeof page.nextCursor !== 'string' || page.nextCursor.length === 0 || page.nextCursor.length > 512) {
    return { kind: 'failed', reason: 'invalid', message: 'page has no entries array or no nextCursor' };
  }
  const entries: FeedEntry[] = [];
  for (const raw of page.entries) {
    const entry = parseEntry(raw);
    if (typeof entry === 'string') {
      return { kind: 'failed', reason: 'invalid', message: entry };
    }
    entries.push(entry);
  }
  return {
    kind: 'page',
    entries,
    nextCursor: page.nextCursor,
    hasMore: typeof page.hasMore === 'boolean' ? page.hasMore : false,
    remaining: typeof page.remaining === 'number' && Number.isSafeInteger(page.remaining) ? page.remaining : null,
  };
}

export function createVendorClient(options: VendorClientOptions) {
  const fetcher: Fetcher = options.fetch ?? ((url, init) => fetch(url, init));
  return {
    /** The page at `position`: after a cursor (null = the start of the feed), or since a time. */
    async fetchPage(position: FeedPosition, limit: number, now: number, abort?: AbortSignal): Promise<PageResult> {
      const url = new URL('/v1/entries', options.baseUrl);
      const cursor = 'after' in position ? position.after : null;
      if ('since' in position) {
        url.searchParams.set('since', new Date(position.since).toISOString());
      } else if (cursor !== null) {
        url.searchParams.set('after', cursor);
      }
      url.searchParams.set('limit', String(limit));
      let response: Response;
      let text: string;
      try {
        // One deadline for headers and body: a server that stalls mid-body is a timeout too.
        const timeout = AbortSignal.timeout(options.timeoutMs);
        const signal = abort === undefined ? timeout : AbortSignal.any([timeout, abort]);
        response = await fetcher(url.toString(), { headers: { 'x-api-key': options.apiKey, accept: 'application/json' }, signal });
        text = await response.text();
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        return name === 'TimeoutError' || name === 'AbortError'
          ? { kind: 'failed', reason: 'timeout', message: `no answer within ${options.timeoutMs} ms` }
          : { kind: 'failed', reason: 'network', message: error instanceof Error ? error.message : String(error) };
      }
      if (response.status === 429) {
        return { kind: 'rate_limited', retryAfterMs: retryAfterMs(response.headers.get('retry-after'), now) };
      }
      if (response.status >= 500) {
        return { kind: 'failed', reason: 'server', status: response.status, message: `vendor answered ${response.status}` };
      }
      if (response.status !== 200) {
        const message = `vendor answered ${response.status}: ${text.slice(0, 200)}`;
        const unknownCursor = cursor !== null && (response.status === 410 || ((response.status === 400 || response.status === 404) && /cursor/i.test(text)));
        return { kind: 'failed', reason: unknownCursor ? 'cursor_unknown' : 'client', status: response.status, message };
      }
      try {
        return parsePage(JSON.parse(text));
      } catch {
        return { kind: 'failed', reason: 'invalid', message: 'page is not JSON' };
      }
    },
  };
}

export type VendorClient = ReturnType<typeof createVendorClient>;
