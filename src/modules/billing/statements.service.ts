import type { Db, DbOrTx } from '../../db/database.js';
import type { Cache } from '../../shared/cache.js';
import { AppError, notFound } from '../../shared/errors.js';
import { maskReference } from '../../shared/masking.js';
import type { PiiVisibility, Principal } from '../../shared/policy.js';
import type { Scope } from '../../shared/scope.js';
import type { InvoiceStatus } from './billing.schemas.js';
import {
  createStatementsRepository,
  type InvoiceCursor,
  type InvoiceFilter,
  type SchoolSubject,
  type StatementInvoiceRow,
  type StatementPaymentRow,
  type StatementsRepository,
} from './statements.repository.js';
import {
  MAX_STATEMENT_INVOICES,
  type Period,
  type SchoolStatement,
  type StatementQuery,
  type StatementTotals,
  type StudentStatement,
} from './statements.schemas.js';
import { studentName } from './students.repository.js';

/**
 * Student and school statements.
 *
 * Access: a signed-in caller sees what their scope allows (another school's student or
 * school is a 404, never data). With no token at all (`principal === null`) a statement
 * is readable only when its school has `public_statements`, and then always PII-masked;
 * otherwise — and for ids that do not exist — the answer is 401, so an anonymous caller
 * learns nothing about which ids exist.
 *
 * Consistency: a JSON statement is read in one REPEATABLE READ snapshot (version,
 * totals, invoices, payments agree with each other) and cached under a key holding
 * everything it depends on: kind, id, period, PII visibility, the school's billing
 * version (bumped by triggers in the same transaction as every invoice, student and
 * school write) and the school's today (OVERDUE starts at midnight in its zone without a
 * write). A read after a write therefore never sees a stale statement, on any instance.
 *
 * Exports (CSV, PDF) are not cached: totals come from a short snapshot, then rows are
 * streamed in keyset batches of short queries, so no connection is held while a slow
 * client downloads. If a write lands meanwhile, `changedSince()` says so and the
 * renderers add a note.
 */

export type CachedStatement = { kind: 'student'; body: StudentStatement } | { kind: 'school'; body: SchoolStatement };

/** One invoice line of an export, already masked for the reader. */
export interface ExportRow {
  id: string;
  number: string;
  studentId: string;
  studentName: string;
  description: string | null;
  dueDate: string;
  status: InvoiceStatus;
  amount: number;
  /** Cash paid (see StatementInvoiceRow); paid + credited + pending = amount. */
  paidAmount: number;
  creditedAmount: number;
  pendingAmount: number;
  currency: string;
}

export interface ExportHead {
  kind: 'student' | 'school';
  /** The student's id for a student statement, the school's otherwise. */
  subjectId: string;
  schoolId: string;
  schoolName: string;
  schoolAddress: string | null;
  schoolPhone: string | null;
  /** The school's IANA zone: every time a person reads in the statement is in it. */
  timezone: string;
  /** The school's date when the statement was made (YYYY-MM-DD). */
  today: string;
  studentId: string | null;
  studentName: string | null;
  currency: string;
  period: Period;
  summary: StatementTotals & { totalStudents?: number; activeStudents?: number };
  /** The largest invoice amount listed (cancelled included): sizes the printed money columns. */
  largestAmount: number;
  /** The longest invoice number listed: sizes the printed number column. */
  longestNumber: string | null;
  /** Whether names and references are masked for this reader. */
  pii: PiiVisibility;
  generatedAt: string;
  version: number;
}

export interface StatementExport {
  head: ExportHead;
  /** Every invoice of the statement, by due date, in bounded batches (one short query each). */
  batches(): AsyncGenerator<ExportRow[], void, undefined>;
  /** True when the school's billing data changed after `head` was read. */
  changedSince(): Promise<boolean>;
}

export interface StatementsServiceOptions {
  db: Db;
  cache: Cache<CachedStatement>;
  /** How long a cached statement may live (its key already makes it never stale). */
  cacheTtlMs: number;
  /** Rows per query of an export. */
  exportBatchSize?: number;
  repository?: StatementsRepository;
  now?: () => Date;
}

/** Who reads, as a Scope: anonymous readers see every school's public statements, masked. */
const ANONYMOUS_SCOPE: Scope = { schoolIds: 'all', pii: 'masked' };

export function createStatementsService(options: StatementsServiceOptions) {
  const { db, cache, cacheTtlMs } = options;
  const repository = options.repository ?? createStatementsRepository();
  const batchSize = options.exportBatchSize ?? 1000;
  const now = options.now ?? (() => new Date());

  const scopeOf = (principal: Principal | null): Scope => principal ?? ANONYMOUS_SCOPE;

  /** The subject if this reader may see it; otherwise the 401/404 that says nothing more. */
  function authorise<T extends SchoolSubject>(principal: Principal | null, subject: T | undefined, what: string): T {
    if (principal === null) {
      if (subject?.publicStatements !== true) {
        throw new AppError('UNAUTHENTICATED', 'an Authorization: Bearer <access token> header is required for this statement', {
          headers: { 'www-authenticate': 'Bearer' },
        });
      }
      return subject;
    }
    if (subject === undefined) {
      throw notFound(what);
    }
    return subject;
  }

  const findStudent = async (trx: DbOrTx, principal: Principal | null, id: string) =>
    authorise(principal, await repository.findStudent(trx, scopeOf(principal), id), 'student');
  const findSchool = async (trx: DbOrTx, principal: Principal | null, id: string) =>
    authorise(principal, await repository.findSchool(trx, scopeOf(principal), id), 'school');

  const cacheKey = (kind: CachedStatement['kind'], id: string, period: Period, pii: PiiVisibility, subject: SchoolSubject) =>
    // `statement:2`: the shape with cash paid and creditedAmount (entries of the older shape are never read).
    ['statement:2', kind, id, period.from ?? '', period.to ?? '', pii, subject.schoolId, subject.version, subject.today].join('|');

  /** One read-only snapshot: everything read inside agrees with everything else. */
  const snapshot = <T>(work: (trx: DbOrTx) => Promise<T>) =>
    db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(work);

  /**
   * The cached statement for this key, or a fresh one. The fresh one is stored under
   * the key of the snapshot it was read in (its version may be newer than the one the
   * lookup used, never older), so what is cached always matches its key.
   */
  async function cached<T>(
    key: string,
    unwrap: (entry: CachedStatement) => T | undefined,
    build: () => Promise<{ key: string; entry: CachedStatement; body: T }>,
  ): Promise<{ statement: T; cached: boolean }> {
    const hit = await cache.get(key);
    const body = hit === undefined ? undefined : unwrap(hit);
    if (body !== undefined) {
      return { statement: body, cached: true };
    }
    const fresh = await build();
    await cache.set(fresh.key, fresh.entry, cacheTtlMs);
    return { statement: fresh.body, cached: false };
  }

  const presentRow = (row: StatementInvoiceRow, scope: Scope, currency: string): ExportRow => ({
    id: row.id,
    number: row.number,
    studentId: row.studentId,
    studentName: studentName(row.firstName, row.lastName, scope),
    description: row.description,
    dueDate: row.dueDate,
    status: row.status,
    amount: row.amount,
    paidAmount: row.paidAmount,
    creditedAmount: row.creditedAmount,
    pendingAmount: row.pendingAmount,
    currency,
  });

  const presentPayment = (row: StatementPaymentRow, scope: Scope) => ({
    id: row.id,
    amount: row.amount,
    refundedAmount: row.refundedAmount,
    method: row.method,
    reference: scope.pii === 'clear' || row.reference === null ? row.reference : maskReference(row.reference),
    paidAt: row.paidAt.toISOString(),
  });

  async function openExport(
    principal: Principal | null,
    kind: 'student' | 'school',
    id: string,
    period: Period,
  ): Promise<StatementExport> {
    const scope = scopeOf(principal);
    const head = await snapshot(async (trx): Promise<{ head: ExportHead; filter: InvoiceFilter }> => {
      const student = kind === 'student' ? await findStudent(trx, principal, id) : undefined;
      const school = student ?? (await findSchool(trx, principal, id));
      const filter = filterOf(school.schoolId, student?.studentId, period);
      const totals = await repository.totals(trx, scope, filter);
      const counts = kind === 'school' ? await repository.studentCounts(trx, scope, school.schoolId) : {};
      const largestAmount = await repository.largestAmount(trx, scope, filter);
      const longestNumber = await repository.longestNumber(trx, scope, filter);
      return {
        filter,
        head: {
          kind,
          subjectId: id,
          schoolId: school.schoolId,
          schoolName: school.schoolName,
          schoolAddress: school.schoolAddress,
          schoolPhone: school.schoolPhone,
          timezone: school.timezone,
          today: school.today,
          studentId: student?.studentId ?? null,
          studentName: student ? studentName(student.firstName, student.lastName, scope) : null,
          currency: school.currency,
          period,
          summary: { ...counts, ...totals },
          largestAmount,
          longestNumber,
          pii: scope.pii,
          generatedAt: now().toISOString(),
          version: school.version,
        },
      };
    });
    return {
      head: head.head,
      async *batches() {
        let after: InvoiceCursor | undefined;
        for (;;) {
          const rows = await repository.invoiceBatch(db, scope, head.filter, after, batchSize);
          if (rows.length > 0) {
            yield rows.map((row) => presentRow(row, scope, head.head.currency));
          }
          const last = rows.at(-1);
          if (rows.length < batchSize || last === undefined) {
            return;
          }
          after = { dueDate: last.dueDate, id: last.id };
        }
      },
      async changedSince() {
        return (await repository.version(db, head.head.schoolId)) !== head.head.version;
      },
    };
  }

  return {
    /** The student's statement as JSON (cached), or 401/404 as above. */
    async studentStatement(principal: Principal | null, id: string, query: StatementQuery) {
      const period = periodOf(query);
      const scope = scopeOf(principal);
      const subject = await findStudent(db, principal, id);
      return cached(cacheKey('student', id, period, scope.pii, subject), (entry) => (entry.kind === 'student' ? entry.body : undefined), () =>
        snapshot(async (trx) => {
          const student = await findStudent(trx, principal, id);
          const filter = filterOf(student.schoolId, student.studentId, period);
          const summary = await repository.totals(trx, scope, filter);
          const rows = await repository.listInvoices(trx, scope, filter, MAX_STATEMENT_INVOICES + 1);
          const payments = await repository.listPayments(trx, scope, filter);
          const byInvoice = new Map<string, ReturnType<typeof presentPayment>[]>();
          for (const payment of payments) {
            const list = byInvoice.get(payment.invoiceId) ?? [];
            list.push(presentPayment(payment, scope));
            byInvoice.set(payment.invoiceId, list);
          }
          const body: StudentStatement = {
            studentId: student.studentId,
            studentName: studentName(student.firstName, student.lastName, scope),
            schoolId: student.schoolId,
            schoolName: student.schoolName,
            currency: student.currency,
            period,
            summary,
            invoices: rows.slice(0, MAX_STATEMENT_INVOICES).map((row) => ({
              id: row.id,
              number: row.number,
              description: row.description,
              amount: row.amount,
              paidAmount: row.paidAmount,
              creditedAmount: row.creditedAmount,
              pendingAmount: row.pendingAmount,
              status: row.status,
              dueDate: row.dueDate,
              payments: byInvoice.get(row.id) ?? [],
            })),
            invoicesTruncated: rows.length > MAX_STATEMENT_INVOICES,
            generatedAt: now().toISOString(),
          };
          return { key: cacheKey('student', id, period, scope.pii, student), entry: { kind: 'student', body }, body };
        }),
      );
    },

    /** The school's statement as JSON (cached), or 401/404 as above. */
    async schoolStatement(principal: Principal | null, id: string, query: StatementQuery) {
      const period = periodOf(query);
      const scope = scopeOf(principal);
      const subject = await findSchool(db, principal, id);
      return cached(cacheKey('school', id, period, scope.pii, subject), (entry) => (entry.kind === 'school' ? entry.body : undefined), () =>
        snapshot(async (trx) => {
          const school = await findSchool(trx, principal, id);
          const filter = filterOf(school.schoolId, undefined, period);
          const totals = await repository.totals(trx, scope, filter);
          const counts = await repository.studentCounts(trx, scope, school.schoolId);
          const rows = await repository.listInvoices(trx, scope, filter, MAX_STATEMENT_INVOICES + 1);
          const body: SchoolStatement = {
            schoolId: school.schoolId,
            schoolName: school.schoolName,
            currency: school.currency,
            period,
            summary: { ...counts, ...totals },
            invoices: rows.slice(0, MAX_STATEMENT_INVOICES).map((row) => ({
              id: row.id,
              number: row.number,
              studentId: row.studentId,
              studentName: studentName(row.firstName, row.lastName, scope),
              amount: row.amount,
              paidAmount: row.paidAmount,
              creditedAmount: row.creditedAmount,
              pendingAmount: row.pendingAmount,
              status: row.status,
              dueDate: row.dueDate,
            })),
            invoicesTruncated: rows.length > MAX_STATEMENT_INVOICES,
            generatedAt: now().toISOString(),
          };
          return { key: cacheKey('school', id, period, scope.pii, school), entry: { kind: 'school', body }, body };
        }),
      );
    },

    /** The student's statement for CSV/PDF: a header read now, rows streamed on demand. */
    studentExport(principal: Principal | null, id: string, query: StatementQuery): Promise<StatementExport> {
      return openExport(principal, 'student', id, periodOf(query));
    },

    schoolExport(principal: Principal | null, id: string, query: StatementQuery): Promise<StatementExport> {
      return openExport(principal, 'school', id, periodOf(query));
    },
  };
}

export type StatementsService = ReturnType<typeof createStatementsService>;

/** The period asked for; `from` after `to` is a 400 naming `from`. */
export function periodOf(query: StatementQuery): Period {
  const from = query.from ?? null;
  const to = query.to ?? null;
  // YYYY-MM-DD strings compare in calendar order.
  if (from !== null && to !== null && from > to) {
    const message = `must be on or before to (${to})`;
    throw new AppError('VALIDATION_FAILED', `invalid querystring: from ${message}`, { errors: [{ field: 'from', in: 'querystring', message }] });
  }
  return { from, to };
}

function filterOf(schoolId: string, studentId: string | undefined, period: Period): InvoiceFilter {
  return {
    schoolId,
    ...(studentId !== undefined ? { studentId } : {}),
    ...(period.from !== null ? { from: period.from } : {}),
    ...(period.to !== null ? { to: period.to } : {}),
  };
}
