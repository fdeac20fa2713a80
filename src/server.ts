import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { Value } from 'typebox/value';
import { buildApp, buildWorkerApp, type ProcessRole } from './app.js';
import type { Config } from './config.js';
import { createDatabase, type Database } from './db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { loadMigrations, migrate } from './db/migrate.js';
import { DEMO_USERS, seedDemoData } from './db/seed-demo.js';
import { createAuthRepository } from './modules/auth/auth.repository.js';
import { Password } from './modules/auth/auth.schemas.js';
import { createUsersRepository } from './modules/auth/users.repository.js';
import { createUsersService } from './modules/auth/users.service.js';
import { AppError } from './shared/errors.js';

/**
 * The long-running processes behind `bursar all | api | worker` (src/cli.ts), imported
 * only after telemetry has started.
 *
 * config → database (embedded only for `all` without DATABASE_URL) → migrations (`all`;
 * `api` and `worker` check the schema is current and leave migrating to `bursar
 * migrate`, run once per deploy) → demo data (`all`, `api`) → HTTP. SIGINT/SIGTERM drain
 * in-flight requests and running jobs, close the pools, then stop the embedded server
 * and telemetry, so nothing is left running.
 */
export class StartupError extends Error {}

export interface Telemetry {
  shutdown(): Promise<void>;
}

export async function startProcess(role: ProcessRole, config: Config, telemetry?: Telemetry): Promise<void> {
  const say = (message: string) => console.log(`[bursar] ${message}`);

  let embedded: EmbeddedPostgres | undefined;
  let database: Database | undefined;
  let readDatabase: Database | undefined;
  let shuttingDown = false;
  const cleanup = async () => {
    await readDatabase?.close().catch(() => undefined);
    await database?.close().catch(() => undefined);
    await embedded?.stop().catch((error: unknown) => console.error('[bursar] stopping PostgreSQL failed', error));
    await telemetry?.shutdown().catch((error: unknown) => console.error('[bursar] stopping telemetry failed', error));
  };

  try {
    let url = config.database.url;
    if (!url) {
      if (role !== 'all') {
        throw new StartupError(
          `DATABASE_URL is required for \`bursar ${role}\`: several processes share one PostgreSQL. ` +
            'For everything in one process on the embedded database, run `npm start` (`bursar all`).',
        );
      }
      say(`starting embedded PostgreSQL (data in ${path.resolve(config.dataDir)})`);
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log: say });
      url = embedded.url;
    }
    if (role === 'all') {
      const { applied } = await migrate(url, { log: say });
      say(applied.length ? `database migrated (${applied.length} applied)` : 'database schema is up to date');
    } else {
      await assertSchemaCurrent(url);
    }

    database = createDatabase({ connectionString: url, max: config.database.poolMax, applicationName: `bursar-${role}` });
    if (config.database.readUrl !== undefined && role !== 'worker') {
      readDatabase = createDatabase({ connectionString: config.database.readUrl, max: config.database.poolMax, applicationName: `bursar-${role}-read` });
      say('reports, analytics and exports read from DATABASE_READ_URL');
    }
    // Before any work: `bursar api` without JWT_SECRET refuses at once, not after seeding the demo.
    const jwtSecret = role === 'worker' ? undefined : await resolveJwtSecret(config, role, say);
    if (config.seed.demo && role !== 'worker') {
      const seeded = await seedDemoData(database.db, { password: config.seed.password, publicUrl: config.publicUrl });
      say(seeded ? 'demo data and demo users created (first start)' : 'demo data already present');
    }

    const app =
      role === 'worker' || jwtSecret === undefined
        ? await buildWorkerApp({ config, database })
        : await buildApp({ config, database, readDatabase, role, jwtSecret });

    const shutdown = async (signal: string) => {
      if (shuttingDown) {
        return;
      }
      shuttingDown = true;
      say(`${signal} received: draining ${role === 'worker' ? 'jobs' : 'requests'}`);
      const force = setTimeout(() => {
        console.error('[bursar] shutdown took too long; forcing exit');
        // The cleanup may itself be what hangs (a pool waiting for a client never released):
        // it gets a few seconds (the embedded PostgreSQL's stop), then the process exits anyway.
        const bounded = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
        void Promise.race([cleanup(), bounded]).finally(() => process.exit(1));
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
    if (role === 'worker') {
      say(`worker running (sync ${config.sync.enabled ? 'on' : 'off'}, maintenance ${config.maintenance.enabled ? 'on' : 'off'}); health and metrics listening on ${publicUrl}`);
      return;
    }
    say(`Bursar ${role === 'api' ? 'API ' : ''}is listening on ${publicUrl}`);
    say(`API docs: ${publicUrl}/docs`);
    if (!config.messaging.smtp) {
      say(`reminders: SMTP_URL is not set, so e-mail reminders wait in the outbox (${publicUrl}/outbox)`);
    }
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
 * `bursar api` and `bursar worker` never migrate: that is `bursar migrate`'s job, once
 * per deploy, before the new processes start. Starting against an older schema would
 * fail later and less clearly, so refuse now.
 */
async function assertSchemaCurrent(url: string): Promise<void> {
  const latest = (await loadMigrations()).at(-1)?.version ?? 0;
  const client = new pg.Client({ connectionString: url, application_name: 'bursar-schema-check' });
  await client.connect();
  try {
    const exists = await client.query<{ table: string | null }>("select to_regclass('schema_migrations')::text as table");
    const current =
      (exists.rows[0]?.table ?? null) === null
        ? null
        : ((await client.query<{ version: number }>('select coalesce(max(version), 0) as version from schema_migrations')).rows[0]?.version ?? 0);
    if (current === null || current < latest) {
      throw new StartupError(`the database schema is at version ${current ?? 'none'}, this code needs ${latest}: run \`bursar migrate\` first`);
    }
  } finally {
    await client.end();
  }
}

/** `bursar migrate`: pending migrations on DATABASE_URL (or the embedded database), then exit. */
export async function runMigrations(config: Config): Promise<void> {
  const log = (message: string) => console.log(`[migrate] ${message}`);
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
  try {
    const { applied, current } = await migrate(config.database.url ?? embedded?.url ?? '', { log });
    log(applied.length ? `applied ${applied.length} migration(s); schema at version ${current}` : `nothing to do; schema at version ${current}`);
  } finally {
    await embedded?.stop();
  }
}

/**
 * `bursar create-admin <username>`: the first super_admin of a production install (the
 * demo seed is for demos), or another one. The password comes on stdin, never on the
 * command line (where `ps` and shell history would keep it). Goes through the users
 * service, so the password rules, the argon2id hash and the audit log are the API's.
 */
export async function createAdmin(config: Config, username: string, password: string): Promise<void> {
  const say = (message: string) => console.log(`[create-admin] ${message}`);
  if (!Value.Check(Password, password)) {
    throw new StartupError('the password must be at least 12 characters (at most 256)');
  }
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log: say });
  const database = createDatabase({ connectionString: config.database.url ?? embedded?.url ?? '', max: 2 });
  try {
    const users = createUsersService({ db: database.db, users: createUsersRepository(), auth: createAuthRepository() });
    const created = await users.create({ username, password, role: 'super_admin' }, { principal: null, requestId: null });
    say(`super_admin ${created.username} created (${created.id})`);
  } catch (error) {
    if (error instanceof AppError) {
      const fields = error.extra.errors ?? [];
      throw new StartupError(`${error.message}${fields.length ? `: ${fields.map((e) => `${e.field} ${e.message}`).join('; ')}` : ''}`);
    }
    throw error;
  } finally {
    await database.close();
    await embedded?.stop();
  }
}

/**
 * JWT_SECRET when set (required for `bursar api`: instances behind one load balancer must
 * accept each other's tokens). Otherwise, for `all`: a secret generated once per data
 * directory, so tokens survive restarts of a single embedded install; with an external
 * database and no secret, a per-process one (tokens end at restart) and a warning.
 */
async function resolveJwtSecret(config: Config, role: ProcessRole, say: (message: string) => void): Promise<string> {
  if (config.auth.jwtSecret) {
    return config.auth.jwtSecret;
  }
  if (role === 'api') {
    throw new StartupError('JWT_SECRET is required for `bursar api` (at least 32 characters, the same for every API process)');
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
