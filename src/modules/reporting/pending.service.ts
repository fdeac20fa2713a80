import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { UTF8_BOM, type CsvColumn, type ExportStyle } from '../../shared/csv.js';
import { AppError, notFound } from '../../shared/errors.js';
import { contentDisposition, downloadName } from '../../shared/filenames.js';
import { localDate, type Language } from '../../shared/locale.js';
import { cursorPart, DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor } from '../../shared/pagination.js';
import type { Principal } from '../../shared/policy.js';
import type { BillingReportsRepository } from './billing-reports.repository.js';
import { copyCsv, createPeopleXlsxSink, createXlsxSink, streamThroughCursor, type RowSink, type StreamedExport } from './export.js';
import { countFromRollups } from './pending.counts.js';
import type { PendingFilter, PendingRepository } from './pending.repository.js';
import {
  PENDING_COLUMNS,
  PENDING_PEOPLE_COLUMNS,
  type ExportFormat,
  type PendingExportQuery,
  type PendingPage,
  type PendingQuery,
  type PendingRow,
} from './pending.schemas.js';

/**
 * The outstanding-payments queue and its export.
 *
 * `total` is the exact count of matching rows. It is counted once, on the first page
 * (no cursor), from the rollups (pending.counts.ts; a row count only with minAmount),
 * and carried by the cursor to every later page, so deep pages stay a bare index range
 * scan (no count over the whole queue per page). It is therefore the
 * count as of the first page; a client that wants a fresh count starts over. The
 * cursor also carries a fingerprint of the filters, so a cursor replayed with other
 * filters (and so a wrong total and position) is a 400 rather than a wrong page.
 */


/** The XLSX columns; the CSV header is the export statement's column names, the same keys. */
const XLSX_COLUMNS: readonly CsvColumn<PendingRow>[] = PENDING_COLUMNS.map((key) => ({ key, header: key }));

/** Sent before a CSV for people: a UTF-8 byte-order mark, so that Excel reads accents right. */

/** The sheet's name, in the reader's language. */
const SHEET_NAME: Record<Language, string> = { en: 'Pending payments', es: 'Pagos pendientes' };

const MEDIA: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

function filterOf(query: PendingQuery | PendingExportQuery): PendingFilter {
  return { schoolId: query.schoolId, grade: query.grade, status: query.status, minAmount: query.minAmount };
}

/** Short fingerprint of the filters a cursor was made for. */
function fingerprint(filter: PendingFilter): string {
  const canonical = JSON.stringify([filter.schoolId ?? null, filter.grade ?? null, filter.status ?? null, filter.minAmount ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 12);
}

function badCursor(): AppError {
  return new AppError('BAD_REQUEST', 'cursor is not valid for this list and these filters', {
    errors: [{ field: 'cursor', in: 'querystring', message: 'not a cursor returned by this list with the same filters' }],
  });
}

interface PendingCursor {
  dueDate: string;
  invoiceId: string;
  total: number;
}

function parseCursor(cursor: string, filter: PendingFilter): PendingCursor {
  const [dueDate, invoiceId, total, print] = decodeCursor(cursor, 4);
  if (
    !cursorPart.date(dueDate) ||
    !cursorPart.uuid(invoiceId) ||
    typeof total !== 'number' ||
    !Number.isSafeInteger(total) ||
    total < 0 ||
    print !== fingerprint(filter)
  ) {
    throw badCursor();
  }
  return { dueDate, invoiceId, total };
}

export type PendingExport = StreamedExport;

export function createPendingService(deps: {
  db: Db;
  /** Where the rollup deltas are folded before a count (the primary when `db` is a replica); `db` otherwise. */
  foldDb?: Db;
  pending: PendingRepository;
  reports: BillingReportsRepository;
}) {
  const { db, pending, reports } = deps;

  /** A schoolId filter the caller cannot see (or that does not exist) is a 404. */
  async function checkSchool(principal: Principal, schoolId: string | undefined): Promise<void> {
    if (schoolId !== undefined && !(await reports.schoolVisible(db, principal, schoolId))) {
      throw notFound('school');
    }
  }

  /** From the rollups when they can answer (no minAmount), else a count of the rows. */
  async function countAll(principal: Principal, filter: PendingFilter): Promise<number> {
    return (await countFromRollups(db, principal, filter, deps.foldDb ?? db)) ?? (await pending.count(db, principal, filter));
  }

  return {
    async page(principal: Principal, query: PendingQuery): Promise<PendingPage> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const filter = filterOf(query);
      const cursor = query.cursor === undefined ? undefined : parseCursor(query.cursor, filter);
      await checkSchool(principal, filter.schoolId);
      const [rows, total] = await Promise.all([
        pending.page(db, principal, { ...filter, limit, after: cursor }),
        cursor === undefined ? countAll(principal, filter) : Promise.resolve(cursor.total),
      ]);
      const data = rows.slice(0, limit);
      const last = data[data.length - 1];
      const nextCursor =
        rows.length > limit && last !== undefined ? encodeCursor([last.dueDate, last.invoiceId, total, fingerprint(filter)]) : null;
      return { data, nextCursor, total };
    },

    /**
     * Starts an export and resolves once its snapshot is open and the first bytes are
     * there (so a failure to start is an ordinary error response).
     *
     * `style=people` (the default) is for a person opening it in a spreadsheet: headers
     * in `language`, amounts in currency units, typed XLSX cells (PENDING_PEOPLE_COLUMNS),
     * a byte-order mark before the CSV; `style=raw` is the API's shape, byte for byte as
     * before, for machines. The file is named in the one scheme (shared/filenames.ts).
     *
     * CSV is PostgreSQL's own CSV writer: `COPY (<the export statement>) TO STDOUT`,
     * the masking, scoping, filters and formula neutralising all in the statement, the
     * bytes piped with backpressure. XLSX reads the same rows (masked by the same
     * statement) through a server-side cursor into the workbook writer. Either runs
     * until the end, an error (the output is destroyed with it) or `signal` (the client
     * went away: the statement is cancelled and its connection discarded).
     */
    async export(principal: Principal, query: PendingExportQuery, signal: AbortSignal, language: Language = 'en'): Promise<PendingExport> {
      const filter = filterOf(query);
      const format: ExportFormat = query.format ?? 'csv';
      const style: ExportStyle = query.style ?? 'people';
      // One school: named in the file, dated in its zone; otherwise every school the caller sees, dated in UTC.
      const school = filter.schoolId === undefined ? undefined : await pending.exportSchool(db, principal, filter.schoolId);
      if (filter.schoolId !== undefined && school === undefined) {
        throw notFound('school');
      }
      const name = downloadName({
        what: 'pending-payments',
        scope: [school?.name ?? 'all-schools'],
        asciiFallback: filter.schoolId?.slice(0, 8),
        date: localDate(new Date(), school?.timezone ?? 'UTC'),
        ext: format,
      });
      const file = { filename: name.ascii, contentType: MEDIA[format], contentDisposition: contentDisposition(name) };

      if (format === 'csv') {
        // Across every school the export is large: two parts, formatted side by side (see
        // copyCsv). A school's or a school admin's few schools are one statement.
        const split = principal.schoolIds === 'all' && filter.schoolId === undefined;
        const people = style === 'people' ? { language } : undefined;
        const copy = await copyCsv(db, pending.exportCsvPlan(db, principal, filter, { split, people }), signal, {
          preamble: people === undefined ? undefined : UTF8_BOM,
        });
        return {
          ...file,
          output: copy.output,
          done: copy.done.then(
            () => undefined,
            (error: unknown) => (signal.aborted ? undefined : error),
          ),
        };
      }

      const sink: RowSink<PendingRow> =
        style === 'people' ? createPeopleXlsxSink(PENDING_PEOPLE_COLUMNS, language, SHEET_NAME[language]) : createXlsxSink(XLSX_COLUMNS, 'Pending payments');
      const streamed = await streamThroughCursor(db, pending.exportQuery(db, principal, filter), sink, signal, (rows) => sink.write(rows, signal));
      return { ...file, ...streamed };
    },
  };
}

export type PendingService = ReturnType<typeof createPendingService>;
