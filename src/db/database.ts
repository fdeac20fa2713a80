import type { EventEmitter } from 'node:events';
import './pg-types.js';
import {
  Kysely,
  PostgresDialect,
  sql,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryCompiler,
  type QueryResult,
  type Transaction,
  type TransactionSettings,
} from 'kysely';
import { createHash } from 'node:crypto';
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

/**
 * The pg client behind every pooled connection, with an 'error' listener for its whole
 * life. pg-pool listens for errors only while a client is idle and removes that listener
 * on checkout; a checked-out client whose connection dies (pg_terminate_backend, a
 * failover, the server shutting down, a network reset) then emits 'error' with no
 * listener, and Node kills the process. With this one, the error only fails the query
 * in flight (the request answers 503); pg marks the client unqueryable first, so when
 * it is released the pool discards it instead of handing it out again.
 */
export class ResilientClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', ignoreConnectionError);
    // A FATAL error (57P01 from pg_terminate_backend, …) means the server is closing the
    // connection. pg learns that only when the socket ends, a moment after the query has
    // failed and been released: the pool would hand the dying client to the next request.
    // Marking it unqueryable now (the flag pg sets itself on a connection error, and the
    // one pg-pool reads on release) makes the pool discard it at once. This listener is
    // added before pg's own, so it runs before the failed query is settled.
    const internals = this as unknown as { connection: EventEmitter; _queryable: boolean };
    internals.connection.on('errorMessage', (message: { severity?: string }) => {
      if (message.severity === 'FATAL' || message.severity === 'PANIC') {
        internals._queryable = false;
      }
    });
  }
}

/**
 * A statement carrying this mark runs as a named prepared statement on each pooled
 * connection: parsed once per connection, and once PostgreSQL has chosen a generic plan
 * (after five executions, when it is not worse than the custom ones) planned no more.
 * For the few reads every request of a hot page makes, whose planning costs more than
 * their execution: at data set L the dashboard's eight statements spent about 40 % of
 * their database time in parse and bind, and marking them took ten connections from
 * about 150 to 185 dashboards a second. Only a bounded set of statement texts may carry
 * it (each distinct text stays prepared for the connection's life), and only reads whose
 * plan does not hinge on their parameters' values. Put it first in a raw statement
 * (`sql\`${PREPARED} select …\``) or with `.modifyFront(PREPARED)` on a Kysely select.
 */
const PREPARED_MARK = '/* prepared */';
export const PREPARED = sql.raw(PREPARED_MARK);

/** The statement's name: its text's hash, so each distinct text is prepared once per connection. */
const preparedName = (text: string) => `p_${createHash('sha1').update(text).digest('base64url')}`;

type QueryCall = (this: pg.Client, ...args: unknown[]) => unknown;
// pg's own query, always called with a client as `this` below.
// eslint-disable-next-line @typescript-eslint/unbound-method
const clientQuery = pg.Client.prototype.query as unknown as QueryCall;
// Kysely calls query(text, values); marked texts are sent as { name, text, values }.
(ResilientClient.prototype as unknown as { query: QueryCall }).query = function query(this: pg.Client, ...args: unknown[]) {
  const [text, values] = args;
  if (args.length === 2 && typeof text === 'string' && Array.isArray(values) && text.includes(PREPARED_MARK)) {
    return clientQuery.call(this, { name: preparedName(text), text, values });
  }
  return clientQuery.apply(this, args);
};

function ignoreConnectionError(): void {
  // The query that was running (if any) is rejected with this error and reports it.
}

/**
 * A query or checkout failed because PostgreSQL could not be reached or dropped the
 * connection: terminated (57P01 by pg_terminate_backend or a shutdown, 57P02 a crash),
 * not accepting connections (57P03), a connection exception (08xxx), a reset socket, the
 * pool unable to connect in time. Nothing about the request was wrong and a retry may
 * succeed, so it is answered 503; `code` is Node's ECONNRESET, which the errors plugin
 * maps to 503 whatever the underlying message. The original error is the `cause`.
 *
 * Whether a COMMIT that failed this way took effect is unknown; money-moving requests
 * are safe to retry because their Idempotency-Key replays the first outcome.
 */
export class DatabaseUnavailableError extends Error {
  readonly code = 'ECONNRESET';
  constructor(cause: unknown) {
    // The cause's message is logged with it (pino prints causes); not repeated here.
    super('the database connection was lost or could not be made', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

const CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** pg's and pg-pool's own errors carry no code, only these messages. */
const CONNECTION_MESSAGES = /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect)/;

/** Whether `error` means the connection to PostgreSQL is gone (see DatabaseUnavailableError). */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) {
    return true;
  }
  if (!(error instanceof Error)) {
    return false;
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) {
    return true;
  }
  return CONNECTION_MESSAGES.test(error.message);
}

const asUnavailable = (error: unknown): unknown => (isConnectionFailure(error) && !(error instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(error) : error);

/** Kysely's connection, with connection failures reported as DatabaseUnavailableError. */
class GuardedConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(compiledQuery);
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (error) {
      throw asUnavailable(error);
    }
  }
}

/**
 * Kysely's PostgreSQL driver with two changes for a dying connection: its failures are
 * DatabaseUnavailableError (above), and a ROLLBACK that fails because the connection is
 * gone is not an error — the server rolled the transaction back when the connection
 * ended, and without this Kysely would throw the ROLLBACK's "not queryable" in place of
 * the error that actually failed the transaction. The dead client is then released
 * unqueryable, so the pool discards it.
 */
class GuardedDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    try {
      return new GuardedConnection(await this.inner.acquireConnection());
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(connection);
    } catch (error) {
      if (!isConnectionFailure(error)) {
        throw error;
      }
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.savepoint?.(connection, name, compileQuery);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.rollbackToSavepoint?.(connection, name, compileQuery);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.releaseSavepoint?.(connection, name, compileQuery);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection instanceof GuardedConnection ? connection.inner : connection);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** PostgresDialect with the GuardedDriver. */
function guardedDialect(pool: pg.Pool): Dialect {
  const postgres = new PostgresDialect({ pool });
  return {
    createAdapter: () => postgres.createAdapter(),
    createDriver: () => new GuardedDriver(postgres.createDriver()),
    createQueryCompiler: () => postgres.createQueryCompiler(),
    createIntrospector: (db) => postgres.createIntrospector(db),
  };
}

export function createDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    Client: ResilientClient,
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
  const db = new Kysely<DB>({ dialect: guardedDialect(pool) });
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
