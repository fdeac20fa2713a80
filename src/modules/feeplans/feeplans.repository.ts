import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { EarlyPaymentTerms, FeeSchedule } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { dueDatesOf } from './schedule.js';

export interface FeePlanItemRow {
  code: string;
  description: string;
  amount: number;
  optional: boolean;
  accountCode: string | null;
  schedule: FeeSchedule;
  /** Its own early-payment terms (null: the plan's, if any). */
  earlyPayment: EarlyPaymentTerms | null;
  dueDates: string[];
  billedDueDates?: string[];
}

export interface FeePlanRow {
  id: string;
  schoolId: string;
  name: string;
  academicYear: string;
  yearStart: string;
  yearEnd: string;
  /** Early-payment terms of every item without its own. */
  earlyPayment: EarlyPaymentTerms | null;
  items: FeePlanItemRow[];
  createdAt: Date;
  updatedAt: Date;
}

export type FeePlanHead = Omit<FeePlanRow, 'items'>;

export interface FeePlanItemValues {
  code: string;
  description: string;
  amount: number;
  optional?: boolean;
  accountCode?: string | null;
  schedule: FeeSchedule;
  earlyPayment?: EarlyPaymentTerms | null;
}

const planColumns = [
  'fee_plans.id',
  'fee_plans.school_id as schoolId',
  'fee_plans.name',
  'fee_plans.academic_year as academicYear',
  'fee_plans.year_start as yearStart',
  'fee_plans.year_end as yearEnd',
  'fee_plans.early_payment as earlyPayment',
  'fee_plans.created_at as createdAt',
  'fee_plans.updated_at as updatedAt',
] as const;

/**
 * Fee plans and their items. Every read goes through the caller's scope (a plan of a
 * school outside it, or of a deleted school, is not found).
 */
export function createFeePlansRepository() {
  const visible = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('fee_plans')
      .innerJoin('schools', 'schools.id', 'fee_plans.school_id')
      .select(planColumns)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'fee_plans.school_id', scope));

  /** The items of some plans, in their order, keyed by plan id. */
  async function itemsOf(db: DbOrTx, plans: readonly { id: string; schoolId: string }[]): Promise<Map<string, FeePlanItemRow[]>> {
    const byPlan = new Map<string, FeePlanItemRow[]>(plans.map((p) => [p.id, []]));
    if (plans.length === 0) {
      return byPlan;
    }
    const rows = await db
      .selectFrom('fee_plan_items')
      .select(['fee_plan_id as planId', 'code', 'description', 'amount', 'optional', 'account_code as accountCode', 'schedule', 'early_payment as earlyPayment'])
      .where('school_id', 'in', [...new Set(plans.map((p) => p.schoolId))])
      .where('fee_plan_id', 'in', plans.map((p) => p.id))
      .orderBy('fee_plan_id')
      .orderBy('position')
      .orderBy('code')
      .execute();
    for (const { planId, ...item } of rows) {
      byPlan.get(planId)?.push({ ...item, dueDates: dueDatesOf(item.schedule) });
    }
    return byPlan;
  }

  return {
    /** One page of plans (id order), with their items. */
    async list(db: DbOrTx, scope: Scope, query: { limit: number; afterId?: string; schoolId?: string }): Promise<FeePlanRow[]> {
      const heads = await visible(db, scope)
        .$if(query.schoolId !== undefined, (qb) => qb.where('fee_plans.school_id', '=', query.schoolId ?? ''))
        .$if(query.afterId !== undefined, (qb) => qb.where('fee_plans.id', '>', query.afterId ?? ''))
        .orderBy('fee_plans.id')
        .limit(query.limit + 1)
        .execute();
      const items = await itemsOf(db, heads);
      return heads.map((head) => ({ ...head, items: items.get(head.id) ?? [] }));
    },

    /** A plan without its items; `forUpdate` locks its row (PATCH, enrolments: one writer per plan at a time). */
    async findHead(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<FeePlanHead | undefined> {
      return visible(db, scope)
        .where('fee_plans.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('fee_plans'))
        .executeTakeFirst();
    },

    async withItems(db: DbOrTx, head: FeePlanHead): Promise<FeePlanRow> {
      const items = await itemsOf(db, [head]);
      return { ...head, items: items.get(head.id) ?? [] };
    },

    async insert(db: DbOrTx, values: { schoolId: string; name: string; academicYear: string; yearStart: string; yearEnd: string; earlyPayment?: EarlyPaymentTerms | null }): Promise<string> {
      const row = await db
        .insertInto('fee_plans')
        .values({
          school_id: values.schoolId,
          name: values.name.trim(),
          academic_year: values.academicYear.trim(),
          year_start: values.yearStart,
          year_end: values.yearEnd,
          early_payment: values.earlyPayment ? JSON.stringify(values.earlyPayment) : null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async setEarlyPayment(db: DbOrTx, plan: { schoolId: string; id: string }, terms: EarlyPaymentTerms | null): Promise<void> {
      await db
        .updateTable('fee_plans')
        .set({ early_payment: terms ? JSON.stringify(terms) : null, updated_at: sql<Date>`now()` })
        .where('school_id', '=', plan.schoolId)
        .where('id', '=', plan.id)
        .execute();
    },

    async rename(db: DbOrTx, plan: { schoolId: string; id: string }, name: string): Promise<void> {
      await db
        .updateTable('fee_plans')
        .set({ name: name.trim(), updated_at: sql<Date>`now()` })
        .where('school_id', '=', plan.schoolId)
        .where('id', '=', plan.id)
        .execute();
    },

    /** Writes the plan's items as given (insert or update by code, in list order), and removes the codes in `remove`. */
    async saveItems(db: DbOrTx, plan: { schoolId: string; id: string }, items: readonly FeePlanItemValues[], remove: readonly string[] = []): Promise<void> {
      if (remove.length > 0) {
        await db.deleteFrom('fee_plan_items').where('school_id', '=', plan.schoolId).where('fee_plan_id', '=', plan.id).where('code', 'in', [...remove]).execute();
      }
      if (items.length === 0) {
        return;
      }
      await db
        .insertInto('fee_plan_items')
        .values(
          items.map((item, position) => ({
            school_id: plan.schoolId,
            fee_plan_id: plan.id,
            code: item.code,
            description: item.description.trim(),
            amount: item.amount,
            optional: item.optional ?? false,
            account_code: item.accountCode ?? null,
            schedule: JSON.stringify(item.schedule),
            early_payment: item.earlyPayment ? JSON.stringify(item.earlyPayment) : null,
            position,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['school_id', 'fee_plan_id', 'code']).doUpdateSet((eb) => ({
            description: eb.ref('excluded.description'),
            amount: eb.ref('excluded.amount'),
            optional: eb.ref('excluded.optional'),
            account_code: eb.ref('excluded.account_code'),
            schedule: eb.ref('excluded.schedule'),
            early_payment: eb.ref('excluded.early_payment'),
            position: eb.ref('excluded.position'),
            updated_at: sql<Date>`now()`,
          })),
        )
        .execute();
      await db.updateTable('fee_plans').set({ updated_at: sql<Date>`now()` }).where('school_id', '=', plan.schoolId).where('id', '=', plan.id).execute();
    },

    /**
     * The instalments of a plan already billed, per item code: the distinct due dates of
     * invoice lines written for enrolments of this plan, on invoices that are not
     * cancelled (a cancelled invoice bills nothing). These can no longer change (SPEC §7).
     * Uses enrolments_plan_idx and invoice_lines_enrolment_idx (0015).
     */
    async billedDueDates(db: DbOrTx, plan: { schoolId: string; id: string }): Promise<Map<string, string[]>> {
      const rows = await db
        .selectFrom('invoice_lines as l')
        .innerJoin('enrolments as e', (join) => join.onRef('e.school_id', '=', 'l.school_id').onRef('e.id', '=', 'l.enrolment_id'))
        .innerJoin('invoices as i', (join) => join.onRef('i.school_id', '=', 'l.school_id').onRef('i.id', '=', 'l.invoice_id'))
        .select(['l.item_code as itemCode', 'l.due_date as dueDate'])
        .where('e.school_id', '=', plan.schoolId)
        .where('e.fee_plan_id', '=', plan.id)
        .where('l.school_id', '=', plan.schoolId)
        .where('l.item_code', 'is not', null)
        .where('l.due_date', 'is not', null)
        .where('i.cancelled_at', 'is', null)
        .groupBy(['l.item_code', 'l.due_date'])
        .orderBy('l.item_code')
        .orderBy('l.due_date')
        .execute();
      const billed = new Map<string, string[]>();
      for (const row of rows) {
        if (row.itemCode !== null && row.dueDate !== null) {
          billed.set(row.itemCode, [...(billed.get(row.itemCode) ?? []), row.dueDate]);
        }
      }
      return billed;
    },
  };
}

export type FeePlansRepository = ReturnType<typeof createFeePlansRepository>;
