import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { client, type Client } from '../helpers/api.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { insertEnrolment, insertPlan, insertRule, TEN_MONTHS } from '../billruns/fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { createFamily, createInvoice, createSchool, creditOf, day, familyInvariant } from './fixtures.js';

interface FamilyPaymentBody {
  id: string;
  amount: number;
  allocated: number;
  credited: number;
  receiptNumber: string;
  allocations: { invoiceId: string; amount: number }[];
}

/**
 * Races as real concurrent requests (Promise.all over app.inject): family payments on one
 * family serialise on the family row and then lock its invoices in (due_date, id) order,
 * so however they interleave with each other, with direct payments on the same invoices
 * and with credit applications, nothing is allocated twice, no invoice is overpaid,
 * and the SPEC §7 invariant holds after.
 */
describe('family payments under concurrency', () => {
  let t: TestApp;
  let schoolId = '';
  let admin: Client;

  before(async () => {
    t = await createTestApp();
    schoolId = await createSchool(t.db, { name: 'Colegio Concurrente' });
    await insertUser(t.db, { username: 'race.admin', role: 'school_admin', schoolIds: [schoolId] });
    admin = client(t.app, (await login(t.app, 'race.admin')).accessToken);
  });
  after(() => t.close());

  async function familyWithOpenInvoices(amounts: number[]) {
    const family = await createFamily(t.db, schoolId, {
      students: [
        { firstName: 'Uno', lastName: 'Race' },
        { firstName: 'Dos', lastName: 'Race' },
        { firstName: 'Tres', lastName: 'Race' },
      ],
    });
    const invoices: string[] = [];
    for (const [index, amount] of amounts.entries()) {
      invoices.push(
        await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[index % 3] ?? '', amount, dueDate: day(-60 + index * 7) }),
      );
    }
    return { family, invoices, open: amounts.reduce((sum, amount) => sum + amount, 0) };
  }

  const familyPay = (familyId: string, amount: number, method = 'bank_transfer') =>
    admin.post(`/families/${familyId}/payments`, { amount, method }, { 'idempotency-key': randomUUID() });

  test('50 concurrent family payments on one family never over-allocate; credit = Σ amounts − allocated', async () => {
    const { family, invoices, open } = await familyWithOpenInvoices([40_000, 25_000, 60_000, 15_000, 30_000, 50_000]);
    // 50 payments of 3 000..12 800 (about 395 000 in all): more than the 220 000 open.
    const amounts = Array.from({ length: 50 }, (_, i) => 3_000 + ((i * 7_919) % 9_800));
    const total = amounts.reduce((sum, amount) => sum + amount, 0);
    assert.ok(total > open);

    const responses = await Promise.all(amounts.map((amount) => familyPay(family.id, amount)));
    for (const response of responses) {
      assert.equal(response.statusCode, 201, response.body);
    }
    const bodies = responses.map((response) => response.json<FamilyPaymentBody>());
    const allocated = bodies.reduce((sum, body) => sum + body.allocated, 0);
    assert.equal(
      bodies.reduce((sum, body) => sum + body.allocations.reduce((s, a) => s + a.amount, 0), 0),
      allocated,
      'each answer’s allocations sum to its allocated',
    );
    assert.ok(allocated <= open, `Σ allocations ${allocated} ≤ Σ open ${open}`);
    // Serialised on the family row: exactly what was open was allocated, the rest is credit.
    assert.equal(allocated, open);
    assert.equal(await creditOf(t.db, family.id), total - allocated);
    assert.equal(bodies.reduce((sum, body) => sum + body.credited, 0), total - allocated);

    // Per invoice: what the answers allocated is what the invoice has paid, and never above its amount.
    const byInvoice = new Map<string, number>();
    for (const allocation of bodies.flatMap((body) => body.allocations)) {
      byInvoice.set(allocation.invoiceId, (byInvoice.get(allocation.invoiceId) ?? 0) + allocation.amount);
    }
    const rows = await t.db.selectFrom('invoices').select(['id', 'amount', 'paid_amount']).where('id', 'in', invoices).execute();
    for (const row of rows) {
      assert.equal(row.paid_amount, row.amount, 'every invoice settled exactly');
      assert.equal(byInvoice.get(row.id), row.paid_amount);
    }
    assert.equal(new Set(bodies.map((body) => body.receiptNumber)).size, 50, 'one receipt each');
    const invariant = await familyInvariant(t.db, family.id);
    assert.equal(invariant.left, invariant.right, 'SPEC §7 invariant');
  });

  test('family payments that leave credit, racing direct payments of the same school: every one succeeds (one lock order, no deadlock)', async () => {
    // Each money write takes the school's billing_versions row before any rollup row; a
    // family payment's credit goes to the school's payment rollups and totals, so it
    // must too (migration 0020), or it deadlocks with a direct payment taking them the other way.
    const payers = await Promise.all(Array.from({ length: 6 }, () => familyWithOpenInvoices([1_000])));
    const others = await familyWithOpenInvoices(Array.from({ length: 12 }, () => 100_000));
    const work: Promise<{ kind: string; statusCode: number; body: string }>[] = [];
    for (let round = 0; round < 4; round++) {
      for (const payer of payers) {
        // More than the family owes: the rest is family credit, in cash like the direct payments.
        work.push(familyPay(payer.family.id, 3_000, 'cash').then((r) => ({ kind: 'family', statusCode: r.statusCode, body: r.body })));
      }
      for (const invoiceId of others.invoices) {
        work.push(admin.pay({ invoiceId, amount: 1_000, method: 'cash' }).then((r) => ({ kind: 'direct', statusCode: r.statusCode, body: r.body })));
      }
    }
    for (const result of await Promise.all(work)) {
      assert.equal(result.statusCode, 201, `${result.kind}: ${result.body}`);
    }
  });

  test('family payments racing direct payments and credit applications on the same invoices: no overpayment, invariant holds', async () => {
    const { family, invoices, open } = await familyWithOpenInvoices([20_000, 20_000, 20_000, 20_000, 20_000]);
    const work: Promise<{ kind: string; statusCode: number; body: string }>[] = [];
    for (let i = 0; i < 30; i++) {
      work.push(familyPay(family.id, 2_000 + (i % 5) * 1_000).then((r) => ({ kind: 'family', statusCode: r.statusCode, body: r.body })));
      if (i % 2 === 0) {
        const invoiceId = invoices[i % invoices.length] ?? '';
        work.push(admin.pay({ invoiceId, amount: 4_000, method: 'cash' }).then((r) => ({ kind: 'direct', statusCode: r.statusCode, body: r.body })));
      }
      if (i % 5 === 0) {
        work.push(admin.post(`/families/${family.id}/apply-credit`, {}).then((r) => ({ kind: 'credit', statusCode: r.statusCode, body: r.body })));
      }
    }
    const results = await Promise.all(work);
    for (const result of results) {
      if (result.kind === 'direct') {
        // A direct payment that comes after the family payments settled its invoice is an overpayment.
        assert.ok(result.statusCode === 201 || result.statusCode === 422, result.body);
      } else {
        assert.equal(result.statusCode, result.kind === 'family' ? 201 : 200, result.body);
      }
    }
    const { rows } = await sql<{ over: number; paid: number }>`
      select count(*) filter (where paid_amount > amount)::int as over, sum(paid_amount)::bigint as paid
        from invoices where id = any(${invoices}::uuid[])`.execute(t.db);
    assert.equal(rows[0]?.over, 0);
    assert.ok(Number(rows[0]?.paid) <= open);
    const invariant = await familyInvariant(t.db, family.id);
    assert.equal(invariant.left, invariant.right, 'SPEC §7 invariant');
    // Credit never went below zero and is what the money rows say it is.
    const { rows: credit } = await sql<{ expected: number }>`
      select (coalesce((select sum(credited) from family_payments where family_id = ${family.id}), 0)
            - coalesce((select sum(amount) from credit_applications where family_id = ${family.id}), 0))::bigint as expected`.execute(t.db);
    assert.equal(await creditOf(t.db, family.id), Number(credit[0]?.expected));
  });
});

/**
 * SPEC §7 / issue 16: 50 family payments and credit applications racing two bill runs of
 * the same school and families, all as real concurrent requests. The runs take the
 * school's bill-run lock and the credit families' rows; the payments the family rows,
 * then their invoices; both write money rows that take the school's billing_versions
 * row and the receipt counter in the ledger's order. Whatever the interleaving: no
 * deadlock surfaces (no 500), every instalment is billed exactly once, receipts are
 * 1..N without a gap or a duplicate, and the ledger invariant (npm run verify) holds.
 */
function raceBillRuns(mode: 'inline' | 'background') {
  describe(`family payments and credit applications racing two bill runs (${mode})`, () => {
    let t: TestApp;
    let schoolId = '';
    let admin: Client;
    const families: { id: string; students: string[] }[] = [];
    const FAMILIES = 8;
    const INSTALMENTS = 10;

    before(async () => {
      // inline: each run bills the school in its request's one transaction; background: each
      // is a pg-boss job billing in batch transactions (BILL_RUN_INLINE_MAX 0).
      t = await createTestApp(mode === 'inline' ? {} : { env: { BILL_RUN_INLINE_MAX: '0' } });
      schoolId = await createSchool(t.db, { name: 'Colegio Carrera' });
      await insertUser(t.db, { username: 'race.runs', role: 'school_admin', schoolIds: [schoolId] });
      admin = client(t.app, (await login(t.app, 'race.runs')).accessToken);
      const planId = await insertPlan(t.db, schoolId, [{ code: 'TUITION', description: 'Colegiatura', amount: 300_000, schedule: TEN_MONTHS }]);
      await insertRule(t.db, schoolId, { kind: 'sibling', basis: 'percent', value: 10, fromSiblingNumber: 2 });
      for (let f = 0; f < FAMILIES; f++) {
        const family = await createFamily(t.db, schoolId, {
          students: Array.from({ length: 1 + (f % 3) }, (_, s) => ({ firstName: `Hijo${s}`, lastName: `Carrera${f}` })),
        });
        families.push(family);
        for (const studentId of family.students) {
          await insertEnrolment(t.db, schoolId, { studentId, planId, from: '2026-08-01' });
        }
        // Something open before the runs, so payments have a target whatever commits first.
        await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[0] ?? '', amount: 50_000, dueDate: day(-40) });
      }
      // Half the families start with credit (a family payment above what they owe), so the
      // runs apply credit to what they bill while apply-credit calls race them for it.
      for (const family of families.filter((_, f) => f % 2 === 0)) {
        const paid = await admin.post(`/families/${family.id}/payments`, { amount: 500_000, method: 'cash' }, { 'idempotency-key': randomUUID() });
        assert.equal(paid.statusCode, 201, paid.body);
      }
    });
    after(() => t.close());

    test('no deadlock or 500; every instalment billed once; receipts gapless; the ledger invariant holds', async () => {
      const students = families.reduce((sum, family) => sum + family.students.length, 0);
      const work: Promise<{ what: string; statusCode: number; body: string }>[] = [];
      const run = () => admin.post('/bill-runs', { schoolId, through: '2027-07-31' }).then((r) => ({ what: 'run', statusCode: r.statusCode, body: r.body }));
      work.push(run());
      for (let i = 0; i < 50; i++) {
        const family = families[i % FAMILIES];
        work.push(
          admin
            .post(`/families/${family?.id}/payments`, { amount: 40_000 + (i % 7) * 25_000, method: 'bank_transfer' }, { 'idempotency-key': randomUUID() })
            .then((r) => ({ what: 'payment', statusCode: r.statusCode, body: r.body })),
        );
        if (i === 25) {
          work.push(run());
        }
        if (i % 6 === 0) {
          work.push(admin.post(`/families/${family?.id}/apply-credit`, {}).then((r) => ({ what: 'credit', statusCode: r.statusCode, body: r.body })));
        }
      }
      const results = await Promise.all(work);
      const expected: Record<string, number> = { run: mode === 'inline' ? 201 : 202, payment: 201, credit: 200 };
      for (const result of results) {
        assert.equal(result.statusCode, expected[result.what], `${result.what}: ${result.body}`);
      }
      const runs: { id: string; status: string; invoicesCreated: number; error: string | null }[] = [];
      for (const result of results.filter((r) => r.what === 'run')) {
        let run = JSON.parse(result.body) as (typeof runs)[number];
        await waitFor(`bill run ${run.id} to finish`, async () => {
          run = (await admin.get(`/bill-runs/${run.id}`)).json<(typeof runs)[number]>();
          return run.status === 'finished' || run.status === 'failed';
        }, 60_000);
        assert.equal(run.status, 'finished', run.error ?? '');
        runs.push(run);
      }
      assert.equal(runs.length, 2);
      // Together the two runs billed every instalment once; whichever came second found them billed.
      assert.equal(runs.reduce((sum, r) => sum + r.invoicesCreated, 0), students * INSTALMENTS);

      const { rows: lines } = await sql<{ charges: number; keys: number; twice: number }>`
        select count(*)::int as charges, count(distinct billing_key)::int as keys,
               (select count(*) from (select 1 from invoice_lines where school_id = ${schoolId} and kind = 'charge' and enrolment_id is not null
                                       group by enrolment_id, item_code, due_date having count(*) > 1) d)::int as twice
          from invoice_lines
         where school_id = ${schoolId} and kind = 'charge' and billing_key is not null`.execute(t.db);
      assert.deepEqual(lines[0], { charges: students * INSTALMENTS, keys: students * INSTALMENTS, twice: 0 });

      const { rows: receipts } = await sql<{ n: number; distinct: number; min: number; max: number }>`
        select count(*)::int as n, count(distinct seq)::int as distinct, min(seq)::int as min, max(seq)::int as max
          from receipts where school_id = ${schoolId}`.execute(t.db);
      const paymentsMade = FAMILIES / 2 + 50;
      assert.deepEqual(receipts[0], { n: paymentsMade, distinct: paymentsMade, min: 1, max: paymentsMade }, 'receipts 1..N, no gap, no duplicate');

      const report = await verifyLedgerInvariant(t.db, { schoolId });
      assert.ok(report.ok, formatLedgerInvariantReport(report));
      const { rows: over } = await sql<{ n: number }>`
        select count(*)::int as n from invoices where school_id = ${schoolId} and paid_amount > amount`.execute(t.db);
      assert.equal(over[0]?.n, 0);
    });
  });
}

raceBillRuns('inline');
raceBillRuns('background');
