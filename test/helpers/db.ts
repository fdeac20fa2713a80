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

/** A new database; `fromTemplate: false` gives an empty one (for migration tests). */
export async function createTestDatabase(options: { fromTemplate?: boolean } = {}): Promise<TestDatabase> {
  const name = `bursar_t_${env('BURSAR_TEST_RUN_ID')}_${randomBytes(4).toString('hex')}`;
  const template = options.fromTemplate === false ? 'template0' : env('BURSAR_TEST_TEMPLATE');
  await adminQuery(`create database ${name} template ${template}`);
  return {
    url: databaseUrl(name),
    name,
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}
