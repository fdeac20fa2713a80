/**
 * `npm test`: the whole suite against a real PostgreSQL.
 *
 * Without DATABASE_URL it starts an embedded PostgreSQL in a temp dir (fsync off);
 * with it, it uses that server (the role needs CREATEDB). Either way it migrates one
 * template database, then runs every test file with Node's test runner; each file
 * clones the template (`CREATE DATABASE … TEMPLATE`, milliseconds) so files are
 * isolated and can run in parallel. Everything it created is dropped at the end.
 *
 * `npm test -- test/auth` runs only files under the given paths.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { freePort } from '../src/shared/net.js';

const runId = `${process.pid}_${Date.now().toString(36)}`;
const template = `bursar_tpl_${runId}`;

async function testFiles(filters: string[]): Promise<string[]> {
  const all = (await readdir('test', { recursive: true }))
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join('test', file))
    .sort();
  return filters.length ? all.filter((file) => filters.some((f) => file.startsWith(path.normalize(f)))) : all;
}


function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const files = await testFiles(process.argv.slice(2));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

let embedded: EmbeddedPostgres | undefined;
let tempDir: string | undefined;
let adminUrl = process.env.DATABASE_URL;
let exitCode = 1;
try {
  if (!adminUrl) {
    tempDir = await mkdtemp(path.join(os.tmpdir(), 'bursar-test-'));
    embedded = await startEmbeddedPostgres({ dataDir: tempDir, port: await freePort(), ephemeral: true, database: 'postgres' });
    adminUrl = embedded.url;
    console.log(`# test database: embedded PostgreSQL on port ${embedded.port}`);
  } else {
    console.log('# test database: the server at DATABASE_URL');
  }
  await admin(adminUrl, (client) => client.query(`create database ${template}`));
  await migrate(withDatabase(adminUrl, template));

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=./scripts/test-timings.mjs', '--test-reporter-destination=stdout', `--test-concurrency=${Math.max(2, os.availableParallelism())}`, ...files],
    {
      stdio: 'inherit',
      env: { ...process.env, BURSAR_TEST_ADMIN_URL: adminUrl, BURSAR_TEST_TEMPLATE: template, BURSAR_TEST_RUN_ID: runId },
    },
  );
  const stop = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
} catch (error) {
  console.error(error);
} finally {
  if (adminUrl && !embedded) {
    // Shared server: drop what this run created (test files drop their own; this catches crashes).
    await admin(adminUrl, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        `select datname from pg_database where datname like $1 or datname = $2`,
        [`bursar_t_${runId}_%`, template],
      );
      for (const { datname } of rows) {
        await client.query(`drop database if exists ${client.escapeIdentifier(datname)} with (force)`);
      }
    }).catch((error: unknown) => console.error('cleanup failed', error));
  }
  await embedded?.stop().catch((error: unknown) => console.error('stopping embedded PostgreSQL failed', error));
  if (tempDir) {
    await rm(tempDir, { recursive: true, force: true });
  }
}
process.exit(exitCode);
