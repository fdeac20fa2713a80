import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadMigrations, migrate, MigrationError } from '../../src/db/migrate.js';
import type { DB } from '../../src/db/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  let empty: TestDatabase;
  before(async () => {
    empty = await createTestDatabase({ fromTemplate: false });
  });
  after(() => empty.drop());

  test('apply to an empty database, then a re-run applies nothing', async () => {
    const migrations = await loadMigrations();
    const first = await migrate(empty.url);
    assert.deepEqual(first.applied.length, migrations.length);
    assert.ok(first.applied[0]?.startsWith('0001_'));
    const second = await migrate(empty.url);
    assert.deepEqual(second.applied, []);
    const rows = await query<{ version: number }>(empty.url, 'select version from schema_migrations order by version');
    assert.deepEqual(rows.map((r) => r.version), migrations.map((m) => m.version));
  });

  test('every table and column the Kysely types name exists', async () => {
    // The interface is the contract the code compiles against; a drift between it and
    // the SQL would surface only at run time, so check it here.
    const expected: Record<keyof DB, string[]> = {
      app_meta: ['key', 'value', 'updated_at'],
      schools: ['id', 'name', 'address', 'phone', 'email', 'currency', 'timezone', 'public_statements', 'is_active', 'created_at', 'updated_at', 'deleted_at'],
      students: ['id', 'school_id', 'first_name', 'last_name', 'email', 'grade', 'enrolled_at', 'is_active', 'created_at', 'updated_at', 'deleted_at'],
      invoices: ['id', 'school_id', 'student_id', 'number', 'description', 'amount', 'paid_amount', 'due_date', 'created_at', 'updated_at', 'cancelled_at'],
      payments: ['id', 'school_id', 'invoice_id', 'amount', 'method', 'reference', 'paid_at', 'created_at', 'created_by'],
      refunds: ['id', 'school_id', 'payment_id', 'invoice_id', 'amount', 'reason', 'created_at', 'created_by'],
      transactions: ['id', 'school_id', 'invoice_id', 'payment_id', 'refund_id', 'amount', 'method', 'status', 'failure_code', 'failure_message', 'gateway', 'created_at', 'xact_id'],
      ledger_entries: ['vendor_id', 'account_id', 'type', 'amount', 'created_at', 'ingested_at', 'body_hash'],
      users: ['id', 'username', 'password_hash', 'role', 'is_active', 'created_at', 'updated_at', 'last_login_at'],
      user_schools: ['user_id', 'school_id'],
      auth_sessions: ['id', 'user_id', 'created_at', 'expires_at', 'revoked_at', 'revoked_reason', 'ip', 'user_agent'],
      refresh_tokens: ['id', 'session_id', 'token_hash', 'created_at', 'expires_at', 'used_at'],
      login_throttle: ['key', 'failures', 'window_start', 'locked_until'],
      idempotency_keys: ['user_id', 'key', 'request_method', 'request_path', 'request_hash', 'response_status', 'response_body', 'created_at', 'expires_at'],
      audit_log: ['id', 'occurred_at', 'actor_user_id', 'actor_username', 'request_id', 'action', 'entity_type', 'entity_id', 'school_id', 'changes'],
      invoice_counters: ['school_id', 'last_number'],
      billing_versions: ['school_id', 'version'],
      invoice_rollups: ['school_id', 'grade', 'due_date', 'invoice_count', 'amount_due', 'amount_paid', 'outstanding_count', 'partial_count'],
      payment_rollups: ['school_id', 'grade', 'method', 'paid_on', 'payment_count', 'amount'],
      invoice_totals: ['school_id', 'grade', 'invoice_count', 'amount_due', 'amount_paid', 'outstanding_count', 'partial_count'],
      payment_totals: ['school_id', 'grade', 'method', 'payment_count', 'amount'],
    };
    const rows = await query<{ table_name: string; column_name: string }>(
      empty.url,
      `select table_name, column_name from information_schema.columns where table_schema = 'public'`,
    );
    for (const [table, columns] of Object.entries(expected)) {
      const actual = rows.filter((r) => r.table_name === table).map((r) => r.column_name).sort();
      assert.deepEqual(actual, [...columns].sort(), `columns of ${table}`);
    }
  });

  test('money columns are bigint', async () => {
    const rows = await query<{ table_name: string; column_name: string; data_type: string }>(
      empty.url,
      `select table_name, column_name, data_type from information_schema.columns
        where table_schema = 'public' and column_name in ('amount', 'paid_amount')`,
    );
    assert.ok(rows.length >= 6);
    for (const row of rows) {
      assert.equal(row.data_type, 'bigint', `${row.table_name}.${row.column_name}`);
    }
  });

  test('two instances migrating at once: each migration is applied exactly once', async () => {
    const fresh = await createTestDatabase({ fromTemplate: false });
    try {
      const results = await Promise.all([migrate(fresh.url), migrate(fresh.url), migrate(fresh.url)]);
      const appliedCounts = results.map((r) => r.applied.length).sort();
      const total = (await loadMigrations()).length;
      // One run did everything; the others waited on the advisory lock and found nothing to do.
      assert.deepEqual(appliedCounts, [0, 0, total]);
      const rows = await query<{ n: string }>(fresh.url, 'select count(*) as n from schema_migrations');
      assert.equal(Number(rows[0]?.n), total);
    } finally {
      await fresh.drop();
    }
  });

  test('a failing migration leaves no trace (transactional)', async () => {
    const fresh = await createTestDatabase({ fromTemplate: false });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-migrations-'));
    try {
      await writeFile(path.join(dir, '0001_ok.sql'), 'create table first_table (id int);');
      await writeFile(path.join(dir, '0002_broken.sql'), 'create table half_done (id int); select 1/0;');
      await assert.rejects(migrate(fresh.url, { dir }), (error: unknown) => {
        assert.ok(error instanceof MigrationError);
        assert.match(error.message, /0002_broken failed/);
        return true;
      });
      const tables = await query<{ table_name: string }>(
        fresh.url,
        `select table_name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      assert.deepEqual(tables.map((t) => t.table_name), ['first_table', 'schema_migrations']);
      const versions = await query<{ version: number }>(fresh.url, 'select version from schema_migrations');
      assert.deepEqual(versions.map((v) => v.version), [1]);
    } finally {
      await fresh.drop();
    }
  });

  test('an applied migration that was edited is refused', async () => {
    const fresh = await createTestDatabase({ fromTemplate: false });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-migrations-'));
    try {
      await writeFile(path.join(dir, '0001_ok.sql'), 'create table t (id int);');
      await migrate(fresh.url, { dir });
      await writeFile(path.join(dir, '0001_ok.sql'), 'create table t (id bigint);');
      await assert.rejects(migrate(fresh.url, { dir }), /was changed after it was applied/);
    } finally {
      await fresh.drop();
    }
  });
});
