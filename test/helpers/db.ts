import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A fresh database for one test file, cloned from the migrated template that
 * scripts/test.ts prepared. Cloning takes milliseconds, so every file starts clean.
 */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite with \`npm test\` (scripts/test.ts prepares the database)`);
  }
  return value;
}

export function adminUrl(): string {
  return env('BURSAR_TEST_ADMIN_URL');
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A template of this run made once, by the first test file that asks for it: a copy of
 * the migrated template that `fill` completes (the demo data, say). Files of the run ask
 * in parallel: an advisory lock lets one make it while the others wait, and it is filled
 * under another name and renamed when complete, so no file ever clones a half-made one.
 */
export async function sharedTemplate(suffix: string, fill: (url: string) => Promise<void>): Promise<string> {
  const name = `bursar_t_${env('BURSAR_TEST_RUN_ID')}_tpl_${suffix}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [name]);
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) {
      const filling = `${name}_filling`;
      await client.query(`drop database if exists ${filling} with (force)`);
      await client.query(`create database ${filling} template ${env('BURSAR_TEST_TEMPLATE')}`);
      await fill(databaseUrl(filling));
      await client.query(`alter database ${filling} rename to ${name}`);
    }
    return name;
  } finally {
    await client.end();
  }
}

/** A new database; `fromTemplate: false` gives an empty one (for migration tests), `template` a copy of a sharedTemplate. */
export async function createTestDatabase(options: { fromTemplate?: boolean; template?: string } = {}): Promise<TestDatabase> {
  const name = `bursar_t_${env('BURSAR_TEST_RUN_ID')}_${randomBytes(4).toString('hex')}`;
  const template = options.fromTemplate === false ? 'template0' : (options.template ?? env('BURSAR_TEST_TEMPLATE'));
  await adminQuery(`create database ${name} template ${template}`);
  return {
    url: databaseUrl(name),
    name,
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}
