import { once } from 'node:events';
import { PassThrough, Readable, Transform, type Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CompiledQuery } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { poolOf, type Db } from '../../db/database.js';
import type { CsvColumn, PeopleCell, PeopleColumn } from '../../shared/csv.js';
import { AppError } from '../../shared/errors.js';
import { wallClockIn, type Language } from '../../shared/locale.js';
import { minorToUnits, spreadsheetMoneyFormat } from '../../shared/money.js';

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

/** After a batch of XLSX rows: let the zip engine move it on, then wait for the client to take it. */
async function handedOn(output: Writable, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  while (output.writableNeedDrain) {
    await drained(output, signal);
  }
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
 * literals and identifiers and outside comments (an apostrophe in a comment starts no
 * literal) only; strings go through pg's escapeLiteral (quotes and
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
    if (c === '-' && text.charAt(i + 1) === '-') {
      // A line comment, copied as is (an apostrophe in it starts no literal).
      const end = text.indexOf('\n', i);
      const j = end === -1 ? text.length : end;
      out += text.slice(i, j);
      i = j;
    } else if (c === '/' && text.charAt(i + 1) === '*') {
      // A block comment (EXPORT_STATEMENT_TAG, part names), copied as is.
      const end = text.indexOf('*/', i + 2);
      const j = end === -1 ? text.length : end + 2;
      out += text.slice(i, j);
      i = j;
    } else if (c === "'" || c === '"') {
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

/**
 * work_mem of an export's statement: enough to sort a large export in memory (half of
 * data set L's outstanding invoices take 16 MB), where the default 4 MB spills to disk.
 * PostgreSQL's memory, per part, while the sort runs.
 */
const EXPORT_WORK_MEM = '64MB';

/**
 * The statements that open an export's transaction: REPEATABLE READ READ ONLY, with
 * `snapshot` (SET TRANSACTION SNAPSHOT, which must come first) when it adopts another
 * transaction's, and `serial` for a part of an export in several parts.
 */
function beginExport(options: { snapshot?: string; serial: boolean }): string {
  return [
    'begin isolation level repeatable read, read only',
    ...(options.snapshot === undefined ? [] : [`set transaction snapshot ${pg.escapeLiteral(options.snapshot)}`]),
    // One statement for the whole export: it lasts as long as the client takes to read
    // it, and is ended by the client going away instead (see copyCsv).
    'set local statement_timeout = 0',
    // Dates as YYYY-MM-DD, as the rest of the API reads them.
    "set local datestyle = 'ISO, YMD'",
    // The sort of a large export in memory rather than in temporary files.
    `set local work_mem = '${EXPORT_WORK_MEM}'`,
    ...(options.serial ? [SERIAL_PART] : []),
  ].join('; ');
}

/**
 * For an export in several parts: each part is planned without parallel workers. The
 * parts are the parallelism; a parallel plan per part would put a serial leader
 * (merging the workers' sorted rows and writing all the CSV) back in front of each.
 */
const SERIAL_PART = 'set local max_parallel_workers_per_gather = 0';

/**
 * How many bytes of a later part are read ahead while an earlier part is still being
 * sent; beyond this its COPY waits (backpressure), so memory stays bounded whatever the
 * row count. Small on purpose: while the first part is sent, its backend and this
 * process keep both cores busy, so a later part that waits costs no time, and a larger
 * buffer was measured to add memory (8 MB: up to +63 MB RSS over an export of data
 * set L, against +33–38 MB with 4 MB) without adding speed.
 */
export const EXPORT_READ_AHEAD_BYTES = 4 * 1024 * 1024;

/** A connection checked out for an export, inside the export's transaction. */
export interface ExportSession {
  client: pg.PoolClient;
  /** Gives the connection back; with an error the pool destroys it instead of reusing it. Only the first call counts. */
  release(error?: Error): void;
  readonly released: boolean;
}

function exportSession(client: pg.PoolClient): ExportSession {
  // A checked-out pg client without an 'error' listener would crash the process.
  const onError = () => undefined;
  client.on('error', onError);
  let released = false;
  return {
    client,
    release(error) {
      if (!released) {
        released = true;
        if (error === undefined) {
          client.removeListener('error', onError);
        }
        client.release(error ?? false);
      }
    },
    get released() {
      return released;
    },
  };
}

/** A connection of `pool` in a new export transaction (see beginExport). */
export async function beginExportSession(pool: pg.Pool, options: { snapshot?: string; serial: boolean }): Promise<ExportSession> {
  const session = exportSession(await pool.connect());
  try {
    await session.client.query(beginExport(options));
    return session;
  } catch (error) {
    session.release(asError(error));
    throw error;
  }
}

/**
 * A second session in `first`'s snapshot: `first` exports it (pg_export_snapshot) and
 * the new session adopts it (SET TRANSACTION SNAPSHOT, before any query of its own), as
 * pg_dump's parallel workers do. Whatever commits meanwhile, both read the same data.
 */
export async function joinSnapshot(pool: pg.Pool, first: ExportSession, options: { serial: boolean }): Promise<ExportSession> {
  const { rows } = await first.client.query<{ snapshot: string }>('select pg_export_snapshot() as snapshot');
  return beginExportSession(pool, { snapshot: rows[0]?.snapshot ?? '', serial: options.serial });
}

/** One part of an export: its session, its COPY, and the stream that feeds the output. */
interface Part {
  session: ExportSession;
  copy?: Readable;
  /** The COPY itself for the first part; a bounded read-ahead buffer for the others. */
  source?: Readable;
  committed: boolean;
}

/** The statements of a CSV export. */
export interface CsvExportPlan {
  /** The whole export as one statement; copyCsv adds the header row. */
  whole: CompiledQuery;
  /**
   * How to cut it in two parts that PostgreSQL formats side by side: `probe` returns
   * one row whose `split` is the boundary, or null to keep one statement; `parts(split)`
   * are two statements whose rows, one after the other, are `whole`'s in its order.
   */
  split?: {
    probe: CompiledQuery<{ split: string | null }>;
    parts(split: string): [CompiledQuery, CompiledQuery];
  };
}

/** Starts every statement an export runs, so that pg_stat_activity tells its backends apart. */
export const EXPORT_STATEMENT_TAG = '/* bursar export */';

/** The `COPY … TO STDOUT` of part `index` of `count` (named in a comment); the first one writes the header row. */
function copyStatement(query: CompiledQuery, index: number, count: number): string {
  return `${EXPORT_STATEMENT_TAG} /* part ${index + 1} of ${count} */ copy (${inlineParameters(query)}) to stdout with (format csv, header ${index === 0})`;
}

/**
 * Runs `COPY (<query>) TO STDOUT WITH (FORMAT csv)` for the export `plan` (after
 * `options.preamble`, e.g. a UTF-8 byte-order mark, when given) on
 * connections of the pool behind `db`, inside REPEATABLE READ READ ONLY transactions,
 * and streams PostgreSQL's CSV (RFC 4180 quoting, header from the column names) with
 * backpressure: when the client stops reading, pg-copy-streams stops reading the
 * socket and the server waits. Resolves once the first bytes (the header) have
 * arrived, so that any failure to start is an ordinary error response; a later error
 * destroys `output` and rejects `done`.
 *
 * With a `split`, the probe runs first, in the export's own transaction; when it
 * returns a boundary the two parts run at the same time, each on its own backend, in
 * one snapshot (joinSnapshot), so they add up to one consistent export: PostgreSQL
 * writes a COPY's CSV in a single process, so with two cores the parts sort and format
 * their rows side by side. The first part is sent as it comes; the second is read
 * ahead into a buffer of at most EXPORT_READ_AHEAD_BYTES (`options.readAheadBytes`)
 * and sent when the first has ended. Every statement starts with EXPORT_STATEMENT_TAG.
 *
 * When `signal` aborts (the client went away), whatever statement is still running is
 * cancelled on the server (a CancelRequest stops it whatever it is doing, even before
 * its first row, even waiting on a lock) and the connections are released with an
 * error, so the pool destroys them (pg destroys the socket of a client with a query
 * running, which also ends a backend blocked on sending) instead of reusing them;
 * `done` resolves. A failure of any part ends the other the same way.
 */
export async function copyCsv(
  db: Db,
  plan: CsvExportPlan,
  signal: AbortSignal,
  options: { readAheadBytes?: number; preamble?: Buffer } = {},
): Promise<CsvCopy> {
  signal.throwIfAborted();
  // Before any connection is taken: writing the parameters in may refuse a value.
  let statements = [copyStatement(plan.whole, 0, 1)];
  const pool = poolOf(db);
  const sessions: ExportSession[] = [];
  const gone = () => new Error('export aborted: the client went away');
  // Until the COPYs start, a client going away cancels what the first session runs.
  const cancelSetUp = () => sessions.forEach((session) => cancelBackend(session.client));
  signal.addEventListener('abort', cancelSetUp, { once: true });
  try {
    const first = await beginExportSession(pool, { serial: false });
    sessions.push(first);
    const boundary =
      plan.split === undefined || signal.aborted
        ? null
        : ((await first.client.query<{ split: string | null }>(`${EXPORT_STATEMENT_TAG} ${plan.split.probe.sql}`, [...plan.split.probe.parameters])).rows[0]
            ?.split ?? null);
    if (plan.split !== undefined && boundary !== null && !signal.aborted) {
      statements = plan.split.parts(boundary).map((query, index, all) => copyStatement(query, index, all.length));
      await first.client.query(SERIAL_PART);
      sessions.push(await joinSnapshot(pool, first, { serial: true }));
    }
  } catch (error) {
    sessions.forEach((session) => session.release(asError(error)));
    if (signal.aborted) {
      return { output: Readable.from([]), done: Promise.resolve() };
    }
    throw error;
  } finally {
    signal.removeEventListener('abort', cancelSetUp);
  }
  const parts: Part[] = sessions.map((session) => ({ session, committed: false }));
  const releaseAll = (error: Error) => parts.forEach((part) => part.session.release(error));
  if (signal.aborted) {
    releaseAll(gone());
    return { output: Readable.from([]), done: Promise.resolve() };
  }

  let markOpen: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    markOpen = resolve;
  });
  const output = coalescing(markOpen, options.preamble);
  let settle: (error?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });

  let finished = false;
  /** Ends the export early, once: `error` is a failure; `aborted` means the client went away. */
  const finish = (outcome: { error?: Error; aborted?: boolean }) => {
    if (finished) {
      return;
    }
    finished = true;
    signal.removeEventListener('abort', onAbort);
    markOpen();
    const reason = outcome.error ?? gone();
    for (const part of parts) {
      if (!part.session.released) {
        // Stop the statement on the server first (it may not be sending yet, so it would
        // not notice the socket going away), then let the pool destroy the connection.
        cancelBackend(part.session.client);
        part.copy?.unpipe();
        part.copy?.destroy();
        part.source?.destroy();
      }
    }
    releaseAll(reason);
    if (outcome.aborted === true) {
      output.destroy();
      settle();
    } else {
      output.destroy(reason);
      settle(reason);
    }
  };
  // A failure reaches the caller through `done` (and the response through the destroy);
  // without a listener, destroying the output with it before anyone piped it would crash.
  output.on('error', () => undefined);
  const onAbort = () => finish({ aborted: true });
  signal.addEventListener('abort', onAbort, { once: true });
  // The output closing before the export finished is the client going away too.
  output.once('close', onAbort);

  /** The export is complete once every part has committed and the last one has been sent. */
  let lastSent = false;
  const completeIfDone = () => {
    if (finished || !lastSent || parts.some((part) => !part.committed)) {
      return;
    }
    finished = true;
    signal.removeEventListener('abort', onAbort);
    output.removeListener('close', onAbort);
    markOpen();
    output.end();
    settle();
  };

  parts.forEach((part, index) => {
    const copy: Readable = part.session.client.query(copyTo(statements[index] ?? ''));
    part.copy = copy;
    // Kept for good: pg may still report an error on the stream after it was destroyed.
    copy.on('error', (error: Error) => finish({ error }));
    copy.on('end', () => {
      if (finished) {
        return;
      }
      // This part's COPY is complete on the server: end its snapshot and give its
      // connection back now (the other parts hold the snapshot they adopted).
      part.session.client.query('commit').then(
        () => {
          part.session.release();
          part.committed = true;
          completeIfDone();
        },
        (error: unknown) => finish({ error: asError(error) }),
      );
    });
    if (index === 0) {
      part.source = copy;
    } else {
      const ahead = new PassThrough({ readableHighWaterMark: options.readAheadBytes ?? EXPORT_READ_AHEAD_BYTES });
      ahead.on('error', () => undefined);
      copy.pipe(ahead);
      part.source = ahead;
    }
  });
  /** Sends part `index`, then the next one when it has ended. */
  const send = (index: number) => {
    const source = parts[index]?.source;
    if (source === undefined || finished) {
      return;
    }
    source.once('end', () => {
      if (index + 1 < parts.length) {
        send(index + 1);
      } else {
        lastSent = true;
        completeIfDone();
      }
    });
    source.pipe(output, { end: false });
  };
  send(0);

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

/** Bytes gathered before they are passed on as one chunk, and how long a partial chunk may wait. */
const COALESCE_BYTES = 256 * 1024;
const COALESCE_MAX_WAIT_MS = 5;

/**
 * A pass-through that hands the bytes on in chunks of about COALESCE_BYTES instead of
 * as they arrive: PostgreSQL sends COPY data in messages of one row, which reach us a
 * few kilobytes at a time, and writing each of those to the client's socket costs a
 * system call (a third of the server's CPU time for a large export). Bytes never wait
 * longer than COALESCE_MAX_WAIT_MS, so a slow export still streams. `onData` is called
 * for every incoming chunk; `preamble` is sent first, with the first chunk.
 */
function coalescing(onData: () => void, preamble?: Buffer): Transform {
  // The preamble (a byte-order mark) goes out with the first bytes of the COPY.
  let pending: Buffer[] = preamble === undefined || preamble.length === 0 ? [] : [preamble];
  let size = preamble?.length ?? 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (stream: Transform) => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (size > 0) {
      const chunk = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, size);
      pending = [];
      size = 0;
      stream.push(chunk);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onData();
      pending.push(chunk);
      size += chunk.length;
      if (size >= COALESCE_BYTES) {
        flush(this);
      } else if (timer === undefined) {
        timer = setTimeout(() => flush(this), COALESCE_MAX_WAIT_MS);
      }
      callback();
    },
    flush(callback) {
      flush(this);
      callback();
    },
    destroy(error, callback) {
      clearTimeout(timer);
      pending = [];
      callback(error);
    },
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** A file being streamed to the client: what to send, and when it has finished. */
export interface StreamedExport {
  filename: string;
  contentType: string;
  contentDisposition: string;
  output: Readable;
  /** Settles when the stream is done: undefined, or the error that cut it short (undefined when the client went away). */
  done: Promise<unknown>;
}

/**
 * Reads `query` through a server-side cursor (readWithCursor) into `sink`, each batch
 * through `write`, then ends the sink; resolves once the cursor is open (an error before
 * that is an ordinary request error), with the output and its completion.
 */
export async function streamThroughCursor<Raw>(
  db: Db,
  query: CompiledQuery<Raw>,
  sink: Pick<RowSink<never>, 'output' | 'end'>,
  signal: AbortSignal,
  write: (rows: Raw[]) => Promise<void>,
): Promise<Pick<StreamedExport, 'output' | 'done'>> {
  let markOpen: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    markOpen = resolve;
  });
  const run = readWithCursor(db, query, { signal, onOpen: () => markOpen(), onBatch: write })
    .then(async () => {
      if (!signal.aborted) {
        await sink.end();
      }
    })
    .catch((error: unknown) => {
      sink.output.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    });
  await Promise.race([opened, run]);
  return {
    output: sink.output,
    done: run.then(
      () => undefined,
      (error: unknown) => (signal.aborted ? undefined : error),
    ),
  };
}

/**
 * Sends an export: at most the limiter's number per user at a time (429 beyond), the
 * read stopped when the client goes away, failures mid-stream logged as `what`.
 */
export async function replyWithExport(
  request: FastifyRequest,
  reply: FastifyReply,
  options: { limiter: ExportLimiter; userId: string; what: string; start: (signal: AbortSignal) => Promise<Omit<StreamedExport, 'filename'>> },
): Promise<FastifyReply> {
  const release = options.limiter.tryAcquire(options.userId);
  if (release === undefined) {
    throw tooManyExports(MAX_CONCURRENT_EXPORTS_PER_USER);
  }
  const controller = new AbortController();
  // The response closing before it finished = the client went away: stop reading.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) {
      controller.abort();
    }
  });
  let exported;
  try {
    exported = await options.start(controller.signal);
  } catch (error) {
    release();
    throw error;
  }
  void exported.done.then((error) => {
    release();
    if (error !== undefined) {
      request.log.error({ err: error }, `${options.what} export failed mid-stream`);
    }
  });
  return reply.type(exported.contentType).header('content-disposition', exported.contentDisposition).header('cache-control', 'private, no-store').send(exported.output);
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
      await handedOn(output, signal);
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}

/** Number formats of the people workbook's cells (OOXML numFmt codes). */
const DATE_FORMAT = 'yyyy-mm-dd';
const DATE_TIME_FORMAT = 'yyyy-mm-dd hh:mm';
const INTEGER_FORMAT = '0';
const PERCENT_FORMAT = '0.0%';

/** A people cell as an XLSX value and its number format (see PeopleCell). */
export function xlsxCellOf(cell: PeopleCell): { value: ExcelJS.CellValue; numFmt?: string } {
  if ('text' in cell) {
    return { value: cell.text };
  }
  if ('money' in cell) {
    return { value: minorToUnits(cell.money, cell.currency), numFmt: spreadsheetMoneyFormat(cell.currency) };
  }
  if ('date' in cell) {
    // A calendar day: midnight UTC is exactly that day's serial number in the workbook.
    return cell.date === null ? { value: null } : { value: new Date(`${cell.date}T00:00:00Z`), numFmt: DATE_FORMAT };
  }
  if ('at' in cell) {
    return cell.at === null ? { value: null } : { value: wallClockIn(cell.at, cell.timeZone), numFmt: DATE_TIME_FORMAT };
  }
  if ('integer' in cell) {
    return { value: cell.integer, numFmt: INTEGER_FORMAT };
  }
  return { value: cell.ratio, numFmt: PERCENT_FORMAT };
}

/**
 * The XLSX for people: one sheet, headers in `language` (bold, frozen so they stay in
 * view), a width per column, and typed cells — amounts as numbers in currency units with
 * their currency's number format, days as date cells, moments as date-time cells in the
 * school's zone (xlsxCellOf). Streamed like createXlsxSink: inline strings, each row
 * committed as it is added; the style table holds one entry per distinct number format
 * (a handful of currencies), so nothing grows with the row count.
 */
export function createPeopleXlsxSink<Row>(columns: readonly PeopleColumn<Row>[], language: Language, sheetName: string): RowSink<Row> {
  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet(sheetName, { views: [{ state: 'frozen', xSplit: 0, ySplit: 1 }] });
  sheet.columns = columns.map((column) => ({ width: column.width }));
  const header = sheet.addRow(columns.map((column) => column.header[language]));
  header.font = { bold: true };
  header.commit();
  return {
    output,
    async write(rows, signal) {
      signal.throwIfAborted();
      for (const row of rows) {
        const cells = columns.map((column) => xlsxCellOf(column.cell(row, language)));
        const added = sheet.addRow(cells.map((cell) => cell.value));
        cells.forEach((cell, index) => {
          if (cell.numFmt !== undefined && cell.value !== null) {
            added.getCell(index + 1).numFmt = cell.numFmt;
          }
        });
        added.commit();
      }
      await handedOn(output, signal);
    },
    async end() {
      sheet.commit();
      await workbook.commit();
    },
  };
}
