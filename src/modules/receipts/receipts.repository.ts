import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { Language, PaymentMethod } from '../../db/types.js';
import { inScopeSql, type Scope } from '../../shared/scope.js';
import { ofFamily } from '../familypayments/familypayments.repository.js';

/** What a receipt is about: a direct payment, or a family payment (all its allocations). */
export type ReceiptSubject = { kind: 'payment'; schoolId: string; paymentId: string } | { kind: 'family_payment'; schoolId: string; familyPaymentId: string };

interface Person {
  firstName: string;
  lastName: string;
}

/** The school, the payer and the money of one receipt, in clear (the service masks). */
export interface ReceiptHead {
  paymentId: string | null;
  familyPaymentId: string | null;
  number: string | null;
  schoolId: string;
  schoolName: string;
  schoolAddress: string | null;
  schoolPhone: string | null;
  schoolEmail: string | null;
  currency: string;
  timezone: string;
  familyId: string | null;
  familyName: string | null;
  familyReference: string | null;
  familyLanguage: Language | null;
  /** The guardian who paid (a family payment's payer, or the payer of a direct payment's invoice). */
  payer: Person | null;
  /** A direct payment's student: the payer when there is neither guardian nor family. */
  student: Person | null;
  amount: number;
  credited: number;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  /** Whose balance the receipt shows: the payer's invoices, the family's, or the student's. */
  balanceOf: { payerGuardianId: string | null; familyId: string | null; studentId: string | null };
}

export interface ReceiptLine {
  paymentId: string;
  invoiceId: string;
  invoiceNumber: string;
  description: string | null;
  student: Person;
  amount: number;
  refunded: number;
}

/**
 * The columns of a receipt's parties, read the same way for a direct payment and a
 * family payment: the school (alias s), the family (f) and the paying guardian (g).
 */
const partyColumns = sql`g.first_name as "guardianFirst", g.last_name as "guardianLast",
               f.id as "familyId", f.name as "familyName", f.reference as "familyReference", f.preferred_language as "familyLanguage",
               s.name as "schoolName", s.address as "schoolAddress", s.phone as "schoolPhone", s.email as "schoolEmail", s.currency, s.timezone`;

type PartyKey = 'schoolName' | 'schoolAddress' | 'schoolPhone' | 'schoolEmail' | 'currency' | 'timezone' | 'familyId' | 'familyName' | 'familyReference' | 'familyLanguage';
type PartyRow = Pick<ReceiptHead, PartyKey> & { guardianFirst: string | null; guardianLast: string | null };

/** The head's school, family and payer from partyColumns. */
function partiesOf(row: PartyRow): Pick<ReceiptHead, PartyKey | 'payer'> {
  return {
    schoolName: row.schoolName,
    schoolAddress: row.schoolAddress,
    schoolPhone: row.schoolPhone,
    schoolEmail: row.schoolEmail,
    currency: row.currency,
    timezone: row.timezone,
    familyId: row.familyId,
    familyName: row.familyName,
    familyReference: row.familyReference,
    familyLanguage: row.familyLanguage,
    payer: row.guardianFirst !== null && row.guardianLast !== null ? { firstName: row.guardianFirst, lastName: row.guardianLast } : null,
  };
}

/**
 * The SQL behind GET /payments/:id/receipt. Every read is in the caller's scope (a
 * school_admin's other schools are missing, 404); names come back in clear and the
 * service masks them for the caller.
 */
export function createReceiptsRepository() {
  return {
    /**
     * What `id` names: a payment (its family payment, when it is one's allocation), or
     * else a family payment itself (one that went wholly to credit has no payment row).
     */
    async resolve(db: DbOrTx, scope: Scope, id: string): Promise<ReceiptSubject | undefined> {
      const { rows } = await sql<{ kind: 'payment' | 'family_payment'; schoolId: string; paymentId: string | null; familyPaymentId: string | null }>`
        select 'payment' as kind, p.school_id as "schoolId", p.id as "paymentId", p.family_payment_id as "familyPaymentId"
          from payments p join schools s on s.id = p.school_id
         where p.id = ${id} and s.deleted_at is null and ${inScopeSql('p.school_id', scope)}
        union all
        select 'family_payment', fp.school_id, null, fp.id
          from family_payments fp join schools s on s.id = fp.school_id
         where fp.id = ${id} and s.deleted_at is null and ${inScopeSql('fp.school_id', scope)}
        limit 1`.execute(db);
      const row = rows[0];
      if (row === undefined) {
        return undefined;
      }
      if (row.familyPaymentId !== null) {
        return { kind: 'family_payment', schoolId: row.schoolId, familyPaymentId: row.familyPaymentId };
      }
      return { kind: 'payment', schoolId: row.schoolId, paymentId: row.paymentId ?? id };
    },

    /**
     * Whether the receipt's money is a family's (the portal shows a guardian only their
     * own): a payment on one of its invoices (family_invoices: billed to it or to its
     * students), or one of its family payments.
     */
    async isOfFamily(db: DbOrTx, subject: ReceiptSubject, family: { schoolId: string; familyId: string }): Promise<boolean> {
      if (subject.schoolId !== family.schoolId) {
        return false;
      }
      const { rows } =
        subject.kind === 'payment'
          ? await sql<{ ok: boolean }>`
              select true as ok from payments p
               where p.school_id = ${subject.schoolId} and p.id = ${subject.paymentId}
                 and p.invoice_id in (select fi.id from family_invoices(${family.schoolId}::uuid, ${family.familyId}::uuid) fi)`.execute(db)
          : await sql<{ ok: boolean }>`
              select true as ok from family_payments fp
               where fp.school_id = ${subject.schoolId} and fp.id = ${subject.familyPaymentId} and fp.family_id = ${family.familyId}`.execute(db);
      return rows.length > 0;
    },

    /** A direct payment's receipt head and its one line. */
    async directPayment(db: DbOrTx, subject: { schoolId: string; paymentId: string }): Promise<{ head: ReceiptHead; lines: ReceiptLine[] } | undefined> {
      const { rows } = await sql<{
        paymentId: string; number: string | null; amount: number; refunded: number; method: PaymentMethod; reference: string | null; paidAt: Date;
        invoiceId: string; invoiceNumber: string; description: string | null; studentId: string; studentFirst: string; studentLast: string;
        payerGuardianId: string | null;
      } & PartyRow>`
        select p.id as "paymentId", r.number, p.amount,
               coalesce((select sum(x.amount) from refunds x where x.school_id = p.school_id and x.payment_id = p.id), 0)::bigint as refunded,
               p.method, p.reference, p.paid_at as "paidAt",
               i.id as "invoiceId", i.number as "invoiceNumber", i.description,
               st.id as "studentId", st.first_name as "studentFirst", st.last_name as "studentLast",
               i.payer_guardian_id as "payerGuardianId", ${partyColumns}
          from payments p
          join invoices i on i.school_id = p.school_id and i.id = p.invoice_id
          join students st on st.school_id = i.school_id and st.id = i.student_id
          join schools s on s.id = p.school_id
          left join families f on f.school_id = i.school_id and f.id = coalesce(i.family_id, st.family_id)
          left join guardians g on g.school_id = i.school_id and g.id = i.payer_guardian_id
          left join receipts r on r.school_id = p.school_id and r.payment_id = p.id
         where p.school_id = ${subject.schoolId} and p.id = ${subject.paymentId}`.execute(db);
      const row = rows[0];
      if (row === undefined) {
        return undefined;
      }
      const head: ReceiptHead = {
        paymentId: row.paymentId,
        familyPaymentId: null,
        number: row.number,
        schoolId: subject.schoolId,
        ...partiesOf(row),
        student: { firstName: row.studentFirst, lastName: row.studentLast },
        amount: row.amount,
        credited: 0,
        method: row.method,
        reference: row.reference,
        paidAt: row.paidAt,
        balanceOf: { payerGuardianId: row.payerGuardianId, familyId: row.familyId, studentId: row.studentId },
      };
      const line: ReceiptLine = {
        paymentId: row.paymentId,
        invoiceId: row.invoiceId,
        invoiceNumber: row.invoiceNumber,
        description: row.description,
        student: { firstName: row.studentFirst, lastName: row.studentLast },
        amount: row.amount,
        refunded: row.refunded,
      };
      return { head, lines: [line] };
    },

    /** A family payment's receipt head and its lines (its allocations, oldest due date first). */
    async familyPayment(db: DbOrTx, subject: { schoolId: string; familyPaymentId: string }): Promise<{ head: ReceiptHead; lines: ReceiptLine[] } | undefined> {
      const { rows } = await sql<{
        id: string; number: string | null; amount: number; credited: number; method: PaymentMethod; reference: string | null; paidAt: Date;
        payerGuardianId: string | null;
      } & PartyRow & { familyId: string }>`
        select fp.id, r.number, fp.amount, fp.credited, fp.method, fp.reference, fp.paid_at as "paidAt",
               fp.payer_guardian_id as "payerGuardianId", ${partyColumns}
          from family_payments fp
          join families f on f.school_id = fp.school_id and f.id = fp.family_id
          join schools s on s.id = fp.school_id
          left join guardians g on g.school_id = fp.school_id and g.id = fp.payer_guardian_id
          left join receipts r on r.school_id = fp.school_id and r.family_payment_id = fp.id
         where fp.school_id = ${subject.schoolId} and fp.id = ${subject.familyPaymentId}`.execute(db);
      const row = rows[0];
      if (row === undefined) {
        return undefined;
      }
      const lines = await sql<{
        paymentId: string; invoiceId: string; invoiceNumber: string; description: string | null; firstName: string; lastName: string; amount: number; refunded: number;
      }>`
        select p.id as "paymentId", i.id as "invoiceId", i.number as "invoiceNumber", i.description,
               st.first_name as "firstName", st.last_name as "lastName", p.amount,
               coalesce((select sum(x.amount) from refunds x where x.school_id = p.school_id and x.payment_id = p.id), 0)::bigint as refunded
          from payments p
          join invoices i on i.school_id = p.school_id and i.id = p.invoice_id
          join students st on st.school_id = i.school_id and st.id = i.student_id
         where p.school_id = ${subject.schoolId} and p.family_payment_id = ${subject.familyPaymentId}
         order by i.due_date, i.id`.execute(db);
      const head: ReceiptHead = {
        paymentId: null,
        familyPaymentId: row.id,
        number: row.number,
        schoolId: subject.schoolId,
        ...partiesOf(row),
        student: null,
        amount: row.amount,
        credited: row.credited,
        method: row.method,
        reference: row.reference,
        paidAt: row.paidAt,
        balanceOf: { payerGuardianId: row.payerGuardianId, familyId: row.familyId, studentId: null },
      };
      return {
        head,
        lines: lines.rows.map((line) => ({
          paymentId: line.paymentId,
          invoiceId: line.invoiceId,
          invoiceNumber: line.invoiceNumber,
          description: line.description,
          student: { firstName: line.firstName, lastName: line.lastName },
          amount: line.amount,
          refunded: line.refunded,
        })),
      };
    },

    /** The family's children (for a payment that went wholly to credit), in a stable order. */
    async familyStudents(db: DbOrTx, schoolId: string, familyId: string): Promise<Person[]> {
      return db
        .selectFrom('students')
        .select(['first_name as firstName', 'last_name as lastName'])
        .where('school_id', '=', schoolId)
        .where('family_id', '=', familyId)
        .where('deleted_at', 'is', null)
        .orderBy('created_at')
        .orderBy('id')
        .limit(50)
        .execute();
    },

    /**
     * The balance left as it stands now: what is still open on the payer's invoices
     * (a guardian who pays a share), else on the family's (ofFamily: its invoices and
     * those billed directly to its students), else on the student's (no family); and
     * the family's unapplied credit (0 without a family). Cancelled invoices count for
     * nothing.
     */
    async balance(db: DbOrTx, schoolId: string, of: ReceiptHead['balanceOf']): Promise<{ owed: number; credit: number }> {
      const { rows } = await sql<{ owed: number; credit: number }>`
        select coalesce((select sum(invoices.amount - invoices.paid_amount) from invoices
                          where invoices.school_id = ${schoolId} and invoices.cancelled_at is null
                            and ${
                              of.payerGuardianId !== null && of.familyId !== null
                                ? sql`invoices.payer_guardian_id = ${of.payerGuardianId}::uuid and ${ofFamily(schoolId, of.familyId)}`
                                : of.familyId !== null
                                  ? ofFamily(schoolId, of.familyId)
                                  : sql`invoices.student_id = ${of.studentId}::uuid`
                            }), 0)::bigint as owed,
               coalesce((select f.credit_balance from families f where f.school_id = ${schoolId} and f.id = ${of.familyId}::uuid), 0)::bigint as credit`.execute(db);
      const row = rows[0];
      return { owed: Number(row?.owed ?? 0), credit: Number(row?.credit ?? 0) };
    },
  };
}

export type ReceiptsRepository = ReturnType<typeof createReceiptsRepository>;
