/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded
 * PostgreSQL in BURSAR_DATA_DIR when DATABASE_URL is unset.
 */
import { loadConfig } from '../src/config.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';

const config = loadConfig();
const log = (message: string) => console.log(`[migrate] ${message}`);
const embedded = config.database.url
  ? undefined
  : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
try {
  const url = config.database.url ?? embedded?.url ?? '';
  const { applied, current } = await migrate(url, { log });
  log(applied.length ? `applied ${applied.length} migration(s); schema at version ${current}` : `nothing to do; schema at version ${current}`);
} finally {
  await embedded?.stop();
}
