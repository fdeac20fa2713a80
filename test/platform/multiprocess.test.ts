import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { createDatabase, type Database } from '../../src/db/database.js';
import { MAINTENANCE_AUDIT_ACTION, MAINTENANCE_QUEUE } from '../../src/jobs/maintenance.job.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { insertUser, PASSWORD } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, assertLedgerEquals } from '../sync/helpers.js';

/**
 * Production shape, for real: two `bursar api` and two `bursar worker` child processes
 * (bin/bursar.mjs, as deployed) on one PostgreSQL, driven over HTTP and WebSockets.
 * Jobs run in the workers only and once (maintenance once per slot, the gateway ledger
 * exactly the vendor's), live events reach clients on both API processes whichever one
 * took the payment, and the per-user rate limit is one budget across both API processes
 * when REDIS_URL is set (.ci/run sets it when a Redis answers), one per process without.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const JWT_SECRET = 'multi-process-test-secret-at-least-32-chars';
const RATE_LIMIT_MAX = 30;
const MAINTENANCE_INTERVAL_SECONDS = 2;
const REDIS_URL = process.env.REDIS_URL;

interface Running {
  role: 'api' | 'worker';
  child: ChildProcess;
  url: string;
  output: () => string;
}

function start(role: 'api' | 'worker', env: Record<string, string>): Promise<Running> {
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATABASE_READ_URL', 'REDIS_URL', 'SIMULATOR', 'SYNC', 'MAINTENANCE']) {
    delete base[name];
  }
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/bursar.mjs'), role], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role}: no "listening" within 60 s:\n${output}`)), 60_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ role, child, url: match[1], output: () => output });
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with ${code} before listening:\n${output}`));
    });
  });
}

function stop(running: Running): Promise<number | null> {
  if (running.child.exitCode !== null) {
    return Promise.resolve(running.child.exitCode);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      running.child.kill('SIGKILL');
      reject(new Error(`${running.role} still running 20 s after SIGTERM:\n${running.output()}`));
    }, 20_000);
    running.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    running.child.kill('SIGTERM');
  });
}

async function loginOver(url: string, username: string): Promise<string> {
  const response = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { accessToken: string }).accessToken;
}

interface LiveMessage {
  type: string;
  payment?: { paymentId: string | null };
}

/** A live-feed client collecting every message; resolves once the hello arrived. */
function openFeed(url: string, token: string): Promise<{ messages: LiveMessage[]; socket: WebSocket }> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(token)}`);
  const messages: LiveMessage[] = [];
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (data: Buffer) => {
      messages.push(JSON.parse(data.toString()) as LiveMessage);
      if (messages.length === 1) {
        resolve({ messages, socket });
      }
    });
  });
}

describe('two API processes and two workers on one database', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  let vendor: VendorSimulator;
  let fx: BillingFixture;
  const processes: Running[] = [];
  let apis: Running[] = [];
  let workers: Running[] = [];

  before(async () => {
    testDatabase = await createTestDatabase();
    database = createDatabase({ connectionString: testDatabase.url, max: 3 });
    fx = await seedBillingFixture(database.db);
    const adminId = await insertUser(database.db, { username: 'mp.admin', role: 'super_admin' });
    await insertUser(database.db, { username: 'mp.limited', role: 'developer' });
    // Idempotency keys past their retention, and one still within it.
    for (const key of ['old-1', 'old-2', 'old-3', 'fresh']) {
      await database.db
        .insertInto('idempotency_keys')
        .values({
          user_id: adminId,
          key,
          request_method: 'POST',
          request_path: '/api/v1/payments',
          request_hash: Buffer.alloc(32),
          response_status: 201,
          response_body: '{}',
          created_at: sql<Date>`now() - interval '2 days'`,
          expires_at: key === 'fresh' ? sql<Date>`now() + interval '1 hour'` : sql<Date>`now() - interval '1 day'`,
        })
        .execute();
    }
    vendor = createVendorSimulator({ apiKeys: [API_KEY], entriesPerSecond: 0, requestsPerMinute: 1_000_000, seed: 8, accounts: 6, history: 250 });
    await vendor.start();

    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: '0',
      DATABASE_URL: testDatabase.url,
      DATABASE_POOL_MAX: '4',
      JWT_SECRET,
      SEED_DEMO: 'off',
      RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      RATE_LIMIT_WINDOW_SECONDS: '600',
      MAINTENANCE_INTERVAL_SECONDS: String(MAINTENANCE_INTERVAL_SECONDS),
      VENDOR_URL: vendor.url,
      VENDOR_API_KEY: API_KEY,
      SYNC_INTERVAL_SECONDS: '1',
      SYNC_REQUESTS_PER_MINUTE: '10000',
      SYNC_PAGE_SIZE: '40',
      ...(REDIS_URL === undefined ? {} : { REDIS_URL }),
    };
    const started = await Promise.allSettled([start('api', env), start('api', env), start('worker', env), start('worker', env)]);
    for (const result of started) {
      if (result.status === 'fulfilled') {
        processes.push(result.value);
      }
    }
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      throw failed.reason;
    }
    apis = processes.filter((p) => p.role === 'api');
    workers = processes.filter((p) => p.role === 'worker');
  });

  after(async () => {
    const codes = await Promise.all(processes.map((p) => stop(p).catch((error: unknown) => error)));
    await vendor?.close();
    await database?.close();
    await testDatabase?.drop();
    // Every process drained and exited cleanly on SIGTERM.
    assert.deepEqual(codes, processes.map(() => 0), processes.map((p) => p.output()).join('\n---\n'));
  });

  test('workers answer probes and metrics but serve no API; API processes serve it', async () => {
    for (const worker of workers) {
      assert.equal((await fetch(`${worker.url}/health`)).status, 200);
      assert.equal((await fetch(`${worker.url}/health/db`)).status, 200);
      assert.match(await (await fetch(`${worker.url}/metrics`)).text(), /bursar_db_pool_connections/);
      assert.equal((await fetch(`${worker.url}/api/v1/auth/login`, { method: 'POST' })).status, 404);
    }
    for (const api of apis) {
      assert.equal((await fetch(`${api.url}/health/db`)).status, 200);
    }
  });

  test('maintenance runs in the workers only, exactly once per interval, and purges expired idempotency keys', async () => {
    const runs = () =>
      database.db
        .selectFrom('audit_log')
        .select(['entity_id as slot', 'changes'])
        .where('action', '=', MAINTENANCE_AUDIT_ACTION)
        .orderBy('occurred_at')
        .execute();
    await waitFor('three maintenance runs', async () => (await runs()).length >= 3, 30_000);
    const rows = await runs();
    const slots = rows.map((row) => row.slot ?? '');
    assert.equal(new Set(slots).size, slots.length, `one run per slot: ${slots.join(', ')}`);
    for (const slot of slots) {
      // The slot pg-boss stamped on the job: a multiple of the interval.
      const seconds = Date.parse(slot) / 1000;
      assert.ok(Number.isInteger(seconds) && seconds % MAINTENANCE_INTERVAL_SECONDS === 0, `slot ${slot}`);
    }
    const workerPids = workers.map((w) => w.child.pid);
    for (const row of rows) {
      const changes = row.changes as { role: string; pid: number };
      assert.equal(changes.role, 'worker');
      assert.ok(workerPids.includes(changes.pid), `run by a worker process (pid ${changes.pid})`);
    }
    const { rows: perSlot } = await sql<{ slot: Date; jobs: number }>`
      select singleton_on as slot, count(*)::int as jobs from pgboss.job where name = ${MAINTENANCE_QUEUE} group by 1 having count(*) > 1`.execute(database.db);
    assert.deepEqual(perSlot, [], 'pg-boss queued one job per slot');
    const keys = await database.db.selectFrom('idempotency_keys').select('key').execute();
    assert.deepEqual(keys.map((k) => k.key), ['fresh'], 'expired keys purged, the one within retention kept');
  });

  test('the gateway sync runs in the workers once: the ledger is exactly the vendor feed', async () => {
    const truth = vendor.truth().entries;
    await waitFor(
      'the ledger to catch up with the vendor',
      async () => Number((await database.db.selectFrom('ledger_entries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n) >= truth.size,
      30_000,
    );
    await assertLedgerEquals(database, truth);
  });

  test('a payment taken by either API process reaches live clients on both', async () => {
    const [a, b] = apis as [Running, Running];
    const tokenA = await loginOver(a.url, 'mp.admin');
    const tokenB = await loginOver(b.url, 'mp.admin');
    const feeds = [await openFeed(a.url, tokenA), await openFeed(b.url, tokenB)];
    try {
      const pay = async (url: string, token: string) => {
        const response = await fetch(`${url}/api/v1/payments`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ invoiceId: fx.invoices.pendingA, amount: 100, method: 'card' }),
        });
        assert.equal(response.status, 201, await response.clone().text());
        return ((await response.json()) as { id: string }).id;
      };
      // Each process accepts the other's tokens (one JWT_SECRET).
      const paid = [await pay(a.url, tokenB), await pay(b.url, tokenA)];
      for (const feed of feeds) {
        const received = () => feed.messages.filter((m) => m.type === 'payment_received').map((m) => m.payment?.paymentId);
        await waitFor('both payments on the feed', () => paid.every((id) => received().includes(id)), 20_000);
      }
    } finally {
      for (const feed of feeds) {
        feed.socket.close();
      }
    }
  });

  test(`the per-user rate limit: one budget across processes with REDIS_URL${REDIS_URL === undefined ? ' (unset here: one per process)' : ''}`, async () => {
    const [a, b] = apis as [Running, Running];
    const token = await loginOver(a.url, 'mp.limited');
    const me = async (url: string) => (await fetch(`${url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
    const statuses: number[] = [];
    for (const url of [a.url, b.url]) {
      for (let i = 0; i < 20; i++) {
        statuses.push(await me(url));
      }
    }
    const ok = statuses.filter((status) => status === 200).length;
    const limited = statuses.filter((status) => status === 429).length;
    if (REDIS_URL === undefined) {
      assert.deepEqual([ok, limited], [40, 0], 'each process counts its own 20 requests');
    } else {
      assert.deepEqual([ok, limited], [RATE_LIMIT_MAX, 40 - RATE_LIMIT_MAX], 'both processes spend one budget');
      assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
    }
  });
});
