import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { channelsFromConfig, type Channels } from '../../src/modules/messages/channels.js';
import { deliverDue } from '../../src/modules/messages/delivery.js';
import { deliverDueWebhooks } from '../../src/modules/webhooks/webhooks.delivery.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { startProvider, type TestProvider } from '../helpers/mail.js';
import { insertEnrolment, insertPlan, insertSchool, insertStudent } from '../billruns/fixtures.js';
import { startReceiver, type Receiver } from './receiver.js';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/**
 * The events written outside the ledger (SPEC §9): bill_run.finished with the run,
 * invoice.overdue by the daily collections run (once per invoice), reminder.sent by the
 * message delivery worker — each through the real service, delivered to a real receiver.
 */
describe('webhook events of bill runs, collections and reminders', () => {
  let t: TestApp;
  let root: Client;
  let sms: TestProvider;
  let channels: Channels;
  let receiver: Receiver;
  let schoolId: string;

  const drain = async () => {
    while ((await deliverDueWebhooks(t.db, { now: new Date(), allowLocal: true, timeoutMs: 2_000 })).claimed > 0) {
      // next round
    }
  };
  const ofType = (type: string) => receiver.received.filter((r) => r.json.type === type);

  before(async () => {
    sms = await startProvider();
    receiver = await startReceiver();
    t = await createTestApp({ env: { WEBHOOKS_ALLOW_LOCAL: 'on', SMS_PROVIDER_URL: sms.url, SMS_PROVIDER_TOKEN: 'token' } });
    channels = channelsFromConfig(t.config);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = await insertSchool(t.db, { name: 'Colegio Eventos' });
    const created = await root.post('/webhook-endpoints', { url: receiver.url, events: ['bill_run.finished', 'invoice.created', 'invoice.overdue', 'reminder.sent'] });
    assert.equal(created.statusCode, 201, created.body);
  });
  after(async () => {
    await Promise.all(Object.values(channels).map((channel) => channel.close()));
    await sms?.close();
    await receiver?.close();
    await t?.close();
  });

  test('a bill run publishes invoice.created per invoice and bill_run.finished once', async () => {
    const plan = await insertPlan(t.db, schoolId, [{ code: 'tuition', description: 'Tuition', amount: 100_000, schedule: { kind: 'monthly', firstDue: '2026-09-05', count: 3 } }]);
    for (let i = 0; i < 2; i++) {
      const student = await insertStudent(t.db, schoolId);
      await insertEnrolment(t.db, schoolId, { studentId: student, planId: plan, from: '2026-08-01' });
    }
    const response = await root.post('/bill-runs', { schoolId, through: '2026-10-31' });
    assert.equal(response.statusCode, 201, response.body);
    const run = response.json<{ id: string; invoicesCreated: number }>();
    await drain();
    const finished = ofType('bill_run.finished');
    assert.equal(finished.length, 1);
    assert.equal(finished[0]?.json.data.id, run.id);
    assert.equal(finished[0]?.json.data.invoicesCreated, run.invoicesCreated);
    assert.equal(finished[0]?.json.data.status, 'finished');
    assert.equal(ofType('invoice.created').filter((r) => r.json.data.schoolId === schoolId).length, run.invoicesCreated);
  });

  test('the collections run publishes invoice.overdue once per invoice (a re-run of the day adds none)', async () => {
    const student = await insertStudent(t.db, schoolId);
    const late = await root.post('/invoices', { studentId: student, amount: 7_000, dueDate: day(-3) });
    const fresh = await root.post('/invoices', { studentId: student, amount: 7_000, dueDate: day(5) });
    assert.equal(late.statusCode, 201, late.body);
    assert.equal(fresh.statusCode, 201, fresh.body);
    const lateId = late.json<{ id: string }>().id;
    for (let run = 0; run < 2; run++) {
      const response = await root.post('/collections/run', { schoolId });
      assert.equal(response.statusCode, 200, response.body);
    }
    await drain();
    const overdue = ofType('invoice.overdue').filter((r) => r.json.data.id === lateId);
    assert.equal(overdue.length, 1);
    assert.equal(overdue[0]?.json.data.status, 'OVERDUE');
    assert.ok(!ofType('invoice.overdue').some((r) => r.json.data.id === fresh.json<{ id: string }>().id));
  });

  test('a reminder handed to its channel publishes reminder.sent (with the row that records it)', async () => {
    const message = await t.db
      .insertInto('messages')
      .values({
        school_id: schoolId,
        kind: 'reminder',
        dedupe_key: 'webhook-test-reminder',
        channel: 'sms',
        language: 'es',
        recipient: '+52 55 1234 5678',
        status: 'queued',
        subject: null,
        body: 'Recordatorio de pago',
        template: 'due',
        next_attempt_at: new Date(Date.now() - 1_000),
        family_id: null,
        guardian_id: null,
        invoice_id: null,
        day: null,
        lease_until: null,
        last_error: null,
        provider_message_id: null,
        sent_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const totals = await deliverDue(t.db, channels, { now: new Date(), maxAttempts: 3, retryBaseSeconds: 60 });
    assert.equal(totals.sent, 1);
    await drain();
    const sent = ofType('reminder.sent');
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.json.data.id, message.id);
    assert.equal(sent[0]?.json.data.recipient, '+52 55 1234 5678');
    assert.equal(sent[0]?.json.data.channel, 'sms');
  });
});
