import type { DbOrTx } from '../../db/database.js';
import type { Language } from '../../db/types.js';

/** Who and where an invoice is for, in clear (the service masks for the reader). */
export interface InvoiceParties {
  schoolName: string;
  schoolAddress: string | null;
  schoolPhone: string | null;
  timezone: string;
  student: { firstName: string; lastName: string };
  /** The invoice's family: the one it is billed to, else its student's (as receipts read it). */
  family: { id: string; name: string; reference: string; language: Language } | null;
  /** The guardian who pays this invoice (a split between payers), if any. */
  payer: { firstName: string; lastName: string; language: Language } | null;
}

/**
 * The SQL behind the printed invoice. The invoice itself (figures, lines, status) comes
 * from the billing service, in the caller's scope; this reads only the names around it,
 * for an invoice already found there, by its school and id.
 */
export function createInvoiceDocsRepository() {
  return {
    async parties(db: DbOrTx, invoice: { schoolId: string; id: string }): Promise<InvoiceParties | undefined> {
      const row = await db
        .selectFrom('invoices as i')
        .innerJoin('schools as s', 's.id', 'i.school_id')
        .innerJoin('students as st', (join) => join.onRef('st.school_id', '=', 'i.school_id').onRef('st.id', '=', 'i.student_id'))
        .leftJoin('families as f', (join) =>
          join.onRef('f.school_id', '=', 'i.school_id').on((eb) => eb('f.id', '=', eb.fn.coalesce('i.family_id', 'st.family_id'))).on('f.deleted_at', 'is', null),
        )
        .leftJoin('guardians as g', (join) => join.onRef('g.school_id', '=', 'i.school_id').onRef('g.id', '=', 'i.payer_guardian_id'))
        .select([
          's.name as schoolName',
          's.address as schoolAddress',
          's.phone as schoolPhone',
          's.timezone',
          'st.first_name as studentFirst',
          'st.last_name as studentLast',
          'f.id as familyId',
          'f.name as familyName',
          'f.reference as familyReference',
          'f.preferred_language as familyLanguage',
          'g.first_name as payerFirst',
          'g.last_name as payerLast',
          'g.preferred_language as payerLanguage',
        ])
        .where('i.school_id', '=', invoice.schoolId)
        .where('i.id', '=', invoice.id)
        .executeTakeFirst();
      if (row === undefined) {
        return undefined;
      }
      return {
        schoolName: row.schoolName,
        schoolAddress: row.schoolAddress,
        schoolPhone: row.schoolPhone,
        timezone: row.timezone,
        student: { firstName: row.studentFirst, lastName: row.studentLast },
        family:
          row.familyId === null || row.familyName === null || row.familyReference === null || row.familyLanguage === null
            ? null
            : { id: row.familyId, name: row.familyName, reference: row.familyReference, language: row.familyLanguage },
        payer:
          row.payerFirst === null || row.payerLast === null || row.payerLanguage === null
            ? null
            : { firstName: row.payerFirst, lastName: row.payerLast, language: row.payerLanguage },
      };
    },
  };
}

export type InvoiceDocsRepository = ReturnType<typeof createInvoiceDocsRepository>;
