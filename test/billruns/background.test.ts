import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createBillRunEngine } from '../../src/modules/billruns/billruns.engine.js';
import { createBillRunsRepository } from '../../src/modules/billruns/billruns.repository.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { insertEnrolment, insertFamily, insertGuardian, insertPlan, insertSchool, insertStudent, TEN_MONTHS } from './fixtures.js';

interface Run {
  id: string;
  status: string;
  invoicesCreated: number;
  linesCreated: number;
  skipped: number;
  error: string | null;
  progress: { done: number; total: number };
  totals: { amount: number }[];
}

/** Background runs (BILL_RUN_INLINE_MAX=5 here) and runs at once. */
describe('bill runs in the background and at once', () => {
  let t: TestApp;
  let root: Client;
  const repo = createBillRunsRepository();
  const engine = createBillRunEngine(repo);

  before(async () => {
    t = await createTestApp({ env: { BILL_RUN_INLINE_MAX: '5' } });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  after(() => t.close());

  /** A school of `students` students on ten monthly instalments (two of them with two payers). */
  const schoolOf = async (students: number) => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 120_000, schedule: TEN_MONTHS }]);
    for (let i = 0; i < students; i++) {
      if (i < 2) {
        const family = await insertFamily(t.db, s);
        const payers = [
          { guardianId: await insertGuardian(t.db, s, family), share: 0.7 },
          { guardianId: await insertGuardian(t.db, s, family), share: 0.3 },
        ];
        await insertEnrolment(t.db, s, { studentId: await insertStudent(t.db, s, { familyId: family }), planId: plan, from: '2026-08-01', payers });
      } else {
        await insertEnrolment(t.db, s, { studentId: await insertStudent(t.db, s), planId: plan, from: '2026-08-01' });
      }
    }
    return { school: s, plan, invoices: students * 10 + Math.min(students, 2) * 10 };
  };
  const counts = async (schoolId: string) => {
    const row = await sql<{ invoices: number; lines: number; instalments: number; keys: number }>`
      select (select count(*)::int from invoices where school_id = ${schoolId}) as invoices,
             (select count(*)::int from invoice_lines where school_id = ${schoolId}) as lines,
             (select count(distinct (enrolment_id, item_code, due_date))::int from invoice_lines where school_id = ${schoolId}) as instalments,
             (select count(distinct billing_key)::int from invoice_lines where school_id = ${schoolId}) as keys`.execute(t.db);
    return row.rows[0] ?? { invoices: -1, lines: -1, instalments: -1, keys: -1 };
  };
  const finished = async (id: string) => {
    let run: Run | undefined;
    await waitFor(`bill run ${id} to finish`, async () => {
      run = (await root.get(`/bill-runs/${id}`)).json<Run>();
      return run.status === 'finished' || run.status === 'failed';
    }, 30_000);
    return run as Run;
  };

  test('a run above BILL_RUN_INLINE_MAX answers 202 queued, runs as a job, and GET polls it to finished with its progress', async () => {
    const { school, invoices } = await schoolOf(4);
    const response = await root.post('/bill-runs', { schoolId: school, through: '2027-07-31' });
    assert.equal(response.statusCode, 202, response.body);
    const queued = response.json<Run>();
    assert.equal(queued.status, 'queued');
    assert.deepEqual(queued.progress, { done: 0, total: 4 }, 'progress counts billing units: two families and two students');
    const run = await finished(queued.id);
    assert.equal(run.status, 'finished', run.error ?? '');
    assert.equal(run.invoicesCreated, invoices);
    assert.deepEqual(run.progress, { done: 4, total: 4 });
    assert.deepEqual(await counts(school), { invoices, lines: 60, instalments: 40, keys: 60 });
    const jobs = await sql<{ id: string }>`select id from pgboss.job where name = 'bursar-bill-run' and id = ${queued.id}::uuid`.execute(t.db);
    assert.equal(jobs.rows.length, 1, 'the job is keyed by the bill run id');
    const audit = await t.db.selectFrom('audit_log').select('action').where('entity_id', '=', queued.id).orderBy('id').execute();
    assert.deepEqual(audit.map((a) => a.action), ['bill_run.queue', 'bill_run.finish']);
  });

  test('two concurrent background runs of one school bill every instalment exactly once', async () => {
    const { school, invoices } = await schoolOf(6);
    const [a, b] = await Promise.all([
      root.post('/bill-runs', { schoolId: school, through: '2027-07-31' }),
      root.post('/bill-runs', { schoolId: school, through: '2027-07-31' }),
    ]);
    assert.equal(a?.statusCode, 202, a?.body);
    assert.equal(b?.statusCode, 202, b?.body);
    const runs = await Promise.all([finished(a?.json<Run>().id ?? ''), finished(b?.json<Run>().id ?? '')]);
    assert.deepEqual(runs.map((r) => r.status), ['finished', 'finished']);
    assert.equal(runs[0].invoicesCreated + runs[1].invoicesCreated, invoices);
    assert.deepEqual(await counts(school), { invoices, lines: 80, instalments: 60, keys: 80 });
  });

  test('two concurrent inline runs of one school (real requests) bill every instalment exactly once', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 120_000, schedule: TEN_MONTHS }]);
    await insertEnrolment(t.db, s, { studentId: await insertStudent(t.db, s), planId: plan, from: '2026-08-01' });
    const responses = await Promise.all([1, 2, 3].map(() => root.post('/bill-runs', { schoolId: s, through: '2026-11-30' })));
    assert.deepEqual(responses.map((r) => r.statusCode), [201, 201, 201], responses.map((r) => r.body).join('\n'));
    const runs = responses.map((r) => r.json<Run>());
    assert.equal(runs.reduce((x, r) => x + r.invoicesCreated, 0), 3);
    assert.equal(runs.reduce((x, r) => x + r.skipped, 0), 6);
    assert.deepEqual(await counts(s), { invoices: 3, lines: 3, instalments: 3, keys: 3 });
  });

  test('the unique billing key is the last line of defence: a second line with the same key is refused by the database', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 120_000, schedule: TEN_MONTHS }]);
    await insertEnrolment(t.db, s, { studentId: await insertStudent(t.db, s), planId: plan, from: '2026-08-01' });
    await root.post('/bill-runs', { schoolId: s, through: '2026-09-30' });
    const line = await t.db.selectFrom('invoice_lines').selectAll().where('school_id', '=', s).executeTakeFirstOrThrow();
    await assert.rejects(
      t.db
        .insertInto('invoice_lines')
        .values({ school_id: s, invoice_id: line.invoice_id, kind: 'charge', code: 'tuition', description: 'again', amount: 1, billing_key: line.billing_key })
        .execute(),
      (error: { code?: string }) => error.code === '23505',
    );
  });

  test('a second worker handed the same run does nothing; batches commit with their progress', async () => {
    const { school, invoices } = await schoolOf(5);
    const queued = await repo.insertRun(t.db, { schoolId: school, through: '2027-07-31', status: 'queued', total: 70, requestedBy: null });
    const results = await Promise.all([
      engine.runBackground(t.db, queued.id, { unitsPerBatch: 1 }),
      engine.runBackground(t.db, queued.id, { unitsPerBatch: 1 }),
    ]);
    assert.ok(results.filter((r) => r !== undefined).length <= 1, 'at most one worker runs it');
    const run = (await root.get(`/bill-runs/${queued.id}`)).json<Run>();
    assert.equal(run.status, 'finished');
    assert.equal(run.invoicesCreated, invoices);
    assert.deepEqual(run.progress, { done: 5, total: 5 });
    assert.deepEqual(await counts(school), { invoices, lines: 70, instalments: 50, keys: 70 });
  });

  test('a run that fails records its error and status failed, keeps the batches it finished, and a new run bills the rest', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 100_000, schedule: TEN_MONTHS }]);
    const broken = await insertPlan(t.db, s, [{ code: 'boom', description: 'BOOM', amount: 1_000, schedule: { kind: 'once', dueDate: '2026-09-05' } }]);
    const students = [];
    for (let i = 0; i < 3; i++) {
      students.push(await insertStudent(t.db, s));
      await insertEnrolment(t.db, s, { studentId: students[i] ?? '', planId: plan, from: '2026-08-01' });
    }
    // On the last billing unit (units are walked in key order): the first two are billed before it fails.
    await insertEnrolment(t.db, s, { studentId: students.sort().at(-1) ?? '', planId: broken, from: '2026-08-01' });
    await sql`create function bill_run_boom() returns trigger language plpgsql as $$
      begin
        if new.description = 'BOOM' then raise exception 'cannot bill %', new.code; end if;
        return new;
      end $$`.execute(t.db);
    await sql`create trigger bill_run_boom before insert on invoice_lines for each row execute function bill_run_boom()`.execute(t.db);
    try {
      const queued = await repo.insertRun(t.db, { schoolId: s, through: '2027-07-31', status: 'queued', total: 31, requestedBy: null });
      const failed = await engine.runBackground(t.db, queued.id, { unitsPerBatch: 1 });
      assert.equal(failed?.status, 'failed');
      const run = (await root.get(`/bill-runs/${queued.id}`)).json<Run>();
      assert.equal(run.status, 'failed');
      assert.match(run.error ?? '', /cannot bill boom/);
      assert.equal(run.invoicesCreated, 20, 'the first two students were billed before the third failed');
      assert.deepEqual(run.progress, { done: 2, total: 3 });
      assert.equal((await counts(s)).invoices, 20);
    } finally {
      await sql`drop trigger bill_run_boom on invoice_lines`.execute(t.db);
      await sql`drop function bill_run_boom()`.execute(t.db);
    }
    const again = await root.post('/bill-runs', { schoolId: s, through: '2027-07-31' });
    assert.equal(again.statusCode, 202, again.body);
    const run = await finished(again.json<Run>().id);
    assert.equal(run.status, 'finished');
    assert.equal(run.invoicesCreated, 10);
    assert.equal(run.skipped, 20);
    assert.deepEqual(await counts(s), { invoices: 30, lines: 31, instalments: 31, keys: 31 });
  });

  test('a run marked running whose worker died (nobody holds its lock) is failed by the tick; a queued run nobody took is picked up', async () => {
    const { school, invoices } = await schoolOf(1);
    const orphan = await repo.insertRun(t.db, { schoolId: school, through: '2027-07-31', status: 'running', total: 30, requestedBy: null });
    await t.db.updateTable('bill_runs').set({ started_at: sql<Date>`now() - interval '1 minute'` }).where('id', '=', orphan.id).execute();
    const dead = await finished(orphan.id);
    assert.equal(dead.status, 'failed');
    assert.match(dead.error ?? '', /worker stopped/);

    // As if POSTed through an API-only process: queued, no job sent.
    const queued = await repo.insertRun(t.db, { schoolId: school, through: '2027-07-31', status: 'queued', total: 30, requestedBy: null });
    const run = await finished(queued.id);
    assert.equal(run.status, 'finished');
    assert.equal(run.invoicesCreated, invoices);
  });
});
