import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';

/** What a family owes now (its open invoices, SQL family_invoices), with its school; undefined for a deleted or unknown family. */
export async function familyDue(db: DbOrTx, familyId: string): Promise<{ schoolId: string; schoolName: string; currency: string; reference: string; owed: number } | undefined> {
  const { rows } = await sql<{ schoolId: string; schoolName: string; currency: string; reference: string; owed: string }>`
    select f.school_id as "schoolId", s.name as "schoolName", s.currency, f.reference,
           (select coalesce(sum(fi.amount - fi.paid_amount), 0) from family_invoices(f.school_id, f.id) fi where fi.cancelled_at is null)::text as owed
      from families f join schools s on s.id = f.school_id
     where f.id = ${familyId}::uuid and f.deleted_at is null`.execute(db);
  const row = rows[0];
  return row === undefined ? undefined : { ...row, owed: Number(row.owed) };
}
