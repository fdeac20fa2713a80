import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { CompiledQuery } from 'kysely';
import type { Db } from '../../db/database.js';
import { createCsvStringifier, type CsvColumn } from '../../shared/csv.js';
import { AppError } from '../../shared/errors.js';

/**
 * Streaming exports shared by the reporting module: a per-user concurrency limiter,
 * a server-side cursor reader that runs in one consistent snapshot, and CSV / XLSX
 * sinks with backpressure. Memory stays constant whatever the row count: at most one
 * batch of rows plus the sinks' stream buffers is held at any time.
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

/** Where exported rows go: `output` is the byte stream sent to the client. */
export interface RowSink<Row> {
  output: Readable;
  /** Writes rows, resolving once the output can take more (rejects when aborted). */
  write(rows: readonly Row[], signal: AbortSignal): Promise<void>;
  /** Writes the trailer (if any) and ends the output. */
  end(): Promise<void>;
}

/** CSV through the shared stringifier (header row, formula-injection neutralising, quoting). */
export function createCsvSink<Row extends object>(columns: readonly CsvColumn<Row>[]): RowSink<Row> {
  const stringifier = createCsvStringifier(columns);
  return {
    output: stringifier,
    async write(rows, signal) {
      signal.throwIfAborted();
      for (const row of rows) {
        if (!stringifier.write(row)) {
          await drained(stringifier, signal);
        }
      }
    },
    async end() {
      stringifier.end();
      await Promise.resolve();
    },
  };
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
