import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** pg_advisory_lock key shared by every Bursar process migrating one database. */
const MIGRATION_LOCK_KEY = 0x42_75_72_73_61_72n; // "Bursar"

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  current: number;
}

export class MigrationError extends Error {}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) {
      throw new MigrationError(`migration file name ${file} must look like 0001_name.sql`);
    }
    const sql = await readFile(path.join(dir, file), 'utf8');
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new MigrationError(`two migrations share version ${version}`);
    }
    migrations.push({ version, name: match[2] ?? file, sql, checksum: sha256(sql) });
  }
  return migrations;
}

/**
 * Applies pending migrations in version order.
 *
 * One session holds a PostgreSQL advisory lock for the whole run, so instances that
 * start together take turns: the second waits, then finds nothing left to do. Each
 * migration runs in its own transaction together with its bookkeeping row, so a failing
 * migration leaves no trace. An applied migration whose file has changed is an error:
 * history is never rewritten, a new migration is added instead.
 */
export async function migrate(
  connectionString: string,
  options: { dir?: string; log?: (message: string) => void } = {},
): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.dir);
  const client = new pg.Client({ connectionString, application_name: 'bursar-migrate' });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`
      create table if not exists schema_migrations (
        version    integer primary key,
        name       text not null,
        checksum   text not null,
        applied_at timestamptz not null default now()
      )`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
      'select version, name, checksum from schema_migrations order by version',
    );
    const done = new Map(rows.map((row) => [row.version, row]));
    for (const row of rows) {
      const file = migrations.find((m) => m.version === row.version);
      if (!file) {
        throw new MigrationError(
          `database has migration ${row.version}_${row.name}, which this code does not know (is the code older than the database?)`,
        );
      }
      if (file.checksum !== row.checksum) {
        throw new MigrationError(`migration ${row.version}_${row.name} was changed after it was applied`);
      }
    }
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) {
        continue;
      }
      const label = `${String(migration.version).padStart(4, '0')}_${migration.name}`;
      await client.query('begin');
      try {
        await client.query(migration.sql);
        await client.query('insert into schema_migrations (version, name, checksum) values ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw new MigrationError(`migration ${label} failed: ${(error as Error).message}`, { cause: error });
      }
      options.log?.(`applied migration ${label}`);
      applied.push(label);
    }
    return { applied, current: migrations.at(-1)?.version ?? 0 };
  } finally {
    await client.query('select pg_advisory_unlock_all()').catch(() => undefined);
    await client.end();
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
