import { sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { inScope, inScopeSql, type Scope } from '../../shared/scope.js';
import { DAY_MS, HOUR_MS } from '../../shared/time.js';

/**
 * SQL of the failures feed. For every school, counts, amounts and the series come from
 * the rollups (migration 0032) for the whole UTC hours and days inside the window, and
 * from the raw failed transactions (transactions_failures_idx, predicate `status =
 * 'failed'`) for the two partial hours at its edges, so every number is exact and the
 * cost grows neither with the window nor with the platform. Filtered to a school, the
 * school's raw rows. The recent list is a bounded index scan of the raw rows. Tenant
 * scope via `inScope`; failures of soft-deleted schools stay visible (they happened,
 * and this is operations monitoring, not a billing report).
 */
export interface FailuresFilter {
  from: Date;
  to: Date;
  schoolId?: string;
  method?: PaymentMethod;
  /** Any of these gateways. */
  gateways?: readonly string[];
  /** Any of these failure codes. */
  failureCodes?: readonly string[];
}

/** The window's failed transactions, filtered: every column read is in transactions_failures_idx. */
function failed(db: DbOrTx, scope: Scope, filter: FailuresFilter) {
  return db
    .selectFrom('transactions')
    .where('transactions.status', '=', 'failed')
    .where('transactions.created_at', '>=', filter.from)
    .where('transactions.created_at', '<=', filter.to)
    .where((eb) => inScope(eb, 'transactions.school_id', scope))
    .$if(filter.schoolId !== undefined, (qb) => qb.where('transactions.school_id', '=', filter.schoolId ?? ''))
    .$if(filter.method !== undefined, (qb) => qb.where('transactions.method', '=', filter.method ?? 'card'))
    .$if(filter.gateways !== undefined, (qb) => qb.where('transactions.gateway', 'in', [...(filter.gateways ?? [])]))
    .$if(filter.failureCodes !== undefined, (qb) => qb.where('transactions.failure_code', 'in', [...(filter.failureCodes ?? [])]));
}

/** The filters on method, gateway and code over a row source aliased `r`. */
function bucketFilters(filter: FailuresFilter): RawBuilder<boolean> {
  return sql<boolean>`true
    ${filter.method === undefined ? sql`` : sql`and r.method = ${filter.method}`}
    ${filter.gateways === undefined ? sql`` : sql`and r.gateway = any(${[...filter.gateways]}::text[])`}
    ${filter.failureCodes === undefined ? sql`` : sql`and r.failure_code = any(${[...filter.failureCodes]}::text[])`}`;
}

/**
 * The window's failures as buckets (hour, currency, failure_code, gateway, failures,
 * amount). For a caller who sees every school, unfiltered by school: the whole hours
 * [ceil(from), floor(to)) from the rollups — with a daily series, the whole UTC days
 * among them from failure_days and the hours around them from failure_hours — and the
 * two partial hours at the edges from the raw rows. Filtered to schools (one, or a
 * caller's): their raw rows, as few as one school's failures are. Every failure is in
 * exactly one part.
 */
function buckets(scope: Scope, filter: FailuresFilter, unit: 'hour' | 'day'): RawBuilder<unknown> {
  const raw = (where: RawBuilder<boolean>) => sql`
    select date_trunc('hour', r.created_at, 'UTC'), s.currency, r.failure_code, r.gateway, 1, r.amount
      from transactions r join schools s on s.id = r.school_id
     where r.status = 'failed' and ${bucketFilters(filter)} and ${where}
       and ${inScopeSql('r.school_id', scope)}
       ${filter.schoolId === undefined ? sql`` : sql`and r.school_id = ${filter.schoolId}`}`;
  if (scope.schoolIds !== 'all' || filter.schoolId !== undefined) {
    return raw(sql<boolean>`r.created_at >= ${filter.from} and r.created_at <= ${filter.to}`);
  }
  // The window's boundaries, computed here once (UTC arithmetic on whole hours and days)
  // rather than as date_trunc expressions in the statement: those are not constants to
  // PostgreSQL (date_trunc with a zone is STABLE), so each filter on them was evaluated
  // again for every bucket it read (half the 720-hour feed's database time).
  const { whole, current, firstDay, lastDay } = windowBoundaries(filter.from, filter.to);
  const hours = (from: Date, to: Date) => sql`
    select r.hour, r.currency, r.failure_code, r.gateway, r.failures, r.amount
      from failure_hours r
     where r.hour >= ${from} and r.hour < ${to} and ${bucketFilters(filter)}`;
  let tier: RawBuilder<unknown>;
  if (unit === 'day') {
    // Whole days [firstDay, lastDay) inside the whole hours (none when lastDay ≤ firstDay),
    // the whole hours before and after them as two range reads.
    tier = sql`select r.day, r.currency, r.failure_code, r.gateway, r.failures, r.amount
                 from failure_days r
                where r.day >= ${firstDay} and r.day < ${lastDay} and ${bucketFilters(filter)}
               union all
               ${hours(whole, earliest(firstDay, current))}
               union all
               ${hours(latest(lastDay, firstDay, whole), current)}`;
  } else {
    tier = hours(whole, current);
  }
  // The two edges as two range reads, not one read of `a or b`: each is then an index-only
  // scan of transactions_failures_idx (which carries every column read here), where the
  // `or` made a bitmap scan that visits one heap page per failure (at data set L, 1 300
  // failures at the edges: 23 ms against 1.6 ms).
  return sql`
    ${tier}
    union all
    ${raw(sql<boolean>`r.created_at >= ${filter.from} and r.created_at < ${latest(whole, filter.from)}`)}
    union all
    ${raw(sql<boolean>`r.created_at >= ${latest(current, whole)} and r.created_at <= ${filter.to}`)}`;
}

const earliest = (...dates: Date[]) => new Date(Math.min(...dates.map((date) => date.getTime())));
const latest = (...dates: Date[]) => new Date(Math.max(...dates.map((date) => date.getTime())));

/**
 * The parts of a window [from, to] in UTC: `whole` the first whole hour's start (from
 * rounded up to the hour), `current` the start of the hour holding `to` (the whole hours
 * are [whole, current)), and among them the whole days [firstDay, lastDay) (firstDay is
 * `whole` rounded up to the day, lastDay `current` rounded down; none when lastDay ≤
 * firstDay).
 */
export function windowBoundaries(from: Date, to: Date): { whole: Date; current: Date; firstDay: Date; lastDay: Date } {
  const whole = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const current = Math.floor(to.getTime() / HOUR_MS) * HOUR_MS;
  return { whole: new Date(whole), current: new Date(current), firstDay: new Date(Math.ceil(whole / DAY_MS) * DAY_MS), lastDay: new Date(Math.floor(current / DAY_MS) * DAY_MS) };
}

/** Failures summed per hour (or whole day), per (failure code, currency), or per gateway: the other keys null. */
export interface FailureCount {
  hour: string | null;
  failureCode: string | null;
  currency: string | null;
  gateway: string | null;
  count: number;
  amount: number;
}

export function createFailuresRepository() {
  return {
    /**
     * The window's failures summed three ways in one scan of the buckets (grouping
     * sets): per hour (or day, for a daily series: the buckets of the tiers are whole
     * days and hours), per (failure code, currency) and per gateway. A row has the key of
     * its set and nulls elsewhere.
     */
    async counts(db: DbOrTx, scope: Scope, filter: FailuresFilter, unit: 'hour' | 'day'): Promise<FailureCount[]> {
      const { rows } = await sql<FailureCount>`
        select to_char(b.hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour, b.failure_code as "failureCode", b.currency, b.gateway,
               sum(b.failures)::bigint as count, sum(b.amount)::bigint as amount
          from (${buckets(scope, filter, unit)}) b (hour, currency, failure_code, gateway, failures, amount)
         group by grouping sets ((b.hour), (b.failure_code, b.currency), (b.gateway))`.execute(db);
      return rows;
    },

    /**
     * The newest failures of the window: their ids first, from transactions_failures_idx
     * alone (an index-only scan: every filter's column is in it), then those rows. Read
     * in one query with the rows' other columns, the planner could walk
     * transactions_created_idx instead and skip every newer success one by one (at data
     * set L after a burst of payments, 14 000 of them: 37 ms against 0.9 ms).
     */
    async recent(db: DbOrTx, scope: Scope, filter: FailuresFilter, limit: number) {
      const newest = failed(db, scope, filter)
        .select(['transactions.id', 'transactions.created_at'])
        .orderBy('transactions.created_at', 'desc')
        .orderBy('transactions.id', 'desc')
        .limit(limit);
      return db
        .selectFrom(newest.as('n'))
        .innerJoin('transactions', 'transactions.id', 'n.id')
        .innerJoin('schools', 'schools.id', 'transactions.school_id')
        .select([
          'transactions.id',
          'transactions.created_at as createdAt',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'transactions.method',
          'transactions.gateway',
          'transactions.amount',
          'schools.currency',
          sql<string>`transactions.failure_code`.as('failureCode'),
          'transactions.failure_message as failureMessage',
        ])
        .orderBy('n.created_at', 'desc')
        .orderBy('n.id', 'desc')
        .execute();
    },
  };
}

export type FailuresRepository = ReturnType<typeof createFailuresRepository>;
