import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createLiveHub, type LiveSocket } from '../../src/modules/live/live.hub.js';
import type { Principal } from '../../src/shared/policy.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { EVENTS_FINAL_WITHIN_MS, eventsSettled } from '../helpers/live.js';
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

/** A socket that takes the hub's ready-made frames; decodes them back to messages (RFC 6455, unmasked text frames). */
class FrameSocket extends FakeSocket {
  writes = 0;
  sendFrames(frames: Buffer) {
    this.writes++;
    let at = 0;
    while (at < frames.length) {
      const first = frames[at] ?? 0;
      assert.equal(first, 0x81, 'a final, unfragmented text frame');
      let length = (frames[at + 1] ?? 0) & 0x7f;
      let offset = at + 2;
      if (length === 126) {
        length = frames.readUInt16BE(offset);
        offset += 2;
      } else if (length === 127) {
        length = Number(frames.readBigUInt64BE(offset));
        offset += 8;
      }
      this.sent.push(frames.subarray(offset, offset + length).toString('utf8'));
      at = offset + length;
    }
  }
}

const root: Principal = { userId: 'u', username: 'root', role: 'super_admin', sessionId: 's', schoolIds: 'all', pii: 'clear', guardian: null };

describe('live hub', () => {
  let t: TestApp;
  let fx: BillingFixture;

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    // The hub starts after the setup's events are final: they are history, not live.
    await waitFor('setup events final', () => eventsSettled(t.db), EVENTS_FINAL_WITHIN_MS);
  });
  after(() => t.close());

  /**
   * The events just committed are final only once every older transaction in the cluster
   * has ended (other test files run alongside): pump until they are, and are delivered.
   */
  const deliveredBy = (hub: ReturnType<typeof createLiveHub>) =>
    waitFor('the new events final and delivered', async () => {
      await hub.pump();
      const at = hub.position();
      return at !== undefined && (await eventsSettled(t.db, at));
    }, EVENTS_FINAL_WITHIN_MS);

  test('a client whose socket is backed up is closed with 1013; the others get every event', async () => {
    const hub = createLiveHub({ db: t.db, listenConfig: t.pool.options, log: { info() {}, warn() {}, error() {} }, maxQueuedBytes: 1000 });
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
      await deliveredBy(hub);
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

  test('clients of one audience share one framed write per batch, with the same messages the per-event path sends', async () => {
    const hub = createLiveHub({ db: t.db, listenConfig: t.pool.options, log: { info() {}, warn() {}, error() {} } });
    await hub.start();
    try {
      const analyst: Principal = { ...root, userId: 'a', role: 'finance_analyst', pii: 'masked' };
      const adminA: Principal = { ...root, userId: 'b', role: 'school_admin', schoolIds: [fx.schoolA] };
      const rootFrames = [new FrameSocket(), new FrameSocket()];
      const rootPlain = new FakeSocket();
      const analystFrames = new FrameSocket();
      const adminAFrames = new FrameSocket();
      for (const socket of rootFrames) {
        await hub.connect(socket, root);
      }
      await hub.connect(rootPlain, root);
      await hub.connect(analystFrames, analyst);
      await hub.connect(adminAFrames, adminA);
      // One statement, one batch: two events of school A, one of school B.
      await sql`insert into transactions (school_id, invoice_id, amount, method, status, failure_code)
                values (${fx.schoolA}, ${fx.invoices.overdueA}, 201, 'card', 'failed', 'expired_card'),
                       (${fx.schoolB}, ${fx.invoices.overdueB}, 202, 'card', 'failed', 'expired_card'),
                       (${fx.schoolA}, ${fx.invoices.overdueA}, 203, 'card', 'failed', 'expired_card')`.execute(t.db);
      await deliveredBy(hub);
      type Event = { type: string; id: string; payment: { amount: number; studentName: string | null } };
      const eventsOf = (socket: FakeSocket) =>
        socket.sent.map((data) => JSON.parse(data) as Event).filter((m) => m.type === 'payment_failed');
      const strip = (events: Event[]) => events.map(({ id, payment }) => ({ id, payment }));
      // Rows of one statement are in id order (UUIDv7: random within a millisecond), not VALUES order.
      const amounts = (events: Event[]) => events.map((m) => m.payment.amount).sort((a, b) => a - b);
      const namesByAmount = (events: Event[]) => Object.fromEntries(events.map((m) => [m.payment.amount, m.payment.studentName]));
      assert.deepEqual(amounts(eventsOf(rootPlain)), [201, 202, 203]);
      for (const socket of rootFrames) {
        assert.deepEqual(strip(eventsOf(socket)), strip(eventsOf(rootPlain)));
        assert.equal(socket.writes, 1);
      }
      assert.deepEqual(eventsOf(analystFrames).map((m) => m.id), eventsOf(rootPlain).map((m) => m.id));
      assert.deepEqual(namesByAmount(eventsOf(analystFrames)), { 201: 'A. A.', 202: 'C. C.', 203: 'A. A.' });
      assert.deepEqual(namesByAmount(eventsOf(rootPlain)), { 201: 'Ana Alvarez', 202: 'Carla Cruz', 203: 'Ana Alvarez' });
      assert.deepEqual(amounts(eventsOf(adminAFrames)), [201, 203]);
      // What bursar_transactions_total reports: every transaction read, by status.
      assert.equal(hub.stats.transactions.failed, 3);
    } finally {
      await hub.stop();
    }
  });
});
