import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CopyWriter } from './copy-writer.js';
import {
  COLUMNS,
  COPY_TABLES,
  failedChunks,
  planSeed,
  SEED_TABLES,
  setFailedQuotas,
  writeSchool,
  type CopyTable,
  type FailedTargets,
  type GenerateOptions,
  type SchoolPlan,
  type SeedPlan,
  type SeedTable,
} from './generate.js';

/** Students per batch of schools generated at once (bounded memory: two batches at a time). */
const SEED_BATCH_STUDENTS = 4_000;

/** The schools in batches of about SEED_BATCH_STUDENTS students. */
function* batchesOf(schools: readonly SchoolPlan[]): Generator<SchoolPlan[]> {
  let batch: SchoolPlan[] = [];
  let students = 0;
  for (const school of schools) {
    batch.push(school);
    students += school.students;
    if (students >= SEED_BATCH_STUDENTS) {
      yield batch;
      batch = [];
      students = 0;
    }
  }
  if (batch.length > 0) {
    yield batch;
  }
}

/**
 * Loads a generated data set with COPY FROM STDIN on two connections.
 *
 * Both sessions run with session_replication_role = replica, which skips triggers and
 * foreign-key checks (the generator guarantees consistency), and synchronous_commit off.
 * The schools are generated in batches of about SEED_BATCH_STUDENTS students, each school's
 * book built once for every table (generate.ts writeSchool); while one batch is
 * generated, the one before streams in: connection A copies it into schools → families →
 * guardians → students → fee plans and items → discount rules → enrolments, payers and
 * awards → bill runs → invoices → invoice lines → payments → receipts → refunds (one COPY
 * per table and batch), connection B its transactions (FKs are not checked, so the order
 * between the two does not matter). Then A rebuilds its indexes, sets the invoice,
 * family and receipt counters so the next API call continues each sequence, bumps the
 * seeded schools' billing_versions (the statement triggers did not fire), analyzes its
 * tables and rebuilds the reporting rollups with refresh_reporting_rollups(), while B
 * rebuilds and analyzes the transactions. Indexes and the primary-key/unique constraints
 * no foreign key depends on (and unique indexes) are dropped for the load and built
 * afterwards (see dropForLoad). Each connection works in one transaction; both commit
 * only when both tracks succeeded, so a failed seed leaves data and schema as they were.
 *
 * The time of every phase is logged and returned in `phases`.
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
  /** Wall-clock time of each phase, in the order they ended (the two tracks overlap). */
  phases: SeedPhase[];
}

export interface SeedPhase {
  /** e.g. `a: copy invoices`, `b: indexes transactions`, `a: refresh rollups`. */
  name: string;
  ms: number;
}

/** Tables a reset empties, children first. `users` is deliberately not among them. */
export const RESET_TABLES = [
  'failure_hours', 'failure_days', 'platform_invoice_deltas', 'platform_payment_deltas', 'platform_invoice_sums', 'platform_payment_sums', 'school_invoice_sums', 'school_payment_sums', 'transactions', 'receipts', 'receipt_counters', 'refunds', 'payments', 'family_payments', 'invoice_adjustments', 'credit_note_counters',
  'credit_applications', 'invoice_lines', 'demo_bills', 'demo_students', 'invoices', 'invoice_counters', 'bill_runs', 'awards',
  'enrolment_payers', 'enrolments', 'fee_plan_items', 'fee_plans', 'discount_rules', 'billing_versions', 'user_schools', 'students',
  'guardians', 'family_counters', 'families', 'schools',
] as const;

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

/**
 * Building an index once after a bulk load is several times cheaper than maintaining it
 * row by row — above all for the primary keys: UUIDv7 ids follow each row's timestamp,
 * and every school's rows span the whole period, so COPY would insert them all over the
 * btree. So while a table receives at least as many rows as it holds, its indexes are
 * dropped and rebuilt afterwards: plain and unique indexes (such as the partial unique
 * index of invoice_lines' billing keys) from their own definitions, primary-key and
 * unique constraints (unless a foreign key depends on them) re-added under the same name
 * with the same definition — which also checks the loaded rows are unique. All inside
 * the loading transaction, so a failed load leaves the schema exactly as it was.
 *
 * `rows: 'all'` is for a table that is rewritten entirely (the rollups).
 * Returns the statements that rebuild what was dropped, constraints first.
 */
async function dropForLoad(client: pg.Client, table: string, rows: number | 'all'): Promise<string[]> {
  if (rows !== 'all') {
    const { rows: existing } = await client.query<{ n: number }>(`select count(*)::int as n from (select 1 from ${table} limit $1) x`, [rows + 1]);
    if ((existing[0]?.n ?? 0) > rows) {
      return [];
    }
  }
  const relation = `public.${table}`;
  const { rows: constraints } = await client.query<{ name: string; definition: string }>(
    `select k.conname as name, pg_get_constraintdef(k.oid) as definition
     from pg_constraint k
     where k.conrelid = $1::regclass and k.contype in ('p', 'u')
       and not exists (select 1 from pg_constraint f where f.contype = 'f' and f.conindid = k.conindid)
     order by k.contype, k.conname`,
    [relation],
  );
  const { rows: indexes } = await client.query<{ name: string; definition: string }>(
    `select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
     from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = $1::regclass and not i.indisprimary
       and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
     order by c.relname`,
    [relation],
  );
  const name = (n: string) => client.escapeIdentifier(n);
  if (constraints.length > 0) {
    await client.query(`alter table ${table} ${constraints.map((k) => `drop constraint ${name(k.name)}`).join(', ')}`);
  }
  for (const index of indexes) {
    await client.query(`drop index ${name(index.name)}`);
  }
  return [
    ...constraints.map((k) => `alter table ${table} add constraint ${name(k.name)} ${k.definition}`),
    ...indexes.map((index) => index.definition),
  ];
}

export async function seedDatabase(url: string, options: SeedDatabaseOptions): Promise<SeedResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const phases: SeedPhase[] = [];
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const value = await work();
    const ms = Date.now() - t0;
    phases.push({ name, ms });
    log(`${name}: ${(ms / 1000).toFixed(1)} s (at ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return value;
  };
  const a = await connect(url, 'a');
  let b: pg.Client | undefined;
  try {
    const { rows: schema } = await a.query<{ ok: boolean }>(`select to_regclass('public.transactions') is not null as ok`);
    if (!schema[0]?.ok) {
      throw new Error('the database has no Bursar schema: run `npm run migrate` first');
    }
    if (options.reset) {
      log('reset: deleting all schools and their families, plans, students, invoices, payments, refunds and transactions');
      await timed('reset', () => resetSeedTables(a));
    }
    const { rows: existing } = await a.query<{ n: number }>('select count(*)::int as n from schools');
    const plan = await timed('plan', () => Promise.resolve(planSeed({ ...options, schoolOffset: existing[0]?.n ?? 0 }, { count: false })));
    // Estimated until loaded: the ledger tables are counted as they are generated.
    let totalRows = SEED_TABLES.reduce((sum, table) => sum + plan.counts[table], 0);
    const counts = Object.fromEntries(SEED_TABLES.map((t) => [t, 0])) as Record<SeedTable, number>;
    log(
      `generating about ${SEED_TABLES.map((t) => `${plan.counts[t].toLocaleString('en-US')} ${t}`).join(', ')} (seed ${options.seed})`,
    );

    const second = await connect(url, 'b');
    b = second;
    const sessions = [a, second];
    for (const client of sessions) {
      await client.query('set session_replication_role = replica');
      await client.query('set synchronous_commit = off');
      // Index builds sort in memory and, on a big table, with parallel workers.
      await client.query(`set maintenance_work_mem = '512MB'`);
      await client.query('set max_parallel_maintenance_workers = 2');
      await client.query(`set work_mem = '64MB'`);
      await client.query('begin');
    }

    let done = 0;
    const abort = new AbortController();
    const A_TABLES = COPY_TABLES.filter((t) => t !== 'transactions');
    const rebuilds = new Map<CopyTable, string[]>();
    for (const table of A_TABLES) {
      rebuilds.set(table, await dropForLoad(a, table, plan.counts[table]));
    }
    rebuilds.set('transactions', await dropForLoad(second, 'transactions', plan.counts.transactions));
    const copyMs = new Map<CopyTable, number>(COPY_TABLES.map((t) => [t, 0]));
    const copyChunks = async (client: pg.Client, table: CopyTable, chunks: readonly Buffer[]) => {
      if (chunks.length === 0) {
        return;
      }
      const t0 = Date.now();
      const sql = `copy ${table} (${COLUMNS[table].join(', ')}) from stdin`;
      await pipeline(Readable.from(chunks), client.query(copyFrom(sql)), { signal: abort.signal });
      copyMs.set(table, (copyMs.get(table) ?? 0) + Date.now() - t0);
    };
    const writers = new Map<CopyTable, CopyWriter>(COPY_TABLES.map((t) => [t, new CopyWriter(1 << 20)]));
    /** What each school's failed attempts need, kept (a few bytes per invoice) until they are generated last. */
    const targets = new Map<SchoolPlan, FailedTargets>();
    /** A batch of schools as COPY text, every table at once (one book per school), yielding to the event loop between schools so the previous batch keeps streaming. */
    const generate = async (schools: readonly SchoolPlan[]) => {
      const chunks = new Map<CopyTable, Buffer[]>(COPY_TABLES.map((t) => [t, []]));
      const emit = (table: CopyTable, chunk: Buffer, rows: number) => {
        chunks.get(table)?.push(chunk);
        counts[table] += rows;
        done += rows;
        options.onProgress?.(done, totalRows, table);
      };
      for (const school of schools) {
        const failed = writeSchool(plan, school, writers, emit);
        if (failed !== undefined) {
          targets.set(school, failed);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const [table, out] of writers) {
        if (out.rows > 0) {
          const n = out.rows;
          emit(table, out.take(), n);
        }
      }
      return chunks;
    };
    const guard = <T>(work: Promise<T>) =>
      work.catch((error: unknown) => {
        abort.abort(error);
        throw error;
      });
    const track = async (client: pg.Client, name: string, tables: readonly CopyTable[], after: () => Promise<void>) => {
      for (const table of tables) {
        phases.push({ name: `${name}: copy ${table}`, ms: copyMs.get(table) ?? 0 });
        log(`${name}: copy ${table}: ${((copyMs.get(table) ?? 0) / 1000).toFixed(1)} s (streamed in batches)`);
      }
      for (const table of tables) {
        const rebuild = rebuilds.get(table) ?? [];
        if (rebuild.length > 0) {
          await timed(`${name}: indexes ${table}`, async () => {
            for (const statement of rebuild) {
              await client.query(statement);
            }
          });
        }
      }
      await after();
    };
    const results = await Promise.allSettled([
      (async () => {
        // Batches of schools of about SEED_BATCH_STUDENTS students: generating one overlaps
        // copying the one before, on both connections (A: every table but the
        // transactions, B: the transactions).
        let copying: Promise<unknown> = Promise.resolve();
        await timed('generate and copy', async () => {
          for (const batch of batchesOf(plan.schools)) {
            const chunks = await guard(generate(batch));
            await copying;
            copying = Promise.all([
              guard(
                (async () => {
                  for (const table of A_TABLES) {
                    await copyChunks(a, table, chunks.get(table) ?? []);
                  }
                })(),
              ),
              guard(copyChunks(second, 'transactions', chunks.get('transactions') ?? [])),
            ]);
            // Awaited with the next batch; a failure meanwhile must not count as unhandled.
            copying.catch(() => undefined);
          }
          await copying;
          // The failed attempts top the transactions up to the total asked for, now that
          // the payments and refunds are counted: generated last, school by school.
          setFailedQuotas(plan, options.transactions, counts.payments + counts.refunds);
          totalRows = done + options.transactions - counts.payments - counts.refunds;
          const out = writers.get('transactions') ?? new CopyWriter();
          let failed: Buffer[] = [];
          let rows = 0;
          const emitFailed = (chunk: Buffer, n: number) => {
            failed.push(chunk);
            counts.transactions += n;
            done += n;
            rows += n;
            options.onProgress?.(done, totalRows, 'transactions');
          };
          for (const school of plan.schools) {
            const schoolTargets = targets.get(school);
            if (schoolTargets !== undefined) {
              failedChunks(plan, school, schoolTargets, out, emitFailed);
            }
            if (rows >= 200_000) {
              await guard(copyChunks(second, 'transactions', failed));
              failed = [];
              rows = 0;
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
          if (out.rows > 0) {
            const n = out.rows;
            emitFailed(out.take(), n);
          }
          await guard(copyChunks(second, 'transactions', failed));
          targets.clear();
        });
      })().then(() =>
        Promise.all([
          guard(track(a, 'a', A_TABLES, async () => {
          const schoolIds = plan.schools.map((school) => school.id);
          // The sequences continue after the seeded rows: the next API invoice is INV-(n+1),
          // the next family and receipt numbers likewise.
          await a.query(
            `insert into invoice_counters (school_id, last_number)
             select school_id, count(*) from invoices where school_id = any($1::uuid[]) group by school_id
             on conflict (school_id) do update set last_number = excluded.last_number`,
            [schoolIds],
          );
          await a.query(
            `insert into family_counters (school_id, last_number)
             select school_id, count(*) from families where school_id = any($1::uuid[]) group by school_id
             on conflict (school_id) do update set last_number = excluded.last_number`,
            [schoolIds],
          );
          await a.query(
            `insert into receipt_counters (school_id, last_number)
             select school_id, count(*) from receipts where school_id = any($1::uuid[]) group by school_id
             on conflict (school_id) do update set last_number = excluded.last_number`,
            [schoolIds],
          );
          // The statement-level triggers were skipped: bump every seeded school's statement version.
          await a.query(
            `insert into billing_versions as v (school_id, version)
             select unnest($1::uuid[]), 1
             on conflict (school_id) do update set version = v.version + 1`,
            [plan.schools.map((school) => school.id)],
          );
          // ANALYZE counts the rows this transaction inserted, so the refresh gets good plans.
          await timed('a: analyze', () => a.query(`analyze ${[...A_TABLES, 'billing_versions'].join(', ')}`));
          // Triggers were off during COPY, so the dashboard rollups (migration 0003) are
          // rebuilt from the loaded rows — while B still loads the transactions, which the
          // rollups do not read. The refresh rewrites both bucket tables whole, so their keys
          // are built once afterwards, like the loaded tables'. (Its own row triggers, if any,
          // do not fire in replica mode; the refresh recomputes everything it maintains.)
          // Unconditional: the schema always has the function.
          await timed('a: refresh rollups', async () => {
            // The refresh of every school deletes all buckets first: emptying them at once is
            // the same, minus a row-by-row delete of the previous data set's buckets.
            await a.query('truncate invoice_rollups, payment_rollups');
            const rebuild = [...(await dropForLoad(a, 'invoice_rollups', 'all')), ...(await dropForLoad(a, 'payment_rollups', 'all'))];
            await a.query('select refresh_reporting_rollups()');
            for (const statement of rebuild) {
              await a.query(statement);
            }
          });
          await a.query('analyze invoice_rollups, payment_rollups');
          })),
          guard(track(second, 'b', ['transactions'], async () => {
            await timed('b: analyze', () => second.query('analyze transactions')).then(() => undefined);
          })),
        ]),
      ),
    ]);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(sessions.map((client) => client.query('rollback').catch(() => undefined)));
      throw failure.reason;
    }
    await timed('commit', async () => {
      await second.query('commit');
      await a.query('commit');
    });
    for (const client of sessions) {
      await client.query('set session_replication_role = origin');
    }

    // A bulk load leaves every row without hint bits and the visibility map empty: the
    // first readers would rewrite each page and index-only scans would visit the heap
    // until autovacuum came by. Vacuum the loaded tables now, on both connections.
    await Promise.all([
      timed('a: vacuum', () => a.query(`vacuum ${[...COPY_TABLES.filter((t) => t !== 'transactions'), 'invoice_rollups', 'payment_rollups'].join(', ')}`)),
      // The failure counts (migration 0032) from the loaded transactions: their insert
      // trigger did not fire, and they need the schools (A) and the transactions (B)
      // both committed.
      timed('b: refresh failure counts', () => second.query('select refresh_failure_rollups()')).then(() =>
        timed('b: vacuum', () => second.query('vacuum transactions, failure_hours, failure_days'))),
    ]);
    const refreshedRollups = true;
    const elapsedMs = Date.now() - started;
    const loaded = SEED_TABLES.reduce((sum, table) => sum + counts[table], 0);
    return {
      counts,
      totalRows: loaded,
      elapsedMs,
      rowsPerSecond: Math.round(loaded / Math.max(0.001, elapsedMs / 1000)),
      behaviours: plan.behaviours,
      refreshedRollups,
      phases,
    };
  } finally {
    await a.end().catch(() => undefined);
    await b?.end().catch(() => undefined);
  }
}
