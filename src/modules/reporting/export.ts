import { once } from 'node:events';
import { PassThrough, Readable, Transform, type Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { CompiledQuery } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { poolOf, type Db } from '../../db/database.js';
import type { CsvColumn } from '../../shared/csv.js';
import { AppError } from '../../shared/errors.js';

/**
 * Streaming exports shared by the reporting module: a per-user concurrency limiter,
 * CSV straight from PostgreSQL's own CSV writer (COPY … TO STDOUT) and, for XLSX, a
 * server-side cursor reader and a sink with backpressure. Both run in one consistent
 * snapshot and hold constant memory whatever the row count: stream buffers only (CSV),
 * or at most one batch of rows plus the sink's buffers (XLSX).
 */

/** Rows fetched per round trip from the server-side cursor. */
export const EXPORT_BATCH_SIZE = 5000;
/** Concurrent exports one user may run on one instance; the next one is a 429. */
export const MAX_CONCURRENT_EXPORTS_PER_USER = 2;
/** Retry-After of that 429, in seconds. */
export const EXPORT_RETRY_AFTER_SECONDS = 10;

export interface ExportLimiter {
  /** A release function when a slot is free (call it exactly once; extra calls are no-ops), undefined when the user is at the limit. */
  tryAcquire(userId: string): (() => void) | undefined;
  /** Exports running for this user. */
  active(userId: string): number;
}

/** In-process slots per user. One limiter per app instance (so per API process). */
export function createExportLimiter(maxPerUser: number = MAX_CONCURRENT_EXPORTS_PER_USER): ExportLimiter {
  const running = new Map<string, number>();
  return {
    tryAcquire(userId) {
      const current = running.get(userId) ?? 0;
      if (current >= maxPerUser) {
        return undefined;
      }
      running.set(userId, current + 1);
      let released = false;
      return () => {
        if (released) {
          return;
        }
        released = true;
        const left = (running.get(userId) ?? 1) - 1;
        if (left <= 0) {
          running.delete(userId);
        } else {
          running.set(userId, left);
        }
      };
    },
    active: (userId) => running.get(userId) ?? 0,
  };
}

/** The 429 for a user already running the maximum number of exports. */
export function tooManyExports(maxPerUser: number = MAX_CONCURRENT_EXPORTS_PER_USER): AppError {
  return new AppError('RATE_LIMITED', `at most ${maxPerUser} exports may run at once per user; retry when one has finished`, {
    headers: { 'retry-after': String(EXPORT_RETRY_AFTER_SECONDS) },
  });
}

/** Resolves when `stream` emits 'drain', rejects when the export is aborted first. */
async function drained(stream: Writable, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  await once(stream, 'drain', { signal });
}

export interface CursorReadOptions<Raw> {
  signal: AbortSignal;
  batchSize?: number;
  /** Called once the cursor is open (the snapshot is taken); errors before it are ordinary request errors. */
  onOpen(): void;
  /** Handles one batch; awaited before the next FETCH (this is where backpressure applies). */
  onBatch(rows: Raw[]): Promise<void>;
}

/**
 * Reads every row of `query` through a server-side cursor (DECLARE … NO SCROLL CURSOR
 * then FETCH FORWARD n) on one pooled connection, inside a REPEATABLE READ READ ONLY
 * transaction: the whole export is one snapshot, however long it takes, and only one
 * batch is in memory at a time. Each FETCH is its own statement, so the pool's
 * statement_timeout bounds a batch, not the export. When `signal` aborts (the client
 * went away) no further batch is fetched; the transaction ends, which closes the cursor,
 * and the connection goes back to the pool.
 *
 * (The API's Kysely dialect is not configured with pg-cursor and routes get the Kysely
 * handle, not the pool; DECLARE/FETCH is the same server-side cursor over SQL and keeps
 * the connection inside Kysely's pool accounting.)
 */
export async function readWithCursor<Raw>(db: Db, query: CompiledQuery<Raw>, options: CursorReadOptions<Raw>): Promise<void> {
  const batchSize = options.batchSize ?? EXPORT_BATCH_SIZE;
  await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      await trx.executeQuery(CompiledQuery.raw(`declare bursar_export no scroll cursor for ${query.sql}`, [...query.parameters]));
      options.onOpen();
      const fetch = CompiledQuery.raw(`fetch forward ${batchSize} from bursar_export`);
      while (!options.signal.aborted) {
        const { rows } = await trx.executeQuery<Raw>(fetch);
        if (rows.length > 0) {
          await options.onBatch(rows);
        }
        if (rows.length < batchSize) {
          break;
        }
      }
      await trx.executeQuery(CompiledQuery.raw('close bursar_export'));
    });
}

/**
 * `query` as SQL text with its parameters written in as literals: COPY is a utility
 * statement and takes no bind parameters. Placeholders ($n) are replaced outside quoted
 * literals and identifiers only; strings go through pg's escapeLiteral (quotes and
 * backslashes escaped, correct whatever standard_conforming_strings is).
 */
export function inlineParameters(query: CompiledQuery): string {
  const literal = (index: number): string => {
    if (index < 1 || index > query.parameters.length) {
      throw new Error(`no parameter $${index} in the compiled query`);
    }
    const value = query.parameters[index - 1];
    if (value === null) {
      return 'null';
    }
    switch (typeof value) {
      case 'string':
        if (value.includes('\0')) {
          throw new AppError('BAD_REQUEST', 'a filter value contains a NUL character');
        }
        return pg.escapeLiteral(value);
      case 'number':
        if (!Number.isFinite(value)) {
          throw new Error(`parameter $${index} is not a finite number`);
        }
        return String(value);
      case 'bigint':
        return value.toString();
      case 'boolean':
        return value ? 'true' : 'false';
      case 'object':
        if (value instanceof Date) {
          return pg.escapeLiteral(value.toISOString());
        }
        break;
      case 'undefined':
      case 'function':
      case 'symbol':
        break;
    }
    throw new Error(`parameter $${index} of type ${typeof value} cannot be written as a literal`);
  };
  const text = query.sql;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === "'" || c === '"') {
      // A quoted literal or identifier, copied as is (a doubled quote stays inside).
      let j = i + 1;
      while (j < text.length && !(text.charAt(j) === c && text.charAt(j + 1) !== c)) {
        j += text.charAt(j) === c ? 2 : 1;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '$' && /\d/.test(text.charAt(i + 1))) {
      const digits = /^\d+/.exec(text.slice(i + 1))?.[0] ?? '';
      out += literal(Number(digits));
      i += 1 + digits.length;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** A running CSV export: the bytes, and how it ended. */
export interface CsvCopy {
  /** The CSV (header row first), to pipe to the client. */
  output: Readable;
  /** Settles once the export has ended and its connection is back: resolves when it finished or was aborted, rejects with a mid-stream error. */
  done: Promise<void>;
}

/** What pg keeps about a connected client and does not type: its backend's key, and where it connected. */
interface BackendKey {
  processID: number | null;
  secretKey: number | null;
  host: string;
  port: number;
}

/**
 * Asks the server to cancel what `client`'s backend is running: the protocol's
 * CancelRequest on a socket of its own (what pg_cancel_backend does, without a pool
 * slot or a login). Best effort; a request arriving after the statement ended is a no-op.
 */
function cancelBackend(client: pg.PoolClient): void {
  const { processID, secretKey, host, port } = client as unknown as BackendKey;
  if (processID === null || secretKey === null) {
    return;
  }
  const connection = new pg.Connection() as pg.Connection & {
    connect(port: number | string, host?: string): void;
    cancel(processID: number, secretKey: number): void;
  };
  connection.on('error', () => undefined);
  connection.once('connect', () => connection.cancel(processID, secretKey));
  if (host.startsWith('/')) {
    connection.connect(`${host}/.s.PGSQL.${port}`);
  } else {
    connection.connect(port, host);
  }
}

const BEGIN_EXPORT =
  'begin isolation level repeatable read, read only; ' +
  // One statement for the whole export: it lasts as long as the client takes to read
  // it, and is ended by the client going away instead (see copyCsv).
  'set local statement_timeout = 0; ' +
  // Dates as YYYY-MM-DD, as the rest of the API reads them.
  "set local datestyle = 'ISO, YMD'";

/**
 * Runs `COPY (<query>) TO STDOUT WITH (FORMAT csv, HEADER true)` on one connection of
 * the pool behind `db`, inside a REPEATABLE READ READ ONLY transaction, and streams
 * PostgreSQL's CSV (RFC 4180 quoting, header from the column names) with backpressure:
 * when the client stops reading, pg-copy-streams stops reading the socket and the
 * server waits. Resolves once the first bytes (the header) have arrived, so that any
 * failure to start is an ordinary error response; a later error destroys `output`
 * and rejects `done`.
 *
 * When `signal` aborts (the client went away), the COPY is cancelled on the server
 * (a CancelRequest stops it whatever it is doing, even before its first row) and the
 * connection is released with an error, so the pool destroys it (pg destroys the
 * socket of a client with a query running, which also ends a backend blocked on
 * sending) instead of reusing it; `done` resolves.
 */
export async function copyCsv(db: Db, query: CompiledQuery, signal: AbortSignal): Promise<CsvCopy> {
  signal.throwIfAborted();
  const copySql = `copy (${inlineParameters(query)}) to stdout with (format csv, header true)`;
  const pool = poolOf(db);
  const client = await pool.connect();
  // A checked-out pg client without an 'error' listener would crash the process.
  const onClientError = () => undefined;
  client.on('error', onClientError);
  let released = false;
  /** Gives the connection back; with an error the pool destroys it instead of reusing it. */
  const release = (error?: Error) => {
    if (!released) {
      released = true;
      if (error === undefined) {
        client.removeListener('error', onClientError);
      }
      client.release(error ?? false);
    }
  };

  try {
    await client.query(BEGIN_EXPORT);
  } catch (error) {
    release(asError(error));
    throw error;
  }
  if (signal.aborted) {
    release(new Error('export aborted: the client went away'));
    return { output: Readable.from([]), done: Promise.resolve() };
  }

  const copy = client.query(copyTo(copySql));
  let markOpen: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    markOpen = resolve;
  });
  const output = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      markOpen();
      callback(null, chunk);
    },
  });
  let settle: (error?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });

  let finished = false;
  /** Ends the export once: `error` is a failure; `aborted` means the client went away. */
  const finish = (outcome: { error?: Error; aborted?: boolean }) => {
    if (finished) {
      return;
    }
    finished = true;
    signal.removeEventListener('abort', onAbort);
    markOpen();
    if (outcome.aborted === true) {
      // Stop the statement on the server first (it may not be sending yet, so it would
      // not notice the socket going away), then let the pool destroy the connection.
      cancelBackend(client);
      copy.unpipe(output);
      copy.destroy();
      output.destroy();
      release(new Error('export aborted: the client went away'));
      settle();
    } else if (outcome.error !== undefined) {
      release(outcome.error);
      output.destroy(outcome.error);
      settle(outcome.error);
    }
  };
  // A failure reaches the caller through `done` (and the response through the destroy);
  // without a listener, destroying the output with it before anyone piped it would crash.
  output.on('error', () => undefined);
  const onAbort = () => finish({ aborted: true });
  signal.addEventListener('abort', onAbort, { once: true });
  // The output closing before the export finished is the client going away too.
  output.once('close', onAbort);

  // Kept for good: pg may still report an error on the stream after it was destroyed.
  copy.on('error', (error: Error) => finish({ error }));
  copy.on('end', () => {
    if (finished) {
      return;
    }
    finished = true;
    signal.removeEventListener('abort', onAbort);
    output.removeListener('close', onAbort);
    markOpen();
    // The COPY is complete on the server: end the snapshot, give the connection back,
    // then end the output (so a failure here can still fail the response).
    client.query('commit').then(
      () => {
        release();
        output.end();
        settle();
      },
      (error: unknown) => {
        const failure = asError(error);
        release(failure);
        output.destroy(failure);
        settle(failure);
      },
    );
  });
  copy.pipe(output, { end: false });

  // Resolve on the first bytes (the header row); a failure before them is thrown.
  await new Promise<void>((resolve, reject) => {
    void opened.then(resolve);
    done.then(resolve, reject);
  });
  if (signal.aborted) {
    // Gone before the first byte: nothing to send, and not an error.
    return { output: Readable.from([]), done };
  }
  return { output, done };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Where exported rows go: `output` is the byte stream sent to the client. */
export interface RowSink<Row> {
  output: Readable;
  /** Writes rows, resolving once the output can take more (rejects when aborted). */
  write(rows: readonly Row[], signal: AbortSignal): Promise<void>;
  /** Writes the trailer (if any) and ends the output. */
  end(): Promise<void>;
}

/**
 * XLSX through exceljs's streaming writer: inline strings (no shared-string table) and
 * no styles, so nothing grows with the row count; each row is committed (serialised)
 * as soon as it is added. Cells get their JS type (text stays text: a value such as
 * `=HYPERLINK(…)` is a string cell, never a formula, so it needs no neutralising).
 * exceljs does not propagate backpressure itself, so after each batch the writer waits
 * until the zip output has been taken by the client.
 */
export function createXlsxSink<Row extends object>(columns: readonly CsvColumn<Row>[], sheetName: string): RowSink<Row> {
  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useStyles: false, useSharedStrings: false });
  const sheet = workbook.addWorksheet(sheetName);
  sheet.addRow(columns.map((column) => column.header)).commit();
  return {
    output,
    async write(rows, signal) {
      signal.throwIfAborted();
      for (const row of rows) {
        sheet.addRow(columns.map((column) => row[column.key] as ExcelJS.CellValue)).commit();
      }
      // Let the zip engine move the batch on, then wait for the client to take it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (output.writableNeedDrain) {
        await drained(output, signal);
      }
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}

/** `attachment; filename="…"` for a generated (ASCII-only) file name. */
export function attachment(filename: string): string {
  return `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}
