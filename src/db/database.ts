import './pg-types.js';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DB } from './types.js';

export type Db = Kysely<DB>;
export type Tx = Transaction<DB>;
/** Repositories take either the shared handle or a transaction. */
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** The pg Pool behind each handle made by createDatabase (see poolOf). */
const pools = new WeakMap<Db, pg.Pool>();

/**
 * The pg Pool behind a handle made by createDatabase, for the few things Kysely cannot
 * express (a COPY … TO STDOUT stream). Connections taken here count against the same
 * pool as Kysely's; give each one back with `release()`.
 */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (pool === undefined) {
    throw new Error('this Kysely handle was not made by createDatabase: no pg pool behind it');
  }
  return pool;
}

export interface DatabaseOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Milliseconds; a query running longer is cancelled by the server. */
  statementTimeoutMs?: number;
}

export function createDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'bursar',
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool discards it and the next checkout reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  let closed = false;
  return {
    db,
    pool,
    async close() {
      if (closed) {
        return;
      }
      closed = true;
      await db.destroy(); // ends the pool too
    },
  };
}
