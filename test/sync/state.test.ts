import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { deriveFeedState, freshWithinSeconds, SYNC_STATES, type FeedFacts, type StateContext } from '../../src/modules/sync/sync.state.js';

/**
 * The one derivation of the sync's state (sync.state.ts), over combinations of what the
 * feed row says. Issue 15: the panel showed "LAG 7 min" and "caught up" together, and a
 * feed the vendor could no longer continue looked like any blocked page.
 */
const NOW = Date.UTC(2026, 5, 1, 12);
const ago = (seconds: number) => new Date(NOW - seconds * 1000);
const INTERVAL = 60;

const facts = (overrides: Partial<FeedFacts> = {}): FeedFacts => ({
  feed: 'live',
  status: 'idle',
  cursor: '1200',
  consecutiveFailures: 0,
  retryAt: null,
  lastError: null,
  lastSuccessAt: ago(30),
  caughtUpAt: ago(30),
  behind: 0,
  resumeFrom: null,
  ...overrides,
});
const context = (overrides: Partial<StateContext> = {}): StateContext => ({ now: NOW, running: false, enabled: true, intervalSeconds: INTERVAL, notBefore: null, ...overrides });

describe('sync state: one derivation', () => {
  test('the issue\'s panel: a page failing since 7 minutes after the last complete page is blocked with a 7 min lag, never "caught up"', () => {
    const blocked = deriveFeedState(
      facts({ status: 'blocked', consecutiveFailures: 5, lastError: 'client: vendor answered 400: {"error":"x"}', caughtUpAt: ago(420), lastSuccessAt: ago(420), retryAt: new Date(NOW + 180_000) }),
      context(),
    );
    assert.equal(blocked.state, 'blocked');
    assert.equal(blocked.lagSeconds, 420);
    assert.doesNotMatch(blocked.summary, /caught up/i);
    assert.match(blocked.action ?? '', /retry/i);
    // The same row after the restart, before any failure: the last page reached the head 7 min ago — that is behind, not caught up.
    const stale = deriveFeedState(facts({ caughtUpAt: ago(420), lastSuccessAt: ago(420) }), context());
    assert.equal(stale.state, 'behind');
    assert.equal(stale.lagSeconds, 420);
    assert.match(stale.summary, /Last complete 7 min ago/);
    assert.match(stale.summary, /No page stored for 7 min/);
  });

  test('an unknown cursor is needs_reset, with the reset as the action (live) or a backfill restart (backfill)', () => {
    const live = deriveFeedState(facts({ status: 'needs_reset', lastError: 'cursor_unknown: vendor answered 400: {"error":"after is not a cursor of this feed"}' }), context());
    assert.equal(live.state, 'needs_reset');
    assert.match(live.summary, /no longer knows the live feed's cursor 1200/);
    assert.match(live.action ?? '', /POST \/api\/v1\/sync\/reset/);
    const backfill = deriveFeedState(facts({ feed: 'backfill', status: 'needs_reset' }), context());
    assert.match(backfill.action ?? '', /"mode": "backfill"/);
    // needs_reset outranks everything else the row says.
    assert.equal(deriveFeedState(facts({ status: 'needs_reset', consecutiveFailures: 3 }), context({ running: true, notBefore: NOW + 10_000 })).state, 'needs_reset');
  });

  test('caught up only when the last page reached the head and the lag is within two intervals + 60 s', () => {
    const limit = freshWithinSeconds(INTERVAL);
    assert.equal(limit, 180);
    assert.equal(deriveFeedState(facts({ caughtUpAt: ago(limit), lastSuccessAt: ago(limit) }), context()).state, 'caught_up');
    assert.equal(deriveFeedState(facts({ caughtUpAt: ago(limit + 1), lastSuccessAt: ago(limit + 1) }), context()).state, 'behind');
    // The last page had more: behind however recent the last complete page.
    const more = deriveFeedState(facts({ caughtUpAt: ago(50), lastSuccessAt: ago(5), behind: 12_000 }), context({ running: true }));
    assert.equal(more.state, 'behind');
    assert.equal(more.behind, 12_000);
    assert.match(more.summary, /12000 entries behind.*A pass is running/);
  });

  test('failures and Retry-After are backing_off; nothing stored yet is idle or running; a finished backfill is done without a lag', () => {
    assert.equal(deriveFeedState(facts({ consecutiveFailures: 2, lastError: 'server: vendor answered 503' }), context()).state, 'backing_off');
    assert.equal(deriveFeedState(facts(), context({ notBefore: NOW + 30_000 })).state, 'backing_off');
    assert.equal(deriveFeedState(facts(), context({ notBefore: NOW - 1 })).state, 'caught_up');
    const never = facts({ lastSuccessAt: null, caughtUpAt: null, cursor: null, behind: null });
    assert.deepEqual([deriveFeedState(never, context()).state, deriveFeedState(never, context()).lagSeconds], ['idle', null]);
    assert.equal(deriveFeedState(never, context({ running: true })).state, 'running');
    assert.match(deriveFeedState(never, context({ enabled: false })).summary, /SYNC=off/);
    const done = deriveFeedState(facts({ feed: 'backfill', status: 'done', caughtUpAt: ago(9000) }), context());
    assert.deepEqual([done.state, done.lagSeconds], ['done', null]);
  });

  test('after a reset the feed is behind, resuming from its time', () => {
    const reset = deriveFeedState(facts({ cursor: null, resumeFrom: ago(600), caughtUpAt: ago(600), lastSuccessAt: ago(30) }), context());
    assert.equal(reset.state, 'behind');
    assert.equal(reset.lagSeconds, 600);
    assert.match(reset.summary, /resuming from/);
  });

  test('property: whatever the row says, the state is one of the list and never contradicts the lag', () => {
    const instant = fc.option(fc.integer({ min: -3600, max: 86_400 }).map(ago), { nil: null });
    const arbitraryFacts = fc.record({
      feed: fc.constantFrom('live' as const, 'backfill' as const),
      status: fc.constantFrom('idle' as const, 'blocked' as const, 'done' as const, 'needs_reset' as const),
      cursor: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
      consecutiveFailures: fc.nat(10),
      retryAt: instant,
      lastError: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
      lastSuccessAt: instant,
      caughtUpAt: instant,
      behind: fc.option(fc.nat(100_000), { nil: null }),
      resumeFrom: instant,
    });
    const arbitraryContext = fc.record({
      now: fc.constant(NOW),
      running: fc.boolean(),
      enabled: fc.boolean(),
      intervalSeconds: fc.integer({ min: 1, max: 3600 }),
      notBefore: fc.option(fc.integer({ min: NOW - 60_000, max: NOW + 60_000 }), { nil: null }),
    });
    fc.assert(
      fc.property(arbitraryFacts, arbitraryContext, (row, ctx) => {
        const derived = deriveFeedState(row, ctx);
        assert.ok(SYNC_STATES.includes(derived.state));
        assert.ok(derived.summary.length > 0);
        // Lag: time since the copy was last complete; null exactly when it never was (or the backfill is done).
        const expectedLag = row.caughtUpAt === null || derived.state === 'done' ? null : Math.max(0, (NOW - row.caughtUpAt.getTime()) / 1000);
        assert.equal(derived.lagSeconds, expectedLag);
        if (derived.state === 'caught_up') {
          assert.ok(derived.lagSeconds !== null && derived.lagSeconds <= freshWithinSeconds(ctx.intervalSeconds), 'caught up with a stale lag');
          assert.ok(row.caughtUpAt !== null && row.lastSuccessAt !== null && row.caughtUpAt >= row.lastSuccessAt, 'caught up although the last page had more');
          assert.equal(row.status, 'idle');
          assert.equal(row.consecutiveFailures, 0);
          assert.equal(row.resumeFrom, null);
          assert.equal(derived.behind, 0);
          assert.equal(derived.action, null);
        } else {
          assert.doesNotMatch(derived.summary, /^Caught up/);
        }
        assert.equal(derived.state === 'needs_reset', row.status === 'needs_reset');
        if (row.status === 'blocked') {
          assert.equal(derived.state, 'blocked');
        }
        // Every state that needs an operator says what to do.
        if (derived.state === 'needs_reset' || derived.state === 'blocked') {
          assert.ok(derived.action !== null && derived.action.length > 0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
