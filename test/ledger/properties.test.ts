import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { Db, Tx } from '../../src/db/database.js';
import {
  applyCredit,
  postCreditNote,
  postEarlyPaymentDiscount,
  postFamilyPayment,
  postInvoice,
  postInvoices,
  postLateFees,
  postPayment,
  postRefund,
  postWaiver,
  postWriteOff,
  voidInvoice,
  type InvoiceInput,
} from '../../src/modules/ledger/ledger.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { insertFamilySchool, openLedgerDatabase } from './fixtures.js';

/**
 * Random sequences of postings on one family of 2–3 students (and one student without a
 * family), each legal in the state it meets: afterwards `npm run verify`'s ledger check
 * is clean, and the SPEC §7 formula holds per owner against a model kept here.
 */

type Owner = 'family' | 'loner';
const percent = fc.integer({ min: 1, max: 100 });
const pick = fc.nat({ max: 1_000 });

const invoiceSpec = fc.record({
  student: fc.nat({ max: 3 }),
  charges: fc.array(fc.integer({ min: 1, max: 50_000 }), { minLength: 1, maxLength: 3 }),
  discountPercent: fc.integer({ min: 0, max: 100 }),
  lateFee: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: undefined }),
  /** Pronto pago offered (0023), earned by the due date. */
  early: fc.option(fc.integer({ min: 1, max: 8_000 }), { nil: undefined }),
  dueDay: fc.integer({ min: 0, max: 300 }),
});

const operation = fc.oneof(
  fc.record({ op: fc.constant('invoice' as const), spec: invoiceSpec }),
  fc.record({ op: fc.constant('invoices' as const), specs: fc.array(invoiceSpec, { minLength: 2, maxLength: 3 }) }),
  fc.record({ op: fc.constant('payment' as const), target: pick, share: percent }),
  fc.record({ op: fc.constant('refund' as const), target: pick, share: percent }),
  fc.record({ op: fc.constant('creditNote' as const), target: pick, share: percent }),
  fc.record({ op: fc.constant('writeOff' as const), target: pick, share: percent }),
  fc.record({ op: fc.constant('familyPayment' as const), amount: fc.integer({ min: 1, max: 80_000 }) }),
  fc.record({ op: fc.constant('applyCredit' as const), target: pick, share: percent }),
  fc.record({ op: fc.constant('void' as const), target: pick }),
  fc.record({ op: fc.constant('lateFees' as const), day: fc.integer({ min: 0, max: 330 }) }),
  fc.record({ op: fc.constant('waiver' as const), target: pick, share: percent }),
  fc.record({ op: fc.constant('earlyPayment' as const), target: pick }),
);
/** The school's late-fee policy (migration 0021), as stored. */
const lateFeePolicy = fc.oneof(
  fc.record({ kind: fc.constant('fixed' as const), value: fc.integer({ min: 1, max: 5_000 }), grace_days: fc.integer({ min: 0, max: 10 }), cap: fc.constant(null) }),
  fc.record({
    kind: fc.constantFrom('percent' as const, 'daily_interest' as const),
    value: fc.integer({ min: 1, max: 2_000 }).map((hundredths) => hundredths / 100),
    grace_days: fc.integer({ min: 0, max: 10 }),
    cap: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: null }),
  }),
);
type LateFeePolicy = typeof lateFeePolicy extends fc.Arbitrary<infer T> ? T : never;
type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;
type InvoiceSpec = typeof invoiceSpec extends fc.Arbitrary<infer T> ? T : never;

interface ModelInvoice {
  id: string;
  owner: Owner;
  charges: number;
  discounts: number;
  amount: number;
  settled: number;
  credited: number;
  cancelled: boolean;
  due: string;
  /** A late-fee invoice: the overdue invoice it charges for. */
  lateFeeOf?: string;
  /** The early-payment discount offered (0: none), and whether it was taken. */
  early: number;
  earlyTaken: boolean;
}
interface ModelPayment {
  id: string;
  invoice: ModelInvoice;
  amount: number;
  refunded: number;
}
interface Totals {
  creditNotes: number;
  writeOffs: number;
  payments: number;
  refunds: number;
}

const dueOf = (day: number) => new Date(Date.UTC(2026, 8, 1) + day * 86_400_000).toISOString().slice(0, 10);
const share = (of: number, pct: number) => Math.max(1, Math.floor((of * pct) / 100));

describe('ledger properties (fast-check, real PostgreSQL)', () => {
  let db: Db;
  let database: Awaited<ReturnType<typeof openLedgerDatabase>>;

  before(async () => {
    database = await openLedgerDatabase();
    db = database.db;
  });
  after(() => database.close());

  async function run(children: number, policy: LateFeePolicy, operations: Operation[]): Promise<void> {
    const school = await insertFamilySchool(db, { children });
    const { schoolId, familyId } = school;
    await db.insertInto('late_fee_policies').values({ school_id: schoolId, ...policy, updated_by: null }).execute();
    const students = [...school.children, school.lonerId];
    const invoices: ModelInvoice[] = [];
    const payments: ModelPayment[] = [];
    const totals: Record<Owner, Totals> = {
      family: { creditNotes: 0, writeOffs: 0, payments: 0, refunds: 0 },
      loner: { creditNotes: 0, writeOffs: 0, payments: 0, refunds: 0 },
    };
    let credit = 0;
    const open = (i: ModelInvoice) => i.amount - i.settled;
    const openInvoices = (owner?: Owner) => invoices.filter((i) => !i.cancelled && open(i) > 0 && (owner === undefined || i.owner === owner));
    const tx = <T>(work: (trx: Tx) => Promise<T>) => db.transaction().execute(work);

    const toInput = (spec: InvoiceSpec) => {
      const index = spec.student % students.length;
      const charges = spec.charges.reduce((a, b) => a + b, 0);
      const discount = Math.floor((charges * spec.discountPercent) / 100);
      const input: InvoiceInput = {
        schoolId,
        studentId: students[index] ?? '',
        description: null,
        dueDate: dueOf(spec.dueDay),
        lines: [
          ...spec.charges.map((amount, n) => ({ kind: 'charge' as const, code: `item${n}`, description: `Item ${n}`, amount })),
          ...(discount > 0 ? [{ kind: 'discount' as const, code: 'sibling', description: 'Discount', amount: -discount }] : []),
          ...(spec.lateFee === undefined ? [] : [{ kind: 'late_fee' as const, code: 'late', description: 'Late fee', amount: spec.lateFee }]),
        ],
        ...(spec.early === undefined ? {} : { early: { discount: spec.early, by: dueOf(spec.dueDay) } }),
      };
      const owner: Owner = index < children ? 'family' : 'loner';
      const model = {
        owner,
        charges: charges + (spec.lateFee ?? 0),
        discounts: discount,
        amount: charges + (spec.lateFee ?? 0) - discount,
        settled: 0,
        credited: 0,
        cancelled: false,
        due: input.dueDate,
        // As stored: never more than the invoice's amount.
        early: Math.min(spec.early ?? 0, charges + (spec.lateFee ?? 0) - discount),
        earlyTaken: false,
      };
      return { input, model };
    };

    for (const step of operations) {
      switch (step.op) {
        case 'invoice': {
          const { input, model } = toInput(step.spec);
          const posted = await tx((trx) => postInvoice(trx, input));
          assert.equal(posted.amount, model.amount);
          invoices.push({ ...model, id: posted.id });
          break;
        }
        case 'invoices': {
          const built = step.specs.map(toInput);
          const posted = await tx((trx) => postInvoices(trx, built.map((b) => b.input)));
          posted.forEach((p, n) => {
            const model = built[n]?.model;
            assert.ok(model);
            assert.equal(p.amount, model.amount);
            invoices.push({ ...model, id: p.id });
          });
          break;
        }
        case 'payment': {
          const candidates = openInvoices();
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target) {
            break;
          }
          const amount = share(open(target), step.share);
          const posted = await tx((trx) =>
            postPayment(trx, { schoolId, invoiceId: target.id, amount, method: 'cash', reference: null, paidAt: new Date(), createdBy: null }),
          );
          assert.ok(posted.receiptNumber);
          target.settled += amount;
          totals[target.owner].payments += amount;
          payments.push({ id: posted.id, invoice: target, amount, refunded: 0 });
          break;
        }
        case 'refund': {
          const candidates = payments.filter((p) => p.amount > p.refunded);
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target) {
            break;
          }
          const amount = share(target.amount - target.refunded, step.share);
          await tx((trx) => postRefund(trx, { schoolId, paymentId: target.id, invoiceId: target.invoice.id, amount, reason: null, createdBy: null }));
          target.refunded += amount;
          target.invoice.settled -= amount;
          totals[target.invoice.owner].refunds += amount;
          break;
        }
        case 'creditNote':
        case 'writeOff': {
          const candidates = openInvoices();
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target) {
            break;
          }
          const amount = share(open(target), step.share);
          const values = { schoolId, invoiceId: target.id, amount, reason: 'property', createdBy: null };
          await tx((trx) => (step.op === 'creditNote' ? postCreditNote(trx, values) : postWriteOff(trx, values)));
          target.settled += amount;
          target.credited += amount;
          totals[target.owner][step.op === 'creditNote' ? 'creditNotes' : 'writeOffs'] += amount;
          break;
        }
        case 'familyPayment': {
          // Oldest due first across the family's open invoices; the rest becomes credit.
          let left = step.amount;
          const allocations: { invoiceId: string; amount: number; model: ModelInvoice }[] = [];
          for (const invoice of openInvoices('family').sort((a, b) => (a.due === b.due ? (a.id < b.id ? -1 : 1) : a.due < b.due ? -1 : 1))) {
            if (left === 0) {
              break;
            }
            const amount = Math.min(left, open(invoice));
            allocations.push({ invoiceId: invoice.id, amount, model: invoice });
            left -= amount;
          }
          const posted = await tx((trx) =>
            postFamilyPayment(trx, {
              schoolId,
              familyId,
              amount: step.amount,
              method: 'bank_transfer',
              reference: null,
              paidAt: new Date(),
              createdBy: null,
              allocations: allocations.map(({ invoiceId, amount }) => ({ invoiceId, amount })),
            }),
          );
          assert.equal(posted.credited, left);
          for (const allocation of allocations) {
            allocation.model.settled += allocation.amount;
            const payment = posted.payments.find((p) => p.invoiceId === allocation.invoiceId);
            assert.ok(payment);
            payments.push({ id: payment.id, invoice: allocation.model, amount: allocation.amount, refunded: 0 });
          }
          totals.family.payments += step.amount;
          credit += left;
          break;
        }
        case 'applyCredit': {
          const candidates = openInvoices('family');
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target || credit === 0) {
            break;
          }
          const amount = share(Math.min(credit, open(target)), step.share);
          await tx((trx) => applyCredit(trx, { schoolId, familyId, invoiceId: target.id, amount, createdBy: null }));
          credit -= amount;
          target.settled += amount;
          break;
        }
        case 'lateFees': {
          const day = dueOf(step.day);
          const posted = await tx((trx) => postLateFees(trx, { schoolId, day }));
          for (const fee of posted) {
            const related = invoices.find((i) => i.id === fee.invoiceId);
            assert.ok(related && related.lateFeeOf === undefined && !related.cancelled && open(related) > 0, `a late fee on ${fee.invoiceId}`);
            assert.ok(Date.parse(day) - Date.parse(related.due) > policy.grace_days * 86_400_000, `${fee.invoiceId}, due ${related.due}, is late on ${day}`);
            let model = invoices.find((i) => i.id === fee.lateFeeInvoiceId);
            if (model === undefined) {
              model = {
                id: fee.lateFeeInvoiceId,
                owner: related.owner,
                charges: 0,
                discounts: 0,
                amount: 0,
                settled: 0,
                credited: 0,
                cancelled: false,
                due: day,
                lateFeeOf: related.id,
                early: 0,
                earlyTaken: false,
              };
              invoices.push(model);
            }
            assert.equal(model.lateFeeOf, related.id);
            model.charges += fee.amount;
            model.amount += fee.amount;
            assert.ok(policy.cap === null || model.charges <= policy.cap, `late fees of ${related.id} within the cap`);
          }
          break;
        }
        case 'waiver': {
          const candidates = invoices.filter((i) => i.lateFeeOf !== undefined && !i.cancelled && open(i) > 0);
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target) {
            break;
          }
          const amount = share(open(target), step.share);
          await tx((trx) => postWaiver(trx, { schoolId, invoiceId: target.id, amount, reason: 'property', createdBy: null }));
          target.settled += amount;
          target.credited += amount;
          totals[target.owner].writeOffs += amount; // verify counts waivers with the write-offs
          break;
        }
        case 'earlyPayment': {
          // Paying exactly what is open minus the discount, on the due date, earns it (then the payment settles the invoice).
          const candidates = openInvoices().filter((i) => i.early > 0 && !i.earlyTaken && i.early <= open(i));
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target || open(target) - target.early <= 0) {
            break;
          }
          const amount = open(target) - target.early;
          const paidAt = new Date(`${target.due}T12:00:00Z`);
          const posted = await tx(async (trx) => {
            const discount = await postEarlyPaymentDiscount(trx, { schoolId, invoiceId: target.id, paidAt, amount });
            assert.equal(discount, target.early);
            // Earned once: a second try answers 0.
            assert.equal(await postEarlyPaymentDiscount(trx, { schoolId, invoiceId: target.id, paidAt, amount }), 0);
            return postPayment(trx, { schoolId, invoiceId: target.id, amount, method: 'card', reference: null, paidAt, createdBy: null });
          });
          target.earlyTaken = true;
          target.discounts += target.early;
          target.amount -= target.early;
          target.settled += amount;
          assert.equal(open(target), 0);
          totals[target.owner].payments += amount;
          payments.push({ id: posted.id, invoice: target, amount, refunded: 0 });
          break;
        }
        case 'void': {
          const candidates = invoices.filter((i) => !i.cancelled && i.settled === 0);
          const target = candidates[step.target % Math.max(1, candidates.length)];
          if (!target) {
            break;
          }
          await tx((trx) => voidInvoice(trx, { schoolId, invoiceId: target.id }));
          target.cancelled = true;
          break;
        }
      }
    }

    // 1. The database matches the model, invoice by invoice.
    const rows = await db.selectFrom('invoices').select(['id', 'amount', 'paid_amount', 'credited_amount', 'cancelled_at']).where('school_id', '=', schoolId).execute();
    assert.equal(rows.length, invoices.length);
    for (const invoice of invoices) {
      const row = rows.find((r) => r.id === invoice.id);
      assert.deepEqual(
        row && [row.amount, row.paid_amount, row.credited_amount, row.cancelled_at !== null],
        [invoice.amount, invoice.settled, invoice.credited, invoice.cancelled],
      );
    }
    const family = await db.selectFrom('families').select('credit_balance').where('id', '=', familyId).executeTakeFirstOrThrow();
    assert.equal(family.credit_balance, credit);

    // 2. SPEC §7 per owner: charges − discounts − credit notes − write-offs − payments + refunds = open − credit.
    for (const owner of ['family', 'loner'] as const) {
      const mine = invoices.filter((i) => i.owner === owner && !i.cancelled);
      const charges = mine.reduce((s, i) => s + i.charges, 0);
      const discounts = mine.reduce((s, i) => s + i.discounts, 0);
      const t = totals[owner];
      const { rows: openRows } = await sql<{ open: number }>`
        select coalesce(sum(i.amount - i.paid_amount), 0)::bigint as open
          from invoices i join students s on s.school_id = i.school_id and s.id = i.student_id
         where i.school_id = ${schoolId} and i.cancelled_at is null
           and ${owner === 'family' ? sql`s.family_id is not null` : sql`s.family_id is null`}`.execute(db);
      const openAmount = openRows[0]?.open ?? 0;
      assert.equal(
        charges - discounts - t.creditNotes - t.writeOffs - t.payments + t.refunds,
        openAmount - (owner === 'family' ? credit : 0),
        `${owner}: ${JSON.stringify({ charges, discounts, ...t, open: openAmount, credit })}`,
      );
    }

    // 3. `npm run verify`'s ledger check is clean (for this school: a failure of one run
    // must not fail the next ones, or shrinking would find a meaningless counterexample).
    const report = await verifyLedgerInvariant(db, { schoolId });
    assert.ok(report.ok, formatLedgerInvariantReport(report));
  }

  test('random sequences of postings keep the family ledger balanced', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), lateFeePolicy, fc.array(operation, { minLength: 1, maxLength: 25 }), (children, policy, operations) =>
        run(children, policy, operations),
      ),
      { numRuns: 40 },
    );
    // And over the whole database, every run's school together.
    const report = await verifyLedgerInvariant(db);
    assert.ok(report.ok, formatLedgerInvariantReport(report));
    assert.ok(report.invoices.checked > 0);
    const posted = await db.selectFrom('invoice_lines').select(({ fn }) => fn.countAll<string>().as('n')).where('billing_key', 'like', 'late_fee:%').executeTakeFirstOrThrow();
    assert.ok(Number(posted.n) > 0, 'the runs posted late fees');
  });

  test('verify reports a row broken on purpose: the invoice, and its family', async () => {
    const school = await insertFamilySchool(db, { children: 2 });
    const [a, b] = await db.transaction().execute((trx) =>
      postInvoices(trx, [
        { schoolId: school.schoolId, studentId: school.children[0] ?? '', description: null, dueDate: '2026-10-01', lines: [{ kind: 'charge', code: 'fee', description: 'Fee', amount: 1_000 }] },
        { schoolId: school.schoolId, studentId: school.lonerId, description: null, dueDate: '2026-10-01', lines: [{ kind: 'charge', code: 'fee', description: 'Fee', amount: 2_000 }] },
      ]),
    );
    assert.ok(a && b);
    await db.transaction().execute((trx) =>
      postPayment(trx, { schoolId: school.schoolId, invoiceId: a.id, amount: 400, method: 'cash', reference: null, paidAt: new Date(), createdBy: null }),
    );
    const only = { schoolId: school.schoolId };
    const clean = await verifyLedgerInvariant(db, only);
    assert.ok(clean.ok, formatLedgerInvariantReport(clean));

    // An UPDATE of paid_amount behind the ledger's back (invoices allow updates; the row checks still hold).
    await db.updateTable('invoices').set({ paid_amount: 500 }).where('id', '=', a.id).execute();
    const broken = await verifyLedgerInvariant(db, only);
    assert.equal(broken.ok, false);
    assert.deepEqual(broken.invoices.bad.sample.map((row) => row.invoiceId), [a.id]);
    assert.deepEqual(broken.families.bad.sample.map((row) => [row.familyId, row.studentId]), [[school.familyId, null]]);
    assert.match(formatLedgerInvariantReport(broken), /FAIL ledger invoices: .*\n.*1 invoices break it/);

    // A stray line on the other invoice, and family credit from nowhere.
    await db.updateTable('invoices').set({ paid_amount: 400 }).where('id', '=', a.id).execute();
    await db.insertInto('invoice_lines').values({ school_id: school.schoolId, invoice_id: b.id, kind: 'charge', code: 'stray', description: 'Stray', amount: 5 }).execute();
    await db.updateTable('families').set({ credit_balance: 7 }).where('id', '=', school.familyId).execute();
    const twice = await verifyLedgerInvariant(db, only);
    assert.deepEqual(twice.invoices.bad.sample.map((row) => row.invoiceId), [b.id]);
    assert.deepEqual(
      twice.families.bad.sample.map((row) => [row.familyId, row.studentId]).sort(),
      [
        [school.familyId, null],
        [null, school.lonerId],
      ].sort(),
    );
    // The whole-database check (npm run verify) reports them too.
    assert.equal((await verifyLedgerInvariant(db)).families.bad.count, 2);
  });
});
