import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * Distribution discipline (docs/scale-out.md, issue 16 point 12): on Citus every tenant
 * table is distributed by school_id, so its primary key and every unique constraint
 * must contain school_id, and a foreign key from one tenant table to another must
 * join on school_id (the rows are then on the same shard, and a row cannot point into
 * another school).
 *
 * The tables of the first migrations predate the rule for their primary keys (PK id,
 * with unique (school_id, id) beside it); docs/scale-out.md lists the change each needs
 * before distributing. They are named here, with exactly what is waived, so that no
 * new table or constraint can join them unnoticed.
 */
const LEGACY: Record<string, { primaryKey?: true; unique?: string[]; foreignKeys?: string[] }> = {
  students: { primaryKey: true },
  invoices: { primaryKey: true },
  payments: { primaryKey: true },
  refunds: { primaryKey: true },
  transactions: { primaryKey: true, foreignKeys: ['transactions_refund_id_fkey'] },
  // Nullable school_id (user administration is not school business): split before
  // distributing (docs/scale-out.md).
  audit_log: { primaryKey: true },
};

interface Constraint {
  table: string;
  name: string;
  type: 'p' | 'u' | 'f';
  columns: string[];
  referencedTable: string | null;
  referencedColumns: string[] | null;
}

function keyOffences(tenantTables: string[], constraints: Constraint[]): string[] {
  const offending: string[] = [];
  for (const table of tenantTables) {
    const keys = constraints.filter((c) => c.table === table && (c.type === 'p' || c.type === 'u'));
    if (!keys.some((c) => c.type === 'p')) {
      offending.push(`${table}: no primary key`);
    }
    for (const key of keys) {
      const waived = key.type === 'p' ? LEGACY[table]?.primaryKey === true : (LEGACY[table]?.unique ?? []).includes(key.name);
      if (!key.columns.includes('school_id') && !waived) {
        offending.push(`${table}.${key.name} (${key.columns.join(', ')})`);
      }
    }
  }
  return offending;
}

function foreignKeyOffences(tenantTables: string[], constraints: Constraint[]): string[] {
  return constraints
    .filter((c) => c.type === 'f' && tenantTables.includes(c.table) && c.referencedTable !== null && tenantTables.includes(c.referencedTable))
    .filter((c) => !(LEGACY[c.table]?.foreignKeys ?? []).includes(c.name))
    .filter((c) => {
      const at = c.columns.indexOf('school_id');
      return at < 0 || c.referencedColumns?.[at] !== 'school_id';
    })
    .map((c) => `${c.table}.${c.name} (${c.columns.join(', ')}) → ${c.referencedTable}`);
}

describe('every tenant table distributes by school_id', () => {
  let database: TestDatabase;
  let tenantTables: string[];
  let constraints: Constraint[];
  let uniqueIndexes: { table: string; name: string; definition: string }[];

  before(async () => {
    database = await createTestDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      tenantTables = (
        await client.query<{ table_name: string }>(
          `select c.table_name from information_schema.columns c
             join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
            where c.table_schema = 'public' and c.column_name = 'school_id' and t.table_type = 'BASE TABLE'
            order by 1`,
        )
      ).rows.map((r) => r.table_name);
      constraints = (
        await client.query<Constraint>(
          `select rel.relname as "table", con.conname as name, con.contype as type,
                  array(select a.attname::text from unnest(con.conkey) with ordinality k (attnum, n) join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.n) as columns,
                  ref.relname as "referencedTable",
                  case when con.confrelid = 0 then null else
                    array(select a.attname::text from unnest(con.confkey) with ordinality k (attnum, n) join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.n) end as "referencedColumns"
             from pg_constraint con
             join pg_class rel on rel.oid = con.conrelid
             join pg_namespace n on n.oid = rel.relnamespace
             left join pg_class ref on ref.oid = con.confrelid
            where n.nspname = 'public' and con.contype in ('p', 'u', 'f')`,
        )
      ).rows;
      uniqueIndexes = (
        await client.query<{ table: string; name: string; definition: string }>(
          `select i.tablename as "table", i.indexname as name, i.indexdef as definition
             from pg_indexes i
             join pg_class c on c.relname = i.indexname
             join pg_index x on x.indexrelid = c.oid
            where i.schemaname = 'public' and x.indisunique
              and not exists (select 1 from pg_constraint con where con.conindid = c.oid)`,
        )
      ).rows;
    } finally {
      await client.end();
    }
  });
  after(() => database.drop());

  test('the families, fee plans and ledger tables are among the tenant tables', () => {
    for (const table of ['families', 'guardians', 'fee_plans', 'fee_plan_items', 'enrolments', 'enrolment_payers', 'discount_rules', 'awards', 'bill_runs', 'invoice_lines', 'family_payments', 'credit_applications', 'invoice_adjustments', 'receipts']) {
      assert.ok(tenantTables.includes(table), `${table} has a school_id column`);
    }
  });

  test('every primary key and unique constraint of a tenant table contains school_id', () => {
    assert.deepEqual(keyOffences(tenantTables, constraints), []);
  });

  test('every unique index of a tenant table contains school_id', () => {
    const offending = uniqueIndexes
      .filter((i) => tenantTables.includes(i.table))
      .filter((i) => !/\(([^)]*\b)?school_id\b/.test(i.definition))
      .map((i) => `${i.table}.${i.name}: ${i.definition}`);
    assert.deepEqual(offending, []);
  });

  test('every foreign key between tenant tables joins on school_id', () => {
    assert.deepEqual(foreignKeyOffences(tenantTables, constraints), []);
  });

  test('the checks bite: a new table keyed by id alone, or pointing into another school, is reported', () => {
    const synthetic: Constraint[] = [
      { table: 'bad_tenant', name: 'bad_tenant_pkey', type: 'p', columns: ['id'], referencedTable: null, referencedColumns: null },
      { table: 'bad_tenant', name: 'bad_tenant_student_fkey', type: 'f', columns: ['student_id'], referencedTable: 'students', referencedColumns: ['id'] },
      { table: 'good_tenant', name: 'good_tenant_pkey', type: 'p', columns: ['school_id', 'id'], referencedTable: null, referencedColumns: null },
    ];
    assert.deepEqual(keyOffences(['bad_tenant', 'good_tenant'], synthetic), ['bad_tenant.bad_tenant_pkey (id)']);
    assert.deepEqual(foreignKeyOffences(['bad_tenant', 'students'], synthetic), ['bad_tenant.bad_tenant_student_fkey (student_id) → students']);
  });
});
