import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { seedDemoData } from '../../src/db/seed-demo.js';
import { createBillingService, type BillingService, type SimulatedWrite } from '../../src/modules/billing/billing.service.js';
import { createInvoicesRepository } from '../../src/modules/billing/invoices.repository.js';
import { createPaymentsRepository } from '../../src/modules/billing/payments.repository.js';
import { createSchoolsRepository } from '../../src/modules/billing/schools.repository.js';
import { createStudentsRepository } from '../../src/modules/billing/students.repository.js';
import { DAY_MS } from '../../src/modules/simulator/demo-plan.js';
import { createSimulator, SIMULATOR_USERNAME } from '../../src/modules/simulator/simulator.js';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import type { Actor } from '../../src/shared/context.js';
import { AppError } from '../../src/shared/errors.js';
import { principalFor } from '../../src/shared/policy.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, PASSWORD, problemOf, type TestApp } from '../helpers/app.js';

interface School {
  id: string;
  name: string;
  isDemo: boolean;
  simulatorEnabled: boolean;
}

/**
 * Demo schools in the API and the per-school switch of the simulator
 * (PATCH /schools/:id {simulatorEnabled}), and the billing service's own check on the
 * simulator's path: a simulated write on anything but live demo data is refused under
 * the row lock, whatever the simulator's queries found.
 */
describe('demo schools and the simulator switch', () => {
  let t: TestApp;
  let root: Client;
  let schoolAdmin: Client;
  let byName: Map<string, School>;
  let real: { school: string; student: string; invoice: string };
  const log = pino({ level: 'silent' });
  const START = Date.now() - 40 * DAY_MS;

  before(async () => {
    t = await createTestApp();
    await seedDemoData(t.db, { password: PASSWORD, now: new Date(START) });
    root = client(t.app, (await login(t.app, 'super.admin')).accessToken);
    schoolAdmin = client(t.app, (await login(t.app, 'school.admin')).accessToken);
    const school = (await root.post('/schools', { name: 'Escuela Real' })).json<{ id: string }>();
    const student = (await root.post('/students', { schoolId: school.id, firstName: 'Rosa', lastName: 'Vega', grade: '4' })).json<{ id: string }>();
    const invoice = (await root.post('/invoices', { studentId: student.id, amount: 90_000, dueDate: new Date(START).toISOString().slice(0, 10) })).json<{ id: string }>();
    real = { school: school.id, student: student.id, invoice: invoice.id };
    byName = new Map((await root.get('/schools')).json<{ data: School[] }>().data.map((s) => [s.name, s]));
  });
  after(() => t.close());

  const schoolOf = (name: string): School => {
    const school = byName.get(name);
    assert.ok(school, name);
    return school;
  };

  test('schools say whether they are demo schools and whether their simulated traffic is on', async () => {
    assert.deepEqual(
      [...byName.values()].map((s) => [s.name, s.isDemo, s.simulatorEnabled]).sort(),
      [
        ['Colegio Miraflores', true, true],
        ['Escuela Real', false, false],
        ['Instituto Andino', true, true],
        ['Lincoln Bilingual School', true, true],
      ],
    );
    const one = (await schoolAdmin.get(`/schools/${schoolOf('Colegio Miraflores').id}`)).json<School>();
    assert.deepEqual([one.isDemo, one.simulatorEnabled], [true, true]);
    // isDemo is not writable; the switch is PATCH-only.
    const cannot = await root.patch(`/schools/${real.school}`, { isDemo: true });
    assert.equal(cannot.statusCode, 400);
    const put = await root.put(`/schools/${schoolOf('Colegio Miraflores').id}`, { name: 'Colegio Miraflores', simulatorEnabled: false });
    assert.equal(put.statusCode, 400);
  });

  test('PATCH {simulatorEnabled}: school_admin for their demo schools, super_admin; 422 elsewhere; audited', async () => {
    const miraflores = schoolOf('Colegio Miraflores').id;
    const off = await schoolAdmin.patch(`/schools/${miraflores}`, { simulatorEnabled: false });
    assert.equal(off.statusCode, 200, off.body);
    assert.deepEqual([off.json<School>().simulatorEnabled, off.json<School>().isDemo], [false, true]);
    const audit = await t.db.selectFrom('audit_log').select(['action', 'actor_username', 'changes']).where('entity_id', '=', miraflores).where('action', '=', 'school.update').execute();
    assert.deepEqual(audit.map((a) => [a.action, a.actor_username, a.changes]), [['school.update', 'school.admin', { simulatorEnabled: false }]]);

    // Not a demo school: 422 naming the field.
    const refused = await root.patch(`/schools/${real.school}`, { simulatorEnabled: true });
    assert.equal(refused.statusCode, 422);
    assert.equal(problemOf(refused).errors?.[0]?.field, 'simulatorEnabled');
    // A demo school the school_admin is not assigned to: 404 (no existence leak); a read-only role: 403.
    assert.equal((await schoolAdmin.patch(`/schools/${schoolOf('Lincoln Bilingual School').id}`, { simulatorEnabled: false })).statusCode, 404);
    await insertUser(t.db, { username: 'switch.analyst', role: 'finance_analyst' });
    const analyst = client(t.app, (await login(t.app, 'switch.analyst')).accessToken);
    assert.equal((await analyst.patch(`/schools/${miraflores}`, { simulatorEnabled: true })).statusCode, 403);
    // Nothing changed by the refusals.
    const rows = await t.db.selectFrom('schools').select(['name', 'simulator_enabled']).orderBy('name').execute();
    assert.deepEqual(rows.map((r) => [r.name, r.simulator_enabled]), [
      ['Colegio Miraflores', false],
      ['Escuela Real', true],
      ['Instituto Andino', true],
      ['Lincoln Bilingual School', true],
    ]);
  });

  test('switched off, the simulator leaves the school alone; switched on again, it resumes', async () => {
    const miraflores = schoolOf('Colegio Miraflores').id;
    const writesIn = async (schoolId: string) =>
      Number(
        (
          await sql<{ n: number }>`select count(*)::int as n from audit_log where actor_username = ${SIMULATOR_USERNAME} and school_id = ${schoolId}`.execute(t.db)
        ).rows[0]?.n,
      );
    const rowsIn = async (schoolId: string) =>
      (
        await sql<{ rows: unknown }>`
          select jsonb_build_object(
            'invoices', (select jsonb_agg(to_jsonb(i) order by i.id) from invoices i where i.school_id = ${schoolId}),
            'transactions', (select count(*) from transactions where school_id = ${schoolId}),
            'payments', (select count(*) from payments where school_id = ${schoolId})) as rows`.execute(t.db)
      ).rows[0]?.rows;
    const before = await rowsIn(miraflores);
    const clock = new VirtualClock(START);
    const simulator = createSimulator({ db: t.db, ratePerSecond: 2, log, clock, seed: 7 });
    // 32 days in three-hour ticks (one event each): payments fall due, some cards are declined, a month's bills are issued.
    for (let i = 0; i < 32 * 8; i++) {
      clock.advance(3 * 3_600_000);
      await simulator.step();
    }
    assert.equal(simulator.stats().errors, 0, JSON.stringify(simulator.stats()));
    assert.equal(await writesIn(miraflores), 0, 'nothing in the switched-off school');
    assert.deepEqual(await rowsIn(miraflores), before);
    const andino = await writesIn(schoolOf('Instituto Andino').id);
    assert.ok(andino > 10, `the other demo schools are simulated (${andino} writes in Instituto Andino)`);
    assert.equal(await writesIn(real.school), 0);

    const on = await root.patch(`/schools/${miraflores}`, { simulatorEnabled: true });
    assert.equal(on.statusCode, 200);
    for (let i = 0; i < 40; i++) {
      clock.advance(3 * 3_600_000);
      await simulator.step();
    }
    assert.ok((await writesIn(miraflores)) > 0, 'switched on again, the school is simulated again');
  });

  describe('the billing service on the simulator’s path', () => {
    let billing: BillingService;
    let actor: Actor;
    const simulated: SimulatedWrite = {};
    const money = () => ({ idempotencyKey: randomUUID(), path: '/api/v1/payments' });
    const refusedAs = (code: string) => (error: unknown) => error instanceof AppError && error.code === code;

    before(async () => {
      billing = createBillingService({
        db: t.db,
        schools: createSchoolsRepository(),
        students: createStudentsRepository(),
        invoices: createInvoicesRepository(),
        payments: createPaymentsRepository(),
      });
      const userId = await insertUser(t.db, { username: 'guard.super', role: 'super_admin' });
      actor = { principal: principalFor({ id: userId, username: 'guard.super', role: 'super_admin', schoolIds: [] }, 'session-guard'), requestId: 'req-guard' };
    });

    const openDemoInvoice = async (name: string, touched: boolean) => {
      const row = await t.db
        .selectFrom('invoices')
        .innerJoin('schools', 'schools.id', 'invoices.school_id')
        .select(['invoices.id', 'invoices.school_id', 'invoices.student_id'])
        .where('schools.name', '=', name)
        .where('invoices.paid_amount', '=', 0)
        .where('invoices.cancelled_at', 'is', null)
        .where('invoices.touched_by_person_at', touched ? 'is not' : 'is', null)
        .orderBy('invoices.id')
        .executeTakeFirstOrThrow();
      return row;
    };

    test('refused: a real school’s invoice, a person’s invoice in a demo school, a switched-off school', async () => {
      await assert.rejects(billing.recordPayment(actor, { invoiceId: real.invoice, amount: 100, method: 'cash' }, money(), simulated), refusedAs('FORBIDDEN'));
      await assert.rejects(
        billing.recordFailedAttempt(actor, { invoiceId: real.invoice, amount: 100, method: 'card', failureCode: 'card_declined' }, simulated),
        refusedAs('FORBIDDEN'),
      );
      await assert.rejects(billing.createInvoice(actor, { studentId: real.student, amount: 100, dueDate: '2030-01-10' }, simulated), refusedAs('FORBIDDEN'));

      // A demo invoice a person changed is theirs now.
      const andino = await openDemoInvoice('Instituto Andino', false);
      const patched = await root.patch(`/invoices/${andino.id}`, { description: 'Tuition (reviewed)' });
      assert.equal(patched.statusCode, 200);
      await assert.rejects(billing.recordPayment(actor, { invoiceId: andino.id, amount: 100, method: 'cash' }, money(), simulated), refusedAs('FORBIDDEN'));

      // Switched off: refused even on the school's untouched demo invoices.
      const lincoln = schoolOf('Lincoln Bilingual School').id;
      await root.patch(`/schools/${lincoln}`, { simulatorEnabled: false });
      const untouched = await openDemoInvoice('Lincoln Bilingual School', false);
      await assert.rejects(billing.recordPayment(actor, { invoiceId: untouched.id, amount: 100, method: 'cash' }, money(), simulated), refusedAs('FORBIDDEN'));
      await assert.rejects(
        billing.recordFailedAttempt(actor, { invoiceId: untouched.id, amount: 100, method: 'card', failureCode: 'card_declined' }, simulated),
        refusedAs('FORBIDDEN'),
      );
      await root.patch(`/schools/${lincoln}`, { simulatorEnabled: true });

      // None of it wrote anything; the same calls outside the simulator's path (the API's) still work.
      const writes = await sql<{ n: number }>`select count(*)::int as n from payments where invoice_id in (${real.invoice}, ${andino.id}, ${untouched.id})`.execute(t.db);
      assert.equal(writes.rows[0]?.n, 0);
      const plain = await billing.recordPayment(actor, { invoiceId: real.invoice, amount: 100, method: 'cash' }, money());
      assert.equal(plain.status, 201);
    });

    test('admitted on live demo data: the invoice stays demo data; a person’s write marks it', async () => {
      const invoice = await openDemoInvoice('Lincoln Bilingual School', false);
      await billing.recordPayment(actor, { invoiceId: invoice.id, amount: 100, method: 'cash' }, money(), simulated);
      const after = await t.db.selectFrom('invoices').select(['paid_amount', 'touched_by_person_at']).where('id', '=', invoice.id).executeTakeFirstOrThrow();
      assert.deepEqual([after.paid_amount, after.touched_by_person_at], [100, null]);
      // The same service without the simulator's flag is a person's write.
      await billing.recordPayment(actor, { invoiceId: invoice.id, amount: 100, method: 'cash' }, money());
      const marked = await t.db.selectFrom('invoices').select(['touched_by_person_at']).where('id', '=', invoice.id).executeTakeFirstOrThrow();
      assert.notEqual(marked.touched_by_person_at, null);
    });

    test('confirm runs in the invoice’s transaction: throwing from it leaves no invoice and no number used', async () => {
      const student = await t.db
        .selectFrom('demo_students')
        .innerJoin('schools', 'schools.id', 'demo_students.school_id')
        .select(['demo_students.student_id', 'demo_students.school_id'])
        .where('schools.name', '=', 'Instituto Andino')
        .executeTakeFirstOrThrow();
      const count = async () =>
        Number((await sql<{ n: number }>`select count(*)::int as n from invoices where school_id = ${student.school_id}`.execute(t.db)).rows[0]?.n);
      const counter = async () =>
        (await t.db.selectFrom('invoice_counters').select('last_number').where('school_id', '=', student.school_id).executeTakeFirstOrThrow()).last_number;
      const [invoicesBefore, numberBefore] = [await count(), await counter()];
      const failing: SimulatedWrite = {
        confirm: () => Promise.reject(new AppError('CONFLICT', 'already billed')),
      };
      await assert.rejects(billing.createInvoice(actor, { studentId: student.student_id, amount: 1_000, dueDate: '2030-01-10' }, failing), refusedAs('CONFLICT'));
      assert.deepEqual([await count(), await counter()], [invoicesBefore, numberBefore]);
      const created = await billing.createInvoice(actor, { studentId: student.student_id, amount: 1_000, dueDate: '2030-01-10' }, simulated);
      assert.equal(created.number, `INV-${String(numberBefore + 1).padStart(6, '0')}`);
      const row = await t.db.selectFrom('invoices').select('touched_by_person_at').where('id', '=', created.id).executeTakeFirstOrThrow();
      assert.equal(row.touched_by_person_at, null);
    });
  });
});
