import type { Db, DbOrTx } from '../../db/database.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { localDate } from '../../shared/locale.js';
import { maskName, maskReference } from '../../shared/masking.js';
import type { PiiVisibility } from '../../shared/policy.js';
import type { Scope } from '../../shared/scope.js';
import { periodOf } from '../billing/statements.service.js';
import { printedFamilyPayLink, type PrintedPayLink } from '../invoicedocs/paylink-qr.js';
import { familyDue } from '../paylinks/paylinks.repository.js';
import { studentName } from '../billing/students.repository.js';
import { presentFamily } from './families.repository.js';
import { MAX_STUDENTS_PER_FAMILY } from './membership.js';
import { createStatementRepository, type StatementEntryRow, type StatementRepository } from './statement.repository.js';
import { MAX_FAMILY_STATEMENT_ENTRIES, type FamilyStatement, type FamilyStatementEntry, type FamilyStatementQuery } from './statement.schemas.js';

/**
 * The family statement (SPEC §7): every sibling's invoices, payments, refunds, credit
 * notes, write-offs, family payments and credit in one account, with the family
 * reference, the opening balance (every movement before `from`), a running balance and
 * the closing balance. Read in one REPEATABLE READ snapshot, so the figures, the
 * entries and the balances agree with each other. JSON, CSV and PDF are the same
 * statement (statement.render.ts draws the last two from it).
 */

/** What a printed or CSV statement needs besides the JSON body. */
export interface FamilyStatementDocument {
  body: FamilyStatement;
  schoolAddress: string | null;
  schoolPhone: string | null;
  /** The school's date when it was made (file names). */
  today: string;
  pii: PiiVisibility;
  /**
   * The printed statement's QR code: a link to pay what the family owes today (its open
   * invoices, whatever the period), with that amount; null when it owes nothing or the
   * caller did not ask for one.
   */
  payLink: (PrintedPayLink & { owed: number }) | null;
}

export interface FamilyStatementServiceOptions {
  db: Db;
  clock: Clock;
  repository?: StatementRepository;
  /** The base of pay links (config.publicUrl); without it no statement carries one. */
  publicUrl?: string;
}

export function createFamilyStatementService(options: FamilyStatementServiceOptions) {
  const { db, clock, publicUrl } = options;
  const repository = options.repository ?? createStatementRepository();

  const snapshot = <T>(work: (trx: DbOrTx) => Promise<T>) =>
    db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(work);

  const presentEntry = (row: StatementEntryRow, scope: Scope, balance: number): FamilyStatementEntry => ({
    date: row.date,
    at: row.at === null ? null : row.at.toISOString(),
    kind: row.kind,
    studentId: row.studentId,
    studentName: row.firstName === null || row.lastName === null ? null : studentName(row.firstName, row.lastName, scope),
    invoiceId: row.invoiceId,
    invoiceNumber: row.invoiceNumber,
    dueDate: row.dueDate,
    status: row.status,
    pendingAmount: row.pendingAmount,
    paidAmount: row.paidAmount,
    creditedAmount: row.creditedAmount,
    document: row.document,
    method: row.method,
    reference: row.reference === null || scope.pii === 'clear' ? row.reference : maskReference(row.reference),
    note: row.note,
    amount: row.amount,
    debit: row.debit,
    credit: row.credit,
    creditAdded: row.creditAdded,
    creditUsed: row.creditUsed,
    balance,
  });

  return {
    /**
     * The statement of a family the caller may see (404 otherwise), for `from`..`to` (a
     * `from` after `to` is a 400 naming `from`); with `payLink`, a link to pay what it
     * owes today when it owes something (for the printed statement's QR code).
     */
    async statement(scope: Scope, familyId: string, query: FamilyStatementQuery, print: { payLink?: boolean } = {}): Promise<FamilyStatementDocument> {
      const period = periodOf(query);
      return snapshot(async (trx) => {
        const subject = await repository.findSubject(trx, scope, familyId, MAX_STUDENTS_PER_FAMILY);
        if (!subject) {
          throw notFound('family');
        }
        const { figures, entries: rows } = await repository.statement(trx, subject, period, MAX_FAMILY_STATEMENT_ENTRIES + 1);
        const { primaryGuardian: guardian, students } = subject;
        let balance = figures.openingBalance;
        const entries = rows.slice(0, MAX_FAMILY_STATEMENT_ENTRIES).map((row) => {
          balance += row.debit - row.credit;
          return presentEntry(row, scope, balance);
        });
        const now = new Date(clock.now());
        const position = (value: number, credit: number) => ({ balance: value, owed: value + credit, credit });
        const body: FamilyStatement = {
          familyId: subject.familyId,
          familyName: presentFamily({ name: subject.familyName }, scope).name,
          reference: subject.reference,
          primaryGuardian: guardian === null ? null : scope.pii === 'clear' ? `${guardian.firstName} ${guardian.lastName}` : maskName(guardian.firstName, guardian.lastName),
          schoolId: subject.schoolId,
          schoolName: subject.schoolName,
          currency: subject.currency,
          timezone: subject.timezone,
          period,
          students: students.map((student) => ({ id: student.id, name: studentName(student.firstName, student.lastName, scope), grade: student.grade })),
          opening: position(figures.openingBalance, figures.openingCredit),
          closing: position(figures.closingBalance, figures.closingCredit),
          summary: {
            invoiced: figures.invoiced,
            paid: figures.paid,
            refunded: figures.refunded,
            creditNotes: figures.creditNotes,
            writeOffs: figures.writeOffs,
            credited: figures.creditNotes + figures.writeOffs,
            creditAdded: figures.creditAdded,
            creditUsed: figures.creditUsed,
          },
          entries,
          entriesTruncated: rows.length > MAX_FAMILY_STATEMENT_ENTRIES,
          generatedAt: now.toISOString(),
        };
        const owed = print.payLink === true && publicUrl !== undefined ? ((await familyDue(trx, subject.familyId))?.owed ?? 0) : 0;
        const payLink = owed > 0 && publicUrl !== undefined ? { ...(await printedFamilyPayLink(db, publicUrl, subject.familyId, now.getTime())), owed } : null;
        return { body, schoolAddress: subject.schoolAddress, schoolPhone: subject.schoolPhone, today: localDate(now, subject.timezone), pii: scope.pii, payLink };
      });
    },
  };
}

export type FamilyStatementService = ReturnType<typeof createFamilyStatementService>;
