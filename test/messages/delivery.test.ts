import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { channelsFromConfig, httpProviderChannel, smtpChannel, type Channels } from '../../src/modules/messages/channels.js';
import { deliverDue, retryDelayMs, type DeliveryOptions } from '../../src/modules/messages/delivery.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertSchool, insertUser, login, type TestApp } from '../helpers/app.js';
import { startProvider, startSmtp, type TestProvider, type TestSmtp } from '../helpers/mail.js';

/**
 * Message delivery (SPEC §8): e-mail through nodemailer to a real SMTP server in this
 * process (smtp-server, parsed back with mailparser), SMS through the HTTP provider
 * contract to a local provider; bounces, retries with backoff then failed, a server that
 * is down, a worker that died mid-send, and two workers at once — each message sent once.
 */
describe('message delivery: SMTP and HTTP provider adapters, retries, bounces, two workers', () => {
  let t: TestApp;
  let root: Client;
  let smtp: TestSmtp;
  let sms: TestProvider;
  let channels: Channels;
  let schoolId: string;

  const options = (now: Date, extra: Partial<DeliveryOptions> = {}): DeliveryOptions => ({ now, maxAttempts: 3, retryBaseSeconds: 60, random: () => 0.5, ...extra });

  before(async () => {
    smtp = await startSmtp();
    sms = await startProvider();
    t = await createTestApp({
      env: { SMTP_URL: smtp.url, MAIL_FROM: 'Colegio Correo <cobranza@colegio.mx>', SMS_PROVIDER_URL: sms.url, SMS_PROVIDER_TOKEN: 'provider-secret', PUBLIC_URL: 'https://bursar.colegio.mx' },
    });
    channels = channelsFromConfig(t.config);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    schoolId = await insertSchool(t.db, 'Colegio Correo');
  });
  after(async () => {
    await Promise.all(Object.values(channels).map((channel) => channel.close()));
    await t.close();
    await smtp.close();
    await sms.close();
  });

  /** A queued message written directly (the run's own path is the first test). */
  const queued = async (values: { channel?: 'email' | 'sms'; recipient: string; body?: string }) => {
    const row = await t.db
      .insertInto('messages')
      .values({
        school_id: schoolId,
        kind: 'reminder',
        dedupe_key: `test:${randomUUID()}`,
        channel: values.channel ?? 'email',
        language: 'es',
        recipient: values.recipient,
        status: 'queued',
        subject: 'Recordatorio',
        body: values.body ?? 'Hola',
        next_attempt_at: new Date(0),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  };
  const stateOf = (id: string) =>
    t.db.selectFrom('messages').select(['status', 'attempts', 'next_attempt_at as nextAttemptAt', 'last_error as lastError', 'provider_message_id as providerId', 'sent_at as sentAt']).where('id', '=', id).executeTakeFirstOrThrow();
  const closedPort = async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  };

  test('a daily run queues e-mail and SMS reminders; the worker sends them; the mail and the provider request read right', async () => {
    const family = await root.post('/families', {
      schoolId,
      name: 'Familia Correa',
      guardians: [{ firstName: 'Elena', lastName: 'Correa', email: 'elena.correa@hogar.mx', phone: '+57 300 123 4567', preferredLanguage: 'es' }],
    });
    assert.equal(family.statusCode, 201, family.body);
    const familyId = family.json<{ id: string }>().id;
    const student = (await root.post('/students', { schoolId, firstName: 'Tomás', lastName: 'Correa', grade: '4', familyId })).json<{ id: string }>().id;
    const bill = (await root.post('/invoices', { studentId: student, amount: 250_000, dueDate: '2026-10-15' })).json<{ id: string; number: string }>();
    const policy = await root.put(`/schools/${schoolId}/reminder-policy`, {
      steps: [{ offsetDays: -5, channel: 'email', template: 'upcoming' }, { offsetDays: -5, channel: 'sms', template: 'upcoming' }],
    });
    assert.equal(policy.statusCode, 200, policy.body);
    const run = await root.post('/collections/run', { schoolId, date: '2026-10-10' });
    assert.equal(run.json<{ remindersSent: number }>().remindersSent, 2);

    const log = async () => (await root.get(`/families/${familyId}/messages`)).json<{ data: { id: string; channel: string; status: string; attempts: number }[] }>().data;
    assert.deepEqual((await log()).map((m) => m.status), ['queued', 'queued'], 'configured channels queue, not outbox');

    const totals = await deliverDue(t.db, channels, options(new Date()));
    assert.deepEqual([totals.claimed, totals.sent], [2, 2]);
    const messages = await log();
    assert.deepEqual(messages.map((m) => [m.status, m.attempts]), [['sent', 1], ['sent', 1]]);

    const mail = smtp.mails.find((m) => m.to !== undefined && JSON.stringify(m.to).includes('elena.correa@hogar.mx'));
    assert.ok(mail, 'the SMTP server received the reminder');
    assert.equal(mail.from?.value[0]?.address, 'cobranza@colegio.mx');
    assert.equal(mail.subject, 'Recordatorio de pago: $2,500.00 de Tomás Correa');
    assert.match(mail.text ?? '', /Tomás Correa tiene un pago de \$2,500\.00 con vencimiento el 15 de octubre de 2026/);
    assert.match(mail.text ?? '', /Pague en línea: https:\/\/bursar\.colegio\.mx\/pay\/[A-Za-z0-9_-]{50}/);
    assert.match(mail.text ?? '', new RegExp(bill.number));
    assert.equal(mail.headers.get('content-language'), 'es');
    const emailId = messages.find((m) => m.channel === 'email')?.id;
    assert.equal(mail.messageId, `<${emailId}@bursar.messages>`);

    const request = sms.requests.at(-1);
    assert.ok(request);
    const smsId = messages.find((m) => m.channel === 'sms')?.id;
    assert.deepEqual([request.headers.authorization, request.headers['idempotency-key'], request.body.channel, request.body.to, request.body.reference], ['Bearer provider-secret', smsId, 'sms', '+57 300 123 4567', smsId]);
    assert.match(request.body.body, /Tomas Correa tiene un pago de \$2,500\.00/);
    assert.equal((await stateOf(smsId ?? '')).providerId, `prov-${sms.requests.length}`);

    // Nothing left to send: another round claims nothing, and nothing is sent twice.
    const mailsBefore = smtp.mails.length;
    assert.equal((await deliverDue(t.db, channels, options(new Date(Date.now() + 86_400_000)))).claimed, 0);
    assert.equal(smtp.mails.length, mailsBefore);
  });

  test('a refused recipient (SMTP 550) is bounced at once, never retried', async () => {
    smtp.reject.add('nadie@hogar.mx');
    const id = await queued({ recipient: 'nadie@hogar.mx' });
    const totals = await deliverDue(t.db, channels, options(new Date()));
    assert.equal(totals.bounced, 1);
    const state = await stateOf(id);
    assert.equal(state.status, 'bounced');
    assert.match(state.lastError ?? '', /550/);
    assert.equal((await deliverDue(t.db, channels, options(new Date(Date.now() + 7 * 86_400_000)))).claimed, 0);
  });

  test('an SMTP server that is down: retried with growing delays, kept, sent once it is back; failed after the last attempt', async () => {
    const down: Channels = { email: smtpChannel({ url: `smtp://127.0.0.1:${await closedPort()}`, from: 'x@colegio.mx', timeoutMs: 2_000 }) };
    const kept = await queued({ recipient: 'vuelve@hogar.mx', body: 'mensaje que no se pierde' });
    const lost = await queued({ recipient: 'nunca@hogar.mx' });
    const t0 = new Date();
    assert.equal((await deliverDue(t.db, down, options(t0))).retried, 2);
    let state = await stateOf(kept);
    assert.equal(state.status, 'queued');
    assert.equal(state.attempts, 1);
    assert.match(state.lastError ?? '', /ECONNREFUSED|connect/i);
    assert.equal(state.nextAttemptAt?.getTime(), t0.getTime() + retryDelayMs(1, 60, () => 0.5));
    // Not due yet: nothing is claimed.
    assert.equal((await deliverDue(t.db, down, options(new Date(t0.getTime() + 30_000)))).claimed, 0);
    // Second attempt a minute later, still down: the next delay doubles.
    const t1 = new Date(t0.getTime() + 61_000);
    assert.equal((await deliverDue(t.db, down, options(t1))).retried, 2);
    state = await stateOf(kept);
    assert.equal(state.nextAttemptAt?.getTime(), t1.getTime() + retryDelayMs(2, 60, () => 0.5));
    assert.equal(retryDelayMs(2, 60, () => 0.5), 2 * retryDelayMs(1, 60, () => 0.5));

    // The server is back for the first message: it is sent, once.
    await t.db.updateTable('messages').set({ next_attempt_at: new Date(0) }).where('id', '=', kept).execute();
    const up = await deliverDue(t.db, channels, options(new Date(t1.getTime() + 1_000)));
    assert.equal(up.sent, 1);
    assert.equal((await stateOf(kept)).status, 'sent');
    assert.equal(smtp.mails.filter((m) => (m.text ?? '').includes('mensaje que no se pierde')).length, 1);

    // The other stays down: its third attempt is the last.
    const t2 = new Date(t1.getTime() + 10 * 60_000);
    assert.equal((await deliverDue(t.db, down, options(t2))).failed, 1);
    state = await stateOf(lost);
    assert.deepEqual([state.status, state.attempts, state.nextAttemptAt], ['failed', 3, null]);
    await down.email?.close();
  });

  test('the HTTP provider: 500 then 202 is a retry then sent; 422 is a bounce', async () => {
    const provider = await startProvider();
    const channel: Channels = { sms: httpProviderChannel({ channel: 'sms', url: provider.url }) };
    try {
      provider.answer = (n) => (n === 1 ? { status: 500, body: { error: 'busy' } } : { status: 202, body: { id: 'SM123' } });
      const id = await queued({ channel: 'sms', recipient: '+52 81 5555 0000' });
      const t0 = new Date();
      assert.equal((await deliverDue(t.db, channel, options(t0))).retried, 1);
      assert.match((await stateOf(id)).lastError ?? '', /provider answered 500/);
      assert.equal((await deliverDue(t.db, channel, options(new Date(t0.getTime() + 120_000)))).sent, 1);
      const state = await stateOf(id);
      assert.deepEqual([state.status, state.attempts, state.providerId], ['sent', 2, 'SM123']);
      assert.equal(provider.requests.length, 2);
      assert.equal(provider.requests[0]?.headers['idempotency-key'], provider.requests[1]?.headers['idempotency-key'], 'a retry carries the same idempotency key');

      provider.answer = () => ({ status: 422, body: { error: 'not a mobile number' } });
      const bad = await queued({ channel: 'sms', recipient: '12' });
      assert.equal((await deliverDue(t.db, channel, options(new Date(t0.getTime() + 240_000)))).bounced, 1);
      assert.match((await stateOf(bad)).lastError ?? '', /422.*not a mobile number/);
    } finally {
      await provider.close();
    }
  });

  test('two workers at once send each message once; a worker that died mid-send is taken over after its lease', async () => {
    const before = smtp.mails.length;
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => queued({ recipient: `par${i}@hogar.mx`, body: `par ${i}` })));
    const now = new Date();
    const [a, b] = await Promise.all([deliverDue(t.db, channels, options(now, { batchSize: 20 })), deliverDue(t.db, channels, options(now, { batchSize: 20 }))]);
    const rest = await deliverDue(t.db, channels, options(now, { batchSize: 20 }));
    assert.equal(a.sent + b.sent + rest.sent, 30);
    const received = smtp.mails.slice(before).map((m) => m.messageId);
    assert.equal(received.length, 30);
    assert.equal(new Set(received).size, 30, 'no mail twice');
    assert.deepEqual(new Set(received), new Set(ids.map((id) => `<${id}@bursar.messages>`)));

    // A claim whose worker died: the lease keeps it from others until it ends.
    const orphan = await queued({ recipient: 'huerfano@hogar.mx' });
    const later = new Date(now.getTime() + 1_000);
    await t.db.updateTable('messages').set({ attempts: 1, lease_until: new Date(later.getTime() + 120_000) }).where('id', '=', orphan).execute();
    assert.equal((await deliverDue(t.db, channels, options(later))).claimed, 0);
    const taken = await deliverDue(t.db, channels, options(new Date(later.getTime() + 121_000)));
    assert.equal(taken.sent, 1);
    assert.deepEqual([(await stateOf(orphan)).status, (await stateOf(orphan)).attempts], ['sent', 2]);
  });

  test('a message whose channel is no longer configured moves to the outbox', async () => {
    const id = await queued({ channel: 'sms', recipient: '+1 555 0100' });
    const totals = await deliverDue(t.db, { ...(channels.email ? { email: channels.email } : {}) }, options(new Date()));
    assert.equal(totals.outboxed, 1);
    const state = await stateOf(id);
    assert.equal(state.status, 'outbox');
    const outbox = (await root.get(`/outbox?schoolId=${schoolId}`)).json<{ data: { id: string }[] }>().data;
    assert.ok(outbox.some((m) => m.id === id));
  });
});
