import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDatabase, type Database } from './db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { DEMO_USERS, seedDemoData } from './db/seed-demo.js';

/**
 * Process entry: config → database (embedded unless DATABASE_URL) → migrations →
 * demo data on first start → HTTP. SIGINT/SIGTERM drain in-flight requests, close the
 * pool, then stop the embedded server, so nothing is left running.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const say = (message: string) => console.log(`[bursar] ${message}`);

  let embedded: EmbeddedPostgres | undefined;
  let database: Database | undefined;
  let shuttingDown = false;
  const cleanup = async () => {
    await database?.close().catch(() => undefined);
    await embedded?.stop().catch((error: unknown) => console.error('[bursar] stopping PostgreSQL failed', error));
  };

  try {
    let url = config.database.url;
    if (!url) {
      say(`starting embedded PostgreSQL (data in ${path.resolve(config.dataDir)})`);
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log: say });
      url = embedded.url;
    }
    const { applied } = await migrate(url, { log: say });
    say(applied.length ? `database migrated (${applied.length} applied)` : 'database schema is up to date');

    database = createDatabase({ connectionString: url, max: config.database.poolMax });
    if (config.seed.demo) {
      const seeded = await seedDemoData(database.db, { password: config.seed.password });
      say(seeded ? 'demo data and demo users created (first start)' : 'demo data already present');
    }

    const app = await buildApp({ config, database, jwtSecret: await resolveJwtSecret(config, say) });

    const shutdown = async (signal: string) => {
      if (shuttingDown) {
        return;
      }
      shuttingDown = true;
      say(`${signal} received: draining requests`);
      const force = setTimeout(() => {
        console.error('[bursar] shutdown took too long; forcing exit');
        void cleanup().finally(() => process.exit(1));
      }, 15_000);
      force.unref();
      try {
        await app.close();
      } finally {
        await cleanup();
        clearTimeout(force);
        say('stopped');
      }
    };
    process.once('SIGINT', () => void shutdown('SIGINT'));
    process.once('SIGTERM', () => void shutdown('SIGTERM'));

    const address = await app.listen({ host: config.host, port: config.port });
    const publicUrl = address.replace('127.0.0.1', 'localhost');
    say(`Bursar is listening on ${publicUrl}`);
    say(`API docs: ${publicUrl}/docs`);
    if (config.seed.demo) {
      say(`demo logins (password ${config.seed.passwordIsDefault ? `"${config.seed.password}"` : 'from SEED_PASSWORD'}): ${DEMO_USERS.map((u) => u.username).join(', ')}`);
    }
    if (config.seed.passwordIsDefault && config.seed.demo) {
      say('WARNING: demo users have the published default password; set SEED_PASSWORD before exposing this server');
    }
  } catch (error) {
    console.error('[bursar] failed to start:', error instanceof Error ? error.message : error);
    if (error instanceof Error && error.cause) {
      console.error(error.cause);
    }
    await cleanup();
    process.exit(1);
  }
}

/**
 * JWT_SECRET when set (required in production, and whenever several instances share a
 * database). Otherwise a secret generated once per data directory, so tokens survive
 * restarts of a single embedded install; with an external database and no secret, a
 * per-process one (tokens end at restart) and a warning.
 */
async function resolveJwtSecret(config: Config, say: (message: string) => void): Promise<string> {
  if (config.auth.jwtSecret) {
    return config.auth.jwtSecret;
  }
  if (!config.database.url) {
    const file = path.join(config.dataDir, 'jwt-secret');
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch {
      const secret = randomBytes(48).toString('base64url');
      await mkdir(config.dataDir, { recursive: true });
      await writeFile(file, secret, { mode: 0o600 });
      return secret;
    }
  }
  say('WARNING: JWT_SECRET is not set; using a per-process secret (sessions end at restart, instances do not share tokens)');
  return randomBytes(48).toString('base64url');
}

await main();
