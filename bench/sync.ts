/**
 * Gateway-sync bench (SPEC §4: "gateway sync ≥ 99 % of the vendor ceiling (7.2 M
 * entries/day) in a simulated day").
 *
 * A virtual day against the vendor simulator at the vendor's full production rate
 * (5 requests/min × 1000 entries = 83.3 entries/s = 7.2 M/day): one sync worker, the
 * real PostgreSQL store path (one statement per page: rows + account sums + cursor),
 * real HTTP. Time is a VirtualClock, so the day takes as long as the 7 200 requests and
 * 7.2 M inserts take, not 24 h. Reports the share of the ceiling ingested, requests over
 * the limit (the vendor's 429s), duplicates, wall time and rows/s, and checks the
 * ledger (count = the vendor's entries up to the cursor; account sums = a full
 * recomputation).
 *
 *   node --import tsx bench/sync.ts [--scale 0.1] [--database-url postgres://…]
 *
 * Without --database-url / DATABASE_URL it starts an embedded PostgreSQL (port 54361,
 * data dir under /tmp) and removes it afterwards. With one, it creates and drops its
 * own database on that server (the role needs CREATEDB).
 */
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDatabase } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { VirtualClock } from '../src/modules/sync/clock.js';
import { createSyncWorker } from '../src/modules/sync/sync.worker.js';
import { verifyLedgerBalances } from '../src/modules/sync/sync.verify.js';
import { createVendorSimulator } from '../src/modules/vendor/vendor.simulator.js';

export interface SyncBenchOptions {
  /** A server URL whose role may CREATE DATABASE; the bench uses its own database there. */
  adminUrl: string;
  /** Fraction of a day to simulate (1 = 1440 minutes, 7 200 requests). */
  scale?: number;
  pageSize?: number;
  log?: (message: string) => void;
}

export interface SyncBenchResult {
  scale: number;
  virtualMinutes: number;
  pageSize: number;
  /** What the limit allows in the simulated time: minutes × 5 × pageSize. */
  ceiling: number;
  vendorEntries: number;
  stored: number;
  /** stored / ceiling, percent. */
  ingestedPercent: number;
  requests: number;
  requestsOverLimit: number;
  maxRequestsInWindow: number;
  /** Entries stored twice (ids in the ledger more than once; the primary key makes it 0) plus count mismatches. */
  duplicates: number;
  ledgerEqualsVendor: boolean;
  balancesEqualRecomputation: boolean;
  wallSeconds: number;
  rowsPerSecond: number;
  verifySeconds: number;
}

export async function benchSync(options: SyncBenchOptions): Promise<SyncBenchResult> {
  const log = options.log ?? (() => undefined);
  const scale = options.scale ?? 1;
  const pageSize = options.pageSize ?? 1000;
  const minutes = Math.round(1440 * scale);
  const name = `bursar_bench_sync_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(options.adminUrl);
  url.pathname = `/${name}`;
  try {
    await migrate(url.toString());
    const database = createDatabase({ connectionString: url.toString(), max: 4, statementTimeoutMs: 0, applicationName: 'bursar-bench-sync' });
    const clock = new VirtualClock();
    const vendor = createVendorSimulator({ clock, apiKeys: ['bench'], entriesPerSecond: (5 * pageSize) / 60, accounts: 10_000, seed: 42 });
    await vendor.start();
    try {
      const worker = createSyncWorker({
        db: database.db,
        clock,
        vendor: { url: vendor.url, apiKey: 'bench', timeoutMs: 30_000 },
        pageSize,
        requestsPerMinute: 5,
        maxAttempts: 5,
      });
      log(`simulating ${minutes} virtual minutes at ${((5 * pageSize) / 60).toFixed(2)} entries/s, pages of ${pageSize}`);
      const started = performance.now();
      const deadline = clock.now() + minutes * 60_000;
      let lastReport = performance.now();
      let stored = 0;
      let result = await worker.runPass({ deadline: Math.min(deadline, clock.now() + 60 * 60_000), idleMs: 12_000 });
      stored += result.inserted;
      // Hour by hour (one pass each), to report progress.
      while (clock.now() < deadline) {
        result = await worker.runPass({ deadline: Math.min(deadline, clock.now() + 60 * 60_000), idleMs: 12_000 });
        stored += result.inserted;
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          const elapsed = (performance.now() - started) / 1000;
          log(`  ${Math.round((clock.now() - (deadline - minutes * 60_000)) / 60_000)} min simulated, ${stored} rows, ${Math.round(stored / elapsed)} rows/s`);
        }
      }
      const wallSeconds = (performance.now() - started) / 1000;
      const stats = vendor.stats();
      const verifyStarted = performance.now();
      const counts = await database.pool.query<{ rows: string; ids: string }>('select count(*) as rows, count(distinct vendor_id) as ids from ledger_entries');
      const rows = Number(counts.rows[0]?.rows ?? 0);
      const ids = Number(counts.rows[0]?.ids ?? 0);
      const expected = Number(result.cursor ?? 0); // no repeats in this run: the cursor counts entries
      const balances = await verifyLedgerBalances(database.db);
      const verifySeconds = (performance.now() - verifyStarted) / 1000;
      const ceiling = minutes * 5 * pageSize;
      return {
        scale,
        virtualMinutes: minutes,
        pageSize,
        ceiling,
        vendorEntries: stats.feedLength,
        stored: rows,
        ingestedPercent: Math.round((rows / ceiling) * 10_000) / 100,
        requests: stats.accepted,
        requestsOverLimit: stats.overLimit,
        maxRequestsInWindow: stats.maxInWindow,
        duplicates: rows - ids + Math.abs(rows - expected),
        ledgerEqualsVendor: rows === expected && ids === rows,
        balancesEqualRecomputation: balances.ok,
        wallSeconds: Math.round(wallSeconds * 10) / 10,
        rowsPerSecond: Math.round(rows / wallSeconds),
        verifySeconds: Math.round(verifySeconds * 10) / 10,
      };
    } finally {
      await vendor.close();
      await database.close();
    }
  } finally {
    const cleanup = new pg.Client({ connectionString: options.adminUrl });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${name} with (force)`);
    await cleanup.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' }, 'database-url': { type: 'string' }, 'page-size': { type: 'string', default: '1000' } } });
  const log = (message: string) => console.log(`[bench:sync] ${message}`);
  const given = values['database-url'] ?? process.env.DATABASE_URL;
  const dataDir = path.join(os.tmpdir(), `bursar-bench-sync-${process.pid}`);
  const embedded = given === undefined ? await startEmbeddedPostgres({ dataDir, port: 54361, database: 'postgres', ephemeral: process.env.BENCH_EPHEMERAL === '1', log }) : undefined;
  const stop = async () => {
    await embedded?.stop();
    if (embedded !== undefined) {
      await rm(dataDir, { recursive: true, force: true });
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  }
  try {
    const result = await benchSync({ adminUrl: given ?? embedded?.url ?? '', scale: Number(values.scale), pageSize: Number(values['page-size']), log });
    console.log(JSON.stringify(result, null, 2));
    log(
      `${result.virtualMinutes} virtual minutes: ${result.stored} of ${result.ceiling} (${result.ingestedPercent} %) in ${result.wallSeconds} s ` +
        `(${result.rowsPerSecond} rows/s); ${result.requests} requests, ${result.requestsOverLimit} over the limit, ${result.duplicates} duplicates`,
    );
    process.exitCode = result.ingestedPercent >= 99 && result.requestsOverLimit === 0 && result.duplicates === 0 && result.balancesEqualRecomputation ? 0 : 1;
  } finally {
    await stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
