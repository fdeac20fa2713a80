import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { dedupePage } from '../../src/modules/sync/sync.worker.js';
import { parsePage, retryAfterMs } from '../../src/modules/sync/vendor.client.js';

describe('sync building blocks', () => {
  test('VirtualClock: time advances only when every participant sleeps, earliest wake-up first', async () => {
    const clock = new VirtualClock(0);
    const order: string[] = [];
    const leaveA = clock.join();
    const leaveB = clock.join();
    const a = (async () => {
      await clock.sleep(300);
      order.push(`a@${clock.now()}`);
      leaveA();
    })();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(clock.now(), 0, 'B is still working: time stands still');
    const b = (async () => {
      await clock.sleep(100);
      order.push(`b@${clock.now()}`);
      await clock.sleep(500);
      order.push(`b@${clock.now()}`);
      leaveB();
    })();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['b@100', 'a@300', 'b@600']);
  });

  test('VirtualClock: an aborted sleep rejects with the reason', async () => {
    const clock = new VirtualClock(0);
    const leave = clock.join();
    const other = clock.join();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(sleeping, /stop/);
    leave();
    other();
  });

  test('Retry-After: seconds or an HTTP date; unreadable means a whole window', () => {
    assert.equal(retryAfterMs('7', 0), 7000);
    assert.equal(retryAfterMs(new Date(90_000).toUTCString(), 30_000), 60_000);
    assert.equal(retryAfterMs(null, 0), 60_000);
    assert.equal(retryAfterMs('soon', 0), 60_000);
  });

  test('a malformed page is a failure, never stored', () => {
    const ok = { id: 'e1', accountId: 'a', createdAt: '2026-01-01T00:00:00Z', type: 'earned', amount: 5 };
    assert.equal(parsePage({ entries: [ok], nextCursor: '1' }).kind, 'page');
    for (const bad of [
      null,
      { entries: 'x', nextCursor: '1' },
      { entries: [ok] },
      { entries: [{ ...ok, amount: 1.5 }], nextCursor: '1' },
      { entries: [{ ...ok, amount: -1 }], nextCursor: '1' },
      { entries: [{ ...ok, type: 'refund' }], nextCursor: '1' },
      { entries: [{ ...ok, createdAt: 'yesterday' }], nextCursor: '1' },
      { entries: [{ ...ok, id: '' }], nextCursor: '1' },
    ]) {
      const result = parsePage(bad);
      assert.equal(result.kind, 'failed', JSON.stringify(bad));
    }
  });

  test('dedupePage keeps the first body of an id, sorts by id, and reports a different later body', () => {
    const e = (id: string, amount: number) => ({ id, accountId: 'a', createdAt: 0, type: 'earned' as const, amount });
    const { unique, changed } = dedupePage([e('b', 1), e('a', 2), e('b', 1), e('b', 3)]);
    assert.deepEqual(unique.map((u) => [u.entry.id, u.entry.amount]), [['a', 2], ['b', 1]]);
    assert.deepEqual(changed.map((c) => [c.entry.id, c.entry.amount]), [['b', 3]]);
  });
});
