import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { COLUMNS, planSeed, SEED_TABLES, tableChunks, type GenerateOptions, type SeedPlan, type SeedTable } from './generate.js';

/**
 * Loads a generated data set with COPY FROM STDIN on two connections.
 *
 * Both sessions run with session_replication_role = replica, which skips triggers and
 * foreign-key checks (the generator guarantees consistency), and synchronous_commit off.
 * Connection A loads schools → students → invoices → payments → refunds while connection
 * B loads the transactions (FKs are not checked, so the order between the two does not
 * matter). Plain indexes of a table are rebuilt after its load (see dropPlainIndexes).
 * Each connection works in one transaction; both commit only when both loads succeeded.
 * Afterwards: billing_versions bumped for every seeded school (the statement triggers did
 * not fire), ANALYZE, and refresh_reporting_rollups().
 */
export interface SeedDatabaseOptions extends Omit<GenerateOptions, 'schoolOffset'> {
  /** Delete all schools and their data first (users are never touched). */
  reset?: boolean;
  onProgress?: (done: number, total: number, table: SeedTable) => void;
  log?: (message: string) => void;
}

export interface SeedResult {
  counts: Record<SeedTable, number>;
  totalRows: number;
  elapsedMs: number;
  rowsPerSecond: number;
  behaviours: SeedPlan['behaviours'];
  /** refresh_reporting_rollups() was called (always, since migration 0003). */
  refreshedRollups: boolean;
}

/** Tables a reset empties, children first. `users` is deliberately not among them. */
export const RESET_TABLES = ['transactions', 'refunds', 'payments', 'invoices', 'invoice_counters', 'billing_versions', 'user_schools', 'students', 'schools'] as const;

async function connect(url: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: `bursar-seed-${name}` });
  await client.connect();
  return client;
}

/** Empties the seeded tables in replica mode (the append-only triggers do not fire). */
export async function resetSeedTables(client: pg.Client): Promise<void> {
  await client.query('begin');
  try {
    await client.query('set local session_replication_role = replica');
    await client.query(`truncate ${RESET_TABLES.join(', ')}`);
    await client.query('commit');
    return;
  } catch (error) {
    await client.query('rollback');
    // Another table references one of these (TRUNCATE refuses, 0A000): delete row by row instead.
    if ((error as { code?: string }).code !== '0A000') {
      throw error;
    }
  }
  await client.query('begin');
  try {
    await client.query('set local session_replication_role = replica');
    for (const table of RESET_TABLES) {
      await client.query(`delete from ${table}`);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}

interface DroppedIndex {
  name: string;
  definition: string;
}

/**
 * Building an index once after a bulk load is several times cheaper than maintaining it
 * row by row, so while a table receives at least as many rows as it holds, its plain
 * (non-unique, not constraint-backing) indexes are dropped and rebuilt from their own
 * definitions afterwards — all inside the loading transaction, so a failed load leaves
 * the schema exactly as it was. Unique indexes and constraints always stay.
 */
async function dropPlainIndexes(client: pg.Client, table: SeedTable, rows: number): Promise<DroppedIndex[]> {
  const { rows: existing } = await client.query<{ n: number }>(`select count(*)::int as n from (select 1 from ${table} limit $1) x`, [rows + 1]);
  if ((existing[0]?.n ?? 0) > rows) {
    return [];
  }
  const { rows: indexes } = await client.query<DroppedIndex>(
    `select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
     from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = $1::regclass and not i.indisunique and not i.indisprimary
       and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
     order by c.relname`,
    [`public.${table}`],
  );
  for (const index of indexes) {
    await client.query(`drop index ${client.escapeIdentifier(index.name)}`);
  }
  return indexes;
}

export async function seedDatabase(url: string, options: SeedDatabaseOptions): Promise<SeedResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const a = await connect(url, 'a');
  let b: pg.Client | undefined;
  try {
    const { rows: schema } = await a.query<{ ok: boolean }>(`select to_regclass('public.transactions') is not null as ok`);
    if (!schema[0]?.ok) {
      throw new Error('the database has no Bursar schema: run `npm run migrate` first');
    }
    if (options.reset) {
      log('reset: deleting all schools, students, invoices, payments, refunds and transactions');
      await resetSeedTables(a);
    }
    const { rows: existing } = await a.query<{ n: number }>('select count(*)::int as n from schools');
    const plan = planSeed({ ...options, schoolOffset: existing[0]?.n ?? 0 });
    const totalRows = SEED_TABLES.reduce((sum, table) => sum + plan.counts[table], 0);
    log(
      `generating ${SEED_TABLES.map((t) => `${plan.counts[t].toLocaleString('en-US')} ${t}`).join(', ')} (seed ${options.seed})`,
    );

    b = await connect(url, 'b');
    const sessions = [a, b];
    for (const client of sessions) {
      await client.query('set session_replication_role = replica');
      await client.query('set synchronous_commit = off');
      await client.query(`set maintenance_work_mem = '256MB'`);
      await client.query('begin');
    }

    let done = 0;
    const abort = new AbortController();
    const copy = async (client: pg.Client, table: SeedTable) => {
      const dropped = await dropPlainIndexes(client, table, plan.counts[table]);
      const chunks = tableChunks(plan, table, {
        onRows: (rows) => {
          done += rows;
          options.onProgress?.(done, totalRows, table);
        },
      });
      const sql = `copy ${table} (${COLUMNS[table].join(', ')}) from stdin`;
      await pipeline(Readable.from(chunks, { highWaterMark: 4 }), client.query(copyFrom(sql)), { signal: abort.signal });
      for (const index of dropped) {
        await client.query(index.definition);
      }
    };
    const guard = (work: Promise<void>) =>
      work.catch((error: unknown) => {
        abort.abort(error);
        throw error;
      });
    const results = await Promise.allSettled([
      guard(
        (async () => {
          for (const table of ['schools', 'students', 'invoices', 'payments', 'refunds'] as const) {
            await copy(a, table);
          }
        })(),
      ),
      guard(copy(b, 'transactions')),
    ]);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(sessions.map((client) => client.query('rollback').catch(() => undefined)));
      throw failure.reason;
    }

    // The statement-level triggers were skipped: bump every seeded school's statement version.
    await a.query(
      `insert into billing_versions as v (school_id, version)
       select unnest($1::uuid[]), 1
       on conflict (school_id) do update set version = v.version + 1`,
      [plan.schools.map((school) => school.id)],
    );
    await b.query('commit');
    await a.query('commit');
    for (const client of sessions) {
      await client.query('set session_replication_role = origin');
    }

    log('analyze');
    await Promise.all([
      (async () => {
        for (const table of ['schools', 'students', 'invoices', 'payments', 'refunds', 'billing_versions']) {
          await a.query(`analyze ${table}`);
        }
      })(),
      b.query('analyze transactions'),
    ]);
    // Triggers were off during COPY, so the dashboard rollups (migration 0003) are
    // rebuilt from the loaded rows. Unconditional: the schema always has the function.
    log('refresh_reporting_rollups()');
    await a.query('select refresh_reporting_rollups()');
    const refreshedRollups = true;
    const elapsedMs = Date.now() - started;
    return {
      counts: plan.counts,
      totalRows,
      elapsedMs,
      rowsPerSecond: Math.round(totalRows / Math.max(0.001, elapsedMs / 1000)),
      behaviours: plan.behaviours,
      refreshedRollups,
    };
  } finally {
    await a.end().catch(() => undefined);
    await b?.end().catch(() => undefined);
  }
}
