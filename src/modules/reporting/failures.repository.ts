import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';

/**
 * SQL of the failures feed. Every statement reads failed transactions in the window
 * `from <= created_at <= to` (a range scan of transactions_failures_idx, whose
 * predicate is `status = 'failed'`), joined to schools for name and currency only.
 * Tenant scope via `inScope`; failures of soft-deleted schools stay visible (they
 * happened, and this is operations monitoring, not a billing report).
 */
export interface FailuresFilter {
  from: Date;
  to: Date;
  schoolId?: string;
  method?: PaymentMethod;
  gateway?: string;
  failureCode?: string;
}

function failed(db: DbOrTx, scope: Scope, filter: FailuresFilter) {
  return db
    .selectFrom('transactions')
    .innerJoin('schools', 'schools.id', 'transactions.school_id')
    .where('transactions.status', '=', 'failed')
    .where('transactions.created_at', '>=', filter.from)
    .where('transactions.created_at', '<=', filter.to)
    .where((eb) => inScope(eb, 'transactions.school_id', scope))
    .$if(filter.schoolId !== undefined, (qb) => qb.where('transactions.school_id', '=', filter.schoolId ?? ''))
    .$if(filter.method !== undefined, (qb) => qb.where('transactions.method', '=', filter.method ?? 'card'))
    .$if(filter.gateway !== undefined, (qb) => qb.where('transactions.gateway', '=', filter.gateway ?? ''))
    .$if(filter.failureCode !== undefined, (qb) => qb.where('transactions.failure_code', '=', filter.failureCode ?? ''));
}

export function createFailuresRepository() {
  return {
    /** Count and amount per (failure code, currency). */
    byCodeAndCurrency(db: DbOrTx, scope: Scope, filter: FailuresFilter) {
      return failed(db, scope, filter)
        .select([
          sql<string>`transactions.failure_code`.as('failureCode'),
          'schools.currency',
          sql<number>`count(*)`.as('count'),
          sql<number>`sum(transactions.amount)`.as('amount'),
        ])
        .groupBy(['transactions.failure_code', 'schools.currency'])
        .execute();
    },

    byGateway(db: DbOrTx, scope: Scope, filter: FailuresFilter) {
      return failed(db, scope, filter)
        .select(['transactions.gateway', sql<number>`count(*)`.as('count')])
        .groupBy('transactions.gateway')
        .orderBy(sql`count(*)`, 'desc')
        .orderBy('transactions.gateway')
        .execute();
    },

    /**
     * Failures per UTC hour or day, every bucket from the one holding `from` to the one
     * holding `to` (empty ones with 0), oldest first.
     */
    async series(db: DbOrTx, scope: Scope, filter: FailuresFilter, unit: 'hour' | 'day'): Promise<{ bucket: string; count: number }[]> {
      const step = sql.lit(`1 ${unit}`);
      const counted = failed(db, scope, filter)
        .select([sql<Date>`date_trunc(${sql.lit(unit)}, transactions.created_at at time zone 'UTC')`.as('bucket'), sql<number>`count(*)`.as('count')])
        .groupBy(sql`1`);
      const result = await sql<{ bucket: string; count: number }>`
        with counted as (${counted})
        select to_char(b.bucket, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket, coalesce(counted.count, 0)::int as count
        from generate_series(
          date_trunc(${sql.lit(unit)}, ${filter.from}::timestamptz at time zone 'UTC'),
          date_trunc(${sql.lit(unit)}, ${filter.to}::timestamptz at time zone 'UTC'),
          ${step}::interval
        ) as b(bucket)
        left join counted on counted.bucket = b.bucket
        order by b.bucket`.execute(db);
      return result.rows;
    },

    recent(db: DbOrTx, scope: Scope, filter: FailuresFilter, limit: number) {
      return failed(db, scope, filter)
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
        .orderBy('transactions.created_at', 'desc')
        .orderBy('transactions.id', 'desc')
        .limit(limit)
        .execute();
    },
  };
}

export type FailuresRepository = ReturnType<typeof createFailuresRepository>;
