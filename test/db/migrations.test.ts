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
      schools: ['id', 'name', 'address', 'phone', 'email', 'currency', 'timezone', 'language', 'public_statements', 'is_active', 'is_demo', 'simulator_enabled', 'created_at', 'updated_at', 'deleted_at'],
      students: ['id', 'school_id', 'first_name', 'last_name', 'email', 'grade', 'enrolled_at', 'is_active', 'created_at', 'updated_at', 'deleted_at', 'family_id'],
      invoices: ['id', 'school_id', 'student_id', 'number', 'description', 'amount', 'paid_amount', 'due_date', 'created_at', 'updated_at', 'cancelled_at', 'touched_by_person_at', 'family_id', 'payer_guardian_id', 'bill_run_id', 'credited_amount', 'kind', 'related_invoice_id', 'early_discount', 'early_by', 'early_applied'],
      payments: ['id', 'school_id', 'invoice_id', 'amount', 'method', 'reference', 'paid_at', 'created_at', 'created_by', 'family_payment_id'],
      refunds: ['id', 'school_id', 'payment_id', 'invoice_id', 'amount', 'reason', 'created_at', 'created_by'],
      transactions: ['id', 'school_id', 'invoice_id', 'payment_id', 'refund_id', 'amount', 'method', 'status', 'failure_code', 'failure_message', 'gateway', 'created_at', 'xact_id'],
      ledger_entries: ['vendor_id', 'account_id', 'type', 'amount', 'created_at', 'ingested_at', 'body_hash'],
      users: ['id', 'username', 'password_hash', 'role', 'is_active', 'created_at', 'updated_at', 'last_login_at', 'guardian_school_id', 'guardian_id'],
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
      demo_students: ['school_id', 'student_id', 'behaviour'],
      demo_bills: ['school_id', 'student_id', 'month', 'invoice_id'],
      families: ['school_id', 'id', 'name', 'reference', 'preferred_language', 'credit_balance', 'created_at', 'updated_at', 'deleted_at'],
      family_counters: ['school_id', 'last_number'],
      guardians: ['school_id', 'id', 'family_id', 'first_name', 'last_name', 'email', 'phone', 'relationship', 'preferred_language', 'is_primary', 'reminders_opt_out', 'created_at', 'updated_at', 'deleted_at'],
      fee_plans: ['school_id', 'id', 'name', 'academic_year', 'year_start', 'year_end', 'created_at', 'updated_at', 'early_payment'],
      fee_plan_items: ['school_id', 'fee_plan_id', 'code', 'description', 'amount', 'optional', 'account_code', 'schedule', 'position', 'created_at', 'updated_at', 'early_payment'],
      enrolments: ['school_id', 'id', 'student_id', 'fee_plan_id', 'from_date', 'to_date', 'optional_items', 'created_at', 'updated_at'],
      enrolment_payers: ['school_id', 'enrolment_id', 'guardian_id', 'share', 'position'],
      discount_rules: ['school_id', 'id', 'name', 'kind', 'basis', 'value', 'item_codes', 'from_sibling_number', 'cap', 'stacking', 'valid_from', 'valid_to', 'is_active', 'created_at', 'updated_at'],
      awards: ['school_id', 'id', 'student_id', 'rule_id', 'reason', 'created_by', 'created_at', 'revoked_at', 'revoked_by'],
      bill_runs: ['school_id', 'id', 'through', 'dry_run', 'status', 'invoices_created', 'lines_created', 'skipped', 'done', 'total', 'totals', 'error', 'requested_by', 'created_at', 'started_at', 'finished_at'],
      invoice_lines: ['school_id', 'id', 'invoice_id', 'kind', 'code', 'description', 'amount', 'enrolment_id', 'item_code', 'due_date', 'rule_id', 'award_id', 'billing_key', 'created_at'],
      family_payments: ['school_id', 'id', 'family_id', 'payer_guardian_id', 'amount', 'allocated', 'credited', 'method', 'reference', 'paid_at', 'created_at', 'created_by'],
      credit_applications: ['school_id', 'id', 'family_id', 'invoice_id', 'amount', 'created_at', 'created_by'],
      invoice_adjustments: ['school_id', 'id', 'invoice_id', 'kind', 'amount', 'reason', 'number', 'created_at', 'created_by'],
      receipt_counters: ['school_id', 'last_number'],
      receipts: ['school_id', 'seq', 'number', 'payment_id', 'family_payment_id', 'created_at'],
      school_accounts: ['school_id', 'accounts', 'updated_at', 'updated_by'],
      statement_mappings: ['school_id', 'mapping', 'updated_at', 'updated_by'],
      bank_imports: ['school_id', 'id', 'format', 'currency', 'lines', 'added', 'known', 'repeats', 'created_at', 'created_by'],
      bank_lines: [
        'school_id', 'id', 'import_id', 'bank_transaction_id', 'booked_on', 'amount', 'currency', 'description', 'payer_name', 'status', 'invoice_id',
        'family_id', 'reason', 'payment_id', 'family_payment_id', 'decided_by', 'decided_at', 'created_at',
      ],
      credit_note_counters: ['school_id', 'last_number'],
      late_fee_policies: ['school_id', 'kind', 'value', 'grace_days', 'cap', 'enabled', 'updated_at', 'updated_by'],
      collection_runs: ['school_id', 'day', 'late_fees_posted', 'late_fee_amount', 'reminders_sent', 'reminders_skipped', 'runs', 'first_run_at', 'last_run_at'],
      reminder_policies: ['school_id', 'steps', 'enabled', 'updated_at', 'updated_by'],
      guardian_invitations: ['school_id', 'id', 'guardian_id', 'token_hash', 'expires_at', 'accepted_at', 'user_id', 'created_by', 'created_at'],
      checkout_sessions: ['school_id', 'id', 'provider', 'provider_session_id', 'invoice_id', 'family_id', 'amount', 'currency', 'via', 'created_by', 'status', 'url', 'expires_at', 'created_at'],
      gateway_payments: ['school_id', 'provider', 'gateway_payment_id', 'outcome', 'checkout_id', 'event_id', 'amount', 'payment_id', 'family_payment_id', 'transaction_id', 'created_at'],
      gateway_sim_sessions: ['id', 'merchant', 'description', 'amount', 'currency', 'language', 'client_reference_id', 'metadata', 'success_url', 'cancel_url', 'status', 'payment_id', 'expires_at', 'created_at'],
      gateway_sim_events: ['id', 'session_id', 'body', 'attempts', 'next_attempt_at', 'lease_until', 'delivered_at', 'last_error', 'created_at'],
      messages: [
        'school_id', 'id', 'kind', 'dedupe_key', 'family_id', 'guardian_id', 'invoice_id', 'template', 'day', 'channel', 'language', 'recipient', 'status',
        'subject', 'body', 'attempts', 'next_attempt_at', 'lease_until', 'last_error', 'provider_message_id', 'sent_at', 'created_at', 'updated_at',
      ],
      webhook_endpoints: ['id', 'owner_id', 'url', 'description', 'events', 'school_ids', 'secret', 'previous_secret', 'previous_secret_until', 'enabled', 'disabled_reason', 'disabled_at', 'created_at', 'updated_at', 'deleted_at'],
      webhook_events: ['school_id', 'id', 'seq', 'type', 'object_id', 'data', 'occurred_at'],
      webhook_deliveries: [
        'school_id', 'id', 'event_id', 'event_seq', 'endpoint_id', 'object_id', 'status', 'attempts', 'next_attempt_at', 'lease_until', 'first_attempt_at',
        'last_status_code', 'last_error', 'last_latency_ms', 'delivered_at', 'created_at', 'updated_at',
      ],
      webhook_attempts: ['school_id', 'id', 'delivery_id', 'attempt', 'webhook_id', 'request_body', 'response_code', 'latency_ms', 'error', 'attempted_at'],
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

  test('0011 normalises the e-mail addresses already stored (trimmed, lower case, blank → null)', async () => {
    const fresh = await createTestDatabase({ fromTemplate: false });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-migrations-'));
    try {
      // Everything up to 0010, then rows as they were stored before 0011, then 0011.
      const migrations = await loadMigrations();
      for (const migration of migrations.filter((m) => m.version <= 10)) {
        await writeFile(path.join(dir, `${String(migration.version).padStart(4, '0')}_${migration.name}.sql`), migration.sql);
      }
      await migrate(fresh.url, { dir });
      const [school] = await query<{ id: string }>(fresh.url, `insert into schools (name, email) values ('A', ' Cobranza@Colegio.EXAMPLE ') returning id`);
      await query(fresh.url, `insert into schools (name, email) values ('B', '   ')`);
      await query(
        fresh.url,
        `insert into students (school_id, first_name, last_name, grade, email) values ($1, 'Ana', 'Ruiz', '3', 'Ana.Ruiz@Families.Example'), ($1, 'Beto', 'Ruiz', '4', 'beto@families.example'), ($1, 'Caro', 'Ruiz', '5', null)`,
        [school?.id],
      );
      const eleven = migrations.find((m) => m.version === 11);
      assert.ok(eleven, 'migration 0011 exists');
      await writeFile(path.join(dir, `0011_${eleven.name}.sql`), eleven.sql);
      const result = await migrate(fresh.url, { dir });
      assert.deepEqual(result.applied.map((name) => name.slice(0, 4)), ['0011']);
      const schools = await query<{ name: string; email: string | null }>(fresh.url, 'select name, email from schools order by name');
      assert.deepEqual(schools, [{ name: 'A', email: 'cobranza@colegio.example' }, { name: 'B', email: null }]);
      const students = await query<{ email: string | null }>(fresh.url, 'select email from students order by first_name');
      assert.deepEqual(students.map((r) => r.email), ['ana.ruiz@families.example', 'beto@families.example', null]);
    } finally {
      await fresh.drop();
    }
  });

  test('0012 takes a demo seeded before it for demo data, and what a person did there for theirs', async () => {
    const fresh = await createTestDatabase({ fromTemplate: false });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-migrations-'));
    try {
      // The schema as it was before 0012, then the old demo seed's shape of data.
      for (const migration of (await loadMigrations()).filter((m) => m.version < 12)) {
        await writeFile(path.join(dir, `${String(migration.version).padStart(4, '0')}_${migration.name}.sql`), migration.sql);
      }
      await migrate(fresh.url, { dir });
      const [marker] = await query<{ at: Date }>(fresh.url, `insert into app_meta (key, value) values ('demo_seeded_at', to_jsonb(now()::text)) returning now() as at`);
      assert.ok(marker);
      const school = async (name: string, createdAt: string) =>
        (await query<{ id: string }>(fresh.url, 'insert into schools (name, created_at) values ($1, $2) returning id', [name, createdAt]))[0]?.id ?? '';
      const demo = await school('Colegio Miraflores', marker.at.toISOString());
      // Same name, but created long before the demo: a real school.
      const namesake = await school('Instituto Andino', '2024-01-01T00:00:00Z');
      const student = async (schoolId: string, name: string) =>
        (await query<{ id: string }>(fresh.url, `insert into students (school_id, first_name, last_name, grade) values ($1, $2, 'X', '3') returning id`, [schoolId, name]))[0]?.id ?? '';
      const seeded = [await student(demo, 'A'), await student(demo, 'B'), await student(demo, 'C')];
      const added = await student(demo, 'Added'); // a person's, through the API (audited)
      const other = await student(namesake, 'Z');
      const invoice = async (schoolId: string, studentId: string, number: string, month: string) =>
        (
          await query<{ id: string }>(fresh.url, `insert into invoices (school_id, student_id, number, description, amount, due_date) values ($1, $2, $3, $4, 1000, $5) returning id`, [
            schoolId,
            studentId,
            number,
            `Tuition ${month}`,
            `${month}-10`,
          ])
        )[0]?.id ?? '';
      const untouched = await invoice(demo, seeded[0] ?? '', 'CMF-1', '2026-05');
      const patched = await invoice(demo, seeded[1] ?? '', 'CMF-2', '2026-05');
      const paidByPerson = await invoice(demo, seeded[2] ?? '', 'CMF-3', '2026-05');
      const paidBySimulator = await invoice(demo, seeded[0] ?? '', 'CMF-4', '2026-06');
      const realInvoice = await invoice(namesake, other, 'IAN-1', '2026-05');
      const [person] = await query<{ id: string }>(fresh.url, `insert into users (username, password_hash, role) values ('school.admin', 'x', 'school_admin') returning id`);
      const [simulator] = await query<{ id: string }>(fresh.url, `insert into users (username, password_hash, role, is_active) values ('simulator', 'x', 'super_admin', false) returning id`);
      await query(fresh.url, `insert into payments (school_id, invoice_id, amount, method, created_by) values ($1, $2, 100, 'cash', $3), ($1, $4, 100, 'card', $5)`, [
        demo,
        paidByPerson,
        person?.id,
        paidBySimulator,
        simulator?.id,
      ]);
      await query(fresh.url, `update invoices set paid_amount = 100 where id in ($1, $2)`, [paidByPerson, paidBySimulator]);
      await query(
        fresh.url,
        `insert into audit_log (actor_username, action, entity_type, entity_id, school_id) values
           ('school.admin', 'invoice.update', 'invoice', $1, $3), ('school.admin', 'student.create', 'student', $2, $3)`,
        [patched, added, demo],
      );

      const { applied } = await migrate(fresh.url);
      assert.ok(applied.some((label) => label.startsWith('0012_')));
      const schools = await query<{ name: string; is_demo: boolean }>(fresh.url, 'select name, is_demo from schools order by name');
      assert.deepEqual(schools, [
        { name: 'Colegio Miraflores', is_demo: true },
        { name: 'Instituto Andino', is_demo: false },
      ]);
      const invoices = await query<{ id: string; touched: boolean }>(fresh.url, 'select id, touched_by_person_at is not null as touched from invoices');
      const touched = new Map(invoices.map((row) => [row.id, row.touched]));
      assert.deepEqual(
        [untouched, paidBySimulator, patched, paidByPerson].map((id) => touched.get(id)),
        [false, false, true, true],
      );
      // Not a demo school: left as it was (the trigger marks its future writes anyway).
      assert.equal(touched.get(realInvoice), false);
      const students = await query<{ student_id: string; behaviour: string }>(fresh.url, 'select student_id, behaviour from demo_students order by behaviour');
      assert.deepEqual(new Set(students.map((s) => s.student_id)), new Set(seeded));
      assert.deepEqual(students.map((s) => s.behaviour), ['late', 'on_time', 'partial']);
      const bills = await query<{ invoice_id: string; month: string }>(fresh.url, `select invoice_id, month::text as month from demo_bills order by month`);
      assert.deepEqual(bills, [
        { invoice_id: untouched, month: '2026-05-01' },
        { invoice_id: paidBySimulator, month: '2026-06-01' },
      ]);
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
