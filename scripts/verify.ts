/**
 * `npm run verify`: proves the dashboard's rollup tables equal a full recomputation
 * from the raw tables, that every invoice's paid_amount = Σ payments − Σ refunds +
 * credit applied + credit notes + write-offs with 0 ≤ paid ≤ amount, and that the
 * family ledger balances (SPEC §7, src/modules/ledger/ledger.verify.ts). Connects to DATABASE_URL, or to the embedded PostgreSQL in
 * BURSAR_DATA_DIR when DATABASE_URL is unset (like `npm run migrate`).
 *
 * Exit code 0 when everything matches, 1 on any mismatch (or error).
 */
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../src/modules/ledger/ledger.verify.js';
import { formatReport, verifyRollups } from '../src/modules/reporting/rollups.js';
import { formatLedgerReport, verifyLedgerBalances } from '../src/modules/sync/sync.verify.js';

const config = loadConfig();
const log = (message: string) => console.log(`[verify] ${message}`);
let embedded: EmbeddedPostgres | undefined;
let exitCode = 1;
try {
  // Right after a crash this waits for the old server to be gone (see embedded.ts); if it
  // cannot start, the reason is printed below, not as an unhandled rejection.
  embedded = config.database.url ? undefined : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
  const database = createDatabase({ connectionString: config.database.url ?? embedded?.url ?? '', max: 2, applicationName: 'bursar-verify', statementTimeoutMs: 0 });
  try {
    const started = Date.now();
    const report = await verifyRollups(database.db);
    console.log(formatReport(report));
    // Gateway ledger: per-account sums kept page by page = a full recomputation.
    const ledger = await verifyLedgerBalances(database.db);
    console.log(formatLedgerReport(ledger));
    // Family ledger (SPEC §7): invoices = their lines and money rows; per family, movements = open − credit.
    const families = await verifyLedgerInvariant(database.db);
    console.log(formatLedgerInvariantReport(families));
    log(`took ${Date.now() - started} ms`);
    exitCode = report.ok && ledger.ok && families.ok ? 0 : 1;
  } finally {
    await database.close();
  }
} catch (error) {
  console.error('[verify] failed:', error);
} finally {
  await embedded?.stop();
}
process.exit(exitCode);
