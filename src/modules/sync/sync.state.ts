import { formatDuration } from '../../shared/duration.js';
import type { FeedName, FeedStatus } from './sync.tables.js';

/**
 * The ONE place that says what state a feed is in. GET /sync/status, the Monitoring
 * panel, the metrics and the worker's log lines all use it, so they cannot disagree
 * (issue 15: the panel once said "LAG 7 min" and "caught up" at once).
 *
 * Definitions:
 * - **lag** = now − caughtUpAt: the time since the copy was last known complete, i.e. a
 *   page came back with `hasMore: false` (a reset lowers caughtUpAt to its `from`: what
 *   came after is being fetched again). Null until a page has reached the head once, and
 *   for a finished backfill.
 * - **caught_up** only when the last stored page reached the head (caughtUpAt ≥
 *   lastSuccessAt) AND lag ≤ freshWithinSeconds (two tick intervals plus a minute: the
 *   next pass is due by then). A larger lag is `behind`, whatever the last page said.
 * - One state, by priority: needs_reset > blocked > done > backing_off > behind (a reset
 *   being resumed) > idle/running (nothing stored yet) > caught_up > behind.
 */
export const SYNC_STATES = ['idle', 'running', 'caught_up', 'behind', 'backing_off', 'blocked', 'needs_reset', 'done'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/** What the stored feed row says (sync_feeds). */
export interface FeedFacts {
  feed: FeedName;
  status: FeedStatus;
  cursor: string | null;
  consecutiveFailures: number;
  retryAt: Date | null;
  lastError: string | null;
  lastSuccessAt: Date | null;
  caughtUpAt: Date | null;
  behind: number | null;
  resumeFrom: Date | null;
}

export interface StateContext {
  now: number;
  /** A pass holds the feed's lock right now (any instance). */
  running: boolean;
  /** The sync worker runs in this instance (SYNC). */
  enabled: boolean;
  intervalSeconds: number;
  /** The vendor's Retry-After (epoch ms) when it lies in the future. */
  notBefore: number | null;
}

export interface DerivedState {
  state: SyncState;
  /** Seconds since the copy was last complete; null where that means nothing. */
  lagSeconds: number | null;
  /** Entries the vendor still had after the last page, where that is the state's point. */
  behind: number | null;
  /** One sentence on what is going on. */
  summary: string;
  /** What an operator should do, when the sync needs one; else null. */
  action: string | null;
}

/** The lag within which a feed whose last page reached the head counts as caught up. */
export const freshWithinSeconds = (intervalSeconds: number) => 2 * intervalSeconds + 60;

/** What to do about a feed whose cursor the vendor no longer knows (also the worker's warn line). */
export function resetAdvice(feed: FeedName): string {
  return feed === 'live'
    ? 'Reset the sync from a time: POST /api/v1/sync/reset {"from": "<ISO time>"} (super_admin) or the Reset button on the Monitoring page. ' +
        'The time of the newest stored entry (the default) loses nothing: entries already stored are skipped, not doubled.'
    : 'Restart the backfill: POST /api/v1/sync/run {"mode": "backfill"}.';
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

export function deriveFeedState(facts: FeedFacts, context: StateContext): DerivedState {
  const lag = facts.caughtUpAt === null ? null : Math.max(0, (context.now - facts.caughtUpAt.getTime()) / 1000);
  const lastPageReachedHead = facts.caughtUpAt !== null && facts.lastSuccessAt !== null && facts.caughtUpAt.getTime() >= facts.lastSuccessAt.getTime();
  const fresh = lag !== null && lag <= freshWithinSeconds(context.intervalSeconds);
  const error = facts.lastError === null ? '' : ` (${facts.lastError})`;
  const state = (value: SyncState, summary: string, action: string | null = null, behind = facts.behind): DerivedState => ({
    state: value,
    lagSeconds: value === 'done' ? null : lag,
    behind,
    summary,
    action,
  });

  if (facts.status === 'needs_reset') {
    return state(
      'needs_reset',
      `The vendor no longer knows the ${facts.feed} feed's cursor${facts.cursor === null ? '' : ` ${facts.cursor}`}${error}: no retry can continue from it, so nothing is fetched until the feed is reset.`,
      resetAdvice(facts.feed),
    );
  }
  if (facts.status === 'blocked') {
    const retryAt = facts.retryAt === null ? '' : ` It tries the page again by itself at ${facts.retryAt.toISOString()}.`;
    return state(
      'blocked',
      `A page failed ${plural(facts.consecutiveFailures, 'time')} in a row${error}; the feed waits on it, nothing is skipped.${retryAt}`,
      'Retry its dead letter now (POST /api/v1/sync/dead-letters/:id/retry or Retry on the Monitoring page) once the vendor answers again.',
    );
  }
  if (facts.status === 'done') {
    return state('done', 'The backfill reached the head of the feed; it runs again when restarted.', null, null);
  }
  if (facts.consecutiveFailures > 0) {
    return state('backing_off', `${plural(facts.consecutiveFailures, 'failed attempt')} in a row${error}; retrying with exponential backoff.`);
  }
  if (context.notBefore !== null && context.notBefore > context.now) {
    return state('backing_off', `The vendor asked to wait (429) until ${new Date(context.notBefore).toISOString()}; no request before then.`);
  }
  const worker = context.running
    ? ' A pass is running.'
    : context.enabled
      ? ''
      : ' The sync worker is off in this instance (SYNC=off): another instance must run it.';
  if (facts.resumeFrom !== null) {
    return state('behind', `Reset: resuming from ${facts.resumeFrom.toISOString()}; the next pass asks the vendor for what arrived since then.${worker}`);
  }
  if (facts.lastSuccessAt === null) {
    return context.running
      ? state('running', 'The first pass is running: nothing stored yet.')
      : state('idle', `No page stored yet.${context.enabled ? ' The first pass starts with the next tick.' : worker}`);
  }
  if (lastPageReachedHead && fresh) {
    return state('caught_up', `Caught up: the last page reached the head of the vendor's feed ${formatDuration(lag)} ago.`, null, 0);
  }
  const how =
    facts.behind !== null && facts.behind > 0 && !lastPageReachedHead
      ? `${facts.behind} entries behind the vendor's head at the last page`
      : lag === null
        ? 'Not yet read to the head of the feed'
        : `Last complete ${formatDuration(lag)} ago`;
  // Stalled: no page stored for longer than a caught-up feed may lag, and no pass running.
  const quietFor = (context.now - facts.lastSuccessAt.getTime()) / 1000;
  const stalled =
    !context.running && quietFor > freshWithinSeconds(context.intervalSeconds)
      ? ` No page stored for ${formatDuration(quietFor)}: check that a sync worker runs (SYNC=on).`
      : '';
  return state('behind', `${how}.${worker}${stalled}`, null, lastPageReachedHead ? 0 : facts.behind);
}
