/**
 * `npm run seed`: a large, realistic, deterministic data set loaded with COPY.
 *
 *   npm run seed -- --schools 1000 --students 60000 --months 12 --transactions 5000000 --seed 42 [--reset]
 *
 * Targets --database-url, else DATABASE_URL, else the embedded PostgreSQL in
 * BURSAR_DATA_DIR (as `npm run migrate`), and applies pending migrations first (as
 * `npm start` does), so it also works as the first command on a fresh data directory.
 * Never touches users. See src/db/seed/.
 */
import { loadConfig } from '../src/config.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { parseSeedCli, SEED_USAGE, SeedUsageError } from '../src/db/seed/cli.js';
import { SEED_TABLES } from '../src/db/seed/generate.js';
import { seedDatabase } from '../src/db/seed/loader.js';
import { createProgress, type Progress } from '../src/db/seed/progress.js';

const log = (message: string) => console.error(`[seed] ${message}`);

let options;
try {
  options = parseSeedCli(process.argv.slice(2));
} catch (error) {
  if (error instanceof SeedUsageError) {
    console.error(`${error.message}\n\n${SEED_USAGE}`);
    process.exit(2);
  }
  throw error;
}
if (options.help) {
  console.log(SEED_USAGE);
  process.exit(0);
}

let embedded: EmbeddedPostgres | undefined;
let progress: Progress | undefined;
let exitCode = 0;
try {
  let url = options.databaseUrl;
  if (!url) {
    const config = loadConfig();
    url = config.database.url;
    if (!url) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
      url = embedded.url;
    }
  }
  const { applied, current } = await migrate(url, { log });
  log(applied.length ? `applied ${applied.length} migration(s); schema at version ${current}` : `schema at version ${current}`);
  const result = await seedDatabase(url, {
    schools: options.schools,
    students: options.students,
    months: options.months,
    transactions: options.transactions,
    seed: options.seed,
    now: options.now,
    reset: options.reset,
    log,
    onProgress: (done, total, table) => {
      progress ??= createProgress(total);
      progress.update(done, table);
    },
  });
  progress?.stop();
  const seconds = result.elapsedMs / 1000;
  const width = Math.max(...SEED_TABLES.map((t) => t.length));
  console.log('seeded:');
  for (const table of SEED_TABLES) {
    console.log(`  ${table.padEnd(width)} ${result.counts[table].toLocaleString('en-US').padStart(12)}`);
  }
  console.log(
    `  ${'total'.padEnd(width)} ${result.totalRows.toLocaleString('en-US').padStart(12)} rows in ${seconds.toFixed(1)} s ` +
      `(${result.rowsPerSecond.toLocaleString('en-US')} rows/s)`,
  );
  const b = result.behaviours;
  console.log(`  families: ${b.on_time} on time, ${b.late} late, ${b.partial} partial, ${b.never} never paying`);
  if (result.refreshedRollups) {
    console.log('  reporting rollups refreshed');
  }
} catch (error) {
  progress?.stop();
  console.error(`[seed] failed: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await embedded?.stop();
}
process.exit(exitCode);
