import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { createDatabase, DatabaseUnavailableError, isConnectionFailure } from '../../src/db/database.js';
import { pgBossDatabase, startPgBoss } from '../../src/jobs/boss.js';
import { AppError } from '../../src/shared/errors.js';
import { verifyRollups } from '../../src/modules/reporting/rollups.js';
import { insertUser, PASSWORD } from '../helpers/app.js';
import { seedBillingFixture } from '../helpers/billing.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

/**
 * PostgreSQL terminating the server's connections (pg_terminate_backend, a failover, an
 * operator) while payments run. The server is the real entry point in a child process
 * (`bursar all` on DATABASE_URL, with the live hub's LISTEN connection and pg-boss
 * running), so "the process lives" is observed from outside: a checked-out connection
 * without an 'error' listener used to kill it with "Unhandled 'error' event".
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const WORKERS = 6;
const TERMINATIONS = 5;

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

function startServer(databaseUrl: string): Promise<Server> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.DATABASE_READ_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'all'], {
    cwd: ROOT,
    env: {
      ...env,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      SEED_DEMO: 'off',
      JWT_SECRET: 'db-faults-secret-that-is-at-least-32-characters',
      RATE_LIMIT_MAX: '1000000',
      SIMULATOR: 'off',
      VENDOR_SIMULATOR: 'off',
      SYNC: 'off',
      // pg-boss on the app's pool, polling while the connections are killed.
      MAINTENANCE: 'on',
      MAINTENANCE_INTERVAL_SECONDS: '1',
      DATABASE_POOL_MAX: '8',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.once('exit', (code, signal) => (exit = { code, signal }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" within 90 s:\n${output}`)), 90_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output, exited: () => exit });
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Kills every other backend of the database, as `pg_terminate_backend` from an operator's session does. */
async function terminateBackends(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ killed: boolean }>(
    'select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
  );
  return rows.filter((row) => row.killed).length;
}

interface Answer {
  status: number;
  type: string;
  body: string;
}

/** The created payment's id, wherever the receipt puts it (`payment.id`, or `id` at the top level). */
function paymentIdOf(answer: Answer): string {
  const body = JSON.parse(answer.body) as { id?: string; payment?: { id: string } };
  const id = body.payment?.id ?? body.id;
  assert.ok(id, answer.body);
  return id;
}

describe('the server survives its database terminating its connections', () => {
  let database: TestDatabase;
  let server: Server | undefined;
  let invoiceIds: string[] = [];

  before(async () => {
    database = await createTestDatabase();
    const setup = createDatabase({ connectionString: database.url, max: 2 });
    try {
      const fx = await seedBillingFixture(setup.db);
      await insertUser(setup.db, { username: 'cashier', role: 'super_admin' });
      // Large bills, so no payment of the run is refused for overpaying.
      invoiceIds = [];
      for (let i = 0; i < WORKERS; i++) {
        const row = await setup.db
          .insertInto('invoices')
          .values({ school_id: fx.schoolA, student_id: fx.students.anaA, number: `FAULT-${i}`, amount: 100_000_000, due_date: fx.future, description: 'fault run' })
          .returning('id')
          .executeTakeFirstOrThrow();
        invoiceIds.push(row.id);
      }
    } finally {
      await setup.close();
    }
    server = await startServer(database.url);
  });

  after(async () => {
    if (server && server.exited() === undefined) {
      const running = server;
      await new Promise<void>((resolve) => {
        running.child.once('exit', () => resolve());
        running.child.kill('SIGTERM');
      });
    }
    await database.drop();
  });

  test('payments under repeated pg_terminate_backend: the process lives, failures are 503 problems, nothing is lost or doubled, then it recovers', async () => {
    const running = server as Server;
    const login = await fetch(`${running.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'cashier', password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    const { accessToken } = (await login.json()) as { accessToken: string };

    const pay = async (invoiceId: string, key: string): Promise<Answer> => {
      try {
        const response = await fetch(`${running.url}/api/v1/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}`, 'idempotency-key': key },
          body: JSON.stringify({ invoiceId, amount: 100, method: 'card' }),
        });
        return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
      } catch (error) {
        // The server is gone (the process died): recorded as status 0 and asserted below.
        return { status: 0, type: '', body: String(error) };
      }
    };

    /** Each key's final answer and payment id; every failed answer seen on the way. */
    const paid = new Map<string, string>();
    const failures: Answer[] = [];
    let storming = true;

    const worker = async (invoiceId: string) => {
      while (storming) {
        const key = randomUUID();
        // A 5xx is retryable: the client retries with the same key until it is answered.
        for (let attempt = 0; ; attempt++) {
          const answer = await pay(invoiceId, key);
          if (answer.status === 201) {
            paid.set(key, paymentIdOf(answer));
            break;
          }
          failures.push(answer);
          if (answer.status === 0 || attempt > 50) {
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };

    const operator = new pg.Client({ connectionString: database.url });
    operator.on('error', () => undefined);
    await operator.connect();
    let killed = 0;
    const workers = invoiceIds.map((id) => worker(id));
    try {
      // At least TERMINATIONS rounds, and on until a round has caught a request mid-flight.
      for (let i = 0; i < TERMINATIONS || (failures.length === 0 && i < 50); i++) {
        // Let payments get going (and the pool refill) before each round of kills.
        const before = paid.size;
        while (paid.size < before + WORKERS && running.exited() === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        killed += await terminateBackends(operator);
      }
    } finally {
      storming = false;
      await Promise.all(workers);
      await operator.end();
    }

    assert.equal(running.exited(), undefined, `the server process died:\n${running.output()}`);
    assert.doesNotMatch(running.output(), /Unhandled 'error' event|uncaughtException/);
    assert.ok(killed >= TERMINATIONS, `backends were terminated (${killed})`);
    assert.ok(failures.length > 0, 'some requests were caught mid-flight by the terminations');
    for (const failure of failures) {
      assert.equal(failure.status, 503, `a killed connection fails its request with 503: ${failure.status} ${failure.body}`);
      assert.match(failure.type, /^application\/problem\+json/);
      assert.equal((JSON.parse(failure.body) as { code: string }).code, 'SERVICE_UNAVAILABLE');
    }

    // The next requests succeed, on the same process.
    const next = await pay(invoiceIds[0] as string, randomUUID());
    assert.equal(next.status, 201, next.body);
    const health = await fetch(`${running.url}/health/db`);
    assert.equal(health.status, 200);

    // Nothing lost or doubled: one payment per key, each answered 201 is in the database,
    // and every invoice's paid_amount is the sum of its payments.
    const check = createDatabase({ connectionString: database.url, max: 2 });
    try {
      const payments = await check.db.selectFrom('payments').select(['id', 'invoice_id', 'amount']).where('invoice_id', 'in', invoiceIds).execute();
      const answered = [...paid.values(), paymentIdOf(next)];
      assert.equal(new Set(answered).size, answered.length, 'no two keys were answered with the same payment');
      assert.equal(payments.length, answered.length, 'one payment per key: none lost, none doubled');
      const stored = new Set(payments.map((p) => p.id));
      for (const id of answered) {
        assert.ok(stored.has(id), `payment ${id} answered 201 is stored`);
      }
      const keys = await check.db.selectFrom('idempotency_keys').select(['key', 'response_status']).where('key', 'in', [...paid.keys()]).execute();
      assert.equal(keys.length, paid.size);
      assert.ok(keys.every((k) => k.response_status === 201));
      const invoices = await check.db.selectFrom('invoices').select(['id', 'paid_amount']).where('id', 'in', invoiceIds).execute();
      for (const invoice of invoices) {
        const sum = payments.filter((p) => p.invoice_id === invoice.id).reduce((total, p) => total + Number(p.amount), 0);
        assert.equal(Number(invoice.paid_amount), sum, `invoice ${invoice.id}: paid_amount = Σ payments`);
      }
      const report = await verifyRollups(check.db);
      assert.equal(report.ok, true, 'npm run verify would pass');
    } finally {
      await check.close();
    }
  });
});

/**
 * The same faults on one pool in this process: a checked-out client whose backend is
 * terminated must not raise an unhandled 'error' (node:test fails the file on one), is
 * discarded on release, and Kysely reports the failure that ended the transaction.
 */
describe('pooled connections when PostgreSQL terminates them', () => {
  let database: TestDatabase;
  let operator: pg.Client;

  before(async () => {
    database = await createTestDatabase();
    operator = new pg.Client({ connectionString: database.url });
    await operator.connect();
  });
  after(async () => {
    await operator.end();
    await database.drop();
  });

  const pidOf = async (client: pg.PoolClient) => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid as number;

  test('a checked-out client killed between queries fails its next query, raises nothing, and is discarded on release', async () => {
    const handle = createDatabase({ connectionString: database.url, max: 2 });
    try {
      const client = await handle.pool.connect();
      const pid = await pidOf(client);
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await operator.query('select pg_terminate_backend($1)', [pid]);
      await ended;
      await assert.rejects(client.query('select 1'), (error: Error) => isConnectionFailure(error));
      client.release();
      assert.equal(handle.pool.totalCount, 0, 'the dead client is not kept');
      const fresh = await handle.pool.connect();
      try {
        assert.notEqual(await pidOf(fresh), pid);
      } finally {
        fresh.release();
      }
    } finally {
      await handle.close();
    }
  });

  test('a query whose connection is killed fails with DatabaseUnavailableError (ECONNRESET); the next query runs on a new connection', async () => {
    const handle = createDatabase({ connectionString: database.url, max: 1 });
    try {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(handle.db);
      const pid = rows[0]?.pid as number;
      const sleeping = sql`select pg_sleep(30)`.execute(handle.db);
      // Checked from the start: the rejection can arrive before pg_terminate_backend answers,
      // and a rejection with no handler yet fails the test as unhandled.
      const refused = assert.rejects(sleeping, (error: Error) => {
        assert.ok(error instanceof DatabaseUnavailableError, String(error));
        assert.equal(error.code, 'ECONNRESET');
        assert.equal((error.cause as { code?: string }).code, '57P01');
        return true;
      });
      await waitFor('the query to be running', async () => (await operator.query("select 1 from pg_stat_activity where pid = $1 and query like '%pg_sleep%'", [pid])).rowCount === 1);
      await operator.query('select pg_terminate_backend($1)', [pid]);
      await refused;
      const after = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(handle.db);
      assert.notEqual(after.rows[0]?.pid, pid);
    } finally {
      await handle.close();
    }
  });

  test("a transaction whose connection died reports the error that ended it, not the ROLLBACK's", async () => {
    const handle = createDatabase({ connectionString: database.url, max: 1 });
    try {
      const outcome = handle.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        await operator.query('select pg_terminate_backend($1)', [rows[0]?.pid]);
        await waitFor('the backend to be gone', async () => (await operator.query('select 1 from pg_stat_activity where pid = $1', [rows[0]?.pid])).rowCount === 0);
        throw new AppError('BUSINESS_RULE_VIOLATION', 'refused after the connection died');
      });
      await assert.rejects(outcome, (error: Error) => error instanceof AppError && error.message === 'refused after the connection died');
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
      assert.equal(rows[0]?.one, 1);
    } finally {
      await handle.close();
    }
  });
});

/**
 * pg-boss 10 records a job's outcome without awaiting it: a failure there was an
 * unhandled rejection, which ends the process. Seen in the run above when a
 * termination hit a maintenance job's completion.
 */
describe('pg-boss when the database goes away under it', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  const capture = () => {
    const lines: { level: string; msg: string }[] = [];
    const log = {
      error: (_obj: object, msg: string) => void lines.push({ level: 'error', msg }),
      warn: (_obj: object, msg: string) => void lines.push({ level: 'warn', msg }),
    };
    return { lines, log };
  };

  test('a job whose outcome cannot be recorded is logged, not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const handle = createDatabase({ connectionString: database.url, max: 4 });
    const { lines, log } = capture();
    const boss = await startPgBoss(handle.pool, log as unknown as Parameters<typeof startPgBoss>[1]);
    try {
      await boss.createQueue('db-faults');
      await boss.send('db-faults', {});
      let ran = false;
      await boss.work('db-faults', { pollingIntervalSeconds: 0.5 }, async () => {
        ran = true;
        // The database goes away while the job runs: recording its completion fails.
        await handle.pool.end();
      });
      await waitFor('the job to run and its outcome to be attempted', () => ran && lines.some((l) => /could not record a job outcome/.test(l.msg)));
      // Give a dropped rejection its turn to surface.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(unhandled, []);
    } finally {
      await boss.stop({ graceful: false, wait: true, timeout: 2000 }).catch(() => undefined);
      await handle.close().catch(() => undefined);
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('recording an outcome on a lost connection is retried, then logged; other statements still fail to their caller', async () => {
    // A server that refuses connections: every attempt is a connection failure.
    const gone = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    gone.on('error', () => undefined);
    const { lines, log } = capture();
    const db = pgBossDatabase(gone, log);
    try {
      const plans = createRequire(import.meta.url)('pg-boss/src/plans') as { completeJobs(schema: string): string };
      const recorded = await db.executeSql(plans.completeJobs('pgboss'), ['q', [], null]);
      assert.deepEqual(recorded.rows, [{ count: '0' }]);
      assert.deepEqual(lines.map((l) => l.level), ['warn']);
      await assert.rejects(db.executeSql('select 1', []), (error: Error) => isConnectionFailure(error));
    } finally {
      await gone.end();
    }
  });
});
