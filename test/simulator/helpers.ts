import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { SIMULATOR_USERNAME } from '../../src/modules/simulator/simulator.js';

/** Status of every demo school's bills as of `at` (the one status function, migration 0002). */
export async function statusesByDemoSchool(db: Db, at: Date): Promise<Map<string, Set<string>>> {
  const { rows } = await sql<{ name: string; status: string; n: number }>`
    select s.name, invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, s.timezone, ${at}) as status, count(*)::int as n
      from invoices i join schools s on s.id = i.school_id
     where s.is_demo
     group by 1, 2`.execute(db);
  const byName = new Map<string, Set<string>>();
  for (const row of rows) {
    byName.set(row.name, (byName.get(row.name) ?? new Set()).add(row.status));
  }
  return byName;
}

/** The kinds of bill every demo school must always show: open (not yet due), partly paid, overdue. */
export const ALWAYS = ['PENDING', 'PARTIAL', 'OVERDUE'] as const;

/** Schools lacking one of ALWAYS at `at`, as readable strings (empty when all is well). */
export async function missingMix(db: Db, at: Date): Promise<string[]> {
  const statuses = await statusesByDemoSchool(db, at);
  const missing: string[] = [];
  if (statuses.size === 0) {
    missing.push(`${at.toISOString()}: no demo school`);
  }
  for (const [name, seen] of statuses) {
    for (const status of ALWAYS) {
      if (!seen.has(status)) {
        missing.push(`${at.toISOString()} ${name}: no ${status} bill (has ${[...seen].sort().join(', ')})`);
      }
    }
  }
  return missing;
}

/**
 * Every row of the given schools and invoices, whole, in a stable order: what "untouched"
 * is compared on. Invoices, their payments, refunds and gateway transactions, and every
 * audit entry about them or their school.
 */
export async function snapshot(db: Db, schoolIds: readonly string[], invoiceIds: readonly string[]): Promise<unknown> {
  const schools = [...schoolIds, '00000000-0000-0000-0000-000000000000'];
  const invoices = [...invoiceIds, '00000000-0000-0000-0000-000000000000'];
  const rows = async (table: string, where: string) =>
    (
      await sql<{ row: unknown }>`select to_jsonb(x) as row from ${sql.table(table)} x where ${sql.raw(where)} order by x.id`.execute(db)
    ).rows.map((r) => r.row);
  const inSchools = `x.school_id in (${schools.map((id) => `'${id}'`).join(', ')})`;
  const onInvoices = `x.invoice_id in (${invoices.map((id) => `'${id}'`).join(', ')})`;
  return {
    schools: await rows('schools', `x.id in (${schools.map((id) => `'${id}'`).join(', ')})`),
    students: await rows('students', inSchools),
    invoices: await rows('invoices', `${inSchools} or x.id in (${invoices.map((id) => `'${id}'`).join(', ')})`),
    payments: await rows('payments', `${inSchools} or ${onInvoices}`),
    refunds: await rows('refunds', `${inSchools} or ${onInvoices}`),
    transactions: await rows('transactions', `${inSchools} or ${onInvoices}`),
    audit: await rows('audit_log', `${inSchools} or x.entity_id in (${invoices.map((id) => `'${id}'`).join(', ')})`),
  };
}

/** Writes by the simulator user on the given schools or invoices (should always be none). */
export async function simulatorWritesOn(db: Db, schoolIds: readonly string[], invoiceIds: readonly string[]): Promise<number> {
  const schools = [...schoolIds, '00000000-0000-0000-0000-000000000000'];
  const invoices = [...invoiceIds, '00000000-0000-0000-0000-000000000000'];
  const { rows } = await sql<{ n: number }>`
    select (select count(*) from audit_log a
             where a.actor_username = ${SIMULATOR_USERNAME}
               and (a.school_id = any(${schools}::uuid[]) or a.entity_id = any(${invoices}::text[])
                    or a.changes ->> 'invoiceId' = any(${invoices}::text[])))::int as n`.execute(db);
  return rows[0]?.n ?? -1;
}

/** Failed attempts so far per demo school (by id): what a day's failures are counted from. */
export async function failedByDemoSchool(db: Db): Promise<Map<string, number>> {
  const { rows } = await sql<{ id: string; n: number }>`
    select s.id, count(t.id)::int as n
      from schools s left join transactions t on t.school_id = s.id and t.status = 'failed'
     where s.is_demo group by s.id`.execute(db);
  return new Map(rows.map((row) => [row.id, row.n]));
}

/**
 * Gateway attempts in the demo schools (succeeded payments and failed attempts), all of
 * them (the seed's history too) or only those written after the demo was seeded (the
 * simulator's, and a person's), with the share that succeeded — the Live page's
 * successRate, succeeded / (succeeded + failed).
 */
export async function demoAttempts(db: Db, only: 'all' | 'since-seed'): Promise<{ succeeded: number; failed: number; rate: number }> {
  const { rows } = await sql<{ succeeded: number; failed: number }>`
    select count(*) filter (where t.status = 'succeeded')::int as succeeded, count(*) filter (where t.status = 'failed')::int as failed
      from transactions t join schools s on s.id = t.school_id
     where s.is_demo
       and (${only} = 'all' or t.created_at > (select (value #>> '{}')::timestamptz from app_meta where key = 'demo_seeded_at'))`.execute(db);
  const { succeeded = 0, failed = 0 } = rows[0] ?? {};
  return { succeeded, failed, rate: succeeded / Math.max(1, succeeded + failed) };
}
