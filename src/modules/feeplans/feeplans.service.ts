import type { EarlyPaymentTerms } from '../../db/types.js';
import type { Db, DbOrTx, Tx } from '../../db/database.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, notFound, type FieldError } from '../../shared/errors.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { EnrolmentRow, EnrolmentsRepository } from './enrolments.repository.js';
import type { BulkEnrolmentBody, CreateEnrolmentBody, CreateFeePlanBody, FeePlanItemInput, FeePlanListQuery, PatchEnrolmentBody, PatchFeePlanBody } from './feeplans.schemas.js';
import type { FeePlanHead, FeePlanRow, FeePlansRepository } from './feeplans.repository.js';
import { dueDatesOf, scheduleErrors } from './schedule.js';

/** Cancels an invoice while nothing is settled on it: the ledger's voidInvoice (src/modules/ledger). */
export type VoidInvoice = (trx: Tx, invoice: { schoolId: string; invoiceId: string }) => Promise<void>;

export interface FeePlansDeps {
  db: Db;
  plans: FeePlansRepository;
  enrolments: EnrolmentsRepository;
  voidInvoice: VoidInvoice;
}

/** PATCH /enrolments/:id answers the enrolment and what its withdrawal did to the invoices it billed. */
export type WithdrawalResult = EnrolmentRow & { cancelled: number; kept: number; cancelledInvoiceIds: string[]; keptInvoiceIds: string[] };

const afterId = (cursor: string | undefined) => (cursor ? decodeCursorOf(cursor, [cursorPart.uuid])[0] : undefined);
const byId = (row: { id: string }) => [row.id];

function invalid(errors: FieldError[]): AppError {
  return new AppError('BUSINESS_RULE_VIOLATION', errors.map((e) => `${e.field} ${e.message}`).join('; '), { errors });
}

const field = (name: string, message: string): FieldError => ({ field: name, in: 'body', message });

/**
 * What is wrong with a plan's items inside its academic year, each error naming its
 * field from the body's root: a code used twice (`items.3.code`), a schedule without
 * dates or with a date outside the year (`items.1.schedule.dueDates.2`: scheduleErrors'
 * paths, prefixed). Amounts ≤ 0 never get here (the schema refuses them, 400).
 */
export function itemsErrors(items: readonly FeePlanItemInput[], year: { start: string; end: string }): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const first = seen.get(item.code);
    if (first === undefined) {
      seen.set(item.code, i);
    } else {
      errors.push(field(`items.${i}.code`, `${item.code} is already the code of items.${first}`));
    }
    for (const error of scheduleErrors(item.schedule, year)) {
      errors.push(field(`items.${i}.schedule.${error.field}`, error.message));
    }
    errors.push(...earlyPaymentErrors(item.earlyPayment, `items.${i}.earlyPayment`));
  });
  return errors;
}

/** What is wrong with early-payment terms (the schema has checked the shape): a percent above 100 or with more than 2 decimals, a fixed amount that is not whole. */
export function earlyPaymentErrors(terms: EarlyPaymentTerms | null | undefined, at: string): FieldError[] {
  if (terms === null || terms === undefined) {
    return [];
  }
  if (terms.basis === 'fixed') {
    return Number.isSafeInteger(terms.value) ? [] : [field(`${at}.value`, 'a fixed early-payment discount is a whole number of minor units (cents)')];
  }
  if (terms.value > 100) {
    return [field(`${at}.value`, `a percent is at most 100 (got ${terms.value})`)];
  }
  return Math.abs(Math.round(terms.value * 100) - terms.value * 100) > 1e-6 ? [field(`${at}.value`, 'a percent has at most 2 decimals')] : [];
}

/** A share in millionths (numeric(7,6) keeps six decimals). */
const micro = (share: number) => Math.round(share * 1_000_000);

/**
 * Fee plans (items with schedules) and enrolments of students in them, SPEC §7.
 *
 * Billed instalments are history. An item's instalment is billed once an invoice line
 * for (an enrolment of this plan, the item's code, the due date) exists on an invoice
 * that is not cancelled. A plan change may touch only what is not billed yet:
 * - an item with billed instalments keeps its amount, keeps every billed due date in its
 *   schedule and cannot be removed (409 INSTALMENT_BILLED naming the field);
 * - everything else may change: its description, account code, optional flag and
 *   unbilled due dates (added, moved or dropped), and items without billed instalments
 *   entirely (amount included).
 * So a new amount can only ever apply to unbilled due dates. To change the price of an
 * item that has been billed for the rest of the year, split it in one PATCH: keep the
 * item with its billed due dates (and its amount), and add a new item code with the new
 * amount and the remaining dates. A bill run bills `amount` for every due date of an
 * item, so one amount per item code is always the truth for what it bills next.
 *
 * Writers of one plan serialise on its row (FOR UPDATE): PATCH, enrolments (single and
 * bulk) and withdrawals; a bill run reading the plan's items should hold FOR SHARE on it.
 */
export function createFeePlansService(deps: FeePlansDeps) {
  const { db, plans, enrolments } = deps;

  async function visiblePlan(trx: DbOrTx, scope: Scope, id: string, forUpdate = false): Promise<FeePlanHead> {
    const plan = await plans.findHead(trx, scope, id, { forUpdate });
    if (!plan) {
      throw notFound('fee plan');
    }
    return plan;
  }

  async function visibleSchool(trx: DbOrTx, scope: Scope, schoolId: string, where: 'body' | 'querystring'): Promise<void> {
    const school = await trx
      .selectFrom('schools')
      .select('id')
      .where('id', '=', schoolId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    const visible = school !== undefined && (scope.schoolIds === 'all' || scope.schoolIds.includes(schoolId));
    if (!visible) {
      // 404 like any object outside the caller's schools (no existence leak), naming the field.
      throw new AppError('NOT_FOUND', 'school not found', { errors: [{ field: 'schoolId', in: where, message: 'no school with this id' }] });
    }
  }

  async function planWithBilled(trx: DbOrTx, head: FeePlanHead): Promise<FeePlanRow> {
    const plan = await plans.withItems(trx, head);
    const billed = await plans.billedDueDates(trx, head);
    return { ...plan, items: plan.items.map((item) => ({ ...item, billedDueDates: billed.get(item.code) ?? [] })) };
  }

  /** The date checks of an enrolment period inside a plan's academic year. */
  function periodErrors(plan: FeePlanHead, from: string, to: string | null | undefined): FieldError[] {
    const errors: FieldError[] = [];
    const year = `${plan.yearStart} to ${plan.yearEnd}`;
    if (from < plan.yearStart || from > plan.yearEnd) {
      errors.push(field('from', `${from} is outside the plan's academic year (${year})`));
    }
    if (to !== null && to !== undefined) {
      if (to < from) {
        errors.push(field('to', `must not be before from (${from})`));
      } else if (to > plan.yearEnd) {
        errors.push(field('to', `${to} is outside the plan's academic year (${year})`));
      }
    }
    return errors;
  }

  /** optionalItems: each a code of one of the plan's optional items, each once. */
  function optionalErrors(plan: FeePlanRow, codes: readonly string[]): FieldError[] {
    const optional = new Set(plan.items.filter((i) => i.optional).map((i) => i.code));
    const known = new Set(plan.items.map((i) => i.code));
    const errors: FieldError[] = [];
    codes.forEach((code, i) => {
      if (codes.indexOf(code) !== i) {
        errors.push(field(`optionalItems.${i}`, `${code} is listed twice`));
      } else if (!optional.has(code)) {
        errors.push(field(`optionalItems.${i}`, known.has(code) ? `${code} is not optional in this plan (it is billed to every enrolment)` : `${code} is not an item of this plan`));
      }
    });
    return errors;
  }

  return {
    // ---------------------------------------------------------------- plans
    async listPlans(scope: Scope, query: FeePlanListQuery & { limit: number }): Promise<Page<FeePlanRow>> {
      if (query.schoolId !== undefined) {
        await visibleSchool(db, scope, query.schoolId, 'querystring');
      }
      const rows = await plans.list(db, scope, { limit: query.limit, afterId: afterId(query.cursor), schoolId: query.schoolId });
      return toPage(rows, query.limit, byId);
    },

    async getPlan(scope: Scope, id: string): Promise<FeePlanRow> {
      return planWithBilled(db, await visiblePlan(db, scope, id));
    },

    async createPlan(actor: Actor, body: CreateFeePlanBody): Promise<FeePlanRow> {
      const scope = requirePrincipal(actor);
      const errors: FieldError[] = [];
      if (body.name.trim() === '') {
        errors.push(field('name', 'must not be blank'));
      }
      if (body.academicYear.trim() === '') {
        errors.push(field('academicYear', 'must not be blank'));
      }
      if (body.yearEnd < body.yearStart) {
        errors.push(field('yearEnd', `must not be before yearStart (${body.yearStart})`));
      } else {
        errors.push(...itemsErrors(body.items, { start: body.yearStart, end: body.yearEnd }));
      }
      body.items.forEach((item, i) => {
        if (item.description.trim() === '') {
          errors.push(field(`items.${i}.description`, 'must not be blank'));
        }
      });
      errors.push(...earlyPaymentErrors(body.earlyPayment, 'earlyPayment'));
      return db.transaction().execute(async (trx) => {
        await visibleSchool(trx, scope, body.schoolId, 'body');
        if (errors.length > 0) {
          throw invalid(errors);
        }
        const id = await plans.insert(trx, body);
        await plans.saveItems(trx, { schoolId: body.schoolId, id }, body.items);
        const plan = await planWithBilled(trx, await visiblePlan(trx, scope, id));
        await recordAudit(trx, actor, { action: 'fee_plan.create', entityType: 'fee_plan', entityId: id, schoolId: body.schoolId, changes: { ...body } });
        return plan;
      });
    },

    /** See the service docblock: only what is not billed yet may change. */
    async updatePlan(actor: Actor, id: string, body: PatchFeePlanBody): Promise<FeePlanRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const head = await visiblePlan(trx, scope, id, true);
        const before = await planWithBilled(trx, head);
        const changes: Record<string, unknown> = {};
        const errors: FieldError[] = [];
        if (body.name !== undefined && body.name.trim() === '') {
          errors.push(field('name', 'must not be blank'));
        }
        errors.push(...earlyPaymentErrors(body.earlyPayment, 'earlyPayment'));
        if (body.items !== undefined) {
          errors.push(...itemsErrors(body.items, { start: head.yearStart, end: head.yearEnd }));
          body.items.forEach((item, i) => {
            if (item.description.trim() === '') {
              errors.push(field(`items.${i}.description`, 'must not be blank'));
            }
          });
        }
        if (errors.length > 0) {
          throw invalid(errors);
        }
        if (body.items !== undefined) {
          const items = body.items;
          const current = new Map(before.items.map((item) => [item.code, item]));
          const conflicts: FieldError[] = [];
          for (const item of before.items) {
            const billed = item.billedDueDates ?? [];
            if (billed.length === 0) {
              continue;
            }
            const i = items.findIndex((next) => next.code === item.code);
            const next = items[i];
            if (next === undefined) {
              conflicts.push(field('items', `${item.code} has billed instalments (${billed.join(', ')}) and cannot be removed`));
              continue;
            }
            if (next.amount !== item.amount) {
              conflicts.push(
                field(
                  `items.${i}.amount`,
                  `${item.code} has billed instalments (${billed.join(', ')}): its amount stays ${item.amount}; ` +
                    'to charge a new amount from now on, keep this item with its billed dates and add a new item code for the rest',
                ),
              );
            }
            const dates = new Set(dueDatesOf(next.schedule));
            const lost = billed.filter((d) => !dates.has(d));
            if (lost.length > 0) {
              conflicts.push(field(`items.${i}.schedule`, `${item.code} must keep its billed due dates (${lost.join(', ')})`));
            }
          }
          if (conflicts.length > 0) {
            throw new AppError('INSTALMENT_BILLED', conflicts.map((e) => `${e.field}: ${e.message}`).join('; '), { errors: conflicts });
          }
          const codes = new Set(items.map((item) => item.code));
          const removed = before.items.filter((item) => !codes.has(item.code)).map((item) => item.code);
          const same = (a: FeePlanItemInput, b: (typeof before.items)[number]) =>
            a.description.trim() === b.description &&
            a.amount === b.amount &&
            (a.optional ?? false) === b.optional &&
            (a.accountCode ?? null) === b.accountCode &&
            JSON.stringify(a.schedule) === JSON.stringify(b.schedule) &&
            JSON.stringify(a.earlyPayment ?? null) === JSON.stringify(b.earlyPayment);
          changes.items = {
            added: items.filter((item) => !current.has(item.code)).map((item) => item.code),
            changed: items.filter((item) => {
              const old = current.get(item.code);
              return old !== undefined && !same(item, old);
            }).map((item) => ({ code: item.code, from: current.get(item.code), to: item })),
            removed,
          };
          await plans.saveItems(trx, head, items, removed);
        }
        if (body.name !== undefined) {
          changes.name = { from: head.name, to: body.name.trim() };
          await plans.rename(trx, head, body.name);
        }
        // New terms apply to the instalments billed from now on; billed invoices keep theirs.
        if (body.earlyPayment !== undefined) {
          changes.earlyPayment = { from: head.earlyPayment, to: body.earlyPayment };
          await plans.setEarlyPayment(trx, head, body.earlyPayment);
        }
        const after = await planWithBilled(trx, await visiblePlan(trx, scope, id));
        await recordAudit(trx, actor, { action: 'fee_plan.update', entityType: 'fee_plan', entityId: id, schoolId: head.schoolId, changes });
        return after;
      });
    },

    // ---------------------------------------------------------------- enrolments
    async listEnrolments(scope: Scope, studentId: string, query: { limit: number; cursor?: string }): Promise<Page<EnrolmentRow>> {
      if (!(await enrolments.findStudent(db, scope, studentId))) {
        throw notFound('student');
      }
      const rows = await enrolments.list(db, scope, { studentId, limit: query.limit, afterId: afterId(query.cursor) });
      return toPage(rows, query.limit, byId);
    },

    /**
     * Enrols one student in a plan of its school: the period inside the plan's academic
     * year, optional items the plan has, payers that are guardians of the student's
     * family with shares summing to 1 (within 1e-6, after rounding each to the six
     * decimals stored). Refuses a second enrolment in the same plan for an overlapping
     * period (409). Under the plan's row lock.
     */
    async enrol(actor: Actor, studentId: string, body: CreateEnrolmentBody): Promise<EnrolmentRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const student = await enrolments.findStudent(trx, scope, studentId);
        if (!student) {
          throw notFound('student');
        }
        const head = await plans.findHead(trx, scope, body.feePlanId, { forUpdate: true });
        if (!head || head.schoolId !== student.schoolId) {
          throw new AppError('REFERENCE_NOT_FOUND', 'no fee plan of the student’s school with this id', {
            errors: [field('feePlanId', 'is not a fee plan of the student’s school')],
          });
        }
        if (!student.isActive) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'the student is not active', { errors: [{ field: 'id', in: 'params', message: 'student is not active' }] });
        }
        const plan = await plans.withItems(trx, head);
        const to = body.to ?? null;
        const optionalItems = body.optionalItems ?? [];
        const payers = body.payers ?? [];
        const errors = [...periodErrors(head, body.from, to), ...optionalErrors(plan, optionalItems)];

        const guardianIds = payers.map((p) => p.guardianId);
        const ofFamily = student.familyId === null ? new Set<string>() : await enrolments.guardiansOfFamily(trx, student.schoolId, student.familyId, guardianIds);
        payers.forEach((payer, i) => {
          if (guardianIds.indexOf(payer.guardianId) !== i) {
            errors.push(field(`payers.${i}.guardianId`, 'this guardian is already a payer of this enrolment'));
          } else if (!ofFamily.has(payer.guardianId)) {
            errors.push(field(`payers.${i}.guardianId`, student.familyId === null ? 'the student has no family, so no guardian can pay' : 'is not a guardian of the student’s family'));
          }
          if (micro(payer.share) <= 0) {
            errors.push(field(`payers.${i}.share`, 'must be at least 0.000001'));
          }
        });
        if (payers.length > 0) {
          const total = payers.reduce((sum, p) => sum + micro(p.share), 0);
          if (Math.abs(total - 1_000_000) > 1) {
            errors.push(field('payers', `shares must sum to 1 (within 1e-6); they sum to ${total / 1_000_000}`));
          }
        }
        if (errors.length > 0) {
          throw invalid(errors);
        }
        if (await enrolments.hasOverlapping(trx, { schoolId: student.schoolId, studentId, feePlanId: head.id, from: body.from, to })) {
          throw new AppError('ALREADY_EXISTS', 'the student is already enrolled in this plan for part of this period', {
            errors: [field('feePlanId', 'the student already has an enrolment in this plan overlapping from–to')],
          });
        }
        const id = await enrolments.insert(trx, {
          schoolId: student.schoolId,
          studentId,
          feePlanId: head.id,
          from: body.from,
          to,
          optionalItems,
          payers: payers.map((p) => ({ guardianId: p.guardianId, share: (micro(p.share) / 1_000_000).toFixed(6) })),
        });
        const enrolment = await enrolments.findById(trx, scope, id);
        if (!enrolment) {
          throw notFound('enrolment');
        }
        await recordAudit(trx, actor, { action: 'enrolment.create', entityType: 'enrolment', entityId: id, schoolId: student.schoolId, changes: { studentId, ...body } });
        return enrolment;
      });
    },

    /**
     * POST /fee-plans/:id/enrolments: the listed students (all of the plan's school:
     * others are a 422 naming studentIds.N), or every active student of a grade, not yet
     * enrolled in this plan for an overlapping period, get an enrolment. One transaction,
     * one set-based insert; inactive listed students and those already enrolled are
     * counted as skipped.
     */
    async enrolMany(actor: Actor, planId: string, body: BulkEnrolmentBody): Promise<{ enrolled: number; skipped: number }> {
      const scope = requirePrincipal(actor);
      if ((body.studentIds === undefined) === (body.grade === undefined)) {
        throw invalid([field(body.studentIds === undefined ? 'studentIds' : 'grade', 'give either studentIds or grade (one of them)')]);
      }
      if (body.grade !== undefined && body.grade.trim() === '') {
        throw invalid([field('grade', 'must not be blank')]);
      }
      return db.transaction().execute(async (trx) => {
        const head = await visiblePlan(trx, scope, planId, true);
        const plan = await plans.withItems(trx, head);
        const to = body.to ?? null;
        const optionalItems = body.optionalItems ?? [];
        const errors = [...periodErrors(head, body.from, to), ...optionalErrors(plan, optionalItems)];
        let studentIds: string[] | undefined;
        if (body.studentIds !== undefined) {
          studentIds = [...new Set(body.studentIds)];
          const known = await enrolments.existingStudents(trx, head.schoolId, studentIds);
          body.studentIds.forEach((id, i) => {
            if (!known.has(id) && errors.length < 20) {
              errors.push(field(`studentIds.${i}`, 'is not a student of the plan’s school'));
            }
          });
        }
        if (errors.length > 0) {
          throw invalid(errors);
        }
        const result = await enrolments.insertMany(trx, {
          schoolId: head.schoolId,
          feePlanId: head.id,
          from: body.from,
          to,
          optionalItems,
          ...(studentIds !== undefined ? { studentIds } : { grade: (body.grade ?? '').trim() }),
        });
        const answer = { enrolled: result.enrolled, skipped: result.candidates - result.enrolled };
        await recordAudit(trx, actor, {
          action: 'enrolment.bulk_create',
          entityType: 'fee_plan',
          entityId: head.id,
          schoolId: head.schoolId,
          changes: { ...(studentIds ? { students: studentIds.length } : { grade: body.grade }), from: body.from, to, optionalItems, ...answer },
        });
        return answer;
      });
    },

    /**
     * Withdrawal (PATCH /enrolments/:id {to}): bill runs stop at `to`, and the invoices
     * this enrolment billed that fall due after it are cancelled through the ledger
     * (voidInvoice) — unless something is settled on them (paid, credited, adjusted), or
     * they also bill another enrolment of the student: those are kept and counted in
     * `kept`. Extending `to` over instalments an earlier withdrawal cancelled is refused
     * (their exactly-once keys are spent; enrol the student again instead). Locks: the
     * plan row, the enrolment row, then the invoices in (due_date, id) order.
     */
    async withdraw(actor: Actor, id: string, body: PatchEnrolmentBody): Promise<WithdrawalResult> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const found = await enrolments.findById(trx, scope, id);
        if (!found) {
          throw notFound('enrolment');
        }
        const head = await visiblePlan(trx, scope, found.feePlanId, true);
        const enrolment = await enrolments.findById(trx, scope, id, { forUpdate: true });
        if (!enrolment) {
          throw notFound('enrolment');
        }
        const errors = periodErrors(head, enrolment.from, body.to);
        if (errors.length > 0) {
          throw invalid(errors);
        }
        if (enrolment.to !== null && body.to > enrolment.to) {
          const cancelledBefore = await enrolments.cancelledBetween(trx, enrolment, enrolment.to, body.to);
          if (cancelledBefore > 0) {
            throw new AppError('CONFLICT', `instalments up to ${body.to} were cancelled by an earlier withdrawal and are not billed again; enrol the student again from the new date instead`, {
              errors: [field('to', `must not extend over instalments already cancelled (after ${enrolment.to})`)],
            });
          }
        }
        const invoices = await enrolments.lockBilledAfter(trx, enrolment, body.to);
        const cancelledInvoiceIds: string[] = [];
        const keptInvoiceIds: string[] = [];
        for (const invoice of invoices) {
          if (invoice.paidAmount > 0 || invoice.shared) {
            keptInvoiceIds.push(invoice.id);
          } else {
            await deps.voidInvoice(trx, { schoolId: enrolment.schoolId, invoiceId: invoice.id });
            cancelledInvoiceIds.push(invoice.id);
          }
        }
        await enrolments.setTo(trx, enrolment, body.to);
        await recordAudit(trx, actor, {
          action: 'enrolment.withdraw',
          entityType: 'enrolment',
          entityId: id,
          schoolId: enrolment.schoolId,
          changes: { to: { from: enrolment.to, to: body.to }, cancelledInvoiceIds, keptInvoiceIds },
        });
        const after = await enrolments.findById(trx, scope, id);
        if (!after) {
          throw notFound('enrolment');
        }
        return { ...after, cancelled: cancelledInvoiceIds.length, kept: keptInvoiceIds.length, cancelledInvoiceIds, keptInvoiceIds };
      });
    },
  };
}

export type FeePlansService = ReturnType<typeof createFeePlansService>;
