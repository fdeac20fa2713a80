import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { WebhookDeliveryStatus } from '../../src/db/types.js';
import { MAINTENANCE_AUDIT_ACTION, runMaintenance, type MaintenanceSettings } from '../../src/jobs/maintenance.job.js';
import { deliverDueWebhooks } from '../../src/modules/webhooks/webhooks.delivery.js';
import { publishInvoices } from '../../src/modules/webhooks/webhooks.outbox.js';
import { createWebhooksRepository } from '../../src/modules/webhooks/webhooks.repository.js';
import { cutOffs, purgeOldWebhookRows, purgeWebhookRound, WEBHOOK_PURGE_BATCH, type WebhookPurge } from '../../src/modules/webhooks/webhooks.retention.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { waitFor } from '../helpers/wait.js';
import { startReceiver, type Behaviour, type Receiver } from './receiver.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

interface EventKey {
  schoolId: string;
  id: string;
}

/** Per event id: its deliveries' and their attempts' ids, sorted. */
type Rows = Map<string, { deliveries: string[]; attempts: string[] }>;

/**
 * Retention of the webhook outbox (docs/webhooks.md, Retention): the maintenance run
 * deletes the events older than WEBHOOK_RETENTION_DAYS whose deliveries are all finished,
 * with their deliveries and attempts, and nothing else. Events, deliveries and attempts
 * are made by the real API, outbox and delivery worker (real receivers on loopback); ages
 * and final states are then set with SQL.
 */
describe('webhook retention', () => {
  let t: TestApp;
  let f: BillingFixture;
  let root: Client;
  const receivers: Receiver[] = [];
  const endpoints: string[] = [];
  const settings = (webhookRetentionDays: number): MaintenanceSettings => ({ role: 'test', webhookRetentionDays });

  const deliver = (now: Date = new Date()) => deliverDueWebhooks(t.db, { now, allowLocal: true, timeoutMs: 2_000, random: () => 0.5 });

  async function endpoint(events: string[], behaviour?: Behaviour): Promise<string> {
    const receiver = await startReceiver(behaviour);
    receivers.push(receiver);
    const response = await root.post('/webhook-endpoints', { url: receiver.url, events });
    assert.equal(response.statusCode, 201, response.body);
    const { id } = response.json<{ id: string }>();
    endpoints.push(id);
    return id;
  }

  async function eventOf(type: string, objectId: string): Promise<EventKey> {
    return t.db.selectFrom('webhook_events').select(['school_id as schoolId', 'id']).where('type', '=', type).where('object_id', '=', objectId).executeTakeFirstOrThrow();
  }

  /** A new invoice through the API: its invoice.created event, one delivery per subscribed endpoint. */
  async function invoiceEvent(studentId: string): Promise<EventKey> {
    const response = await root.post('/invoices', { studentId, amount: 5_000, dueDate: f.future, description: 'Retention test' });
    assert.equal(response.statusCode, 201, response.body);
    return eventOf('invoice.created', response.json<{ id: string }>().id);
  }

  /** Moves an event and its deliveries `days` into the past. */
  async function age(event: EventKey, days: number): Promise<void> {
    await sql`update webhook_events set occurred_at = now() - make_interval(days => ${days}) where school_id = ${event.schoolId} and id = ${event.id}`.execute(t.db);
    await sql`update webhook_deliveries set created_at = now() - make_interval(days => ${days}) where school_id = ${event.schoolId} and event_id = ${event.id}`.execute(t.db);
  }

  /** Sets the status of an event's delivery to one endpoint (as 3 days of failures, or a replay, would). */
  async function settle(event: EventKey, endpointId: string, status: WebhookDeliveryStatus): Promise<void> {
    const result = await t.db
      .updateTable('webhook_deliveries')
      .set({ status })
      .where('school_id', '=', event.schoolId)
      .where('event_id', '=', event.id)
      .where('endpoint_id', '=', endpointId)
      .executeTakeFirst();
    assert.equal(result.numUpdatedRows, 1n);
  }

  async function deliveryOf(event: EventKey): Promise<string> {
    const row = await t.db.selectFrom('webhook_deliveries').select('id').where('school_id', '=', event.schoolId).where('event_id', '=', event.id).executeTakeFirstOrThrow();
    return row.id;
  }

  /** Every webhook row in the database, by event. */
  async function rows(): Promise<Rows> {
    const events = await t.db.selectFrom('webhook_events').select('id').orderBy('id').execute();
    const deliveries = await t.db.selectFrom('webhook_deliveries').select(['id', 'event_id']).orderBy('id').execute();
    const attempts = await t.db
      .selectFrom('webhook_attempts as a')
      .innerJoin('webhook_deliveries as d', (join) => join.onRef('d.school_id', '=', 'a.school_id').onRef('d.id', '=', 'a.delivery_id'))
      .select(['a.id', 'd.event_id'])
      .orderBy('a.id')
      .execute();
    const total = await t.db.selectFrom('webhook_attempts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(total.n), attempts.length, 'every attempt belongs to a delivery');
    return new Map(
      events.map((event) => [
        event.id,
        {
          deliveries: deliveries.filter((d) => d.event_id === event.id).map((d) => d.id),
          attempts: attempts.filter((a) => a.event_id === event.id).map((a) => a.id),
        },
      ]),
    );
  }

  const counts = (run: { webhookEventsDeleted: number; webhookDeliveriesDeleted: number; webhookAttemptsDeleted: number } | undefined) =>
    run === undefined ? undefined : { events: run.webhookEventsDeleted, deliveries: run.webhookDeliveriesDeleted, attempts: run.webhookAttemptsDeleted };

  /** The rows of these events in `before`, summed. */
  const sizeOf = (before: Rows, events: EventKey[]): WebhookPurge => {
    const of = events.map((event) => before.get(event.id) ?? assert.fail(`event ${event.id} is not in the database`));
    return { events: of.length, deliveries: of.reduce((n, e) => n + e.deliveries.length, 0), attempts: of.reduce((n, e) => n + e.attempts.length, 0) };
  };

  /** Sessions of this database waiting for a lock (a row another transaction holds). */
  const lockWaits = async () => {
    const { rows: waits } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(t.db);
    return waits[0]?.n ?? 0;
  };

  before(async () => {
    t = await createTestApp({ env: { WEBHOOKS_ALLOW_LOCAL: 'on' } });
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  afterEach(async () => {
    // Each test starts with no endpoint and no webhook row: a run's counts are its own.
    for (const id of endpoints.splice(0)) {
      assert.equal((await root.delete(`/webhook-endpoints/${id}`)).statusCode, 204);
    }
    await t.db.deleteFrom('webhook_attempts').execute();
    await t.db.deleteFrom('webhook_deliveries').execute();
    await t.db.deleteFrom('webhook_events').execute();
  });
  after(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t?.close();
  });

  test('a maintenance run deletes the old events whose deliveries are all finished, with their deliveries and attempts; a slot runs once', async () => {
    const ok = await endpoint(['invoice.created']);
    const flaky = await endpoint(['invoice.created'], () => 500);
    // Each event has a delivery to each endpoint; both schools of the fixture take part.
    const oldMixed = await invoiceEvent(f.students.anaA); // succeeded + failed, 40 days: purged
    const oldSucceeded = await invoiceEvent(f.students.carla); // succeeded + succeeded, 40 days: purged
    const oldFailed = await invoiceEvent(f.students.dora); // failed + failed, 40 days: purged
    const oldRetrying = await invoiceEvent(f.students.beto); // succeeded + pending, 40 days: kept
    const recent = await invoiceEvent(f.students.anaA); // succeeded + failed, 29 days: kept
    const fresh = await invoiceEvent(f.students.carla); // succeeded + succeeded, today: kept
    const t0 = Date.now();
    await deliver(new Date(t0)); // ok: succeeded (1 attempt); flaky: 500, retried
    await deliver(new Date(t0 + HOUR)); // flaky: 500 again (2 attempts), retried
    const neverSent = await invoiceEvent(f.students.beto); // pending + pending, no attempt, 400 days: kept

    await settle(oldMixed, flaky, 'failed');
    await settle(oldSucceeded, flaky, 'succeeded');
    await settle(oldFailed, ok, 'failed');
    await settle(oldFailed, flaky, 'failed');
    await settle(recent, flaky, 'failed');
    await settle(fresh, flaky, 'succeeded');
    for (const event of [oldMixed, oldSucceeded, oldFailed, oldRetrying]) {
      await age(event, 40);
    }
    await age(recent, 29);
    await age(neverSent, 400);

    const purged = [oldMixed, oldSucceeded, oldFailed];
    const kept = [oldRetrying, recent, fresh, neverSent];
    const before = await rows();
    assert.equal(before.size, 7);
    // ok answered each event once, flaky twice.
    assert.deepEqual(sizeOf(before, purged), { events: 3, deliveries: 6, attempts: 9 });
    assert.deepEqual(before.get(neverSent.id)?.attempts, []);

    const run = await runMaintenance(t.db, 'retention-slot-1', settings(30));
    assert.deepEqual(counts(run), { events: 3, deliveries: 6, attempts: 9 });
    const afterRun = await rows();
    assert.deepEqual([...afterRun.keys()].sort(), kept.map((event) => event.id).sort());
    for (const event of kept) {
      assert.deepEqual(afterRun.get(event.id), before.get(event.id), 'a kept event keeps every delivery and attempt');
    }
    assert.equal(Number((await t.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n), sizeOf(before, kept).deliveries);
    // The counts are in the run's audit row, as idempotencyKeysDeleted is.
    const audit = async (slot: string) =>
      (await t.db.selectFrom('audit_log').select('changes').where('action', '=', MAINTENANCE_AUDIT_ACTION).where('entity_id', '=', slot).execute()).map(
        (row) => row.changes as { webhookEventsDeleted: number; webhookDeliveriesDeleted: number; webhookAttemptsDeleted: number },
      );
    assert.deepEqual((await audit('retention-slot-1')).map(counts), [{ events: 3, deliveries: 6, attempts: 9 }]);

    // Now past the retention too; but this slot is done, so running it again deletes nothing.
    await age(recent, 31);
    assert.equal(await runMaintenance(t.db, 'retention-slot-1', settings(30)), undefined);
    assert.deepEqual(await rows(), afterRun);
    assert.equal((await audit('retention-slot-1')).length, 1);
    // The next slot does.
    const next = await runMaintenance(t.db, 'retention-slot-2', settings(30));
    assert.deepEqual(counts(next), { events: 1, deliveries: 2, attempts: 3 });
    assert.deepEqual([...(await rows()).keys()].sort(), [oldRetrying, fresh, neverSent].map((event) => event.id).sort());
  });

  test('the purge goes on batch after batch until one comes back short; older events with a pending delivery hold none up', async () => {
    const ok = await endpoint(['invoice.created']);
    const students = [f.students.anaA, f.students.beto, f.students.carla, f.students.dora, f.students.anaA];
    const old: EventKey[] = [];
    for (const student of students) {
      old.push(await invoiceEvent(student));
    }
    const replayed = [await invoiceEvent(f.students.carla), await invoiceEvent(f.students.dora)];
    await deliver();
    for (const event of old) {
      await age(event, 40);
    }
    // The oldest, so first in the order of every batch: a whole batch of them were it not
    // for the check of pending deliveries in the select.
    for (const [i, event] of replayed.entries()) {
      await settle(event, ok, 'pending');
      await age(event, 50 + i);
    }

    const before = new Date(Date.now() - 30 * DAY);
    // Each round commits on its own: a purge that fails after its first round of two keeps those two deleted.
    const failing = purgeOldWebhookRows(t.db, {
      before,
      batch: 2,
      onRound: () => {
        throw new Error('the worker died');
      },
    });
    await assert.rejects(failing, /the worker died/);
    assert.equal((await rows()).size, students.length + replayed.length - 2);
    const rounds: WebhookPurge[] = [];
    for (const batch of [2, 1]) {
      const purged = await purgeOldWebhookRows(t.db, { before, batch, onRound: (total) => void rounds.push(total) });
      assert.deepEqual(purged, batch === 2 ? { events: 3, deliveries: 3, attempts: 3 } : { events: 0, deliveries: 0, attempts: 0 }, `batch ${batch}`);
    }
    // Rounds of two: 2, then 1 (short: the end); then a round of one that finds nothing.
    assert.deepEqual(rounds.map((total) => total.events), [2, 3, 0]);
    assert.deepEqual([...(await rows()).keys()].sort(), replayed.map((event) => event.id).sort());
    await assert.rejects(purgeOldWebhookRows(t.db, { before: new Date(), batch: 0 }), RangeError);
    await assert.rejects(
      t.db.transaction().execute((trx) => purgeOldWebhookRows(trx, { before })),
      /pass the database/,
    );
  });

  test('invoice.overdue events stay 8 days whatever the retention: the collections run looks for them 7 days back', async () => {
    await endpoint(['invoice.overdue', 'invoice.created']);
    const overdue = async (invoiceId: string, schoolId: string) => {
      assert.equal(await t.db.transaction().execute((trx) => publishInvoices(trx, 'invoice.overdue', [{ schoolId, id: invoiceId }])), 1);
      return eventOf('invoice.overdue', invoiceId);
    };
    const overdueRecent = await overdue(f.invoices.overdueA, f.schoolA);
    const overdueOld = await overdue(f.invoices.overdueB, f.schoolB);
    const created = await invoiceEvent(f.students.anaA);
    await deliver();
    assert.equal(Number((await t.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'succeeded').executeTakeFirstOrThrow()).n), 3);
    await age(overdueRecent, 5);
    await age(overdueOld, 9);
    await age(created, 5);

    const run = await runMaintenance(t.db, 'retention-overdue', settings(1));
    assert.deepEqual(counts(run), { events: 2, deliveries: 2, attempts: 2 });
    assert.deepEqual([...(await rows()).keys()], [overdueRecent.id]);
    // The 8 days count back from the run's clock, as the retention does: 4 days on, the 5-day-old event is 9 days old.
    const later = Date.now() + 4 * DAY;
    const next = await runMaintenance(t.db, 'retention-overdue-later', { ...settings(1), clock: { now: () => later, sleep: async () => {} } });
    assert.deepEqual(counts(next), { events: 1, deliveries: 1, attempts: 1 });
    assert.deepEqual([...(await rows()).keys()], []);
  });

  test('a replay committed while the purge waits for its delivery keeps the event; a replay that waits for the purge finds nothing (404)', async () => {
    await endpoint(['invoice.created']);
    const replayedEvent = await invoiceEvent(f.students.anaA);
    const other = await invoiceEvent(f.students.beto);
    await deliver();
    await age(replayedEvent, 40);
    await age(other, 40);
    const cutOff = () => ({ before: new Date(Date.now() - 30 * DAY) });
    const repo = createWebhooksRepository();

    // The replay has set its delivery pending but not committed yet when the purge starts.
    const delivery = { schoolId: replayedEvent.schoolId, id: await deliveryOf(replayedEvent) };
    let commitReplay = () => {};
    const replayCommits = new Promise<void>((resolve) => (commitReplay = resolve));
    let replayWrote = () => {};
    const replayWritten = new Promise<void>((resolve) => (replayWrote = resolve));
    const replay = t.db.transaction().execute(async (trx) => {
      await repo.replay(trx, delivery, new Date());
      replayWrote();
      await replayCommits;
    });
    await replayWritten;
    const purging = purgeOldWebhookRows(t.db, cutOff());
    await waitFor('the purge to wait for the replayed delivery', async () => (await lockWaits()) > 0);
    commitReplay();
    await replay;
    assert.deepEqual(await purging, { events: 1, deliveries: 1, attempts: 1 });
    assert.deepEqual([...(await rows()).keys()], [replayedEvent.id]);
    const kept = await t.db.selectFrom('webhook_deliveries').select('status').where('id', '=', delivery.id).executeTakeFirstOrThrow();
    assert.equal(kept.status, 'pending');

    // The other way round: the purge holds the delivery until it commits; the replay then finds it gone.
    await deliver();
    await age(replayedEvent, 40);
    let commitPurge = () => {};
    const purgeCommits = new Promise<void>((resolve) => (commitPurge = resolve));
    let purgeDid = (_purged: WebhookPurge) => {};
    const purgeDone = new Promise<WebhookPurge>((resolve) => (purgeDid = resolve));
    const purge = t.db.transaction().execute(async (trx) => {
      purgeDid((await purgeWebhookRound(trx, cutOffs(cutOff().before, new Date()), WEBHOOK_PURGE_BATCH)).purged);
      await purgeCommits;
    });
    assert.deepEqual(await purgeDone, { events: 1, deliveries: 1, attempts: 2 });
    const replayed = root.post(`/webhook-deliveries/${delivery.id}/replay`, {});
    await waitFor('the replay to wait for the purge', async () => (await lockWaits()) > 0);
    commitPurge();
    await purge;
    const response = await replayed;
    assert.equal(response.statusCode, 404, response.body);
    assert.equal((await rows()).size, 0);
  });
});
