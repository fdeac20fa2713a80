import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createLiveHub, type LiveSocket } from '../../src/modules/live/live.hub.js';
import type { Principal } from '../../src/shared/policy.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { eventsSettled } from '../helpers/live.js';
import { waitFor } from '../helpers/wait.js';

/** The hub's fan-out with sockets under the test's control: a slow client is dropped, never waited for. */
class FakeSocket implements LiveSocket {
  bufferedAmount = 0;
  sent: string[] = [];
  closed: { code?: number; reason?: string } | undefined;
  send(data: string) {
    this.sent.push(data);
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
  }
}

const root: Principal = { userId: 'u', username: 'root', role: 'super_admin', sessionId: 's', schoolIds: 'all', pii: 'clear' };

describe('live hub', () => {
  let t: TestApp;
  let fx: BillingFixture;

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    // The hub starts after the setup's events are final: they are history, not live.
    await waitFor('setup events final', () => eventsSettled(t.db));
  });
  after(() => t.close());

  test('a client whose socket is backed up is closed with 1013; the others get every event', async () => {
    const hub = createLiveHub({ db: t.db, listenConfig: t.pool.options, log: { info() {}, warn() {}, error() {} }, maxBufferedBytes: 1000 });
    await hub.start();
    try {
      const fast = new FakeSocket();
      const slow = new FakeSocket();
      await hub.connect(fast, root);
      await hub.connect(slow, root);
      slow.bufferedAmount = 5000; // the network stopped taking its bytes
      for (let i = 0; i < 3; i++) {
        await sql`insert into transactions (school_id, invoice_id, amount, method, status, failure_code)
                  values (${fx.schoolB}, ${fx.invoices.overdueB}, ${100 + i}, 'card', 'failed', 'expired_card')`.execute(t.db);
      }
      await hub.pump();
      const events = fast.sent.map((data) => JSON.parse(data) as { type: string; payment?: { amount: number } }).filter((m) => m.type === 'payment_failed');
      assert.deepEqual(events.map((m) => m.payment?.amount), [100, 101, 102]);
      assert.equal(slow.closed?.code, 1013);
      assert.equal(slow.sent.filter((data) => data.includes('payment_failed')).length, 0);
      assert.equal(hub.stats.dropped, 1);
      assert.equal(hub.stats.clients, 1);
    } finally {
      await hub.stop();
    }
  });
});
