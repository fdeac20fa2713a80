import type { Db } from '../../db/database.js';
import type { Language } from '../../db/types.js';
import { notFound } from '../../shared/errors.js';
import { utcOffsetIn, wallClockIn } from '../../shared/locale.js';
import { maskName, maskReference } from '../../shared/masking.js';
import type { Scope } from '../../shared/scope.js';
import type { ReceiptsRepository } from './receipts.repository.js';
import type { ReceiptDocument } from './receipts.schemas.js';

/** A receipt as the caller may see it, and what the PDF needs besides. */
export interface Receipt {
  document: ReceiptDocument;
  /** The family's language, the PDF's default when the request names none. */
  familyLanguage: Language | null;
}

/**
 * "Pérez García" → "P. G."; "Familia Pérez García" → "F. G.": a family's name is a
 * surname, PII like a student's; masked to the initials of its first and last words.
 */
export function maskFamilyName(name: string): string {
  const words = name.trim().split(/\s+/);
  return words.length > 1 ? maskName(words[0] ?? '', words.at(-1)) : maskName(name);
}

/** 2026-12-02T12:45:00-06:00: the instant on the zone's wall clock, with its offset. */
export function localIso(at: Date, timeZone: string): string {
  const wall = wallClockIn(at, timeZone).toISOString().slice(0, 19);
  const offset = utcOffsetIn(at, timeZone).slice(3);
  return `${wall}${offset === '+00:00' ? 'Z' : offset}`;
}

export type ReceiptsService = ReturnType<typeof createReceiptsService>;

/**
 * Receipts (SPEC §7): one per money received — a direct payment, or a family payment
 * with all its allocations. Asked for by a payment id, an allocation of a family
 * payment answers its family payment's receipt; a family payment's own id answers it
 * too (one that went wholly to credit has no payment row). Names and references are
 * masked for roles that see PII masked.
 */
export function createReceiptsService(deps: { db: Db; repository: ReceiptsRepository; now?: () => Date }) {
  const { db, repository } = deps;
  const now = deps.now ?? (() => new Date());

  return {
    /** With `family`, only a receipt of that family's money is found (the portal's guardians); any other is a 404. */
    async getReceipt(scope: Scope, id: string, options: { family?: { schoolId: string; familyId: string } } = {}): Promise<Receipt> {
      const resolved = await repository.resolve(db, scope, id);
      const subject = resolved === undefined || options.family === undefined || (await repository.isOfFamily(db, resolved, options.family)) ? resolved : undefined;
      const found =
        subject === undefined
          ? undefined
          : subject.kind === 'payment'
            ? await repository.directPayment(db, subject)
            : await repository.familyPayment(db, subject);
      if (subject === undefined || found === undefined) {
        throw notFound('payment');
      }
      const { head, lines } = found;
      const clear = scope.pii === 'clear';
      const person = (p: { firstName: string; lastName: string }) => (clear ? `${p.firstName} ${p.lastName}` : maskName(p.firstName, p.lastName));
      const familyName = head.familyName === null ? null : clear ? head.familyName : maskFamilyName(head.familyName);
      const payer = head.payer !== null ? person(head.payer) : (familyName ?? (head.student !== null ? person(head.student) : ''));

      let students = [...new Set(lines.map((line) => person(line.student)))];
      if (students.length === 0 && head.familyId !== null) {
        students = [...new Set((await repository.familyStudents(db, head.schoolId, head.familyId)).map(person))];
      }
      const asOf = now();
      const balanceLeft = await repository.balance(db, head.schoolId, head.balanceOf);

      const document: ReceiptDocument = {
        kind: subject.kind,
        paymentId: head.paymentId,
        familyPaymentId: head.familyPaymentId,
        number: head.number,
        schoolId: head.schoolId,
        schoolName: head.schoolName,
        schoolAddress: head.schoolAddress,
        schoolPhone: head.schoolPhone,
        familyId: head.familyId,
        familyReference: head.familyReference === null || clear ? head.familyReference : maskReference(head.familyReference),
        payer,
        students,
        lines: lines.map((line) => ({
          paymentId: line.paymentId,
          invoiceId: line.invoiceId,
          invoiceNumber: line.invoiceNumber,
          description: line.description,
          studentName: person(line.student),
          amount: line.amount,
          refunded: line.refunded,
        })),
        credited: head.credited,
        total: head.amount,
        refunded: lines.reduce((sum, line) => sum + line.refunded, 0),
        currency: head.currency,
        method: head.method,
        reference: head.reference === null || clear ? head.reference : maskReference(head.reference),
        paidAt: head.paidAt.toISOString(),
        localPaidAt: localIso(head.paidAt, head.timezone),
        timeZone: head.timezone,
        balanceLeft,
        balanceAsOf: asOf.toISOString(),
      };
      return { document, familyLanguage: head.familyLanguage };
    },
  };
}
