import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { createTestDatabase } from '../helpers/db.js';
import { freePort } from '../../src/shared/net.js';
import { GATEWAY_USERNAME } from '../../src/modules/gateway/checkout.repository.js';
import { SIMULATOR_USERNAME } from '../../src/modules/simulator/simulator.js';


/**
 * `npm start` as a user runs it: the real entry point in a child process, on the
 * embedded PostgreSQL, stopped with signals. Also the DATABASE_URL path.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'e2e-demo-password';


interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Every server a test started: a test that fails before stopping its server leaves it to `after`, not running forever (it would keep this file, and the suite, waiting). */
const started = new Set<ChildProcess>();

function start(env: Record<string, string>): Promise<Running> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...base, PORT: '0', LOG_LEVEL: 'warn', SEED_PASSWORD: PASSWORD, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    // A first start seeds the demo (three schools, their year billed by bill runs): alone
    // that is 20–30 s here, but beside a browser test on two loaded cores it took 77 s and
    // once more than 90. A bound on a hang, not a speed check.
    const timer = setTimeout(() => reject(new Error(`no "listening" within 180 s:\n${output}`)), 180_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output });
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
}

function stop(running: Running, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running 30 s after ${signal}:\n${running.output()}`)), 30_000);
    running.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    running.child.kill(signal);
  });
}

function processesUsing(dir: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(dir));
}

async function loginAndCountUsers(url: string): Promise<number> {
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'super.admin', password: PASSWORD }),
  });
  assert.equal(login.status, 200);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const users = await fetch(`${url}/api/v1/users?limit=500`, { headers: { authorization: `Bearer ${accessToken}` } });
  assert.equal(users.status, 200);
  const body = (await users.json()) as { data: { username: string }[] };
  // npm start runs the demo simulator (SIMULATOR=auto), which acts as its own user; once a
  // demo family has paid online, the gateway's webhook has its system user too. People only are counted.
  assert.ok(body.data.some((user) => user.username === SIMULATOR_USERNAME), 'the simulator user exists: the simulator runs');
  return body.data.filter((user) => user.username !== SIMULATOR_USERNAME && user.username !== GATEWAY_USERNAME).length;
}

describe('npm start', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const child of started) {
      // SIGTERM first, so that it stops its embedded PostgreSQL; SIGKILL if it will not go.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(late);
    }
    for (const dir of dirs) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('embedded: starts, seeds once, stops cleanly on SIGTERM and SIGINT, restarts on the same data', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bursar-e2e-'));
    dirs.push(dataDir);
    const env = { BURSAR_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };

    const first = await start(env);
    const health = await fetch(`${first.url}/health`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`${first.url}/health/db`)).status, 200);
    assert.equal(await loginAndCountUsers(first.url), 4);
    assert.match(first.output(), /demo data and demo users created/);
    assert.match(first.output(), /super\.admin, school\.admin, finance\.analyst, developer/);
    assert.ok(processesUsing(dataDir).length > 0, 'the embedded server runs while Bursar does');

    assert.equal(await stop(first, 'SIGTERM'), 0);
    assert.deepEqual(processesUsing(dataDir), [], 'no postgres left behind after SIGTERM');

    const second = await start(env);
    assert.match(second.output(), /demo data already present/);
    assert.equal(await loginAndCountUsers(second.url), 4, 'seeded once, not twice');
    assert.equal(await stop(second, 'SIGINT'), 0);
    assert.deepEqual(processesUsing(dataDir), [], 'no postgres left behind after SIGINT');
  });

  test('DATABASE_URL: uses the given server and starts no embedded one', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bursar-e2e-ext-'));
    dirs.push(dataDir);
    try {
      const running = await start({ DATABASE_URL: database.url, BURSAR_DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(40) });
      assert.equal(await loginAndCountUsers(running.url), 4);
      assert.equal(existsSync(path.join(dataDir, 'pg')), false);
      assert.equal(await stop(running, 'SIGTERM'), 0);
    } finally {
      await database.drop();
    }
  });

  test('bad configuration exits 1 naming the variable', async () => {
    await assert.rejects(start({ PORT: 'not-a-port' }), (error: Error) => {
      assert.match(error.message, /exited with 1/);
      assert.match(error.message, /PORT must be a whole number \(got "not-a-port"\)/);
      return true;
    });
  });
});
