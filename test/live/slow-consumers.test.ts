import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import WebSocket, { WebSocketServer } from 'ws';
import { createLiveHub, type LiveHubOptions } from '../../src/modules/live/live.hub.js';
import { liveSocketOf } from '../../src/modules/live/live.socket.js';
import type { Principal } from '../../src/shared/policy.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { EVENTS_FINAL_WITHIN_MS, eventsSettled } from '../helpers/live.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Slow live consumers over real sockets: clients that connect and then never read (their
 * TCP socket paused) while events flow. The kernel takes megabytes for such a client
 * (its send buffer and the client's receive buffer) before ws's bufferedAmount moves, so
 * a limit on bufferedAmount alone never closed them. They must be closed with 1013 in
 * bounded time; a client that reads keeps receiving everything.
 */

interface Message {
  type: string;
  id?: string;
}

/** A ws client recording what it reads, its close code, and how to stop reading. */
class Consumer {
  readonly messages: Message[] = [];
  bytes = 0;
  closeCode: number | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.bytes += data.length;
      this.messages.push(JSON.parse(data.toString()) as Message);
    });
    socket.on('close', (code) => (this.closeCode = code));
  }

  events(): Message[] {
    return this.messages.filter((m) => m.type.startsWith('payment_'));
  }

  /** Connected and greeted (the hub has registered it). */
  static async open(url: string): Promise<Consumer> {
    const consumer = new Consumer(new WebSocket(url));
    await new Promise<void>((resolve, reject) => {
      consumer.socket.once('error', reject);
      consumer.socket.once('message', () => resolve());
    });
    return consumer;
  }

  /** Stops reading its TCP socket: what the server writes stays in kernel buffers. */
  stopReading(): void {
    this.socket.pause();
  }
}

const root: Principal = { userId: 'u', username: 'root', role: 'super_admin', sessionId: 's', schoolIds: 'all', pii: 'clear', guardian: null };

describe('slow live consumers', () => {
  let t: TestApp;
  let fx: BillingFixture;

  /** `count` failed attempts in one statement: one batch of live events. */
  const insertEvents = (count: number, amount = 100) =>
    sql`insert into transactions (school_id, invoice_id, amount, method, status, failure_code)
        select ${fx.schoolB}, ${fx.invoices.overdueB}, ${amount} + g, 'card', 'failed', 'expired_card' from generate_series(1, ${count}) g`.execute(t.db);

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await waitFor('setup events final', () => eventsSettled(t.db), EVENTS_FINAL_WITHIN_MS);
  });
  after(() => t.close());

  test('through the app: 20 clients that never read are closed with 1013 once 1 MB is unread, kernel buffers included; a reading client gets every event', async () => {
    const token = (await login(t.app, 'root')).accessToken;
    const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${base.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(token)}`;
    const dropped = async () => (await t.app.metrics.getSingleMetric('bursar_live_clients_dropped_total')?.get())?.values[0]?.value ?? 0;

    const reader = await Consumer.open(url);
    const stalled: Consumer[] = [];
    for (let i = 0; i < 20; i++) {
      const consumer = await Consumer.open(url);
      consumer.stopReading();
      stalled.push(consumer);
    }
    // About 2 MB of events for each client: less than the kernel holds for a client that
    // reads nothing (4 MB on loopback), twice the 1 MB limit. The reader reads each batch
    // before the next is written, as a client that keeps up does (the reader and the
    // server share this process: written all at once on a loaded machine, the reader
    // could fall 1 MB behind and be dropped, rightly, as too slow).
    const BATCH = 500;
    const BATCHES = 9;
    const readerHas = (count: number) => () => {
      if (reader.closeCode !== undefined) {
        throw new Error(`the reader was closed (${reader.closeCode}) after ${reader.events().length} events`);
      }
      return reader.events().length === count;
    };
    // Once they are dropped, the stalled clients read again at once: each finds the events
    // it was sent, then the close frame. (One still not reading after closeGraceMs, 5 s,
    // is cut off without a close frame, 1006: that case has a test of its own below.)
    let resumed = false;
    const resumeOnceDropped = async () => {
      if (!resumed && (await dropped()) === 20) {
        resumed = true;
        for (const consumer of stalled) {
          consumer.socket.resume();
        }
      }
    };
    for (let i = 0; i < BATCHES; i++) {
      await insertEvents(BATCH, i * BATCH);
      await waitFor(`the reader to get batch ${i + 1}`, readerHas((i + 1) * BATCH), 60_000);
      await resumeOnceDropped();
    }
    await waitFor('the 20 stalled clients to be closed', async () => (await resumeOnceDropped(), resumed), 60_000);

    assert.ok(reader.bytes > 2 * 1024 * 1024 * 0.9, `each client was sent about 2 MB (${reader.bytes})`);
    const ids = reader.events().map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.equal(reader.closeCode, undefined, 'the reader is still connected');

    await waitFor('every stalled client to read its close', () => stalled.every((c) => c.closeCode !== undefined), 30_000);
    assert.deepEqual(new Set(stalled.map((c) => c.closeCode)), new Set([1013]));
    for (const consumer of stalled) {
      assert.ok(consumer.events().length < BATCH * BATCHES, 'closed before the run ended');
    }
    reader.socket.close();
  });

  describe('on a hub of its own (short heartbeats)', () => {
    let server: WebSocketServer;
    let url: string;
    const serverSockets: WebSocket[] = [];

    const hubWith = async (options: Partial<LiveHubOptions>) => {
      const hub = createLiveHub({ db: t.db, listenConfig: t.pool.options, log: { info() {}, warn() {}, error() {} }, heartbeatMs: 100, stallMs: 500, pollMs: 50, ...options });
      await hub.start();
      server.removeAllListeners('connection');
      server.on('connection', (socket) => {
        serverSockets.push(socket);
        void hub.connect(liveSocketOf(socket), root).then((remove) => socket.on('close', remove));
      });
      return hub;
    };

    before(async () => {
      server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      await new Promise<void>((resolve) => server.once('listening', () => resolve()));
      url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      for (const socket of serverSockets) {
        socket.terminate();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    test('a client that stops reading is closed with 1013 when it leaves a ping unanswered, however little is queued; readers stay', async () => {
      const hub = await hubWith({});
      try {
        const reader = await Consumer.open(url);
        const stalled: Consumer[] = [];
        for (let i = 0; i < 5; i++) {
          const consumer = await Consumer.open(url);
          consumer.stopReading();
          stalled.push(consumer);
        }
        // A trickle: a few hundred bytes, far under any byte limit.
        await insertEvents(3, 7000);
        await waitFor('the stalled clients to be closed', () => hub.stats.dropped === 5, 30_000);
        await waitFor('the reader to get the events', () => reader.events().length === 3);
        assert.equal(hub.stats.clients, 1, 'only the reader is left');
        // It answers every ping: several heartbeats later it is still there.
        const beats = reader.messages.filter((m) => m.type === 'heartbeat').length;
        await waitFor('more heartbeats', () => reader.messages.filter((m) => m.type === 'heartbeat').length >= beats + 10);
        assert.equal(hub.stats.clients, 1);
        assert.equal(hub.stats.dropped, 5);

        for (const consumer of stalled) {
          consumer.socket.resume();
        }
        await waitFor('the stalled clients to read their close', () => stalled.every((c) => c.closeCode !== undefined));
        assert.deepEqual(new Set(stalled.map((c) => c.closeCode)), new Set([1013]));
        assert.equal(reader.closeCode, undefined);
        reader.socket.close();
      } finally {
        await hub.stop();
      }
    });

    test('a closed client that never reads its close frame is cut off after closeGraceMs', async () => {
      const hub = await hubWith({ closeGraceMs: 200 });
      try {
        const before = serverSockets.length;
        const consumer = await Consumer.open(url);
        consumer.stopReading();
        const serverSide = serverSockets[before] as WebSocket;
        await waitFor('the stalled client to be closed', () => hub.stats.dropped === 1, 30_000);
        await waitFor('its connection to be gone on the server', () => serverSide.readyState === WebSocket.CLOSED, 30_000);
        assert.equal(consumer.closeCode, undefined, 'it never read anything more');
      } finally {
        await hub.stop();
      }
    });
  });
});
