import type { Db } from '../../db/database.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { UTF8_BOM, type CsvColumn } from '../../shared/csv.js';
import { AppError } from '../../shared/errors.js';
import { contentDisposition, downloadName } from '../../shared/filenames.js';
import { localDate } from '../../shared/locale.js';
import { currencyDigits, minorToUnits } from '../../shared/money.js';
import { cursorPart, decodeCursorOf, encodeCursor, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import { copyCsv, createXlsxSink, streamThroughCursor, type StreamedExport } from '../reporting/export.js';
import type { AccountingRepository, JournalRow, JournalSchool } from './accounting.repository.js';
import type { AccountsBody, JournalLine, JournalQuery, SchoolAccounts } from './accounting.schemas.js';
import { accountOf, DEFAULT_ACCOUNTS, type Accounts } from './accounts.js';

/**
 * The accounting journal and the chart of accounts (SPEC §9 "Accounting"). The journal
 * is read from what the ledger wrote (accounting.repository.ts); here each row gets its
 * account code through the school's mapping, and goes out as JSON pages or streamed
 * through a server-side cursor into CSV, XLSX, or Xero's and QuickBooks Online's
 * manual-journal import layouts — one batch in memory at a time.
 */
export type JournalFileFormat = 'csv' | 'xlsx' | 'xero' | 'quickbooks';

export type JournalExport = StreamedExport;

const invalid = (field: string, message: string, where: 'querystring' | 'body' = 'querystring') =>
  new AppError('VALIDATION_FAILED', `${field} ${message}`, { errors: [{ field, in: where, message }] });

/** A journal row as the API shows it: its account named by the school's mapping. */
function lineOf(row: JournalRow, accounts: Accounts, currency: string): JournalLine {
  return {
    entryId: row.entryId,
    date: row.date,
    account: accountOf(accounts, row.role, row.detail),
    debit: Number(row.debit),
    credit: Number(row.credit),
    currency,
    description: row.description,
    sourceType: row.sourceType,
    sourceId: row.sourceId,
  };
}

/** The XLSX layout: the API's journal line, header for header, amounts in currency units. */
type XlsxRow = Omit<JournalLine, 'debit' | 'credit'> & { debit: number; credit: number };
const PLAIN_KEYS = ['entryId', 'date', 'account', 'debit', 'credit', 'currency', 'description', 'sourceType', 'sourceId'] as const satisfies readonly (keyof JournalLine)[];
const plainColumns = <Row extends XlsxRow>(): CsvColumn<Row>[] => PLAIN_KEYS.map((key) => ({ key, header: key }));

const MEDIA: Record<JournalFileFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xero: 'text/csv; charset=utf-8',
  quickbooks: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

export function createAccountingService(deps: { db: Db; repo: AccountingRepository }) {
  const { db, repo } = deps;

  async function school(scope: Scope, id: string, where: 'querystring' | 'params'): Promise<JournalSchool> {
    const found = await repo.findSchool(db, scope, id);
    if (found === undefined) {
      throw new AppError('NOT_FOUND', 'school not found', { errors: [{ field: where === 'params' ? 'id' : 'schoolId', in: where, message: 'no such school (or not one of yours)' }] });
    }
    return found;
  }

  function checkRange(query: Pick<JournalQuery, 'from' | 'to'>): void {
    if (query.from > query.to) {
      throw invalid('from', `must not be after to (${query.to})`);
    }
  }

  const present = (schoolId: string, accounts: Accounts, updatedAt: Date | null): SchoolAccounts => ({
    schoolId,
    ...accounts,
    cashByMethod: Object.fromEntries(Object.entries(accounts.cashByMethod).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
    updatedAt: updatedAt === null ? null : updatedAt.toISOString(),
  });

  return {
    async getAccounts(scope: Scope, schoolId: string): Promise<SchoolAccounts> {
      const found = await school(scope, schoolId, 'params');
      const { accounts, updatedAt } = await repo.accounts(db, found.id);
      return present(found.id, accounts, updatedAt);
    },

    async putAccounts(actor: Actor, schoolId: string, body: AccountsBody): Promise<SchoolAccounts> {
      const principal = requirePrincipal(actor);
      const found = await school(principal, schoolId, 'params');
      const byMethod = Object.fromEntries(Object.entries(body.cashByMethod ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
      const accounts: Accounts = { ...DEFAULT_ACCOUNTS, ...body, cashByMethod: byMethod };
      return db.transaction().execute(async (trx) => {
        const updatedAt = await repo.putAccounts(trx, found.id, accounts, principal.userId);
        await recordAudit(trx, actor, { action: 'school.accounts', entityType: 'school', entityId: found.id, schoolId: found.id, changes: { ...accounts } });
        return present(found.id, accounts, updatedAt);
      });
    },

    /** GET /accounting/journal (JSON): a page of lines in posting order; an entry may continue on the next page. */
    async journalPage(scope: Scope, query: JournalQuery & { limit: number }): Promise<Page<JournalLine>> {
      checkRange(query);
      const found = await school(scope, query.schoolId, 'querystring');
      const after =
        query.cursor === undefined
          ? undefined
          : (([atKey, entryId, seq]) => ({ atKey, entryId, seq }))(decodeCursorOf(query.cursor, [cursorPart.timestamp, cursorPart.text, cursorPart.count]));
      const { accounts } = await repo.accounts(db, found.id);
      const { rows } = await db.executeQuery(repo.journal(db, { schoolId: found.id, timezone: found.timezone, from: query.from, to: query.to, limit: query.limit + 1, ...(after ? { after } : {}) }));
      const data = rows.slice(0, query.limit);
      const last = data.at(-1);
      return {
        data: data.map((row) => lineOf(row, accounts, found.currency)),
        nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.atKey, last.entryId, Number(last.seq)]) : null,
      };
    },

    /** GET /accounting/journal?format=csv|xlsx|xero|quickbooks: every line of the range, streamed. */
    async journalExport(scope: Scope, query: JournalQuery, format: JournalFileFormat, signal: AbortSignal): Promise<JournalExport> {
      checkRange(query);
      const found = await school(scope, query.schoolId, 'querystring');
      const { accounts } = await repo.accounts(db, found.id);
      const currency = found.currency;
      const name = downloadName({ what: format === 'csv' || format === 'xlsx' ? 'journal' : `journal-${format}`, scope: [found.name, `${query.from}-to-${query.to}`], asciiFallback: found.id.slice(0, 8), date: localDate(new Date(), found.timezone), ext: format === 'xlsx' ? 'xlsx' : 'csv' });

      const file = { filename: name.ascii, contentType: MEDIA[format], contentDisposition: contentDisposition(name) };
      if (format !== 'xlsx') {
        // CSV layouts are written by PostgreSQL itself (COPY … CSV), streamed as they come.
        const plan = { whole: repo.journalCsv(db, { schoolId: found.id, timezone: found.timezone, from: query.from, to: query.to }, { layout: format, accounts, currency, digits: currencyDigits(currency) }) };
        const copy = await copyCsv(db, plan, signal, { preamble: UTF8_BOM });
        return { ...file, output: copy.output, done: copy.done.then(() => undefined, (error: unknown) => (signal.aborted ? undefined : error)) };
      }
      // XLSX: a workbook written here, row by row from a cursor.
      const xlsx = createXlsxSink(plainColumns<XlsxRow>(), 'Journal');
      const write = (rows: JournalRow[]) =>
        xlsx.write(
          rows.map((row) => ({ ...lineOf(row, accounts, currency), debit: minorToUnits(Number(row.debit), currency), credit: minorToUnits(Number(row.credit), currency) })),
          signal,
        );
      const streamed = await streamThroughCursor(db, repo.journal(db, { schoolId: found.id, timezone: found.timezone, from: query.from, to: query.to }), xlsx, signal, write);
      return { ...file, ...streamed };
    },
  };
}

export type AccountingService = ReturnType<typeof createAccountingService>;
