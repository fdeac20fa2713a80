import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { isLivePostgres, settingFlags, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { freePort } from '../../src/shared/net.js';

/**
 * Server settings for the embedded PostgreSQL (the benchmark sizes shared_buffers with
 * them) go to pg_ctl's `-o` as one string: only plain names and values get through.
 */
describe('embedded PostgreSQL settings', () => {
  test('plain settings become -c flags, in order', () => {
    assert.deepEqual(settingFlags({ shared_buffers: '1GB', work_mem: '64MB', 'auto_explain.log_min_duration': '250' }), [
      '-c shared_buffers=1GB',
      '-c work_mem=64MB',
      '-c auto_explain.log_min_duration=250',
    ]);
    assert.deepEqual(settingFlags(), []);
  });

  test('a name or value that could carry another option is refused', () => {
    const refused: Record<string, string>[] = [{ shared_buffers: '1GB -c fsync=off' }, { 'shared_buffers=1GB -c x': '1' }, { work_mem: "64MB'" }, { work_mem: '' }];
    for (const settings of refused) {
      assert.throws(() => settingFlags(settings), /only plain names and values/, JSON.stringify(settings));
    }
  });

  test('startEmbeddedPostgres refuses them before creating anything', async () => {
    const dataDir = `/nonexistent/bursar-embedded-${process.pid}`;
    await assert.rejects(startEmbeddedPostgres({ dataDir, port: 1, settings: { shared_buffers: '1GB; x' } }), /only plain names and values/);
  });
});


const postmasterPid = async (dataDir: string) => Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);

async function query(url: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A dead process named `postgres` that stays a zombie (its parent, `sleep`, never reaps
 * it) for a minute: what a postmaster killed with SIGKILL is until its parent reaps it.
 */
async function postgresZombie(dir: string): Promise<{ pid: number; release: () => void }> {
  const named = path.join(dir, 'postgres');
  // A `sleep 1` named postgres, started in the background by a shell that then becomes
  // `sleep 60` and never reaps it. It must outlive the exec: had it already exited, the
  // shell would reap it itself (under load the shell is slow to get to the exec).
  await symlink('/bin/sleep', named);
  const parent = spawn('/bin/sh', ['-c', '"$0" 1 & echo $!; exec sleep 60', named], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    parent.once('error', reject);
  });
  // Until it has exited it is not a zombie yet.
  for (let i = 0; i < 1000 && !(await readFile(`/proc/${pid}/stat`, 'utf8')).match(/\) Z /); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { pid, release: () => parent.kill('SIGKILL') };
}

/**
 * `npm start`, `npm run verify` and `npm run seed` right after a crash: the data
 * directory still names the old server in postmaster.pid, and a killed postmaster stays a
 * zombie until reaped, which pg_ctl takes for a running server ("pg_ctl: server does not
 * shut down"). A start must find out that it is gone and start anyway.
 */
describe('embedded PostgreSQL after a crash', () => {
  const dirs: string[] = [];
  const running: EmbeddedPostgres[] = [];
  after(async () => {
    for (const server of running) {
      await server.stop().catch(() => undefined);
    }
    for (const dir of dirs) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Durable, as `npm start` runs it (ephemeral mode may lose the last commits in a crash).
  const start = async (dataDir: string, port: number) => {
    const messages: string[] = [];
    const server = await startEmbeddedPostgres({ dataDir, port, log: (m) => messages.push(m) });
    running.push(server);
    return { server, messages };
  };
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-embedded-'));
    dirs.push(dir);
    return dir;
  };

  test('its postmaster killed with SIGKILL, a start at once brings the cluster back with its data', async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    const first = await start(dataDir, port);
    await query(first.server.url, 'create table survivor (note text); insert into survivor values (\'kept\')');
    const pid = await postmasterPid(dataDir);
    process.kill(pid, 'SIGKILL');

    const second = await start(dataDir, port);
    assert.deepEqual(await query(second.server.url, 'select note from survivor'), [{ note: 'kept' }]);
    assert.notEqual(await postmasterPid(dataDir), pid);
    assert.ok(second.messages.some((m) => m.includes(`PID ${pid}`)), second.messages.join('\n'));
  });

  test('a postmaster.pid naming a zombie postgres is stale: removed, and the server starts (no "server does not shut down")', async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    const first = await start(dataDir, port);
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    const lock = await readFile(pidFile, 'utf8');
    await first.server.stop();
    const zombie = await postgresZombie(dataDir);
    try {
      assert.equal(await isLivePostgres(zombie.pid), false, 'a zombie is not a running server');
      // What a postmaster killed with SIGKILL leaves: its lock file, naming its (zombie) PID.
      await writeFile(pidFile, lock.replace(/^\d+/, String(zombie.pid)), { mode: 0o600 });
      const second = await start(dataDir, port);
      assert.deepEqual(await query(second.server.url, 'select 1 as one'), [{ one: 1 }]);
      assert.ok(second.messages.some((m) => m.includes(`PID ${zombie.pid}`) && /stale postmaster\.pid/.test(m)), second.messages.join('\n'));
    } finally {
      zombie.release();
    }
  });

  test('a server another live Bursar process owns is used as it is and left running (npm run verify beside npm start)', async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    await start(dataDir, port);
    const pid = await postmasterPid(dataDir);
    // Its owner: another process, alive (here a sleep; pg-owner.pid is what a Bursar writes).
    const owner = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    const ownerGone = new Promise((resolve) => owner.once('exit', resolve));
    try {
      await writeFile(path.join(dataDir, 'pg-owner.pid'), `${owner.pid}\n`);
      const second = await start(dataDir, await freePort());
      assert.equal(second.server.port, port, 'the running server’s port, not the one asked for');
      assert.deepEqual(await query(second.server.url, 'select 1 as one'), [{ one: 1 }]);
      await second.server.stop();
      assert.equal(await postmasterPid(dataDir), pid, 'the same server, not restarted');
      assert.equal(await isLivePostgres(pid), true, 'still running after the user’s stop()');
      assert.ok(second.messages.some((m) => m.includes(`Bursar process ${owner.pid}`)), second.messages.join('\n'));
    } finally {
      owner.kill('SIGKILL');
    }
    // Its owner gone (exited and reaped), the server is one left running by a killed Bursar: stopped and started again.
    await ownerGone;
    const third = await start(dataDir, port);
    assert.notEqual(await postmasterPid(dataDir), pid);
    assert.deepEqual(await query(third.server.url, 'select 1 as one'), [{ one: 1 }]);
  });

  test('a server left running by a killed Bursar is stopped and started again; a live postgres is told apart', async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    await start(dataDir, port);
    const pid = await postmasterPid(dataDir);
    assert.equal(await isLivePostgres(pid), true);
    assert.equal(await isLivePostgres(process.pid), false, 'not a postgres');
    const second = await start(dataDir, port);
    assert.deepEqual(await query(second.server.url, 'select 1 as one'), [{ one: 1 }]);
    assert.notEqual(await postmasterPid(dataDir), pid);
    assert.ok(second.messages.some((m) => m.includes(`stopping the PostgreSQL server (PID ${pid})`)), second.messages.join('\n'));
  });
});
