import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { SchoolLanguage } from '../../db/types.js';
import { normaliseEmail } from '../../shared/email.js';
import { inScope, type Scope } from '../../shared/scope.js';

export interface SchoolRow {
  id: string;
  name: string;
  address: string | null;
  phone: string | null;
  email: string | null;
  currency: string;
  timezone: string;
  /** The language Bursar writes the school's invoices in (month names, late fees). */
  language: SchoolLanguage;
  isActive: boolean;
  publicStatements: boolean;
  /** Created by the demo seed; the only schools the demo simulator may act on. */
  isDemo: boolean;
  /** The simulator's switch for this school; always false for a school that is not a demo school. */
  simulatorEnabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface SchoolValues {
  name: string;
  address?: string | null;
  phone?: string | null;
  email?: string | null;
  currency?: string;
  timezone?: string;
  /** null: the currency's (migration 0041's trigger). */
  language?: SchoolLanguage | null;
  isActive?: boolean;
  publicStatements?: boolean;
  simulatorEnabled?: boolean;
}

const columns = [
  'schools.id',
  'schools.name',
  'schools.address',
  'schools.phone',
  'schools.email',
  'schools.currency',
  'schools.timezone',
  'schools.language',
  'schools.is_active as isActive',
  'schools.public_statements as publicStatements',
  'schools.is_demo as isDemo',
  // Shown as off outside demo schools, where the switch means nothing.
  sql<boolean>`schools.is_demo and schools.simulator_enabled`.as('simulatorEnabled'),
  'schools.created_at as createdAt',
  'schools.updated_at as updatedAt',
] as const;

function toRow(values: Partial<SchoolValues>) {
  return {
    ...(values.name !== undefined ? { name: values.name.trim() } : {}),
    ...(values.address !== undefined ? { address: values.address } : {}),
    ...(values.phone !== undefined ? { phone: values.phone } : {}),
    ...(values.email !== undefined ? { email: normaliseEmail(values.email) } : {}),
    ...(values.currency !== undefined ? { currency: values.currency } : {}),
    ...(values.timezone !== undefined ? { timezone: values.timezone } : {}),
    ...(values.language !== undefined ? { language: values.language } : {}),
    ...(values.isActive !== undefined ? { is_active: values.isActive } : {}),
    ...(values.publicStatements !== undefined ? { public_statements: values.publicStatements } : {}),
    ...(values.simulatorEnabled !== undefined ? { simulator_enabled: values.simulatorEnabled } : {}),
  };
}

/** Schools visible to a scope; soft-deleted ones are gone for every caller. */
export function createSchoolsRepository() {
  return {
    list(db: DbOrTx, scope: Scope, query: { limit: number; afterId?: string; q?: string }): Promise<SchoolRow[]> {
      return db
        .selectFrom('schools')
        .select(columns)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .$if(query.afterId !== undefined, (qb) => qb.where('schools.id', '>', query.afterId ?? ''))
        .$if(query.q !== undefined, (qb) => qb.where('schools.name', 'ilike', `%${escapeLike(query.q ?? '')}%`))
        .orderBy('schools.id')
        .limit(query.limit + 1)
        .execute();
    },

    findById(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<SchoolRow | undefined> {
      return db
        .selectFrom('schools')
        .select(columns)
        .where('schools.id', '=', id)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .$if(options.forUpdate === true, (qb) => qb.forUpdate())
        .executeTakeFirst();
    },

    async insert(db: DbOrTx, values: SchoolValues): Promise<string> {
      const row = await db.insertInto('schools').values({ name: values.name.trim(), ...toRow(values) }).returning('id').executeTakeFirstOrThrow();
      return row.id;
    },

    async update(db: DbOrTx, id: string, values: Partial<SchoolValues>): Promise<void> {
      await db.updateTable('schools').set({ ...toRow(values), updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },

    async softDelete(db: DbOrTx, id: string): Promise<void> {
      await db.updateTable('schools').set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },

    async hasInvoices(db: DbOrTx, id: string): Promise<boolean> {
      const row = await db.selectFrom('invoices').select('id').where('school_id', '=', id).limit(1).executeTakeFirst();
      return row !== undefined;
    },

    /**
     * The demo simulator's last check before it writes (billing service, simulated path
     * only): the school is a live demo school with simulated traffic on and, when an
     * invoice is named, no one but the demo ever created or changed it. The school row is
     * share-locked to the end of the transaction, so a PATCH that switches the simulator
     * off waits for simulated writes in flight and none passes this check after it.
     */
    async simulatorMayAct(db: DbOrTx, target: { schoolId: string; invoiceId?: string }): Promise<boolean> {
      const row = await db
        .selectFrom('schools')
        .select('schools.id')
        .where('schools.id', '=', target.schoolId)
        .where('schools.is_demo', '=', true)
        .where('schools.simulator_enabled', '=', true)
        .where('schools.is_active', '=', true)
        .where('schools.deleted_at', 'is', null)
        .$if(target.invoiceId !== undefined, (qb) =>
          qb.where((eb) =>
            eb.exists(
              eb
                .selectFrom('invoices')
                .select('invoices.id')
                .whereRef('invoices.school_id', '=', 'schools.id')
                .where('invoices.id', '=', target.invoiceId ?? '')
                .where('invoices.touched_by_person_at', 'is', null),
            ),
          ),
        )
        .forShare()
        .executeTakeFirst();
      return row !== undefined;
    },

    /** The school's statement-cache version (bumped by triggers on every billing write). */
    async billingVersion(db: DbOrTx, schoolId: string): Promise<number> {
      const row = await db.selectFrom('billing_versions').select('version').where('school_id', '=', schoolId).executeTakeFirst();
      return row?.version ?? 0;
    },
  };
}

export type SchoolsRepository = ReturnType<typeof createSchoolsRepository>;

/** What a module working on one school's money needs of it: its name, currency and time zone. */
export interface SchoolSummary {
  id: string;
  name: string;
  currency: string;
  timezone: string;
}

/** A school that exists, is not deleted and the scope may see (undefined otherwise: a 404 for the caller). */
export function visibleSchoolSummary(db: DbOrTx, scope: Scope, schoolId: string): Promise<SchoolSummary | undefined> {
  return db
    .selectFrom('schools')
    .select(['schools.id', 'schools.name', 'schools.currency', 'schools.timezone'])
    .where('schools.id', '=', schoolId)
    .where('schools.deleted_at', 'is', null)
    .where((eb) => inScope(eb, 'schools.id', scope))
    .executeTakeFirst();
}

/** True when the school exists, is not deleted and the scope may see it (a list's `schoolId` filter: 404 otherwise). */
export async function schoolVisible(db: DbOrTx, scope: Scope, schoolId: string): Promise<boolean> {
  return (await visibleSchoolSummary(db, scope, schoolId)) !== undefined;
}

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
