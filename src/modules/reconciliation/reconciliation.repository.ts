import { sql } from 'kysely';
import type { Db, DbOrTx, Tx } from '../../db/database.js';
import type { BankLineStatus } from '../../db/types.js';
import { visibleSchoolSummary, type SchoolSummary } from '../billing/schools.repository.js';
import { inScope, inScopeSql, type Scope } from '../../shared/scope.js';
import type { Candidates, Decision, OpenFamily, OpenInvoice } from './matcher.js';
import { stemOf } from './matcher.js';
import type { CsvMapping, StatementFormat, StatementLine } from './statements.js';

export type ReconciliationSchool = SchoolSummary;

/** A bank line as the API shows it. */
export interface BankLineRow {
  id: string;
  schoolId: string;
  importId: string;
  bankTransactionId: string;
  date: string;
  amount: number;
  currency: string;
  description: string;
  payerName: string | null;
  status: BankLineStatus;
  reason: string | null;
  invoice: { id: string; number: string; pendingAmount: number } | null;
  family: { id: string; name: string; reference: string } | null;
  paymentId: string | null;
  familyPaymentId: string | null;
  decidedAt: Date | null;
  createdAt: Date;
}

export interface StoredLine {
  id: string;
  bankTransactionId: string;
  amount: number;
  description: string;
  bookedOn: string;
}

const LINE_COLUMNS = sql`
  l.id, l.school_id as "schoolId", l.import_id as "importId", l.bank_transaction_id as "bankTransactionId",
  to_char(l.booked_on, 'YYYY-MM-DD') as date, l.amount, l.currency, l.description, l.payer_name as "payerName",
  l.status, l.reason,
  case when i.id is null then null else json_build_object('id', i.id, 'number', i.number, 'pendingAmount', i.amount - i.paid_amount) end as invoice,
  case when f.id is null then null else json_build_object('id', f.id, 'name', f.name, 'reference', f.reference) end as family,
  l.payment_id as "paymentId", l.family_payment_id as "familyPaymentId", l.decided_at as "decidedAt", l.created_at as "createdAt"`;

export function createReconciliationRepository() {
  return {
    findSchool: visibleSchoolSummary,

    async mapping(db: DbOrTx, schoolId: string): Promise<{ mapping: CsvMapping; updatedAt: Date } | undefined> {
      const row = await db.selectFrom('statement_mappings').select(['mapping', 'updated_at']).where('school_id', '=', schoolId).executeTakeFirst();
      return row === undefined ? undefined : { mapping: row.mapping as CsvMapping, updatedAt: row.updated_at };
    },

    async putMapping(db: DbOrTx, schoolId: string, mapping: CsvMapping, userId: string): Promise<Date> {
      const json = JSON.stringify(mapping);
      const row = await db
        .insertInto('statement_mappings')
        .values({ school_id: schoolId, mapping: json, updated_by: userId })
        .onConflict((oc) => oc.column('school_id').doUpdateSet({ mapping: json, updated_by: userId, updated_at: sql<Date>`now()` }))
        .returning('updated_at')
        .executeTakeFirstOrThrow();
      return row.updated_at;
    },

    /**
     * Stores an import and its lines, each bank transaction id once per school: lines the
     * school already has (this file again, or an overlapping one) are skipped. Answers the
     * lines that are new.
     */
    async storeImport(
      trx: Tx,
      i: { schoolId: string; format: StatementFormat; currency: string; lines: StatementLine[]; repeats: number; userId: string },
    ): Promise<{ importId: string; added: StoredLine[] }> {
      const { id: importId } = await trx
        .insertInto('bank_imports')
        .values({ school_id: i.schoolId, format: i.format, currency: i.currency, lines: i.lines.length, added: 0, known: 0, repeats: i.repeats, created_by: i.userId })
        .returning('id')
        .executeTakeFirstOrThrow();
      const added = i.lines.length === 0
        ? []
        : (
            await sql<StoredLine>`
              insert into bank_lines (school_id, import_id, bank_transaction_id, booked_on, amount, currency, description, payer_name, status)
              select ${i.schoolId}, ${importId}, t.id, t.booked_on, t.amount, ${i.currency}, t.description, t.payer_name, 'unmatched'
                from unnest(${i.lines.map((l) => l.bankTransactionId)}::text[], ${i.lines.map((l) => l.date)}::date[], ${i.lines.map((l) => l.amount)}::bigint[],
                            ${i.lines.map((l) => l.description)}::text[], ${i.lines.map((l) => l.payerName)}::text[]) with ordinality
                     as t (id, booked_on, amount, description, payer_name, n)
               order by t.n
              on conflict (school_id, bank_transaction_id) do nothing
              returning id, bank_transaction_id as "bankTransactionId", amount, description, to_char(booked_on, 'YYYY-MM-DD') as "bookedOn"`.execute(trx)
          ).rows;
      await trx.updateTable('bank_imports').set({ added: added.length, known: i.lines.length - added.length }).where('school_id', '=', i.schoolId).where('id', '=', importId).execute();
      return { importId, added: added.map((line) => ({ ...line, amount: Number(line.amount) })) };
    },

    /** What the lines of a statement could match: the invoices, references and amounts they name, in one school. */
    async candidates(db: DbOrTx, schoolId: string, named: { invoices: string[]; references: string[]; stems: string[]; amounts: number[] }): Promise<Candidates> {
      const invoiceRows = named.invoices.length === 0 ? { rows: [] } : await sql<OpenInvoice>`
        select i.id, i.number, (i.amount - i.paid_amount)::bigint as pending, coalesce(i.family_id, s.family_id) as "familyId"
          from invoices i join students s on s.id = i.student_id
         where i.school_id = ${schoolId} and i.number = any(${named.invoices}::text[]) and i.cancelled_at is null and i.paid_amount < i.amount`.execute(db);
      const wanted = [...new Set([...named.references, ...named.stems.map((stem) => `${stem}-%`)])];
      const familyRows = wanted.length === 0 ? { rows: [] } : await sql<OpenFamily>`
        select f.id, f.reference,
               coalesce((select sum(fi.amount - fi.paid_amount) from family_invoices(f.school_id, f.id) fi
                          where fi.cancelled_at is null and fi.paid_amount < fi.amount), 0)::bigint as open
          from families f
         where f.school_id = ${schoolId} and f.deleted_at is null and f.reference like any(${wanted}::text[])`.execute(db);
      const amountRows = named.amounts.length === 0 ? { rows: [] } : await sql<OpenInvoice>`
        select (array_agg(i.id))[1] as id, (array_agg(i.number))[1] as number, i.amount - i.paid_amount as pending,
               (array_agg(coalesce(i.family_id, s.family_id)))[1] as "familyId"
          from invoices i join students s on s.id = i.student_id
         where i.school_id = ${schoolId} and i.cancelled_at is null and i.paid_amount < i.amount and i.amount - i.paid_amount = any(${named.amounts}::bigint[])
         group by i.amount - i.paid_amount
        having count(*) = 1`.execute(db);
      const invoice = (row: OpenInvoice): OpenInvoice => ({ ...row, pending: Number(row.pending) });
      const families = familyRows.rows.map((row) => ({ ...row, open: Number(row.open) }));
      return {
        invoicesByNumber: new Map(invoiceRows.rows.map((row) => [row.number, invoice(row)])),
        familiesByReference: new Map(families.map((family) => [family.reference, family])),
        familiesByStem: new Map(families.map((family) => [stemOf(family.reference), family])),
        invoiceByUniqueAmount: new Map(amountRows.rows.map((row) => [Number(row.pending), invoice(row)])),
      };
    },

    /** Writes what the matcher decided for new lines (status, target, reason), in one statement. */
    async decide(trx: DbOrTx, schoolId: string, decisions: { id: string; decision: Decision }[]): Promise<void> {
      if (decisions.length === 0) {
        return;
      }
      // A 'matched' decision is stored as 'suggested' until its payment is recorded (recordMatch).
      const status = (d: Decision): BankLineStatus => (d.status === 'matched' ? 'suggested' : d.status);
      await sql`
        update bank_lines l set status = t.status, reason = t.reason, invoice_id = t.invoice_id, family_id = t.family_id
          from unnest(${decisions.map((d) => d.id)}::uuid[], ${decisions.map((d) => status(d.decision))}::text[], ${decisions.map((d) => d.decision.reason)}::text[],
                      ${decisions.map((d) => d.decision.invoiceId)}::uuid[], ${decisions.map((d) => d.decision.familyId)}::uuid[]) as t (id, status, reason, invoice_id, family_id)
         where l.school_id = ${schoolId} and l.id = t.id`.execute(trx);
    },

    /** Locks a line of a school the caller may see. */
    lockLine(trx: Tx, scope: Scope, id: string) {
      return trx
        .selectFrom('bank_lines')
        .select(['id', 'school_id as schoolId', 'status', 'amount', 'booked_on as bookedOn', 'bank_transaction_id as bankTransactionId', 'payment_id as paymentId', 'family_payment_id as familyPaymentId', 'invoice_id as invoiceId', 'family_id as familyId'])
        .where('id', '=', id)
        .where((eb) => inScope(eb, 'bank_lines.school_id', scope))
        .forUpdate()
        .executeTakeFirst();
    },

    /** Marks a line matched to the payment just recorded for it; false when it was matched meanwhile. */
    async recordMatch(trx: Tx, m: { schoolId: string; lineId: string; invoiceId: string | null; familyId: string | null; paymentId?: string; familyPaymentId?: string; userId: string; reason: string }): Promise<boolean> {
      const result = await trx
        .updateTable('bank_lines')
        .set({
          status: 'matched',
          invoice_id: m.invoiceId,
          family_id: m.familyId,
          payment_id: m.paymentId ?? null,
          family_payment_id: m.familyPaymentId ?? null,
          reason: m.reason,
          decided_by: m.userId,
          decided_at: sql<Date>`now()`,
        })
        .where('school_id', '=', m.schoolId)
        .where('id', '=', m.lineId)
        .where('payment_id', 'is', null)
        .where('family_payment_id', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    /** Locks the school's invoices `ids` in the order every writer locks invoices: (due date, id). */
    async lockInvoices(trx: Tx, schoolId: string, ids: string[]): Promise<void> {
      await sql`select 1 from invoices where school_id = ${schoolId} and id = any(${ids}::uuid[]) order by due_date, id for update`.execute(trx);
    },

    async setStatus(trx: DbOrTx, m: { schoolId: string; lineId: string; status: BankLineStatus; reason: string | null; userId: string; clearTarget?: boolean }): Promise<void> {
      await trx
        .updateTable('bank_lines')
        .set({
          status: m.status,
          reason: m.reason,
          payment_id: null,
          family_payment_id: null,
          decided_by: m.userId,
          decided_at: sql<Date>`now()`,
          ...(m.clearTarget === true ? { invoice_id: null, family_id: null } : {}),
        })
        .where('school_id', '=', m.schoolId)
        .where('id', '=', m.lineId)
        .execute();
    },

    async importSummary(db: DbOrTx, schoolId: string, importId: string) {
      return db
        .selectFrom('bank_imports as b')
        .select(['b.id', 'b.school_id as schoolId', 'b.format', 'b.currency', 'b.lines', 'b.added', 'b.known', 'b.repeats', 'b.created_at as createdAt'])
        .select((eb) => [
          eb.selectFrom('bank_lines').select((x) => x.fn.countAll<string>().as('n')).where('school_id', '=', schoolId).where('import_id', '=', importId).where('status', '=', 'matched').as('matched'),
          eb.selectFrom('bank_lines').select((x) => x.fn.countAll<string>().as('n')).where('school_id', '=', schoolId).where('import_id', '=', importId).where('status', '=', 'suggested').as('suggested'),
          eb.selectFrom('bank_lines').select((x) => x.fn.countAll<string>().as('n')).where('school_id', '=', schoolId).where('import_id', '=', importId).where('status', '=', 'unmatched').as('unmatched'),
          eb.selectFrom('bank_lines').select((x) => x.fn.countAll<string>().as('n')).where('school_id', '=', schoolId).where('import_id', '=', importId).where('status', '=', 'ignored').as('ignored'),
        ])
        .where('b.school_id', '=', schoolId)
        .where('b.id', '=', importId)
        .executeTakeFirstOrThrow();
    },

    async line(db: DbOrTx, scope: Scope, id: string): Promise<BankLineRow | undefined> {
      const rows = await sql<BankLineRow>`
        select ${LINE_COLUMNS}
          from bank_lines l
          left join invoices i on i.school_id = l.school_id and i.id = l.invoice_id
          left join families f on f.school_id = l.school_id and f.id = l.family_id
         where l.id = ${id} and ${inScopeSql('l.school_id', scope)}`.execute(db);
      return rows.rows[0];
    },

    /** A page of a school's lines, newest first (keyset on id), optionally of one status or one import. */
    async lines(db: Db, q: { schoolId: string; status?: BankLineStatus; importId?: string; afterId?: string; limit: number }): Promise<BankLineRow[]> {
      const rows = await sql<BankLineRow>`
        select ${LINE_COLUMNS}
          from bank_lines l
          left join invoices i on i.school_id = l.school_id and i.id = l.invoice_id
          left join families f on f.school_id = l.school_id and f.id = l.family_id
         where l.school_id = ${q.schoolId}
           ${q.status === undefined ? sql`` : sql`and l.status = ${q.status}`}
           ${q.importId === undefined ? sql`` : sql`and l.import_id = ${q.importId}`}
           ${q.afterId === undefined ? sql`` : sql`and l.id < ${q.afterId}`}
         order by l.id desc
         limit ${q.limit + 1}`.execute(db);
      return rows.rows;
    },

    /** Counts of a school's lines by status (the match rate). */
    async counts(db: DbOrTx, schoolId: string): Promise<Record<BankLineStatus, number>> {
      const rows = await db.selectFrom('bank_lines').select(['status', (eb) => eb.fn.countAll<string>().as('n')]).where('school_id', '=', schoolId).groupBy('status').execute();
      const counts: Record<BankLineStatus, number> = { matched: 0, suggested: 0, unmatched: 0, ignored: 0 };
      for (const row of rows) {
        counts[row.status] = Number(row.n);
      }
      return counts;
    },
  };
}

export type ReconciliationRepository = ReturnType<typeof createReconciliationRepository>;
