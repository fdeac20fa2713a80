import { sql, type Selectable } from 'kysely';
import type { Db, DbOrTx, Tx } from '../../db/database.js';
import type { CheckoutSessionsTable, GatewayPaymentsTable, GatewayProvider, Language } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { ensureSystemUser } from '../auth/users.repository.js';

export const GATEWAY_USERNAME = 'gateway';

export type CheckoutRow = Selectable<CheckoutSessionsTable>;
type SessionStatus = CheckoutRow['status'];
type Outcome = GatewayPaymentsTable['outcome'];

/** The rows of online payment (migration 0025): checkout sessions and what each gateway payment became. */
export function createCheckoutRepository() {
  return {
    /** The gateway's own user, the author of what webhooks record (a system user). */
    ensureGatewayUser: (db: Db): Promise<string> => ensureSystemUser(db, GATEWAY_USERNAME),

    async insertSession(db: DbOrTx, values: Omit<CheckoutRow, 'status' | 'created_at'>): Promise<void> {
      await db.insertInto('checkout_sessions').values(values).execute();
    },

    findSession(db: DbOrTx, schoolId: string, provider: GatewayProvider, providerSessionId: string): Promise<CheckoutRow | undefined> {
      return db
        .selectFrom('checkout_sessions')
        .selectAll()
        .where('school_id', '=', schoolId)
        .where('provider', '=', provider)
        .where('provider_session_id', '=', providerSessionId)
        .executeTakeFirst();
    },

    async setSessionStatus(db: DbOrTx, session: Pick<CheckoutRow, 'school_id' | 'id'>, status: Exclude<SessionStatus, 'open'>, onlyFrom: readonly SessionStatus[]): Promise<void> {
      await db.updateTable('checkout_sessions').set({ status }).where('school_id', '=', session.school_id).where('id', '=', session.id).where('status', 'in', onlyFrom).execute();
    },

    /** The outcomes already recorded for a gateway payment id (locked, when asked, for the transaction). */
    async outcomesOf(db: DbOrTx, key: { schoolId: string; provider: GatewayProvider; paymentId: string }, options: { forUpdate?: boolean } = {}): Promise<Outcome[]> {
      let query = db
        .selectFrom('gateway_payments')
        .select('outcome')
        .where('school_id', '=', key.schoolId)
        .where('provider', '=', key.provider)
        .where('gateway_payment_id', '=', key.paymentId);
      if (options.forUpdate) {
        query = query.forUpdate();
      }
      return (await query.execute()).map((row) => row.outcome);
    },

    /** What a gateway payment became; its key (school, provider, payment id, outcome) makes it once. */
    async insertGatewayPayment(trx: Tx, values: Omit<Selectable<GatewayPaymentsTable>, 'created_at'>): Promise<void> {
      await trx.insertInto('gateway_payments').values(values).execute();
    },

    /** The school of an invoice a guardian's family is billed (family_invoices), or undefined. */
    async familyInvoiceSchool(db: DbOrTx, link: { schoolId: string; familyId: string }, invoiceId: string): Promise<string | undefined> {
      const { rows } = await sql<{ ok: boolean }>`select true as ok from family_invoices(${link.schoolId}::uuid, ${link.familyId}::uuid) fi where fi.id = ${invoiceId}::uuid`.execute(db);
      return rows.length > 0 ? link.schoolId : undefined;
    },

    /** The school of an invoice in the scope, or undefined. */
    async scopedInvoiceSchool(db: DbOrTx, scope: Scope, invoiceId: string): Promise<string | undefined> {
      return (await db.selectFrom('invoices').select('school_id').where('id', '=', invoiceId).where((eb) => inScope(eb, 'school_id', scope)).executeTakeFirst())?.school_id;
    },

    /** Whether a family (not deleted) is in the scope. */
    async scopedFamilyExists(db: DbOrTx, scope: Scope, familyId: string): Promise<boolean> {
      const row = await db.selectFrom('families').select('id').where('id', '=', familyId).where('deleted_at', 'is', null).where((eb) => inScope(eb, 'school_id', scope)).executeTakeFirst();
      return row !== undefined;
    },

    /** The school of the invoice a pay link names, or undefined. */
    async invoiceSchool(db: DbOrTx, invoiceId: string): Promise<string | undefined> {
      return (await db.selectFrom('invoices').select('school_id').where('id', '=', invoiceId).executeTakeFirst())?.school_id;
    },

    /** The invoice's school name, currency and family (its own, or its student's). */
    invoiceHead(db: DbOrTx, schoolId: string, invoiceId: string): Promise<{ schoolName: string; currency: string; familyId: string | null } | undefined> {
      return db
        .selectFrom('invoices as i')
        .innerJoin('schools as s', 's.id', 'i.school_id')
        .leftJoin('students as st', (join) => join.onRef('st.school_id', '=', 'i.school_id').onRef('st.id', '=', 'i.student_id'))
        .select(['s.name as schoolName', 's.currency', sql<string | null>`coalesce(i.family_id, st.family_id)`.as('familyId')])
        .where('i.school_id', '=', schoolId)
        .where('i.id', '=', invoiceId)
        .executeTakeFirst();
    },

    /** Whom a family's checkout addresses: its primary guardian's language and e-mail (es and none without one). */
    async familyContact(db: DbOrTx, schoolId: string, familyId: string): Promise<{ language: Language; email: string | null }> {
      const row = await db
        .selectFrom('families as f')
        .leftJoin('guardians as g', (join) => join.onRef('g.school_id', '=', 'f.school_id').onRef('g.family_id', '=', 'f.id').on('g.deleted_at', 'is', null))
        .select(['g.preferred_language as language', 'g.email'])
        .where('f.school_id', '=', schoolId)
        .where('f.id', '=', familyId)
        .orderBy('g.is_primary', 'desc')
        .orderBy('g.created_at')
        .limit(1)
        .executeTakeFirst();
      return { language: row?.language ?? 'es', email: row?.email ?? null };
    },
  };
}

export type CheckoutRepository = ReturnType<typeof createCheckoutRepository>;
