import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { CompiledQuery, sql } from 'kysely';
import pg from 'pg';
import {
  beginExportSession,
  copyCsv,
  EXPORT_STATEMENT_TAG,
  inlineParameters,
  joinSnapshot,
  type CsvExportPlan,
  type ExportSession,
} from '../../src/modules/reporting/export.js';
import { createPendingRepository } from '../../src/modules/reporting/pending.repository.js';
import { PENDING_COLUMNS, type PendingPage, type PendingRow } from '../../src/modules/reporting/pending.schemas.js';
import { createCsvStringifier } from '../../src/shared/csv.js';
import { maskName } from '../../src/shared/masking.js';
import type { Scope } from '../../src/shared/scope.js';
import { bearer, insertUser, login, createTestApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The CSV export is PostgreSQL's CSV writer (COPY … TO STDOUT) over a statement that
 * masks, scopes, filters and neutralises by itself. These tests hold it to what the
 * csv-stringify path produced: for rows full of quoting and formula traps the bytes are
 * identical to csv.ts's stringifier over the queue's JSON rows (which mask in JS), for
 * the clear and the masked role. They also check that a client going away cancels the
 * statement on the server, even before its first row.
 */

const URL_QUEUE = '/api/v1/reports/pending-payments';
const URL_EXPORT = '/api/v1/reports/pending-payments/export';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** Names that exercise CSV quoting, formula neutralising and the SQL mask. */
const NAMES: [string, string][] = [
  ['Ana', 'Alvarez'],
  ['=HYPERLINK("http://x")', 'Inject'],
  ['+1', 'Plus'],
  ['-2', 'Minus'],
  ['@SUM(A1)', 'At'],
  ['\tTab', 'Lead'],
  ['\rCarriage', 'Return'],
  ['Line\nBreak', 'Two'],
  ['"Quoted"', 'Name'],
  ['Comma, Jr.', 'Doe'],
  ["O'Brien", 'Single'],
  ['  Élodie', 'Ñandú'],
  ['ñoño', 'écija'],
  ['Ωmega', 'Δelta'],
  ['李', '小龙'],
  ['123', '4th'],
  ['--', '=='],
  ['😀Smile', '(x)'],
  ['x', '=cmd|" /C calc"!A0'],
];

describe('CSV export through COPY', () => {
  let h: TestApp;
  const tokens = { super: '', analyst: '' };
  let schoolA = '';
  let schoolHash = '';

  before(async () => {
    h = await createTestApp();
    const school = async (name: string) => (await h.db.insertInto('schools').values({ name }).returning('id').executeTakeFirstOrThrow()).id;
    schoolA = await school('Colegio "San José", Sede 2');
    const schoolB = await school('=Formula School');
    // A value PostgreSQL leaves unquoted where csv-stringify quoted it (quoted_match '#'); the bytes differ, the parsed cells do not.
    schoolHash = await school('School #3');
    let n = 0;
    for (const [i, [first, last]] of NAMES.entries()) {
      const schoolId = [schoolA, schoolB][i % 2] ?? schoolA;
      const grade = ['3', '-1', '@2', 'K, morning', '"5"'][i % 5] ?? '3';
      const student = (
        await h.db.insertInto('students').values({ school_id: schoolId, first_name: first, last_name: last, grade }).returning('id').executeTakeFirstOrThrow()
      ).id;
      const number = ['INV-1', '=1+1', 'A,B', '-7', 'plain'][i % 5] ?? 'x';
      await h.db
        .insertInto('invoices')
        .values({ school_id: schoolId, student_id: student, number: `${number}-${++n}`, amount: 1000 + i, paid_amount: i % 3 === 0 ? 1 : 0, due_date: day(i - 10) })
        .execute();
    }
    const hashStudent = (await h.db.insertInto('students').values({ school_id: schoolHash, first_name: 'Hash', last_name: 'Tag', grade: '#1' }).returning('id').executeTakeFirstOrThrow()).id;
    await h.db.insertInto('invoices').values({ school_id: schoolHash, student_id: hashStudent, number: 'H#1', amount: 500, due_date: day(3) }).execute();

    await insertUser(h.db, { username: 'cp.super', role: 'super_admin' });
    await insertUser(h.db, { username: 'cp.analyst', role: 'finance_analyst' });
    tokens.super = (await login(h.app, 'cp.super')).accessToken;
    tokens.analyst = (await login(h.app, 'cp.analyst')).accessToken;
  });
  after(() => h.close());

  const get = (url: string, token: string) => h.app.inject({ method: 'GET', url, headers: bearer(token) });

  /** What the csv-stringify export wrote: csv.ts's stringifier over the queue's rows (masked in JS). */
  async function stringified(token: string, query: string): Promise<string> {
    const response = await get(`${URL_QUEUE}?limit=500${query}`, token);
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<PendingPage>();
    assert.equal(body.nextCursor, null);
    const stringifier = createCsvStringifier<PendingRow>(PENDING_COLUMNS.map((key) => ({ key, header: key })));
    const chunks: Buffer[] = [];
    stringifier.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => stringifier.on('end', resolve));
    for (const row of body.data) {
      stringifier.write(row);
    }
    stringifier.end();
    await ended;
    return Buffer.concat(chunks).toString('utf8');
  }

  for (const role of ['super', 'analyst'] as const) {
    test(`${role}: the same bytes as csv-stringify over the queue's rows`, async () => {
      for (const query of [`&schoolId=${schoolA}`, '&status=OVERDUE', '&minAmount=1010']) {
        const want = await stringified(tokens[role], query);
        const response = await get(`${URL_EXPORT}?format=csv&style=raw${query}`, tokens[role]);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.body, want, query);
      }
    });

    test(`${role}: every row parses back to the queue's values (with a '#' value too)`, async () => {
      const want = parse<Record<string, string>>(await stringified(tokens[role], ''), { columns: true });
      const response = await get(`${URL_EXPORT}?format=csv&style=raw`, tokens[role]);
      assert.equal(response.statusCode, 200);
      const rows = parse<Record<string, string>>(response.body, { columns: true });
      assert.equal(rows.length, NAMES.length + 1);
      assert.deepEqual(rows, want);
      assert.ok(rows.some((row) => row.schoolName === 'School #3' && row.grade === '#1'));
      for (const row of rows) {
        for (const column of ['number', 'schoolName', 'studentName', 'grade']) {
          assert.doesNotMatch(row[column] ?? '', /^[=+\-@\t\r]/, `${column} ${row[column]}`);
        }
      }
    });
  }

  test('the statement masks names as maskName does', async () => {
    const response = await get(`${URL_EXPORT}?format=csv&style=raw`, tokens.analyst);
    const names = parse<Record<string, string>>(response.body, { columns: true }).map((row) => row.studentName);
    for (const [first, last] of NAMES) {
      assert.ok(names.includes(maskName(first, last)), `${first} ${last} → ${maskName(first, last)} in ${names.join('|')}`);
    }
    for (const clear of ['Alvarez', 'HYPERLINK', 'Élodie', 'Smile', 'calc']) {
      assert.ok(!response.body.includes(clear), clear);
    }
  });

  test('XLSX (cursor path) is masked by the same statement', async () => {
    const response = await get(`${URL_EXPORT}?format=xlsx&style=raw`, tokens.analyst);
    assert.equal(response.statusCode, 200);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(response.rawPayload as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0];
    assert.ok(sheet);
    const nameColumn = PENDING_COLUMNS.indexOf('studentName') + 1;
    const names: unknown[] = [];
    for (let r = 2; r <= sheet.actualRowCount; r++) {
      names.push(sheet.getRow(r).getCell(nameColumn).value);
    }
    const queue = (await get(`${URL_QUEUE}?limit=500`, tokens.analyst)).json<PendingPage>();
    // An empty cell (a name without letters masks to '') reads back as null, as before.
    assert.deepEqual(names, queue.data.map((row) => (row.studentName === '' ? null : row.studentName)));
  });

  test('inlineParameters writes literals, leaves quoted text alone and refuses NUL', () => {
    const query = CompiledQuery.raw(`select '$1 stays' as "$2 too", $1 as a, $2 as b, $10 as c, $3 as d, $4 as e`, [
      "it's \\ fine",
      42,
      null,
      true,
      5,
      6,
      7,
      8,
      9,
      'tenth',
    ]);
    assert.equal(inlineParameters(query), `select '$1 stays' as "$2 too", 'it''s \\\\ fine' as a, 42 as b, 'tenth' as c, null as d, true as e`.replace(`'it''s`, ` E'it''s`));
    // Comments are copied as they are: an apostrophe in one starts no literal, a $n in one is not a parameter.
    assert.equal(
      inlineParameters(CompiledQuery.raw(`select $1 -- the item's $1\n, $2 /* it's $2 */ as b`, ['x', 7])),
      `select 'x' -- the item's $1\n, 7 /* it's $2 */ as b`,
    );
    assert.throws(() => inlineParameters(CompiledQuery.raw('select $1', ['a\0b'])), /NUL/);
    assert.throws(() => inlineParameters(CompiledQuery.raw('select $2', ['a'])), /no parameter/);
  });

  test('a filter value full of quotes and backslashes is matched literally', async () => {
    const grade = `3' or 'x'='x \\`;
    const response = await get(`${URL_EXPORT}?format=csv&style=raw&grade=${encodeURIComponent(grade)}`, tokens.super);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.body, `${PENDING_COLUMNS.join(',')}\n`);
  });

  /**
   * The backends running an export's statements (waiting on `locker`'s lock or
   * running), oldest first, by a watcher outside any transaction; `copy` keeps the
   * COPYs only (not the split probe).
   */
  async function exportBackends(watcher: pg.Client, copy = false): Promise<{ pid: number; query: string }[]> {
    const { rows } = await watcher.query<{ pid: number; query: string }>(
      `select pid, query from pg_stat_activity
       where datname = current_database() and state = 'active' and starts_with(query, $1) and (not $2 or query like $3)
       order by query_start`,
      [EXPORT_STATEMENT_TAG, copy, `${EXPORT_STATEMENT_TAG} /* part % */ copy (%`],
    );
    return rows;
  }
  const copyBackend = async (watcher: pg.Client) => (await exportBackends(watcher, true))[0]?.pid;

  /** The whole output and outcome of copyCsv over `plan`. */
  async function readCopy(plan: CsvExportPlan): Promise<string> {
    const copy = await copyCsv(h.db, plan, new AbortController().signal);
    const chunks: Buffer[] = [];
    for await (const chunk of copy.output) {
      chunks.push(chunk as Buffer);
    }
    await copy.done;
    return Buffer.concat(chunks).toString('utf8');
  }

  test('across every school the export is cut in two parts: the same bytes as one statement, for every role and filter', async () => {
    const repository = createPendingRepository();
    const scopes: Scope[] = [
      { schoolIds: 'all', pii: 'clear' },
      { schoolIds: 'all', pii: 'masked' },
    ];
    // This data set has outstanding invoices due on many days: the probe finds a boundary.
    const probe = repository.exportCsvPlan(h.db, scopes[0] as Scope, {}, { split: true }).split?.probe;
    assert.ok(probe);
    const { rows } = await h.db.executeQuery(probe);
    const boundary = rows[0]?.split ?? null;
    assert.ok(boundary !== null);
    for (const scope of scopes) {
      for (const filter of [{}, { status: 'OVERDUE' as const }, { minAmount: 1010 }, { grade: '3' }]) {
        const whole = await readCopy(repository.exportCsvPlan(h.db, scope, filter, { split: false }));
        const split = repository.exportCsvPlan(h.db, scope, filter, { split: true });
        assert.equal(await readCopy(split), whole, `${scope.pii} ${JSON.stringify(filter)}`);
        // Both parts hold rows here, so the test compares a real concatenation.
        const [before, after] = split.split?.parts(boundary) ?? [];
        assert.ok(before && after);
        if (Object.keys(filter).length === 0) {
          for (const part of [before, after]) {
            assert.ok((await h.db.executeQuery(part)).rows.length > 0);
          }
        }
      }
    }
  });

  test('the second part reads the first part\'s snapshot, not what committed in between', async () => {
    const student = (await h.db.selectFrom('students').select(['id', 'school_id']).executeTakeFirstOrThrow());
    const count = async (session: ExportSession) => Number((await session.client.query<{ n: string }>('select count(*) as n from invoices')).rows[0]?.n);
    const first = await beginExportSession(h.pool, { serial: false });
    const sessions = [first];
    try {
      const before = await count(first);
      // A cancelled invoice: it changes no export, only the count of invoices.
      await h.db
        .insertInto('invoices')
        .values({ school_id: student.school_id, student_id: student.id, number: 'SNAPSHOT-1', amount: 100, due_date: day(0), cancelled_at: new Date() })
        .execute();
      const second = await joinSnapshot(h.pool, first, { serial: true });
      sessions.push(second);
      const fresh = await beginExportSession(h.pool, { serial: false });
      sessions.push(fresh);
      assert.equal(await count(second), before);
      assert.equal(await count(fresh), before + 1, 'a session of its own sees the new invoice');
      const workers = await second.client.query<{ max_parallel_workers_per_gather: string }>('show max_parallel_workers_per_gather');
      assert.equal(workers.rows[0]?.max_parallel_workers_per_gather, '0');
    } finally {
      for (const session of sessions) {
        await session.client.query('rollback');
        session.release();
      }
    }
  });

  test('a failure before the first byte is a problem+json response, and the connection is not leaked', async () => {
    const locker = new pg.Client({ connectionString: h.url });
    const watcher = new pg.Client({ connectionString: h.url });
    await locker.connect();
    await watcher.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table invoices in access exclusive mode');
      const pending = get(`${URL_EXPORT}?format=csv`, tokens.super);
      let pid: number | undefined;
      // Across every school the export first probes where to split it: that waits on the lock.
      await waitFor('the export waiting on the lock', async () => (pid = (await exportBackends(watcher))[0]?.pid) !== undefined);
      await watcher.query('select pg_terminate_backend($1)', [pid]);
      const response = await pending;
      // 503 when pg reports the termination (57P01), 500 when only the dropped socket is seen.
      assert.ok([500, 503].includes(response.statusCode), response.body);
      assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    } finally {
      await locker.query('rollback');
      await locker.end();
      await watcher.end();
    }
    await waitFor('the pool to have no busy connection', () => h.pool.totalCount - h.pool.idleCount === 0);
    const again = await get(`${URL_EXPORT}?format=csv`, tokens.super);
    assert.equal(again.statusCode, 200);
  });

  test('a failure mid-stream ends the response early and frees the connection and the slot', async () => {
    // Enough rows that the COPY is still sending when the client stops reading.
    const school = (await h.db.insertInto('schools').values({ name: 'Bulk' }).returning('id').executeTakeFirstOrThrow()).id;
    const student = (await h.db.insertInto('students').values({ school_id: school, first_name: 'B', last_name: 'S', grade: '1' }).returning('id').executeTakeFirstOrThrow()).id;
    await sql`
      insert into invoices (school_id, student_id, number, amount, due_date)
      select ${school}::uuid, ${student}::uuid, 'BULK-' || g || repeat('x', 30), 1000 + g, current_date - (g % 400)
      from generate_series(1, 60000) as g`.execute(h.db);
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    const watcher = new pg.Client({ connectionString: h.url });
    await watcher.connect();
    try {
      const ended = await new Promise<string>((resolve, reject) => {
        const request = http.get({ host: '127.0.0.1', port, path: `${URL_EXPORT}?format=csv&schoolId=${school}`, headers: bearer(tokens.super) }, (response) => {
          assert.equal(response.statusCode, 200);
          response.once('data', () => {
            response.pause();
            void (async () => {
              let pid: number | undefined;
              await waitFor('the COPY still running', async () => (pid = await copyBackend(watcher)) !== undefined);
              await watcher.query('select pg_terminate_backend($1)', [pid]);
              response.resume();
            })().catch(reject);
          });
          response.on('end', () => resolve(response.complete ? 'complete' : 'cut short'));
          response.on('error', () => resolve('cut short'));
          response.on('aborted', () => resolve('cut short'));
        });
        request.on('error', () => resolve('cut short'));
      });
      assert.equal(ended, 'cut short');
    } finally {
      await watcher.end();
    }
    await waitFor('the pool to have no busy connection', () => h.pool.totalCount - h.pool.idleCount === 0);
    const both = await Promise.all([get(`${URL_EXPORT}?format=csv&schoolId=${schoolA}`, tokens.super), get(`${URL_EXPORT}?format=csv&schoolId=${schoolA}`, tokens.super)]);
    assert.deepEqual(both.map((r) => r.statusCode), [200, 200]);
  });

  test('a failure of the second part ends the export, cancels the first and frees both connections', async () => {
    // Parts that stay on the server as long as the test needs: the first sends a row (so
    // the export starts) and then sleeps, the second sleeps. Only copyCsv's handling of
    // its parts is under test here; the real parts are compared byte for byte above.
    const plan: CsvExportPlan = {
      whole: CompiledQuery.raw('select 1 as a'),
      split: {
        probe: CompiledQuery.raw(`select '2000-01-01'::text as split`),
        parts: () => [
          CompiledQuery.raw(`select repeat('x', 20000) as a union all select pg_sleep(60)::text`),
          CompiledQuery.raw('select pg_sleep(60)::text as a'),
        ],
      },
    };
    const watcher = new pg.Client({ connectionString: h.url });
    await watcher.connect();
    const copy = await copyCsv(h.db, plan, new AbortController().signal);
    try {
      const outcome = copy.done.then(
        () => 'finished',
        (error: unknown) => `failed: ${String(error)}`,
      );
      let copies: { pid: number; query: string }[] = [];
      await waitFor('both parts running', async () => (copies = await exportBackends(watcher, true)).length === 2);
      const second = copies.find((backend) => backend.query.includes('/* part 2 of 2 */'));
      assert.ok(second);
      await watcher.query('select pg_terminate_backend($1)', [second.pid]);
      // (pg reports the termination, or only the dropped socket.)
      assert.match(await outcome, /^failed: .*(terminat|Connection)/);
      assert.ok(copy.output.destroyed);
      // The first part, still sleeping, was cancelled; both connections were destroyed.
      await waitFor('no export statement left on the server', async () => (await exportBackends(watcher)).length === 0);
      await waitFor('the pool to have no busy connection', () => h.pool.totalCount - h.pool.idleCount === 0);
    } finally {
      // Should an assertion fail first: end the export (as a client going away would), so
      // no sleeping part keeps its connection from the pool.
      copy.output.destroy();
      await watcher.end();
    }
  });

  test('a client gone before the first byte cancels the COPY on the server and frees everything', async () => {
    const { port } = h.app.server.address() as AddressInfo;
    const locker = new pg.Client({ connectionString: h.url });
    await locker.connect();
    // pg_stat_activity is a snapshot per transaction: watch from outside the locker's.
    const watcher = new pg.Client({ connectionString: h.url });
    await watcher.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table invoices in access exclusive mode');
      const request = http.get({ host: '127.0.0.1', port, path: `${URL_EXPORT}?format=csv`, headers: bearer(tokens.super) });
      request.on('error', () => undefined);
      const running = async () => (await exportBackends(watcher)).length;
      await waitFor('the export waiting on the lock', async () => (await running()) === 1);
      request.destroy();
      // Still holding the lock: only a cancel (not the end of the export) can make it go.
      await waitFor('the export to be cancelled', async () => (await running()) === 0);
    } finally {
      await locker.query('rollback');
      await locker.end();
      await watcher.end();
    }
    // After the lock is gone: the live hub's poll may have queued behind it meanwhile.
    await waitFor('the pool to have no busy connection', () => h.pool.totalCount - h.pool.idleCount === 0);
    // The slot came back: two exports run at once.
    const both = await Promise.all([get(`${URL_EXPORT}?format=csv`, tokens.super), get(`${URL_EXPORT}?format=csv`, tokens.super)]);
    assert.deepEqual(both.map((r) => r.statusCode), [200, 200]);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and (state like 'idle in transaction%' or starts_with(query, ${EXPORT_STATEMENT_TAG}))`.execute(h.db);
    assert.equal(rows[0]?.n, 0);
  });
});
