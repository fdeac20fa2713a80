import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';

export interface SchoolRow {
  id: string;
  name: string;
  address: string | null;
  phone: string | null;
  email: string | null;
  currency: string;
  timezone: string;
  isActive: boolean;
  publicStatements: boolean;
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
  isActive?: boolean;
  publicStatements?: boolean;
}

const columns = [
  'schools.id',
  'schools.name',
  'schools.address',
  'schools.phone',
  'schools.email',
  'schools.currency',
  'schools.timezone',
  'schools.is_active as isActive',
  'schools.public_statements as publicStatements',
  'schools.created_at as createdAt',
  'schools.updated_at as updatedAt',
] as const;

function toRow(values: Partial<SchoolValues>) {
  return {
    ...(values.name !== undefined ? { name: values.name.trim() } : {}),
    ...(values.address !== undefined ? { address: values.address } : {}),
    ...(values.phone !== undefined ? { phone: values.phone } : {}),
    ...(values.email !== undefined ? { email: values.email } : {}),
    ...(values.currency !== undefined ? { currency: values.currency } : {}),
    ...(values.timezone !== undefined ? { timezone: values.timezone } : {}),
    ...(values.isActive !== undefined ? { is_active: values.isActive } : {}),
    ...(values.publicStatements !== undefined ? { public_statements: values.publicStatements } : {}),
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


    /** The school's statement-cache version (bumped by triggers on every billing write). */
    async billingVersion(db: DbOrTx, schoolId: string): Promise<number> {
      const row = await db.selectFrom('billing_versions').select('version').where('school_id', '=', schoolId).executeTakeFirst();
      return row?.version ?? 0;
    },
  };
}

export type SchoolsRepository = ReturnType<typeof createSchoolsRepository>;

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
