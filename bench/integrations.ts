/**
 * Integration benchmarks (issue 18): the accounting journal exported over the whole data
 * set, and a 10 000-line CAMT.053 statement imported and matched.
 */
import http from 'node:http';
import type pg from 'pg';
import { mistyped, writeStatement, type SampleLine } from '../src/modules/reconciliation/sample.js';
import type { BillingContext } from './billing.js';

const round1 = (x: number) => Math.round(x * 10) / 10;

/** GET a file export, counting its lines as they stream (nothing kept). */
function streamLines(base: string, url: string, token: string): Promise<{ status: number; lines: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${url}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let lines = 0;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
          lines++;
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, lines, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export interface JournalBench {
  schools: number;
  lines: number;
  megabytes: number;
  seconds: number;
  linesPerSecond: number;
  clients: number;
  serverRssMb: { before: number; max: number };
}

/**
 * Every school's whole journal as CSV (all dates), `clients` schools at a time, while the
 * server's resident memory is sampled: lines per second over the data set, and whether
 * memory stays flat (streamed, never held).
 */
export async function benchJournal(o: { base: string; token: string; db: pg.Client; serverRssMb: () => Promise<number>; clients: number; log: (message: string) => void }): Promise<JournalBench> {
  const schools = (await o.db.query<{ id: string }>('select id from schools where deleted_at is null order by id')).rows.map((row) => row.id);
  const before = await o.serverRssMb();
  let max = before;
  const sampler = setInterval(() => void o.serverRssMb().then((mb) => (max = Math.max(max, mb))), 100);
  let lines = 0;
  let bytes = 0;
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: o.clients }, async () => {
        while (next < schools.length) {
          const schoolId = schools[next++] ?? '';
          const answer = await streamLines(o.base, `/api/v1/accounting/journal?schoolId=${schoolId}&from=2000-01-01&to=2100-12-31&format=csv`, o.token);
          if (answer.status !== 200) {
            throw new Error(`journal of ${schoolId}: HTTP ${answer.status}`);
          }
          lines += answer.lines - 1; // the header row
          bytes += answer.bytes;
        }
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  const result = { schools: schools.length, lines, megabytes: round1(bytes / 2 ** 20), seconds: round1(seconds), linesPerSecond: Math.round(lines / seconds), clients: o.clients, serverRssMb: { before, max } };
  o.log(`journal: ${JSON.stringify(result)}`);
  return result;
}

function upload(base: string, url: string, token: string, body: Buffer): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(`${base}${url}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml', 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface ReconciliationBench {
  lines: number;
  megabytes: number;
  matched: number;
  suggested: number;
  unmatched: number;
  ignored: number;
  seconds: number;
  reimport: { seconds: number; duplicates: number };
}

/**
 * A statement of `lines` lines for the school with the most open invoices: a share names
 * an open invoice with its amount, a share a family reference, a share a mistyped one,
 * the rest plain transfers and bank fees — imported and matched in one request, then the
 * same file again (nothing added).
 */
export async function benchReconciliation(ctx: BillingContext, lines = 10_000): Promise<ReconciliationBench> {
  const { db, log } = ctx;
  const school = (await db.query<{ id: string; currency: string }>(`
    select s.id, s.currency from schools s
     where s.deleted_at is null
     order by (select count(*) from invoices i where i.school_id = s.id and i.cancelled_at is null and i.paid_amount < i.amount) desc, s.id
     limit 1`)).rows[0];
  if (school === undefined) {
    throw new Error('reconciliation bench: no school');
  }
  const invoices = (await db.query<{ number: string; pending: string }>(
    `select number, amount - paid_amount as pending from invoices where school_id = $1 and cancelled_at is null and paid_amount < amount order by due_date, id limit $2`,
    [school.id, Math.floor(lines * 0.3)],
  )).rows;
  const families = (await db.query<{ reference: string }>('select reference from families where school_id = $1 and deleted_at is null order by id limit $2', [school.id, Math.floor(lines * 0.1)])).rows;
  const day = new Date().toISOString().slice(0, 10);
  const entries: SampleLine[] = [];
  let n = 0;
  const id = () => `BENCH${String(++n).padStart(8, '0')}`;
  for (const invoice of invoices) {
    entries.push({ id: id(), date: day, amount: Number(invoice.pending), text: `SPEI RECIBIDO PAGO ${invoice.number}`, payer: null });
  }
  for (const family of families) {
    entries.push({ id: id(), date: day, amount: 10_000, text: `COLEGIATURA REF ${family.reference}`, payer: null });
    entries.push({ id: id(), date: day, amount: 10_000, text: `COLEGIATURA REF ${mistyped(family.reference)}`, payer: null });
  }
  while (entries.length < lines) {
    const k = entries.length;
    entries.push(k % 5 === 0 ? { id: id(), date: day, amount: -(1_500 + (k % 300)), text: 'COMISION SPEI', payer: null } : { id: id(), date: day, amount: 12_345 + k, text: `TRANSFERENCIA RECIBIDA ${k}`, payer: null });
  }
  const file = writeStatement(entries, 'camt053', { currency: school.currency, id: 'BENCH' });
  await ctx.refresh();
  const url = `/api/v1/reconciliation/imports?schoolId=${school.id}&format=camt053`;
  const first = await upload(ctx.base, url, ctx.token, file);
  if (first.status !== 201) {
    throw new Error(`reconciliation import: HTTP ${first.status} ${first.body.slice(0, 300)}`);
  }
  const answer = JSON.parse(first.body) as { lines: number; matched: number; suggested: number; unmatched: number; ignored: number };
  const again = await upload(ctx.base, url, ctx.token, file);
  const second = JSON.parse(again.body) as { duplicates: number };
  const result = {
    lines: answer.lines,
    megabytes: round1(file.length / 2 ** 20),
    matched: answer.matched,
    suggested: answer.suggested,
    unmatched: answer.unmatched,
    ignored: answer.ignored,
    seconds: round1(first.ms / 1000),
    reimport: { seconds: round1(again.ms / 1000), duplicates: second.duplicates },
  };
  log(`reconciliation: ${JSON.stringify(result)}`);
  return result;
}
