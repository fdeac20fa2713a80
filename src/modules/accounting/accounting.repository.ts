import { sql, type CompiledQuery, type RawBuilder } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';
import { visibleSchoolSummary, type SchoolSummary } from '../billing/schools.repository.js';
import { csvText } from '../../shared/sql.js';
import { DEFAULT_ACCOUNTS, type AccountRole, type Accounts } from './accounts.js';

/** One row of the journal as the query answers it: one side of one entry. */
export interface JournalRow {
  /** The instant of the posting, UTC with microseconds (the keyset's first part). */
  atKey: string;
  /** The school-local date of the posting. */
  date: string;
  entryId: string;
  seq: number;
  role: AccountRole;
  /** A cash row's method, or a charge's item account code. */
  detail: string | null;
  debit: string;
  credit: string;
  description: string;
  sourceType: string;
  sourceId: string;
}

export type JournalSchool = SchoolSummary;

export interface JournalRange {
  schoolId: string;
  /** The school's time zone: the range is from the start of `from` to the end of `to` there. */
  timezone: string;
  from: string;
  to: string;
  /** After this row (keyset), for a page. */
  after?: { atKey: string; entryId: string; seq: number };
  limit?: number;
}

/**
 * The journal's rows as CTEs `w` (the school's time zone) and `rows` (one
 * row per side of each entry: at, entry_id, seq, role, detail, debit, credit,
 * description, source_type, source_id), for the JSON pages and the files alike.
 */
function journalRows(range: Pick<JournalRange, 'schoolId' | 'timezone' | 'from' | 'to'>) {
  // The school and the range's instants as constants of the statement rather than columns
  // of a CTE: the planner then knows how many rows each source has in the range, and
  // joins a large school's invoices by hash instead of looking each one up (a third of
  // the journal's database time on data set L).
  const school = sql`${range.schoolId}::uuid`;
  const t0 = sql`(${range.from}::date::timestamp at time zone ${range.timezone}::text)`;
  const t1 = sql`((${range.to}::date + 1)::timestamp at time zone ${range.timezone}::text)`;
  return sql`
        with w as (select ${range.timezone}::text as timezone),
        rows as (
          -- Each source row is joined to a constant list of its sides (x.seq), and each side's
          -- columns are a case over x.seq: a lateral VALUES per source row would be rescanned
          -- for every row, and cost most of the journal's time.
          --
          -- Invoice lines: a charge (receivable / income, the account of the item), a late fee (receivable / late fees), a discount (discounts / receivable);
          -- the lines of a cancelled invoice reversed on the day it was cancelled (nothing was paid on it): the same two sides, swapped
          -- (side 1 of a line, or side 2 of its reversal, is the line's own account; the other is its counter-account).
          select le.at, le.prefix || le.line_id as entry_id, 'invoice' as source_type, le.invoice_id as source_id,
                 case when le.void then 'Cancelled ' else '' end || le.number || ' · ' || le.description as description,
                 x.seq,
                 case when (x.seq = 1) <> le.void then case when le.kind = 'discount' then 'discounts' else 'receivable' end
                      else case le.kind when 'discount' then 'receivable' when 'late_fee' then 'late_fees' else 'income' end end as role,
                 case when (x.seq = 1) <> le.void then null when le.kind = 'charge' then nullif(fi.account_code, '') end as detail,
                 case x.seq when 1 then abs(le.amount) else 0::bigint end as debit,
                 case x.seq when 2 then abs(le.amount) else 0::bigint end as credit
            from (select l.created_at as at, 'line:' as prefix, false as void, l.id as line_id, l.invoice_id, i.number, l.description, l.kind, l.amount, l.enrolment_id, l.item_code, l.school_id
                    from w
                    join invoice_lines l on l.school_id = ${school} and l.created_at >= ${t0} and l.created_at < ${t1}
                    join invoices i on i.school_id = l.school_id and i.id = l.invoice_id
                  union all
                  select i.cancelled_at, 'void:', true, l.id, i.id, i.number, l.description, l.kind, l.amount, l.enrolment_id, l.item_code, l.school_id
                    from w
                    join invoices i on i.school_id = ${school} and i.cancelled_at >= ${t0} and i.cancelled_at < ${t1}
                    join invoice_lines l on l.school_id = i.school_id and l.invoice_id = i.id) le
            left join enrolments e on e.school_id = ${range.schoolId} and e.school_id = le.school_id and e.id = le.enrolment_id
            left join fee_plan_items fi on fi.school_id = ${range.schoolId} and fi.school_id = e.school_id and fi.fee_plan_id = e.fee_plan_id and fi.code = le.item_code
            cross join (values (1), (2)) x (seq)
          union all
          -- A payment on one invoice: cash (its method) / receivable.
          select p.paid_at, 'payment:' || p.id, 'payment', p.id, 'Payment ' || i.number || coalesce(' · ' || p.reference, ''),
                 x.seq, case x.seq when 1 then 'cash' else 'receivable' end, case x.seq when 1 then p.method::text end,
                 case x.seq when 1 then p.amount else 0::bigint end, case x.seq when 2 then p.amount else 0::bigint end
            from w
            join payments p on p.school_id = ${school} and p.family_payment_id is null and p.paid_at >= ${t0} and p.paid_at < ${t1}
            join invoices i on i.school_id = p.school_id and i.id = p.invoice_id
            cross join (values (1), (2)) x (seq)
          union all
          -- A family payment: cash / receivable (what went to invoices) and family credit (the rest); a side of nothing is left out.
          select fp.paid_at, 'family_payment:' || fp.id, 'family_payment', fp.id, 'Family payment ' || f.reference || coalesce(' · ' || fp.reference, ''),
                 x.seq, case x.seq when 1 then 'cash' when 2 then 'receivable' else 'family_credit' end, case x.seq when 1 then fp.method::text end,
                 case x.seq when 1 then fp.amount else 0::bigint end, case x.seq when 2 then fp.allocated when 3 then fp.credited else 0::bigint end
            from w
            join family_payments fp on fp.school_id = ${school} and fp.paid_at >= ${t0} and fp.paid_at < ${t1}
            join families f on f.school_id = fp.school_id and f.id = fp.family_id
            cross join (values (1), (2), (3)) x (seq)
           where case x.seq when 1 then fp.amount when 2 then fp.allocated else fp.credited end > 0
          union all
          -- Family credit applied to an invoice: family credit / receivable.
          select ca.created_at, 'credit_applied:' || ca.id, 'credit_application', ca.id, 'Family credit applied to ' || i.number,
                 x.seq, case x.seq when 1 then 'family_credit' else 'receivable' end, null::text,
                 case x.seq when 1 then ca.amount else 0::bigint end, case x.seq when 2 then ca.amount else 0::bigint end
            from w
            join credit_applications ca on ca.school_id = ${school} and ca.created_at >= ${t0} and ca.created_at < ${t1}
            join invoices i on i.school_id = ca.school_id and i.id = ca.invoice_id
            cross join (values (1), (2)) x (seq)
          union all
          -- A refund: receivable / cash (the method of the payment).
          select r.created_at, 'refund:' || r.id, 'refund', r.id, 'Refund ' || i.number || coalesce(' · ' || r.reason, ''),
                 x.seq, case x.seq when 1 then 'receivable' else 'cash' end, case x.seq when 2 then p.method::text end,
                 case x.seq when 1 then r.amount else 0::bigint end, case x.seq when 2 then r.amount else 0::bigint end
            from w
            join refunds r on r.school_id = ${school} and r.created_at >= ${t0} and r.created_at < ${t1}
            join payments p on p.school_id = r.school_id and p.id = r.payment_id
            join invoices i on i.school_id = r.school_id and i.id = r.invoice_id
            cross join (values (1), (2)) x (seq)
          union all
          -- A credit note, a write-off or a late-fee waiver: its account / receivable.
          select a.created_at, a.kind || ':' || a.id, a.kind, a.id, coalesce(a.number || ' ', '') || i.number || ' · ' || a.reason,
                 x.seq, case x.seq when 1 then case a.kind when 'credit_note' then 'credit_notes' when 'write_off' then 'write_offs' else 'late_fees' end else 'receivable' end, null::text,
                 case x.seq when 1 then a.amount else 0::bigint end, case x.seq when 2 then a.amount else 0::bigint end
            from w
            join invoice_adjustments a on a.school_id = ${school} and a.created_at >= ${t0} and a.created_at < ${t1}
            join invoices i on i.school_id = a.school_id and i.id = a.invoice_id
            cross join (values (1), (2)) x (seq)
        )`;
}

/**
 * The journal of a school (SPEC §9 "Accounting"), derived from what the ledger wrote —
 * invoice lines, cancellations, payments, family payments, credit applied, refunds,
 * credit notes, write-offs and waivers — as double-entry rows, each entry balanced by
 * construction (its sides are one amount, or a family payment's allocated + credited).
 * Every source is read in the range by its own timestamp (from the start of `from` to
 * the end of `to`, in the school's time zone), ordered by (instant, entry, side).
 */
/** The file layouts PostgreSQL writes itself (COPY … CSV): the plain journal, Xero's and QuickBooks Online's imports. */
export type JournalCsvLayout = 'csv' | 'xero' | 'quickbooks';

/** A journal row's account code through the school's mapping, in SQL (accountOf in accounts.ts, the same rules). */
function accountSql(accounts: Accounts) {
  return sql<string>`case rows.role
    when 'receivable' then ${accounts.receivable}::text
    when 'cash' then coalesce(${JSON.stringify(accounts.cashByMethod)}::jsonb ->> rows.detail, ${accounts.cash}::text)
    when 'income' then coalesce(rows.detail, ${accounts.income}::text)
    when 'discounts' then ${accounts.discounts}::text
    when 'late_fees' then ${accounts.lateFees}::text
    when 'credit_notes' then ${accounts.creditNotes}::text
    when 'write_offs' then ${accounts.writeOffs}::text
    when 'family_credit' then ${accounts.familyCredit}::text end`;
}

export function createAccountingRepository() {
  return {
    findSchool: visibleSchoolSummary,

    async accounts(db: DbOrTx, schoolId: string): Promise<{ accounts: Accounts; updatedAt: Date | null }> {
      const row = await db.selectFrom('school_accounts').select(['accounts', 'updated_at as updatedAt']).where('school_id', '=', schoolId).executeTakeFirst();
      return row === undefined ? { accounts: DEFAULT_ACCOUNTS, updatedAt: null } : { accounts: { ...DEFAULT_ACCOUNTS, ...(row.accounts as Partial<Accounts>) }, updatedAt: row.updatedAt };
    },

    async putAccounts(db: DbOrTx, schoolId: string, accounts: Accounts, userId: string): Promise<Date> {
      const row = await db
        .insertInto('school_accounts')
        .values({ school_id: schoolId, accounts: JSON.stringify(accounts), updated_by: userId })
        .onConflict((oc) => oc.column('school_id').doUpdateSet({ accounts: JSON.stringify(accounts), updated_by: userId, updated_at: sql<Date>`now()` }))
        .returning('updated_at')
        .executeTakeFirstOrThrow();
      return row.updated_at;
    },

    journal(db: Db, range: JournalRange): CompiledQuery<JournalRow> {
      const after = range.after;
      return sql<JournalRow>`
        ${journalRows(range)}
        select to_char(rows.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "atKey",
               to_char((rows.at at time zone w.timezone)::date, 'YYYY-MM-DD') as date,
               rows.entry_id as "entryId", rows.seq, rows.role, rows.detail, rows.debit::text as debit, rows.credit::text as credit,
               rows.description, rows.source_type as "sourceType", rows.source_id::text as "sourceId"
          from rows cross join w
         ${after === undefined ? sql`` : sql`where (rows.at, rows.entry_id, rows.seq) > (${after.atKey}::timestamptz, ${after.entryId}, ${after.seq})`}
         order by rows.at, rows.entry_id, rows.seq
         ${range.limit === undefined ? sql`` : sql`limit ${range.limit}`}`.compile(db);
    },

    /**
     * The journal of a range as the rows of a CSV file in `layout`, ready for COPY: the
     * school's account codes, amounts in currency units (`digits` decimals), the local
     * date, in posting order — the same lines as the JSON pages.
     */
    journalCsv(db: Db, range: Pick<JournalRange, 'schoolId' | 'timezone' | 'from' | 'to'>, o: { layout: JournalCsvLayout; accounts: Accounts; currency: string; digits: number }): CompiledQuery {
      const units = (minor: RawBuilder<unknown>) => sql`round((${minor})::numeric / ${10 ** o.digits}::numeric, ${o.digits}::int)::text`;
      const account = accountSql(o.accounts);
      const date = sql`(rows.at at time zone w.timezone)::date`;
      // Free text (descriptions carry what people typed) neutralised against formulas, as every export's.
      const description = csvText(sql<string>`rows.description`);
      const columns =
        o.layout === 'csv'
          ? sql`rows.entry_id as "entryId", ${date} as date, ${account} as account, ${units(sql`rows.debit`)} as debit, ${units(sql`rows.credit`)} as credit,
                ${o.currency}::text as currency, ${description} as description, rows.source_type as "sourceType", rows.source_id as "sourceId"`
          : o.layout === 'xero'
            ? sql`rows.entry_id as "*Narration", ${date} as "*Date", ${description} as "Description", ${account} as "*AccountCode",
                  'Tax Exempt' as "*TaxRate", ${units(sql`rows.debit - rows.credit`)} as "*Amount"`
            : sql`'J' || lpad(n.entry_no::text, greatest(6, length(n.entry_no::text)), '0') as "Journal No.", ${date} as "Journal Date", ${account} as "Account",
                  case when rows.debit > 0 then ${units(sql`rows.debit`)} end as "Debits", case when rows.credit > 0 then ${units(sql`rows.credit`)} end as "Credits",
                  ${description} as "Description", ${o.currency}::text as "Currency"`;
      return sql`
        ${journalRows(range)}
        select ${columns}
          from ${o.layout === 'quickbooks' ? sql`(select rows.*, dense_rank() over (order by rows.at, rows.entry_id) as entry_no from rows) rows cross join lateral (select rows.entry_no) n` : sql`rows`}
         cross join w
         order by rows.at, rows.entry_id, rows.seq`.compile(db);
    },
  };
}

export type AccountingRepository = ReturnType<typeof createAccountingRepository>;
