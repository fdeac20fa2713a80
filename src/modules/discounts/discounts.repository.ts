import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { DiscountKind } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import type { RuleForBilling } from './apply.js';

/** A discount rule as stored: `value` in basis points (percent) or minor units (fixed). */
export interface StoredRule {
  id: string;
  schoolId: string;
  name: string;
  kind: DiscountKind;
  basis: 'percent' | 'fixed';
  value: number;
  itemCodes: string[] | null;
  fromSiblingNumber: number | null;
  cap: number | null;
  stacking: 'stack' | 'best_only';
  validFrom: string | null;
  validTo: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type RuleValues = Omit<StoredRule, 'id' | 'schoolId' | 'createdAt' | 'updatedAt'>;

export interface AwardRow {
  id: string;
  schoolId: string;
  studentId: string;
  ruleId: string;
  ruleName: string;
  kind: DiscountKind;
  reason: string;
  createdBy: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
}

const ruleColumns = [
  'discount_rules.id',
  'discount_rules.school_id as schoolId',
  'discount_rules.name',
  'discount_rules.kind',
  'discount_rules.basis',
  'discount_rules.value',
  'discount_rules.item_codes as itemCodes',
  'discount_rules.from_sibling_number as fromSiblingNumber',
  'discount_rules.cap',
  'discount_rules.stacking',
  'discount_rules.valid_from as validFrom',
  'discount_rules.valid_to as validTo',
  'discount_rules.is_active as isActive',
  'discount_rules.created_at as createdAt',
  'discount_rules.updated_at as updatedAt',
] as const;

const toColumns = (values: Partial<RuleValues>) => ({
  ...(values.name !== undefined ? { name: values.name.trim() } : {}),
  ...(values.kind !== undefined ? { kind: values.kind } : {}),
  ...(values.basis !== undefined ? { basis: values.basis } : {}),
  ...(values.value !== undefined ? { value: values.value } : {}),
  ...(values.itemCodes !== undefined ? { item_codes: values.itemCodes } : {}),
  ...(values.fromSiblingNumber !== undefined ? { from_sibling_number: values.fromSiblingNumber } : {}),
  ...(values.cap !== undefined ? { cap: values.cap } : {}),
  ...(values.stacking !== undefined ? { stacking: values.stacking } : {}),
  ...(values.validFrom !== undefined ? { valid_from: values.validFrom } : {}),
  ...(values.validTo !== undefined ? { valid_to: values.validTo } : {}),
  ...(values.isActive !== undefined ? { is_active: values.isActive } : {}),
});

/** A stored rule as discountLines takes it. */
export function toRuleForBilling(rule: Pick<StoredRule, Exclude<keyof RuleForBilling, 'awardId'>>, awardId: string | null = null): RuleForBilling {
  return {
    id: rule.id,
    awardId,
    name: rule.name,
    kind: rule.kind,
    basis: rule.basis,
    value: rule.value,
    itemCodes: rule.itemCodes,
    fromSiblingNumber: rule.fromSiblingNumber,
    cap: rule.cap,
    stacking: rule.stacking,
    validFrom: rule.validFrom,
    validTo: rule.validTo,
  };
}

/** Discount rules and awards. Reads are scoped to the caller's schools. */
export function createDiscountsRepository() {
  const visibleRules = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('discount_rules')
      .innerJoin('schools', 'schools.id', 'discount_rules.school_id')
      .select(ruleColumns)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'discount_rules.school_id', scope));

  const visibleAwards = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('awards')
      .innerJoin('discount_rules', (join) => join.onRef('discount_rules.school_id', '=', 'awards.school_id').onRef('discount_rules.id', '=', 'awards.rule_id'))
      .innerJoin('students', (join) => join.onRef('students.school_id', '=', 'awards.school_id').onRef('students.id', '=', 'awards.student_id'))
      .innerJoin('schools', 'schools.id', 'awards.school_id')
      .select([
        'awards.id',
        'awards.school_id as schoolId',
        'awards.student_id as studentId',
        'awards.rule_id as ruleId',
        'discount_rules.name as ruleName',
        'discount_rules.kind',
        'awards.reason',
        'awards.created_by as createdBy',
        'awards.created_at as createdAt',
        'awards.revoked_at as revokedAt',
        'awards.revoked_by as revokedBy',
      ])
      .where('students.deleted_at', 'is', null)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'awards.school_id', scope));

  return {
    async listRules(db: DbOrTx, scope: Scope, query: { limit: number; afterId?: string; schoolId?: string; kind?: DiscountKind }): Promise<StoredRule[]> {
      return visibleRules(db, scope)
        .$if(query.schoolId !== undefined, (qb) => qb.where('discount_rules.school_id', '=', query.schoolId ?? ''))
        .$if(query.kind !== undefined, (qb) => qb.where('discount_rules.kind', '=', query.kind ?? 'custom'))
        .$if(query.afterId !== undefined, (qb) => qb.where('discount_rules.id', '>', query.afterId ?? ''))
        .orderBy('discount_rules.id')
        .limit(query.limit + 1)
        .execute();
    },

    async findRule(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<StoredRule | undefined> {
      return visibleRules(db, scope)
        .where('discount_rules.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('discount_rules'))
        .executeTakeFirst();
    },

    async insertRule(db: DbOrTx, schoolId: string, values: RuleValues): Promise<string> {
      const row = await db
        .insertInto('discount_rules')
        .values({ school_id: schoolId, name: values.name.trim(), kind: values.kind, basis: values.basis, value: values.value, ...toColumns(values) })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async updateRule(db: DbOrTx, rule: { schoolId: string; id: string }, values: Partial<RuleValues>): Promise<void> {
      await db
        .updateTable('discount_rules')
        .set({ ...toColumns(values), updated_at: sql<Date>`now()` })
        .where('school_id', '=', rule.schoolId)
        .where('id', '=', rule.id)
        .execute();
    },

    /** The student (if the caller sees it), its row locked: awards of one student serialise. */
    async lockStudent(db: DbOrTx, scope: Scope, id: string): Promise<{ id: string; schoolId: string } | undefined> {
      return db
        .selectFrom('students')
        .innerJoin('schools', 'schools.id', 'students.school_id')
        .select(['students.id', 'students.school_id as schoolId'])
        .where('students.id', '=', id)
        .where('students.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .forUpdate('students')
        .executeTakeFirst();
    },

    async findStudent(db: DbOrTx, scope: Scope, id: string): Promise<{ id: string; schoolId: string } | undefined> {
      return db
        .selectFrom('students')
        .innerJoin('schools', 'schools.id', 'students.school_id')
        .select(['students.id', 'students.school_id as schoolId'])
        .where('students.id', '=', id)
        .where('students.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .executeTakeFirst();
    },

    async hasActiveAward(db: DbOrTx, a: { schoolId: string; studentId: string; ruleId: string }): Promise<boolean> {
      const row = await db
        .selectFrom('awards')
        .select('id')
        .where('school_id', '=', a.schoolId)
        .where('student_id', '=', a.studentId)
        .where('rule_id', '=', a.ruleId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row !== undefined;
    },

    async insertAward(db: DbOrTx, a: { schoolId: string; studentId: string; ruleId: string; reason: string; createdBy: string | null }): Promise<string> {
      const row = await db
        .insertInto('awards')
        .values({ school_id: a.schoolId, student_id: a.studentId, rule_id: a.ruleId, reason: a.reason, created_by: a.createdBy })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async findAward(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<AwardRow | undefined> {
      return visibleAwards(db, scope)
        .where('awards.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('awards'))
        .executeTakeFirst();
    },

    async listAwards(db: DbOrTx, scope: Scope, query: { studentId: string; limit: number; afterId?: string; active?: boolean }): Promise<AwardRow[]> {
      return visibleAwards(db, scope)
        .where('awards.student_id', '=', query.studentId)
        .$if(query.active === true, (qb) => qb.where('awards.revoked_at', 'is', null))
        .$if(query.active === false, (qb) => qb.where('awards.revoked_at', 'is not', null))
        .$if(query.afterId !== undefined, (qb) => qb.where('awards.id', '>', query.afterId ?? ''))
        .orderBy('awards.id')
        .limit(query.limit + 1)
        .execute();
    },

    async revokeAward(db: DbOrTx, award: { schoolId: string; id: string }, revokedBy: string | null): Promise<void> {
      await db
        .updateTable('awards')
        .set({ revoked_at: sql<Date>`now()`, revoked_by: revokedBy })
        .where('school_id', '=', award.schoolId)
        .where('id', '=', award.id)
        .where('revoked_at', 'is', null)
        .execute();
    },
  };
}

export type DiscountsRepository = ReturnType<typeof createDiscountsRepository>;

/**
 * What a bill run of one school needs for discountLines, in two queries: the school's
 * active sibling rules (they apply by themselves), and per student the rules of its
 * active (not revoked) awards of active rules — optionally only for some students.
 * Pass the result's `rulesFor(studentId)` as `rules`.
 */
export async function loadRulesForBilling(
  db: DbOrTx,
  schoolId: string,
  studentIds?: readonly string[],
): Promise<{ siblingRules: RuleForBilling[]; awardsByStudent: Map<string, RuleForBilling[]>; rulesFor(studentId: string): RuleForBilling[] }> {
  const siblingRows = await db
    .selectFrom('discount_rules')
    .select(ruleColumns)
    .where('school_id', '=', schoolId)
    .where('kind', '=', 'sibling')
    .where('is_active', '=', true)
    .orderBy('id')
    .execute();
  const siblingRules = siblingRows.map((rule) => toRuleForBilling(rule));
  const awardsByStudent = new Map<string, RuleForBilling[]>();
  if (studentIds === undefined || studentIds.length > 0) {
    const awardRows = await db
      .selectFrom('awards')
      .innerJoin('discount_rules', (join) => join.onRef('discount_rules.school_id', '=', 'awards.school_id').onRef('discount_rules.id', '=', 'awards.rule_id'))
      .select([...ruleColumns, 'awards.id as awardId', 'awards.student_id as studentId'])
      .where('awards.school_id', '=', schoolId)
      .where('awards.revoked_at', 'is', null)
      .where('discount_rules.is_active', '=', true)
      .where('discount_rules.kind', '<>', 'sibling')
      .$if(studentIds !== undefined, (qb) => qb.where('awards.student_id', '=', sql<string>`any(${sql.val([...(studentIds ?? [])])}::uuid[])`))
      .orderBy('awards.id')
      .execute();
    for (const row of awardRows) {
      awardsByStudent.set(row.studentId, [...(awardsByStudent.get(row.studentId) ?? []), toRuleForBilling(row, row.awardId)]);
    }
  }
  return {
    siblingRules,
    awardsByStudent,
    rulesFor: (studentId) => [...siblingRules, ...(awardsByStudent.get(studentId) ?? [])],
  };
}
