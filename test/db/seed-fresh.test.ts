import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../../src/shared/net.js';

/**
 * `npm run seed` as the first command (issue 15, point 8): on a fresh data directory
 * (the embedded PostgreSQL, initialised by the command itself) and on an empty
 * database, it migrates first, then seeds.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const execFileAsync = promisify(execFile);
const SMALL = ['--schools', '2', '--students', '20', '--months', '2', '--transactions', '300', '--seed', '5'];


async function seed(args: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  return execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', ...args], { cwd: ROOT, env: { ...base, ...env } });
}

describe('npm run seed on nothing', () => {
  let dataDir: string;
  let empty: TestDatabase;
  let migrations: number;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'bursar-seed-fresh-'));
    empty = await createTestDatabase({ fromTemplate: false });
    migrations = (await loadMigrations()).length;
  });
  after(async () => {
    await empty?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a fresh data directory: initialises PostgreSQL, migrates, seeds; a second run only seeds', async () => {
    const env = { BURSAR_DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    const first = await seed(SMALL, env);
    assert.match(first.stderr, new RegExp(`applied ${migrations} migration\\(s\\)`));
    assert.match(first.stdout, /transactions\s+300/);
    const second = await seed(SMALL, env);
    assert.doesNotMatch(second.stderr, /applied \d+ migration/);
    assert.match(second.stderr, /schema at version \d+/);
    assert.match(second.stdout, /schools\s+2/);
  });

  test('an empty database (--database-url): migrated, then seeded', async () => {
    const { stdout, stderr } = await seed(['--database-url', empty.url, ...SMALL], {});
    assert.match(stderr, new RegExp(`applied ${migrations} migration\\(s\\)`));
    assert.match(stdout, /invoices\s+\d{2,}/);
    const client = new pg.Client({ connectionString: empty.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ versions: number; schools: number }>(
        'select (select count(*)::int from schema_migrations) as versions, (select count(*)::int from schools) as schools',
      );
      assert.deepEqual(rows[0], { versions: migrations, schools: 2 });
    } finally {
      await client.end();
    }
  });
});
