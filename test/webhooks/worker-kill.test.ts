import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { waitFor } from '../helpers/wait.js';
import { startReceiver, type Receiver } from './receiver.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** `bursar worker` with webhook delivery on, against the test's database; resolves once it listens. */
function startWorker(databaseUrl: string): Promise<{ child: ChildProcess; output: () => string }> {
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATABASE_READ_URL', 'REDIS_URL', 'SIMULATOR', 'SYNC', 'MAINTENANCE', 'MESSAGES', 'COLLECTIONS']) {
    delete base[name];
  }
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/bursar.mjs'), 'worker'], {
    cwd: ROOT,
    env: {
      ...base,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: '0',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '4',
      JWT_SECRET: 'webhook-worker-kill-test-secret-at-least-32',
      SEED_DEMO: 'off',
      WEBHOOKS: 'on',
      WEBHOOKS_ALLOW_LOCAL: 'on',
      // Lease = 2 × timeout + 2 s: a killed worker's claims are free again 4 s later.
      WEBHOOKS_TIMEOUT_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker: no "listening" within 60 s:\n${output}`)), 60_000);
    child.stdout?.on('data', () => {
      if (/listening on http:\/\/\S+/.test(output)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before listening:\n${output}`));
    });
  });
}

/**
 * SPEC §10 "never lose or double a webhook": the worker process is killed with SIGKILL
 * while requests are in flight, then started again. Every event arrives; any event that
 * arrives twice is a retry with the same webhook-id and the same body.
 */
describe('webhook delivery survives a killed worker', () => {
  let t: TestApp;
  let f: BillingFixture;
  let root: Client;
  let receiver: Receiver;
  const children: ChildProcess[] = [];

  before(async () => {
    t = await createTestApp({ env: { WEBHOOKS_ALLOW_LOCAL: 'on' } });
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
    await receiver?.close();
    await t?.close();
  });

  test('SIGKILL mid-delivery, restart: no event lost, duplicates only with the same webhook-id', async () => {
    // The first 5 requests are answered; the rest hang until the worker is killed.
    receiver = await startReceiver((n) => (n < 5 ? 200 : 'hang'));
    const created = await root.post('/webhook-endpoints', { url: receiver.url, events: ['invoice.created'] });
    assert.equal(created.statusCode, 201, created.body);
    const { id: endpointId, secret } = created.json<{ id: string; secret: string }>();
    const invoices: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await root.post('/invoices', { studentId: i % 2 ? f.students.anaA : f.students.carla, amount: 1_000 + i, dueDate: f.future });
      assert.equal(response.statusCode, 201, response.body);
      invoices.push(response.json<{ id: string }>().id);
    }

    const first = await startWorker(t.url);
    children.push(first.child);
    await receiver.waitFor(8);
    const killed = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await killed;
    const pendingAfterKill = await t.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', endpointId).where('status', '=', 'pending').execute();
    assert.ok(pendingAfterKill.length > 0, 'the kill left deliveries in flight');

    receiver.behave(() => 200);
    const second = await startWorker(t.url);
    children.push(second.child);
    await waitFor(
      'every delivery to succeed after the restart',
      async () => (await t.db.selectFrom('webhook_deliveries').select('id').where('endpoint_id', '=', endpointId).where('status', '=', 'succeeded').execute()).length === invoices.length,
      60_000,
    );
    second.child.kill('SIGTERM');

    const wh = new Webhook(secret);
    const byWebhookId = new Map<string, string[]>();
    for (const got of receiver.received) {
      const headers = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
      wh.verify(got.body, headers);
      byWebhookId.set(headers['webhook-id'], [...(byWebhookId.get(headers['webhook-id']) ?? []), got.body]);
    }
    // Every invoice arrived at least once…
    const arrived = new Set(receiver.received.map((r) => String(r.json.data.id)));
    assert.deepEqual([...arrived].sort(), [...invoices].sort());
    // …each under one webhook-id, and a duplicate is the very same message.
    assert.equal(byWebhookId.size, invoices.length);
    for (const bodies of byWebhookId.values()) {
      assert.equal(new Set(bodies).size, 1);
    }
    assert.ok(receiver.received.length > invoices.length, 'the hung requests were sent again after the restart');
  });
});
