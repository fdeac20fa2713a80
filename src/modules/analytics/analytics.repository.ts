import { sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod, TransactionStatus } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';

/**
 * SQL of live analytics: the recent-transactions list and the window aggregates behind
 * metrics, trends and methods. Every statement reads `transactions` through a range of
 * created_at (transactions_created_idx, or transactions_school_created_idx with a
 * schoolId; 0007 adds covering twins for the aggregates) joined to `schools` for name,
 * currency and soft deletion, and passes transactions.school_id through `inScope`.
 *
 * Transactions of soft-deleted schools are left out, as in every billing report (a
 * deleted school is not visible, so its schoolId is a 404 here too).
 */
export interface TransactionListFilter {
  limit: number;
  schoolId?: string;
  status?: 'succeeded' | 'failed' | 'refunded';
  method?: PaymentMethod;
  from?: Date;
  to?: Date;
  /** Keyset position: the exact created_at (microseconds, as text) and id of the last row seen. */
  after?: { createdAt: string; id: string };
}

export interface TransactionListRow {
  id: string;
  xactId: string | null;
  schoolId: string;
  schoolName: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  studentFirstName: string | null;
  studentLastName: string | null;
  amount: number;
  currency: string;
  method: PaymentMethod;
  status: TransactionStatus;
  gateway: string;
  failureCode: string | null;
  createdAt: Date;
  /** created_at with its microseconds, for the cursor (a JS Date keeps milliseconds only). */
  cursorAt: string;
}

export interface WindowFilter {
  from: Date;
  to: Date;
  schoolId?: string;
}

/**
 * One group of a window aggregate: the count and amount of one status in one currency,
 * split by whichever dimensions were asked for (null when not).
 */
export interface ActivityRow {
  currency: string;
  status: 'succeeded' | 'failed' | 'refunded';
  method: PaymentMethod | null;
  /** Hour of day, 0–23, in the zone asked for. */
  hour: number | null;
  /** 1-based position among the bucket starts asked for (k: starts[k − 1] ≤ createdAt < starts[k]). */
  bucket: number | null;
  count: number;
  amount: number;
}

export interface ActivityDimensions {
  method?: boolean;
  /** Split by hour of day in this IANA zone (validated by the caller). */
  hourOfDay?: string;
  /**
   * Split by these bucket starts (ascending): local hours or local days of some zone,
   * computed by the caller, so a day is the zone's calendar day, DST included.
   */
  buckets?: Date[];
}

/**
 * Money movements (succeeded payments and refunds) and failed attempts are aggregated by
 * separate statements, each an index-only range scan of its own covering partial index:
 * transactions_money_idx (0007) and transactions_failures_idx (0005). Failed attempts
 * can outnumber payments several times over, and their statements need fewer dimensions.
 */
export type ActivityKind = 'money' | 'failed';

const KINDS: Record<ActivityKind, { where: RawBuilder<boolean>; status: RawBuilder<ActivityRow['status']> }> = {
  // Literals, not parameters: they must match the partial indexes' predicates.
  money: { where: sql`transactions.status in ('succeeded', 'refunded')`, status: sql`transactions.status` },
  // transactions_failures_idx does not carry status (its predicate fixes it): reading the
  // column would rule out the index-only scan.
  failed: { where: sql`transactions.status = 'failed'`, status: sql`'failed'::text` },
};

/**
 * Counts and sums over [from, to], grouped first per school (the key is in the index)
 * and only then joined to `schools` for the currency and soft deletion, so the join sees
 * a few thousand groups instead of every row.
 */
function activity(db: DbOrTx, scope: Scope, filter: WindowFilter, kind: ActivityKind, dims: ActivityDimensions): Promise<ActivityRow[]> {
  const method = dims.method ? sql<PaymentMethod | null>`transactions.method` : sql<PaymentMethod | null>`null::text`;
  const hour = dims.hourOfDay
    ? sql<number | null>`date_part('hour', transactions.created_at at time zone ${dims.hourOfDay})::int`
    : sql<number | null>`null::int`;
  // width_bucket binary-searches the given starts: no time zone conversion per row, and
  // exact for any zone (half-hour offsets, a 23- or 25-hour DST day).
  const bucket = dims.buckets
    ? sql<number | null>`width_bucket(transactions.created_at, ${dims.buckets}::timestamptz[])`
    : sql<number | null>`null::int`;
  const perSchool = db
    .selectFrom('transactions')
    .select([
      'transactions.school_id',
      KINDS[kind].status.as('status'),
      method.as('method'),
      hour.as('hour'),
      bucket.as('bucket'),
      sql<number>`count(*)`.as('n'),
      sql<number>`sum(transactions.amount)`.as('amount'),
    ])
    .where(KINDS[kind].where)
    .where('transactions.created_at', '>=', filter.from)
    .where('transactions.created_at', '<=', filter.to)
    .where((eb) => inScope(eb, 'transactions.school_id', scope))
    .$if(filter.schoolId !== undefined, (qb) => qb.where('transactions.school_id', '=', filter.schoolId ?? ''))
    .groupBy([sql`1`, sql`2`, sql`3`, sql`4`, sql`5`]);
  return db
    .selectFrom(perSchool.as('a'))
    .innerJoin('schools', 'schools.id', 'a.school_id')
    .select([
      'schools.currency',
      'a.status',
      'a.method',
      'a.hour',
      'a.bucket',
      sql<number>`sum(a.n)::bigint`.as('count'),
      sql<number>`sum(a.amount)::bigint`.as('amount'),
    ])
    .where('schools.deleted_at', 'is', null)
    .groupBy(['schools.currency', 'a.status', 'a.method', 'a.hour', 'a.bucket'])
    .execute();
}

export function createAnalyticsRepository() {
  return {
    /**
     * A keyset page of transactions, newest first: `order by created_at desc, id desc`
     * with the row comparison `(created_at, id) < (cursor)`, which walks
     * transactions_created_idx (or transactions_school_created_idx for one school;
     * transactions_failures_idx for status=failed) from the cursor, so every page costs
     * the same. The invoice and student are joined per row for the number and name.
     */
    listTransactions(db: DbOrTx, scope: Scope, filter: TransactionListFilter): Promise<TransactionListRow[]> {
      return db
        .selectFrom('transactions')
        .innerJoin('schools', 'schools.id', 'transactions.school_id')
        .leftJoin('invoices', 'invoices.id', 'transactions.invoice_id')
        .leftJoin('students', 'students.id', 'invoices.student_id')
        .select([
          'transactions.id',
          sql<string | null>`transactions.xact_id::text`.as('xactId'),
          'transactions.school_id as schoolId',
          'schools.name as schoolName',
          'transactions.invoice_id as invoiceId',
          'invoices.number as invoiceNumber',
          'students.first_name as studentFirstName',
          'students.last_name as studentLastName',
          'transactions.amount',
          'schools.currency',
          'transactions.method',
          'transactions.status',
          'transactions.gateway',
          'transactions.failure_code as failureCode',
          'transactions.created_at as createdAt',
          sql<string>`to_char(transactions.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursorAt'),
        ])
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'transactions.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('transactions.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.status !== undefined, (qb) => qb.where('transactions.status', '=', filter.status ?? 'succeeded'))
        .$if(filter.method !== undefined, (qb) => qb.where('transactions.method', '=', filter.method ?? 'card'))
        .$if(filter.from !== undefined, (qb) => qb.where('transactions.created_at', '>=', filter.from ?? new Date(0)))
        .$if(filter.to !== undefined, (qb) => qb.where('transactions.created_at', '<', filter.to ?? new Date(0)))
        .$if(filter.after !== undefined, (qb) =>
          qb.where(
            (eb) => eb.refTuple('transactions.created_at', 'transactions.id'),
            '<',
            (eb) => eb.tuple(sql<Date>`${filter.after?.createdAt ?? ''}::timestamptz`, sql<string>`${filter.after?.id ?? ''}::uuid`),
          ),
        )
        .orderBy('transactions.created_at', 'desc')
        .orderBy('transactions.id', 'desc')
        .limit(filter.limit + 1)
        .execute();
    },

    /** The currencies of the selected schools (every one gets a row, even with no activity). */
    async currencies(db: DbOrTx, scope: Scope, schoolId?: string): Promise<string[]> {
      const rows = await db
        .selectFrom('schools')
        .select('currency')
        .distinct()
        .where('deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .$if(schoolId !== undefined, (qb) => qb.where('schools.id', '=', schoolId ?? ''))
        .orderBy('currency')
        .execute();
      return rows.map((row) => row.currency);
    },

    /** Counts and sums of one kind of activity over the window, per currency and status, split by the given dimensions. */
    activity,
  };
}

export type AnalyticsRepository = ReturnType<typeof createAnalyticsRepository>;
