import type { Db, DbOrTx } from '../../db/database.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, notFound, type FieldError } from '../../shared/errors.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import { DEFAULT_FROM_SIBLING_NUMBER } from './apply.js';
import type { AwardListQuery, CreateAwardBody, CreateDiscountRuleBody, DiscountRuleListQuery, PatchDiscountRuleBody } from './discounts.schemas.js';
import type { AwardRow, DiscountsRepository, RuleValues, StoredRule } from './discounts.repository.js';

export interface DiscountsDeps {
  db: Db;
  discounts: DiscountsRepository;
}

/** A rule as the API shows it: `value` in the unit the client sent (percent, or minor units). */
export type DiscountRuleView = StoredRule;

const afterId = (cursor: string | undefined) => (cursor ? decodeCursorOf(cursor, [cursorPart.uuid])[0] : undefined);
const byId = (row: { id: string }) => [row.id];
const field = (name: string, message: string): FieldError => ({ field: name, in: 'body', message });

function invalid(errors: FieldError[]): AppError {
  return new AppError('BUSINESS_RULE_VIOLATION', errors.map((e) => `${e.field} ${e.message}`).join('; '), { errors });
}

/** Percent (a number of percent, e.g. 12.5) ↔ basis points stored (1250). */
export const percentToBasisPoints = (percent: number) => Math.round(percent * 100);
const present = (rule: StoredRule): DiscountRuleView => (rule.basis === 'percent' ? { ...rule, value: rule.value / 100 } : rule);

/**
 * The stored value of a rule's `value` as the client sent it, or the field error:
 * percent 0 < v ≤ 100 with at most two decimals (stored as basis points, 12.5 → 1250),
 * fixed a whole number of minor units.
 */
export function storedValue(basis: 'percent' | 'fixed', value: number): number | FieldError {
  if (basis === 'percent') {
    if (!(value > 0 && value <= 100)) {
      return field('value', `a percent discount must be more than 0 and at most 100 (got ${value})`);
    }
    const points = percentToBasisPoints(value);
    if (Math.abs(points - value * 100) > 1e-6 || points <= 0) {
      return field('value', 'a percent has at most two decimals (12.5 or 12.25)');
    }
    return points;
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    return field('value', 'a fixed discount is a whole number of minor units (cents), more than 0');
  }
  return value;
}

/** The checks of a rule as a whole (after a PATCH, on the merged rule). */
function ruleErrors(rule: Pick<RuleValues, 'name' | 'kind' | 'fromSiblingNumber' | 'itemCodes' | 'validFrom' | 'validTo'>, given: { fromSiblingNumber: boolean }): FieldError[] {
  const errors: FieldError[] = [];
  if (rule.name.trim() === '') {
    errors.push(field('name', 'must not be blank'));
  }
  if (rule.kind !== 'sibling' && rule.fromSiblingNumber !== null && given.fromSiblingNumber) {
    errors.push(field('fromSiblingNumber', 'only sibling rules have a first sibling number'));
  }
  (rule.itemCodes ?? []).forEach((code, i, codes) => {
    if (codes.indexOf(code) !== i) {
      errors.push(field(`itemCodes.${i}`, `${code} is listed twice`));
    }
  });
  if (rule.validFrom !== null && rule.validTo !== null && rule.validTo < rule.validFrom) {
    errors.push(field('validTo', `must not be before validFrom (${rule.validFrom})`));
  }
  return errors;
}

/**
 * Discount rules of a school and awards of rules to students (SPEC §7). Sibling rules
 * apply by themselves (through the family) and are never awarded; the other kinds reach
 * a student only through an award, which needs a reason and is audited. A rule change
 * applies to instalments billed from then on (billed discount lines never change).
 */
export function createDiscountsService(deps: DiscountsDeps) {
  const { db, discounts } = deps;

  async function visibleRule(trx: DbOrTx, scope: Scope, id: string, forUpdate = false): Promise<StoredRule> {
    const rule = await discounts.findRule(trx, scope, id, { forUpdate });
    if (!rule) {
      throw notFound('discount rule');
    }
    return rule;
  }

  async function visibleSchool(trx: DbOrTx, scope: Scope, schoolId: string, where: 'body' | 'querystring'): Promise<void> {
    const school = await trx.selectFrom('schools').select('id').where('id', '=', schoolId).where('deleted_at', 'is', null).executeTakeFirst();
    if (!school || (scope.schoolIds !== 'all' && !scope.schoolIds.includes(schoolId))) {
      throw new AppError('NOT_FOUND', 'school not found', { errors: [{ field: 'schoolId', in: where, message: 'no school with this id' }] });
    }
  }

  async function visibleAward(trx: DbOrTx, scope: Scope, id: string, forUpdate = false): Promise<AwardRow> {
    const award = await discounts.findAward(trx, scope, id, { forUpdate });
    if (!award) {
      throw notFound('award');
    }
    return award;
  }

  return {
    // ---------------------------------------------------------------- rules
    async listRules(scope: Scope, query: DiscountRuleListQuery & { limit: number }): Promise<Page<DiscountRuleView>> {
      if (query.schoolId !== undefined) {
        await visibleSchool(db, scope, query.schoolId, 'querystring');
      }
      const rows = await discounts.listRules(db, scope, { limit: query.limit, afterId: afterId(query.cursor), schoolId: query.schoolId, kind: query.kind });
      const page = toPage(rows, query.limit, byId);
      return { ...page, data: page.data.map(present) };
    },

    getRule: async (scope: Scope, id: string) => present(await visibleRule(db, scope, id)),

    async createRule(actor: Actor, body: CreateDiscountRuleBody): Promise<DiscountRuleView> {
      const scope = requirePrincipal(actor);
      const value = storedValue(body.basis, body.value);
      const values: RuleValues = {
        name: body.name,
        kind: body.kind,
        basis: body.basis,
        value: typeof value === 'number' ? value : 0,
        itemCodes: body.itemCodes ?? null,
        fromSiblingNumber: body.kind === 'sibling' ? (body.fromSiblingNumber ?? DEFAULT_FROM_SIBLING_NUMBER) : (body.fromSiblingNumber ?? null),
        cap: body.cap ?? null,
        stacking: body.stacking ?? 'stack',
        validFrom: body.validFrom ?? null,
        validTo: body.validTo ?? null,
        isActive: true,
      };
      const errors = [...(typeof value === 'number' ? [] : [value]), ...ruleErrors(values, { fromSiblingNumber: body.fromSiblingNumber !== undefined })];
      return db.transaction().execute(async (trx) => {
        await visibleSchool(trx, scope, body.schoolId, 'body');
        if (errors.length > 0) {
          throw invalid(errors);
        }
        const id = await discounts.insertRule(trx, body.schoolId, values);
        const rule = await visibleRule(trx, scope, id);
        await recordAudit(trx, actor, { action: 'discount_rule.create', entityType: 'discount_rule', entityId: id, schoolId: body.schoolId, changes: { ...body } });
        return present(rule);
      });
    },

    /** Changes some fields; a new basis needs its value too (the stored unit changes). Kind never changes. */
    async updateRule(actor: Actor, id: string, body: PatchDiscountRuleBody): Promise<DiscountRuleView> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const before = await visibleRule(trx, scope, id, true);
        const errors: FieldError[] = [];
        const basis = body.basis ?? before.basis;
        let value = before.value;
        if (body.basis !== undefined && body.basis !== before.basis && body.value === undefined) {
          errors.push(field('value', `give the value in the new basis (${body.basis}) with it`));
        }
        if (body.value !== undefined) {
          const stored = storedValue(basis, body.value);
          if (typeof stored === 'number') {
            value = stored;
          } else {
            errors.push(stored);
          }
        }
        const merged: RuleValues = {
          name: body.name ?? before.name,
          kind: before.kind,
          basis,
          value,
          itemCodes: body.itemCodes !== undefined ? body.itemCodes : before.itemCodes,
          fromSiblingNumber:
            body.fromSiblingNumber !== undefined
              ? (body.fromSiblingNumber ?? (before.kind === 'sibling' ? DEFAULT_FROM_SIBLING_NUMBER : null))
              : before.fromSiblingNumber,
          cap: body.cap !== undefined ? body.cap : before.cap,
          stacking: body.stacking ?? before.stacking,
          validFrom: body.validFrom !== undefined ? body.validFrom : before.validFrom,
          validTo: body.validTo !== undefined ? body.validTo : before.validTo,
          isActive: body.isActive ?? before.isActive,
        };
        errors.push(...ruleErrors(merged, { fromSiblingNumber: body.fromSiblingNumber !== undefined }));
        if (errors.length > 0) {
          throw invalid(errors);
        }
        await discounts.updateRule(trx, before, merged);
        const after = await visibleRule(trx, scope, id);
        await recordAudit(trx, actor, {
          action: 'discount_rule.update',
          entityType: 'discount_rule',
          entityId: id,
          schoolId: before.schoolId,
          changes: Object.fromEntries(
            Object.keys(body).map((key) => [key, { from: present(before)[key as keyof StoredRule], to: present(after)[key as keyof StoredRule] }]),
          ),
        });
        return present(after);
      });
    },

    // ---------------------------------------------------------------- awards
    async listAwards(scope: Scope, studentId: string, query: AwardListQuery & { limit: number }): Promise<Page<AwardRow>> {
      if (!(await discounts.findStudent(db, scope, studentId))) {
        throw notFound('student');
      }
      const rows = await discounts.listAwards(db, scope, { studentId, limit: query.limit, afterId: afterId(query.cursor), active: query.active });
      return toPage(rows, query.limit, byId);
    },

    /**
     * Awards a rule of the student's school to the student, with a reason (audited). A
     * sibling rule applies by itself and cannot be awarded; an inactive rule cannot be
     * either; a rule the student already holds (not revoked) is a 409. Under the
     * student's row lock, so two identical requests give one award.
     */
    async award(actor: Actor, studentId: string, body: CreateAwardBody): Promise<AwardRow> {
      const principal = requirePrincipal(actor);
      const reason = body.reason.trim();
      return db.transaction().execute(async (trx) => {
        const student = await discounts.lockStudent(trx, principal, studentId);
        if (!student) {
          throw notFound('student');
        }
        const rule = await discounts.findRule(trx, principal, body.ruleId);
        if (!rule || rule.schoolId !== student.schoolId) {
          throw new AppError('REFERENCE_NOT_FOUND', 'no discount rule of the student’s school with this id', {
            errors: [field('ruleId', 'is not a discount rule of the student’s school')],
          });
        }
        const errors: FieldError[] = [];
        if (rule.kind === 'sibling') {
          errors.push(field('ruleId', 'a sibling rule applies by itself through the family; it is never awarded'));
        } else if (!rule.isActive) {
          errors.push(field('ruleId', 'the rule is not active'));
        }
        if (reason === '') {
          errors.push(field('reason', 'a reason is required'));
        }
        if (errors.length > 0) {
          throw invalid(errors);
        }
        if (await discounts.hasActiveAward(trx, { schoolId: student.schoolId, studentId, ruleId: rule.id })) {
          throw new AppError('ALREADY_EXISTS', 'the student already holds this award', { errors: [field('ruleId', 'the student already holds an award of this rule (revoke it first)')] });
        }
        const id = await discounts.insertAward(trx, { schoolId: student.schoolId, studentId, ruleId: rule.id, reason, createdBy: principal.userId });
        await recordAudit(trx, actor, { action: 'award.create', entityType: 'award', entityId: id, schoolId: student.schoolId, changes: { studentId, ruleId: rule.id, reason } });
        return visibleAward(trx, principal, id);
      });
    },

    /** DELETE /awards/:id: revokes (revoked_at, revoked_by; audited). Revoking twice answers the award as it is. */
    async revokeAward(actor: Actor, id: string): Promise<AwardRow> {
      const principal = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const award = await visibleAward(trx, principal, id, true);
        if (award.revokedAt !== null) {
          return award;
        }
        await discounts.revokeAward(trx, award, principal.userId);
        await recordAudit(trx, actor, { action: 'award.revoke', entityType: 'award', entityId: id, schoolId: award.schoolId, changes: { studentId: award.studentId, ruleId: award.ruleId } });
        return visibleAward(trx, principal, id);
      });
    },
  };
}

export type DiscountsService = ReturnType<typeof createDiscountsService>;
