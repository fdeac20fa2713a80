import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { Db } from '../../db/database.js';
import type { Principal } from '../../shared/policy.js';
import { todayIn } from '../../shared/time.js';
import type { BillingReportsRepository } from '../reporting/billing-reports.repository.js';
import type { DashboardService } from '../reporting/dashboard.service.js';
import type { AssistantRepository, DebtorRow, StudentRef } from './assistant.repository.js';
import { addDays, daysBetween, formatMoney, type Language } from './format.js';
import type { OutputGuard } from './guard.js';
import { isUuid } from './intents.js';
import type { ToolDefinition } from './llm.js';
import { assessRisk, type RiskAssessment } from './risk.js';

/**
 * The assistant's data access, shared by both providers: the rule engine calls these
 * functions directly, the LLM calls them as tools. Each one reads only through the
 * caller's Principal (scoped repositories, the dashboard service) and presents every
 * student name through the request's OutputGuard, so results are already masked per role
 * when they reach an answer or a prompt. Amounts are integer minor units with a
 * `…Formatted` twin in the answer's language.
 */
export interface ToolContext {
  principal: Principal;
  guard: OutputGuard;
  language: Language;
}

const MAX_LIST = 20;

const StudentArgs = Type.Object({ student: Type.String({ minLength: 1, maxLength: 120, description: 'the student id (UUID) or their name' }) }, { additionalProperties: false });
const QueryArgs = Type.Object({ query: Type.String({ minLength: 1, maxLength: 100, description: 'words of the student name' }) }, { additionalProperties: false });
const SchoolArgs = Type.Object({ school: Type.String({ minLength: 1, maxLength: 200, description: 'the school name, or part of it' }) }, { additionalProperties: false });
const TopArgs = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST, description: 'rows per currency (default 5)' })),
    school: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'only this school (name or part of it)' })),
  },
  { additionalProperties: false },
);
const MonthArgs = Type.Object(
  { month: Type.Optional(Type.Union([Type.Literal('this'), Type.Literal('last')], { description: 'this month (default) or last month' })) },
  { additionalProperties: false },
);
const NoArgs = Type.Object({}, { additionalProperties: false });
const RiskArgs = Type.Object({ studentId: Type.String({ format: 'uuid', description: 'the student id (UUID)' }) }, { additionalProperties: false });

export interface MonthWindow {
  month: string;
  from: string;
  to: string;
}

/** The calendar month of `today` shifted by `offset` months: 'YYYY-MM' and its first and last day. */
export function monthWindow(today: string, offset: number): MonthWindow {
  const [year = 1970, month = 1] = today.split('-').map(Number);
  const first = new Date(Date.UTC(year, month - 1 + offset, 1));
  const next = new Date(Date.UTC(year, month + offset, 1));
  const from = first.toISOString().slice(0, 10);
  return { month: from.slice(0, 7), from, to: addDays(next.toISOString().slice(0, 10), -1) };
}

export function createAssistantTools(deps: { db: Db; repo: AssistantRepository; dashboard: DashboardService; reports: BillingReportsRepository }) {
  const { db, repo, dashboard, reports } = deps;
  const money = (ctx: ToolContext, minor: number, currency: string) => formatMoney(minor, currency, ctx.language);

  const debtor = (ctx: ToolContext, row: DebtorRow, today?: string) => ({
    studentId: row.studentId,
    studentName: ctx.guard.name(row.firstName, row.lastName),
    schoolName: row.schoolName,
    grade: row.grade,
    currency: row.currency,
    balance: row.balance,
    balanceFormatted: money(ctx, row.balance, row.currency),
    overdue: row.overdue,
    overdueFormatted: money(ctx, row.overdue, row.currency),
    overdueBills: row.overdueBills,
    oldestOverdueDueDate: row.oldestOverdueDueDate,
    ...(today !== undefined && row.oldestOverdueDueDate !== null ? { daysOverdue: daysBetween(row.oldestOverdueDueDate, today) } : {}),
  });

  /** The zone that decides "this month" for the caller: their schools' zone when they share one, else UTC. */
  async function zoneOf(principal: Principal, schoolId?: string): Promise<string> {
    const schools = await repo.visibleSchools(db, principal);
    const relevant = schoolId === undefined ? schools : schools.filter((school) => school.schoolId === schoolId);
    const zones = [...new Set(relevant.map((school) => school.timezone))];
    return zones.length === 1 ? (zones[0] ?? 'UTC') : 'UTC';
  }

  async function studentBalance(ctx: ToolContext, args: Static<typeof StudentArgs>) {
    const query = args.student.trim();
    let student: StudentRef | undefined;
    if (isUuid(query)) {
      student = await repo.findStudent(db, ctx.principal, query);
    } else if (ctx.principal.pii === 'masked') {
      // A role that sees initials cannot look students up by name: that would let it
      // confirm who is who. It can ask by id (from lists it may see).
      return { found: false as const, reason: 'names_masked' as const };
    } else {
      const matches = await repo.searchStudentsByName(db, ctx.principal, query, 6);
      if (matches.length > 1) {
        return {
          found: false as const,
          query,
          reason: 'ambiguous' as const,
          candidates: matches.map((match) => ({ studentId: match.studentId, studentName: ctx.guard.name(match.firstName, match.lastName), schoolName: match.schoolName })),
        };
      }
      student = matches[0];
    }
    if (!student) {
      return { found: false as const, reason: 'not_found' as const };
    }
    const bills = await repo.openBills(db, ctx.principal, student.studentId);
    const outstanding = bills.reduce((sum, bill) => sum + bill.pending, 0);
    const overdueBills = bills.filter((bill) => bill.overdue);
    const overdue = overdueBills.reduce((sum, bill) => sum + bill.pending, 0);
    return {
      found: true as const,
      student: { studentId: student.studentId, studentName: ctx.guard.name(student.firstName, student.lastName), schoolId: student.schoolId, schoolName: student.schoolName, grade: student.grade },
      currency: student.currency,
      outstanding,
      outstandingFormatted: money(ctx, outstanding, student.currency),
      overdue,
      overdueFormatted: money(ctx, overdue, student.currency),
      oldestOverdueDueDate: overdueBills[0]?.dueDate ?? null,
      openBillCount: bills.length,
      openBills: bills.slice(0, 10).map((bill) => ({
        number: bill.number,
        dueDate: bill.dueDate,
        pending: bill.pending,
        pendingFormatted: money(ctx, bill.pending, student.currency),
        status: bill.overdue ? 'OVERDUE' : 'OPEN',
      })),
    };
  }

  async function findStudents(ctx: ToolContext, args: Static<typeof QueryArgs>) {
    if (ctx.principal.pii === 'masked') {
      return { found: false as const, reason: 'names_masked' as const };
    }
    const matches = await repo.searchStudentsByName(db, ctx.principal, args.query, 10);
    return {
      found: matches.length > 0,
      students: matches.map((match) => ({
        studentId: match.studentId,
        studentName: ctx.guard.name(match.firstName, match.lastName),
        schoolName: match.schoolName,
        grade: match.grade,
        balance: match.balance,
        balanceFormatted: money(ctx, match.balance, match.currency),
      })),
    };
  }

  async function overdueInSchool(ctx: ToolContext, args: Static<typeof SchoolArgs>) {
    const [school] = await repo.findSchoolsByName(db, ctx.principal, args.school.trim(), 1);
    if (!school) {
      return { found: false as const, reason: 'not_found' as const };
    }
    const today = todayIn(school.timezone);
    const result = await repo.overdueInSchool(db, ctx.principal, school.schoolId, 10);
    return {
      found: true as const,
      schoolId: school.schoolId,
      schoolName: school.schoolName,
      currency: school.currency,
      today,
      studentCount: result.studentCount,
      overdueAmount: result.overdueAmount,
      overdueFormatted: money(ctx, result.overdueAmount, school.currency),
      overdueBills: result.overdueBills,
      students: result.students.map((row) => debtor(ctx, row, today)),
    };
  }

  async function overdueSummary(ctx: ToolContext) {
    const [report, students] = await Promise.all([dashboard.get(ctx.principal, {}), repo.topOverdue(db, ctx.principal, 5)]);
    return {
      totalsByCurrency: report.totalsByCurrency.map((row) => ({
        currency: row.currency,
        amountOverdue: row.amountOverdue,
        amountOverdueFormatted: money(ctx, row.amountOverdue, row.currency),
      })),
      schools: report.bySchool
        .filter((row) => row.amountOverdue > 0)
        .sort((a, b) => b.amountOverdue - a.amountOverdue)
        .slice(0, 10)
        .map((row) => ({ schoolId: row.schoolId, schoolName: row.schoolName, currency: row.currency, amountOverdue: row.amountOverdue, amountOverdueFormatted: money(ctx, row.amountOverdue, row.currency) })),
      students: students.map((row) => debtor(ctx, row)),
    };
  }

  async function topDebtors(ctx: ToolContext, args: Static<typeof TopArgs>) {
    let schoolId: string | undefined;
    let schoolName: string | undefined;
    if (args.school !== undefined) {
      const [school] = await repo.findSchoolsByName(db, ctx.principal, args.school.trim(), 1);
      if (!school) {
        return { found: false as const, reason: 'not_found' as const };
      }
      schoolId = school.schoolId;
      schoolName = school.schoolName;
    }
    const limit = args.limit ?? 5;
    const rows = await repo.topDebtors(db, ctx.principal, { limit, ...(schoolId !== undefined ? { schoolId } : {}) });
    return { found: true as const, limit, perCurrency: true, ...(schoolName !== undefined ? { schoolName } : {}), debtors: rows.map((row) => debtor(ctx, row)) };
  }

  async function collectionRate(ctx: ToolContext, args: Static<typeof MonthArgs>, schoolId?: string) {
    const timezone = await zoneOf(ctx.principal, schoolId);
    const window = monthWindow(todayIn(timezone), args.month === 'last' ? -1 : 0);
    const report = await dashboard.get(ctx.principal, { from: window.from, to: window.to, ...(schoolId !== undefined ? { schoolId } : {}) });
    return {
      month: window.month,
      from: window.from,
      to: window.to,
      timezone,
      definition: 'collectionRate = (amountDue − amountOutstanding) / amountDue over bills due in the month; amountCollected = money received in the month',
      byCurrency: report.totalsByCurrency.map((row) => {
        const paidOfDue = row.amountDue - row.amountOutstanding;
        const rate = row.amountDue === 0 ? null : Math.round((paidOfDue / row.amountDue) * 10_000) / 10_000;
        return {
          currency: row.currency,
          amountDue: row.amountDue,
          amountDueFormatted: money(ctx, row.amountDue, row.currency),
          amountPaidOfDue: paidOfDue,
          amountOutstanding: row.amountOutstanding,
          amountOverdue: row.amountOverdue,
          amountCollected: row.amountCollected,
          amountCollectedFormatted: money(ctx, row.amountCollected, row.currency),
          collectionRate: rate,
        };
      }),
    };
  }

  async function compareSchools(ctx: ToolContext) {
    const rows = await reports.schoolSummaries(db, ctx.principal, { limit: 200 });
    const truncated = rows.length > 200;
    const schools = rows
      .slice(0, 200)
      .map((row) => ({
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        currency: row.currency,
        totalStudents: row.totalStudents,
        totalInvoiced: row.totalInvoiced,
        totalPaid: row.totalPaid,
        totalCredited: row.totalCredited,
        totalPending: row.totalPending,
        totalOverdue: row.totalOverdue,
        totalPendingFormatted: money(ctx, row.totalPending, row.currency),
        totalOverdueFormatted: money(ctx, row.totalOverdue, row.currency),
        collectionRate: Number(row.collectionRate),
      }))
      .sort((a, b) => b.collectionRate - a.collectionRate || a.schoolName.localeCompare(b.schoolName));
    return { schools, truncated, definition: 'collectionRate = totalPaid / (totalInvoiced − totalCredited) over all non-cancelled bills: cash paid over what is owed once credit notes and write-offs are taken off' };
  }

  /** Risk of one visible student, or undefined (missing or out of scope: the caller cannot tell). */
  async function studentRisk(ctx: ToolContext, studentId: string): Promise<{ student: StudentRef; studentName: string; assessment: RiskAssessment } | undefined> {
    const student = await repo.findStudent(db, ctx.principal, studentId);
    if (!student) {
      return undefined;
    }
    const bills = await repo.billHistory(db, ctx.principal, studentId);
    const studentName = ctx.guard.name(student.firstName, student.lastName);
    const assessment = assessRisk(
      { studentId, schoolId: student.schoolId, schoolName: student.schoolName, displayName: studentName, currency: student.currency, enrolledAt: student.enrolledAt, today: student.today, bills },
      ctx.language,
    );
    return { student, studentName, assessment };
  }

  async function riskForStudent(ctx: ToolContext, args: Static<typeof RiskArgs>) {
    const risk = await studentRisk(ctx, args.studentId);
    if (!risk) {
      return { found: false as const, reason: 'not_found' as const };
    }
    const { assessment } = risk;
    return {
      found: true as const,
      studentId: args.studentId,
      studentName: risk.studentName,
      schoolName: risk.student.schoolName,
      currency: risk.student.currency,
      riskLevel: assessment.riskLevel,
      riskScore: assessment.riskScore,
      predictedPaymentProbability: assessment.predictedPaymentProbability,
      factors: assessment.riskFactors.map((factor) => ({ code: factor.code, points: factor.points, detail: factor.detail })),
      suggestedAction: assessment.suggestedAction,
    };
  }

  const table: Record<string, { description: string; schema: TSchema; run: (ctx: ToolContext, args: never) => Promise<unknown> }> = {
    get_student_balance: {
      description: 'Open balance of one student: outstanding and overdue amounts and open bills. Pass the student id, or (roles that see names) the name.',
      schema: StudentArgs,
      run: studentBalance,
    },
    find_students: { description: 'Find students by name (not available to roles that see names masked).', schema: QueryArgs, run: findStudents },
    overdue_in_school: { description: 'Students with overdue bills in one school, largest overdue first, with totals.', schema: SchoolArgs, run: overdueInSchool },
    overdue_summary: { description: 'Overdue totals per currency, the schools and the students with the most overdue.', schema: NoArgs, run: overdueSummary },
    top_debtors: { description: 'Students with the largest open balances, per currency.', schema: TopArgs, run: topDebtors },
    collection_rate: { description: 'Collection rate of bills due this (or last) month, and money collected in the month, per currency.', schema: MonthArgs, run: (ctx, args) => collectionRate(ctx, args) },
    compare_schools: { description: 'Per-school invoiced, paid, pending and overdue totals and collection rate, best first.', schema: NoArgs, run: compareSchools },
    risk_for_student: { description: 'Payment risk score (0–100), level and factors of one student, by id.', schema: RiskArgs, run: riskForStudent },
  };

  const definitions: ToolDefinition[] = Object.entries(table).map(([name, tool]) => ({
    name,
    description: tool.description,
    parameters: JSON.parse(JSON.stringify(tool.schema)) as Record<string, unknown>,
  }));

  /** Runs a tool by name with untrusted arguments (from a model): unknown tools and bad arguments are results, not exceptions. */
  async function run(ctx: ToolContext, name: string, args: unknown): Promise<unknown> {
    const tool = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!tool) {
      return { error: `unknown tool ${name}` };
    }
    if (!Value.Check(tool.schema, args)) {
      const [first] = Value.Errors(tool.schema, args);
      return { error: `invalid arguments: ${first?.message ?? 'do not match the schema'}` };
    }
    return tool.run(ctx, args as never);
  }

  return { definitions, run, studentBalance, findStudents, overdueInSchool, overdueSummary, topDebtors, collectionRate, compareSchools, studentRisk, riskForStudent, zoneOf };
}

export type AssistantTools = ReturnType<typeof createAssistantTools>;
