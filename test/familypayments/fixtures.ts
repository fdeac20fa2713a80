import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';

/**
 * Families, guardians, students and family invoices written straight to the database
 * (no routes of other modules), for the tests of family payments and receipts. An
 * invoice gets its one charge line (amount = Σ lines), family_id and optionally a payer,
 * as a bill run would leave it.
 */

let sequence = 0;
const next = () => ++sequence;

export const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

export async function createSchool(
  db: Db,
  values: { name?: string; currency?: string; timezone?: string; address?: string | null; phone?: string | null } = {},
): Promise<string> {
  const row = await db
    .insertInto('schools')
    .values({
      name: values.name ?? `Colegio Familias ${next()}`,
      currency: values.currency ?? 'MXN',
      timezone: values.timezone ?? 'America/Mexico_City',
      address: values.address ?? null,
      phone: values.phone ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface FamilyFixture {
  id: string;
  schoolId: string;
  reference: string;
  guardians: string[];
  students: string[];
}

export async function createFamily(
  db: Db,
  schoolId: string,
  values: {
    name?: string;
    language?: 'es' | 'en';
    guardians?: { firstName: string; lastName: string }[];
    students?: { firstName: string; lastName: string; grade?: string }[];
  } = {},
): Promise<FamilyFixture> {
  const n = next();
  const reference = `FX-${String(n).padStart(6, '0')}-${n % 10}`;
  const family = await db
    .insertInto('families')
    .values({ school_id: schoolId, name: values.name ?? `Familia ${n}`, reference, preferred_language: values.language ?? 'es' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const guardians: string[] = [];
  for (const [index, guardian] of (values.guardians ?? [{ firstName: 'Gina', lastName: `Guardian${n}` }]).entries()) {
    const row = await db
      .insertInto('guardians')
      .values({ school_id: schoolId, family_id: family.id, first_name: guardian.firstName, last_name: guardian.lastName, is_primary: index === 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    guardians.push(row.id);
  }
  const students: string[] = [];
  for (const student of values.students ?? [{ firstName: 'Sofi', lastName: `Student${n}` }]) {
    const row = await db
      .insertInto('students')
      .values({ school_id: schoolId, first_name: student.firstName, last_name: student.lastName, grade: student.grade ?? '3', family_id: family.id })
      .returning('id')
      .executeTakeFirstOrThrow();
    students.push(row.id);
  }
  return { id: family.id, schoolId, reference, guardians, students };
}

/** An invoice of a family's student with its charge line; `familyId: null` bills the student directly (POST /invoices' shape). */
export async function createInvoice(
  db: Db,
  values: {
    schoolId: string;
    studentId: string;
    familyId: string | null;
    amount: number;
    dueDate: string;
    payerGuardianId?: string | null;
    description?: string;
    number?: string;
    cancelled?: boolean;
  },
): Promise<string> {
  const n = next();
  const description = values.description ?? `Colegiatura ${n}`;
  const invoice = await db
    .insertInto('invoices')
    .values({
      school_id: values.schoolId,
      student_id: values.studentId,
      family_id: values.familyId,
      payer_guardian_id: values.payerGuardianId ?? null,
      number: values.number ?? `FP-${String(n).padStart(6, '0')}`,
      description,
      amount: values.amount,
      due_date: values.dueDate,
      cancelled_at: values.cancelled ? new Date() : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('invoice_lines')
    .values({ school_id: values.schoolId, invoice_id: invoice.id, kind: 'charge', code: 'fee', description, amount: values.amount })
    .execute();
  return invoice.id;
}

/** The invoice's money figures as stored. */
export async function invoiceFigures(db: Db, id: string): Promise<{ amount: number; paid: number; open: number }> {
  const row = await db.selectFrom('invoices').select(['amount', 'paid_amount']).where('id', '=', id).executeTakeFirstOrThrow();
  return { amount: row.amount, paid: row.paid_amount, open: row.amount - row.paid_amount };
}

export async function creditOf(db: Db, familyId: string): Promise<number> {
  return (await db.selectFrom('families').select('credit_balance').where('id', '=', familyId).executeTakeFirstOrThrow()).credit_balance;
}

/**
 * Both sides of the SPEC §7 invariant for one family, computed from the money rows:
 *   charges + late fees − discounts − credit notes − write-offs − payments + refunds
 *     = open amount − credit
 * where payments are direct payments on the family's invoices plus family payments in
 * full (allocated and credited); invoices of the family are those billed to it and
 * those billed directly to its students; cancelled invoices count neither side.
 */
export async function familyInvariant(db: Db, familyId: string): Promise<{ left: number; right: number }> {
  const { rows } = await sql<{ left: number; right: number }>`
    with fam as (select school_id, id, credit_balance from families where id = ${familyId}),
    inv as (
      select i.* from invoices i, fam
       where i.school_id = fam.school_id and i.cancelled_at is null
         and (i.family_id = fam.id or (i.family_id is null and i.student_id in (select st.id from students st where st.school_id = fam.school_id and st.family_id = fam.id)))
    )
    select
      (coalesce((select sum(l.amount) from invoice_lines l join inv on inv.id = l.invoice_id and inv.school_id = l.school_id), 0)
       - coalesce((select sum(a.amount) from invoice_adjustments a join inv on inv.id = a.invoice_id and inv.school_id = a.school_id), 0)
       - coalesce((select sum(p.amount) from payments p join inv on inv.id = p.invoice_id and inv.school_id = p.school_id where p.family_payment_id is null), 0)
       - coalesce((select sum(fp.amount) from family_payments fp, fam where fp.school_id = fam.school_id and fp.family_id = fam.id), 0)
       + coalesce((select sum(r.amount) from refunds r join inv on inv.id = r.invoice_id and inv.school_id = r.school_id), 0))::bigint as "left",
      (coalesce((select sum(amount - paid_amount) from inv), 0) - (select credit_balance from fam))::bigint as "right"`.execute(db);
  const row = rows[0];
  return { left: Number(row?.left), right: Number(row?.right) };
}
