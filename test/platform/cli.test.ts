import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { loadMigrations } from '../../src/db/migrate.js';
import { verifyPassword } from '../../src/modules/auth/passwords.js';
import { createTestDatabase } from '../helpers/db.js';

/** The `bursar` command (bin/bursar.mjs) as a deploy runs it: exit codes and messages. */
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs `bursar`: through bin/bursar.mjs, or `node --import tsx src/cli.ts` as the container image does. */
function bursar(args: string[], env: Record<string, string>, entry: 'bin' | 'src' = 'bin', input?: string): Promise<{ code: number | null; output: string }> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.JWT_SECRET;
  const argv = entry === 'bin' ? [path.join(ROOT, 'bin/bursar.mjs')] : ['--import', 'tsx', 'src/cli.ts'];
  const child = spawn(process.execPath, [...argv, ...args], {
    cwd: ROOT,
    env: { ...base, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: '0', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(input);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bursar ${args.join(' ')} still running after 60 s:\n${output}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('bursar CLI', () => {
  test('usage errors exit 2 with the usage; help exits 0', async () => {
    const [unknown, none, help, extra, direct] = await Promise.all([
      bursar(['serve'], {}),
      bursar([], {}),
      bursar(['help'], {}),
      bursar(['api', '--port', '1'], {}),
      bursar(['help'], {}, 'src'),
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.output, /unknown command: serve/);
    assert.match(unknown.output, /Usage: bursar <command>/);
    assert.equal(none.code, 2);
    assert.equal(help.code, 0);
    assert.match(help.output, /api .*\n.*worker/s);
    assert.equal(extra.code, 2);
    assert.equal(direct.code, 0, 'src/cli.ts runs as an entry point too');
    assert.match(direct.output, /Usage: bursar <command>/);
  });

  test('api and worker need DATABASE_URL; api needs JWT_SECRET', async () => {
    const database = await createTestDatabase();
    try {
      const [api, worker, noSecret] = await Promise.all([
        bursar(['api'], { JWT_SECRET: 'x'.repeat(40) }),
        bursar(['worker'], {}),
        bursar(['api'], { DATABASE_URL: database.url }),
      ]);
      assert.equal(api.code, 1);
      assert.match(api.output, /DATABASE_URL is required for `bursar api`/);
      assert.equal(worker.code, 1);
      assert.match(worker.output, /DATABASE_URL is required for `bursar worker`/);
      assert.equal(noSecret.code, 1);
      assert.match(noSecret.output, /JWT_SECRET is required for `bursar api`/);
    } finally {
      await database.drop();
    }
  });

  test('api refuses an unmigrated database; migrate applies every migration once', async () => {
    const database = await createTestDatabase({ fromTemplate: false });
    try {
      const env = { DATABASE_URL: database.url, JWT_SECRET: 'x'.repeat(40) };
      const refused = await bursar(['api'], env);
      assert.equal(refused.code, 1);
      assert.match(refused.output, /schema is at version none.*run `bursar migrate` first/);

      const migrated = await bursar(['migrate'], env);
      assert.equal(migrated.code, 0, migrated.output);
      const latest = (await loadMigrations()).at(-1)?.version;
      assert.match(migrated.output, new RegExp(`schema at version ${latest}`));
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>('select count(*)::int as n from schema_migrations');
        assert.equal(rows[0]?.n, (await loadMigrations()).length);
      } finally {
        await client.end();
      }
      const again = await bursar(['migrate'], env);
      assert.equal(again.code, 0);
      assert.match(again.output, /nothing to do/);
    } finally {
      await database.drop();
    }
  });

  test('create-admin makes a super_admin from a password on stdin, through the users service', async () => {
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url };
      const short = await bursar(['create-admin', 'ops.root'], env, 'bin', 'too-short\n');
      assert.equal(short.code, 1);
      assert.match(short.output, /at least 12 characters/);
      const missing = await bursar(['create-admin'], env, 'bin', '');
      assert.equal(missing.code, 2);

      const created = await bursar(['create-admin', 'Ops.Root'], env, 'bin', 'a-long-enough-password\n');
      assert.equal(created.code, 0, created.output);
      assert.match(created.output, /super_admin ops\.root created/);
      const again = await bursar(['create-admin', 'ops.root'], env, 'bin', 'a-long-enough-password\n');
      assert.equal(again.code, 1, again.output);

      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ id: string; role: string; password_hash: string; is_active: boolean }>(
          `select id, role, password_hash, is_active from users where username = 'ops.root'`,
        );
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.role, 'super_admin');
        assert.equal(rows[0]?.is_active, true);
        // The newline that ends the piped line is not part of the password.
        assert.equal(await verifyPassword(rows[0]?.password_hash ?? '', 'a-long-enough-password'), true);
        const audit = await client.query(`select 1 from audit_log where action = 'user.create' and entity_id = $1`, [rows[0]?.id]);
        assert.equal(audit.rowCount, 1);
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  });
});
