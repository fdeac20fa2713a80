/**
 * `npm run bench`: builds (or reuses) data set L on an embedded PostgreSQL of its own,
 * starts Bursar as a separate process against it, and measures what SPEC §6 promises.
 * Writes bench/results.json and bench/results.md (the table the README shows).
 *
 *   npm run bench                       # data set L: 1000 schools, 60 000 students, 12 months, 5 M transactions
 *   npm run bench -- --size s           # a small set for a quick look (50 schools, 3000 students, 200 k transactions)
 *   npm run bench -- --requests 400     # samples per latency scenario (default 300)
 *   npm run bench -- --only payments    # some groups only (dashboard, queue, failures, naive, export, payments, live, sync,
 *                                       # billrun, familypay, familystatement); prints the table without rewriting
 *                                       # bench/results.*, except the billing groups alone (their own block there)
 *   npm run bench -- --sync-scale 0.1   # the gateway-sync day (bench/sync.ts) for a tenth of a day (default: a whole day)
 *   npm run bench -- --only billrun,familypay,familystatement
 *   npm run bench -- --only webhooks    # gateway webhook → payment recorded → live event, at 100/s
 *   npm run bench -- --only outbound-webhooks   # outbound webhook deliveries/s (one worker) and outbox lag at 500/s
 *   npm run bench -- --only latefees    # the daily late-fee run of every school, and a re-run of the day
 *                                       # the school year billed (bench/billing.ts), on a copy of the data set
 *   npm run bench -- --pg-stats         # also print the statements that took the most time in each billing group (pg_stat_statements)
 *   npm run bench -- --keep-billing     # keep the billing groups' copy of the data set (<data set>_billing) to look into; the next run replaces it
 *   npm run bench -- --database-url postgres://…/db   # measure that database as it is (no seeding; its real counts are reported)
 *   npm run bench -- --data-dir DIR     # the embedded PostgreSQL's data directory (default .data/bench)
 *   npm run bench -- --rounds 10        # latency scenarios interleaved in this many rounds (default 10)
 *
 * Latencies are measured from a client in this process over keep-alive HTTP, one
 * request at a time (p50/p95/p99), after a warm-up, up to --requests samples within
 * 30 s per scenario, taken in --rounds rounds that visit every latency scenario in turn,
 * so a slow spell of a shared machine falls on all of them alike; throughput with
 * concurrent clients. The load average at the start and the end is reported with them.
 * Numbers depend on the machine: compare ratios and percentiles, not absolute values.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import WebSocket from 'ws';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { createDatabase } from '../src/db/database.js';
import { hashPassword } from '../src/modules/auth/passwords.js';
import { formatReport, verifyRollups } from '../src/modules/reporting/rollups.js';
import { benchBillRuns, benchFamilyPayments, benchLateFees, cloneDatabase, dropDatabase, familyOfThree, setUpBilling, type BillingContext } from './billing.js';
import { benchSync } from './sync.js';
import { benchOutboundWebhooks } from './outbound-webhooks.js';
import { MAX_CONCURRENT_EXPORTS_PER_USER } from '../src/modules/reporting/export.js';
import { benchJournal, benchReconciliation } from './integrations.js';
import { benchWebhooks } from './webhooks.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: 'l' },
    requests: { type: 'string', default: '300' },
    'data-dir': { type: 'string', default: path.join(ROOT, '.data', 'bench') },
    'database-url': { type: 'string' },
    rounds: { type: 'string', default: '10' },
    port: { type: 'string', default: '54339' },
    only: { type: 'string' },
    'sync-scale': { type: 'string', default: '1' },
    'pg-stats': { type: 'boolean', default: false },
    'keep-billing': { type: 'boolean', default: false },
  },
});
const SIZES = {
  l: { schools: 1000, students: 60_000, months: 12, transactions: 5_000_000 },
  m: { schools: 200, students: 12_000, months: 12, transactions: 1_000_000 },
  s: { schools: 50, students: 3_000, months: 12, transactions: 200_000 },
} as const;
const size = SIZES[(args.size ?? 'l') as keyof typeof SIZES] ?? SIZES.l;
const samples = Number(args.requests);
const PASSWORD = 'bench-password-1';
/** The benchmark server's shared_buffers (see main). */
const BENCH_SHARED_BUFFERS = '1GB';
/**
 * WAL between checkpoints: a bill run of data set L writes several GB of WAL (600 000
 * invoices, 900 000 lines and their indexes); with the default 1 GB every run would pay
 * a checkpoint, and full-page images after it, every few seconds.
 */
const BENCH_MAX_WAL_SIZE = '8GB';
const ROLES = ['super_admin', 'school_admin', 'finance_analyst', 'developer'] as const;

const log = (message: string) => console.log(`[bench] ${message}`);
const GROUPS = ['dashboard', 'queue', 'failures', 'naive', 'export', 'journal', 'payments', 'live', 'webhooks', 'outbound-webhooks', 'sync', 'billrun', 'familypay', 'familystatement', 'latefees', 'reconciliation'] as const;
const only = args.only?.split(',').map((group) => group.trim());
for (const group of only ?? []) {
  if (!(GROUPS as readonly string[]).includes(group)) {
    throw new Error(`--only: unknown group ${group} (one of ${GROUPS.join(', ')})`);
  }
}
const want = (group: (typeof GROUPS)[number]) => only === undefined || only.includes(group);
const BILLING_GROUPS = ['billrun', 'familypay', 'familystatement', 'latefees'] as const;

/**
 * Writes a billing-only run into bench/results.json and its block in bench/results.md:
 * `billing` (billrun, familypay, familystatement) or `collections` (latefees alone).
 */
async function writeBillingResults(results: Record<string, unknown>, markdown: string, groups: readonly string[]): Promise<void> {
  const block = groups.length === 1 && groups[0] === 'latefees' ? { key: 'collections', only: 'latefees' } : { key: 'billing', only: 'billrun,familypay,familystatement' };
  const jsonFile = path.join(ROOT, 'bench', 'results.json');
  const mdFile = path.join(ROOT, 'bench', 'results.md');
  const json = JSON.parse(await readFile(jsonFile, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  json[block.key] = results;
  await writeFile(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  const begin = `<!-- ${block.key}: npm run bench -- --only ${block.only} -->`;
  const end = `<!-- /${block.key} -->`;
  const md = await readFile(mdFile, 'utf8').catch(() => '');
  const text = `${begin}\n\n${markdown}\n${end}\n`;
  const at = md.indexOf(begin);
  const next = at < 0 ? `${md}\n${text}` : `${md.slice(0, at)}${text}${md.slice(md.indexOf(end, at) + end.length + 1)}`;
  await writeFile(mdFile, next);
}

interface Stats {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  n: number;
}

function stats(samplesMs: number[]): Stats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (x: number) => Math.round(x * 100) / 100;
  return { p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length), n: sorted.length };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(base: string, method: string, url: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; body: string; ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(`${base}${url}`, { method, agent, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (chunks.length < 64) {
          chunks.push(chunk);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - started, bytes }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Up to `n` sequential samples after a warm-up, within a 30 s budget (at least 20 samples). */
async function warmUp(base: string, url: string, token: string): Promise<void> {
  const headers = { authorization: `Bearer ${token}` };
  for (let i = 0; i < Math.min(10, samples); i++) {
    const warm = await request(base, 'GET', url, headers);
    if (warm.status !== 200) {
      throw new Error(`GET ${url} → ${warm.status} ${warm.body.slice(0, 300)}`);
    }
  }
}

interface Scenario {
  name: string;
  url: string;
  token: string;
  target: string;
  times: number[];
}

/**
 * Scenarios already warmed up (warmUp), measured in `rounds` rounds that each take samples / rounds requests
 * of every scenario in turn (at most 30 s of requests per scenario in all, at least 20
 * samples): noise on a shared machine hits all scenarios alike, instead of whichever ran
 * during it.
 */
async function runInterleaved(base: string, scenarios: Scenario[], rounds: number): Promise<void> {
  const perRound = Math.max(1, Math.ceil(samples / rounds));
  const spent = new Map<Scenario, number>();
  for (let round = 0; round < rounds; round++) {
    for (const scenario of scenarios) {
      const headers = { authorization: `Bearer ${scenario.token}` };
      const started = performance.now();
      for (let i = 0; i < perRound && scenario.times.length < samples; i++) {
        if (scenario.times.length >= 20 && (spent.get(scenario) ?? 0) + (performance.now() - started) > 30_000) {
          break;
        }
        scenario.times.push((await request(base, 'GET', scenario.url, headers)).ms);
      }
      spent.set(scenario, (spent.get(scenario) ?? 0) + performance.now() - started);
    }
  }
}

/** One scenario alone (a server of its own that is gone before the interleaved rounds run). */
async function latency(base: string, url: string, token: string): Promise<Stats> {
  const scenario: Scenario = { name: url, url, token, target: '', times: [] };
  await warmUp(base, url, token);
  await runInterleaved(base, [scenario], 1);
  return stats(scenario.times);
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function ensureDataset(adminUrl: string): Promise<{ url: string; seeded: boolean; seedSeconds: number | null }> {
  const database = `bursar_bench_${size.schools}_${size.students}_${size.months}_${size.transactions}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const exists = (await client.query('select 1 from pg_database where datname = $1', [database])).rowCount === 1;
  if (!exists) {
    await client.query(`create database ${database}`);
  }
  await client.end();
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  await migrate(url.toString());
  const check = new pg.Client({ connectionString: url.toString() });
  await check.connect();
  const marker = (await check.query<{ value: unknown }>(`select value from app_meta where key = 'bench_dataset'`)).rows[0];
  await check.end();
  if (marker) {
    log(`reusing data set ${database}`);
    return { url: url.toString(), seeded: false, seedSeconds: null };
  }
  log(`seeding ${JSON.stringify(size)} into ${database} (once; reused by later runs)`);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', '--reset', '--database-url', url.toString(),
      '--schools', String(size.schools), '--students', String(size.students), '--months', String(size.months), '--transactions', String(size.transactions)], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed exited with ${code}`))));
  });
  const seedSeconds = Math.round((performance.now() - started) / 100) / 10;
  const done = new pg.Client({ connectionString: url.toString() });
  await done.connect();
  await done.query(`insert into app_meta (key, value) values ('bench_dataset', $1)`, [JSON.stringify({ ...size, seedSeconds })]);
  await done.end();
  return { url: url.toString(), seeded: true, seedSeconds };
}

async function ensureUsers(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const hash = await hashPassword(PASSWORD);
    const schools = (await client.query<{ id: string }>('select id from schools where deleted_at is null order by id limit 2')).rows.map((r) => r.id);
    for (const role of ROLES) {
      const username = `bench.${role.replace('_', '.')}`;
      const { rows } = await client.query<{ id: string }>(
        `insert into users (username, password_hash, role) values ($1, $2, $3)
         on conflict (username) do update set password_hash = excluded.password_hash returning id`,
        [username, hash, role],
      );
      if (role === 'school_admin' && rows[0]) {
        for (const schoolId of schools) {
          await client.query('insert into user_schools (user_id, school_id) values ($1, $2) on conflict do nothing', [rows[0].id, schoolId]);
        }
      }
    }
  } finally {
    await client.end();
  }
}

function startServer(url: string, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string }> {
  // BENCH_SERVER_NODE_ARGS: extra Node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where its time goes.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'warn', SEED_DEMO: 'off', SIMULATOR: 'off', VENDOR_SIMULATOR: 'off', SYNC: 'off', COLLECTIONS: 'off', MESSAGES: 'off', GATEWAY: 'simulator',
      // One outbound webhook worker (bench/outbound-webhooks.ts delivers to a receiver on loopback).
      WEBHOOKS: 'on', WEBHOOKS_ALLOW_LOCAL: 'on', JWT_SECRET: randomUUID() + randomUUID(), RATE_LIMIT_MAX: '100000000', DATABASE_POOL_MAX: '20', ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        resolve({ child, base: match[1] });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/**
 * Live feed latency: CLIENTS WebSocket clients (the same user), events inserted at
 * RATE/s for LIVE_SECONDS (failed attempts, five per statement every 10 ms), latency =
 * arrival at the client − the event's createdAt (its transaction's timestamp; same
 * clock). Every client counts what it gets; SAMPLED of them parse every message for
 * the latency (parsing a million JSON messages would measure the client, not Bursar).
 */
/**
 * A connected live client that reads and discards every byte: the WebSocket handshake,
 * then a socket drained as fast as it fills. The server's work for it (filtering,
 * writing every frame) is the same as for a browser's; what it skips is the client-side
 * parsing, which in production happens on the clients' own machines, not next to the
 * server on the same two cores. It does answer pings, as every WebSocket client must
 * (the server closes a client whose pongs do not come back: see live.hub.ts).
 */
function rawLiveClient(url: string, onData: (bytes: number) => void, onClose: () => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const request = http.request(url.replace(/^ws/, 'http'), {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
    });
    request.on('upgrade', (_response, socket, head: Buffer) => {
      const answerPings = pongResponder(socket);
      // What arrived with the handshake's response (the hello, maybe more) is in `head`.
      onData(head.length);
      answerPings(head);
      socket.on('data', (chunk: Buffer) => {
        onData(chunk.length);
        answerPings(chunk);
      });
      socket.once('close', onClose);
      resolve(socket);
    });
    request.on('response', (response) => reject(new Error(`live handshake refused: ${response.statusCode}`)));
    request.on('error', reject);
    request.end();
  });
}

/**
 * Walks the server's frames (unmasked; only their headers are read, payloads skipped
 * without copying) and answers each ping with a masked pong carrying its payload.
 */
function pongResponder(socket: net.Socket): (chunk: Buffer) => void {
  const EMPTY = Buffer.alloc(0);
  let carry = EMPTY; // an incomplete frame header, or an incomplete ping
  let skip = 0; // payload bytes of the current frame still to come
  return (chunk) => {
    let at = Math.min(skip, chunk.length);
    skip -= at;
    if (at === chunk.length) {
      return;
    }
    let data = chunk;
    if (carry.length > 0) {
      data = Buffer.concat([carry, chunk.subarray(at)]);
      at = 0;
      carry = EMPTY;
    }
    while (at < data.length) {
      const left = data.length - at;
      if (left < 2) {
        break;
      }
      const opcode = (data[at] ?? 0) & 0x0f;
      let length = (data[at + 1] ?? 0) & 0x7f;
      let header = 2;
      if (length === 126) {
        if (left < 4) {
          break;
        }
        length = data.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (left < 10) {
          break;
        }
        length = Number(data.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (opcode === 0x9) {
        if (left < header + length) {
          break; // the ping's payload is not all here yet
        }
        const payload = data.subarray(at + header, at + header + length);
        const mask = randomBytes(4);
        const pong = Buffer.alloc(6 + length);
        pong[0] = 0x8a; // FIN + pong
        pong[1] = 0x80 | length; // masked; a control frame's payload is at most 125 bytes
        mask.copy(pong, 2);
        for (let i = 0; i < length; i++) {
          pong[6 + i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
        }
        socket.write(pong);
        at += header + length;
      } else if (left - header < length) {
        skip = length - (left - header);
        at = data.length;
      } else {
        at += header + length;
      }
    }
    if (at < data.length) {
      carry = Buffer.from(data.subarray(at));
    }
  };
}

async function liveLatency(base: string, token: string, db: pg.Client, RATE: number) {
  const CLIENTS = 1000;
  const SAMPLED = 20;
  const LIVE_SECONDS = 10;
  const url = `${base.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(token)}`;
  const sockets: WebSocket[] = [];
  const raw: net.Socket[] = [];
  const latencies: number[] = [];
  let dropped = 0;
  let stopping = false;
  /** Bytes the raw clients received (frames of every event, plus hellos and heartbeats). */
  let rawBytes = 0;
  let sampledBytes = 0;
  // SAMPLED full WebSocket clients measure event → client latency; the others are raw
  // readers (see rawLiveClient).
  for (let i = 0; i < SAMPLED; i++) {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve()); // hello
      socket.once('error', reject);
    });
    socket.on('message', (data: Buffer) => {
      sampledBytes += data.length;
      const message = JSON.parse(data.toString()) as { type: string; payment?: { createdAt: string } };
      if (message.payment) {
        latencies.push(Date.now() - Date.parse(message.payment.createdAt));
      }
    });
    socket.on('close', (code) => {
      if (code === 1013) {
        dropped++;
      }
    });
    sockets.push(socket);
  }
  for (let i = SAMPLED; i < CLIENTS; i++) {
    raw.push(await rawLiveClient(url, (bytes) => (rawBytes += bytes), () => {
      if (!stopping) {
        dropped++; // only a slow client is closed by the server
      }
    }));
  }
  const target = (await db.query<{ school_id: string; id: string }>(`select school_id, id from invoices order by id limit 1`)).rows[0];
  const perStatement = 5;
  const statements = (RATE / perStatement) * LIVE_SECONDS;
  const started = performance.now();
  for (let i = 0; i < statements; i++) {
    const due = started + (i * 1000 * perStatement) / RATE;
    const wait = due - performance.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await db.query(
      `insert into transactions (school_id, invoice_id, amount, method, status, failure_code, gateway)
       select $1, $2, 100 + g, 'card', 'failed', 'card_declined', 'stripe' from generate_series(1, ${perStatement}) g`,
      [target?.school_id, target?.id],
    );
  }
  const sent = statements * perStatement;
  const seconds = (performance.now() - started) / 1000;
  // Let the tail arrive (up to 10 s), then close.
  const deadline = performance.now() + 10_000;
  while (latencies.length < sent * SAMPLED && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  stopping = true;
  for (const socket of sockets) {
    socket.terminate();
  }
  for (const socket of raw) {
    socket.destroy();
  }
  const s = stats(latencies);
  return {
    clients: CLIENTS,
    sampledClients: SAMPLED,
    eventsPerSecond: Math.round(sent / seconds),
    events: sent,
    expectedDeliveries: sent * CLIENTS,
    droppedClients: dropped,
    // Each raw client should get about as many bytes as a sampled one (the same frames).
    bytesPerRawClient: Math.round(rawBytes / (CLIENTS - SAMPLED)),
    payloadBytesPerSampledClient: Math.round(sampledBytes / SAMPLED),
    p50: s.p50,
    p95: s.p95,
    p99: s.p99,
    samples: s.n,
  };
}

async function main(): Promise<void> {
  // shared_buffers sized for the reports' working set (invoices, students, schools, the
  // rollups: ~300 MB of data set L), as a server holding this data would be configured;
  // PostgreSQL's default of 128 MB would make every report read pages through the kernel.
  const given = args['database-url'];
  const embedded = given !== undefined ? undefined : await startEmbeddedPostgres({
    dataDir: args['data-dir'] ?? '',
    port: Number(args.port),
    database: 'postgres',
    settings: { shared_buffers: BENCH_SHARED_BUFFERS, max_wal_size: BENCH_MAX_WAL_SIZE, ...(args['pg-stats'] ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } : {}) },
    log,
  });
  let server: ChildProcess | undefined;
  // Ctrl-C mid-run: stop the server and the embedded PostgreSQL instead of orphaning them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server?.kill('SIGTERM');
      void (embedded?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  try {
    const loadAtStart = os.loadavg();
    // The server's other databases (the billing copy, the sync run) are made beside it.
    const adminUrl = embedded?.url ?? withDatabase(given ?? '', 'postgres');
    const dataset = given !== undefined ? { url: given, seeded: false, seedSeconds: null } : await ensureDataset(adminUrl);
    // Never measure on inconsistent aggregates: the rollups must equal a recomputation.
    const checked = createDatabase({ connectionString: dataset.url, max: 2, statementTimeoutMs: 600_000 });
    const report = await verifyRollups(checked.db);
    await checked.close();
    if (!report.ok) {
      throw new Error(`rollups do not match the data set; refusing to measure:\n${formatReport(report)}`);
    }
    log('rollups verified against a full recomputation');
    await ensureUsers(dataset.url);
    // The billing groups write: they work on a copy of the data set (bench/billing.ts),
    // made now, while nobody is connected to the data set.
    const billingWanted = want('billrun') || want('familypay') || want('familystatement') || want('latefees') || want('reconciliation');
    const billingDb = `${new URL(dataset.url).pathname.slice(1)}_billing`;
    let billingUrl: string | undefined;
    if (billingWanted) {
      const t0 = performance.now();
      billingUrl = await cloneDatabase(adminUrl, new URL(dataset.url).pathname.slice(1), billingDb);
      log(`billing: copied the data set to ${billingDb} in ${Math.round((performance.now() - t0) / 100) / 10} s`);
    }
    const db = new pg.Client({ connectionString: dataset.url });
    db.on('error', () => undefined); // the embedded server stopping at the end is not an error
    await db.connect();
    const counts = (await db.query<Record<string, string>>(`select (select count(*) from schools) schools, (select count(*) from students) students,
      (select count(*) from invoices) invoices, (select count(*) from payments) payments, (select count(*) from transactions) transactions`)).rows[0];
    log(`data set: ${JSON.stringify(counts)}`);
    // The machine's speed at the time of the run: a fixed amount of PostgreSQL CPU work
    // (median of five), so that runs on a shared VM whose speed drifts can be compared.
    const calibration: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await db.query('select count(*) from generate_series(1, 3000000)');
      calibration.push(performance.now() - t0);
    }
    const calibrationMs = stats(calibration).p50;
    log(`calibration: generate_series(1, 3 000 000) counted in ${calibrationMs} ms (median of 5)`);

    const started = await startServer(dataset.url);
    server = started.child;
    const base = started.base;
    const tokens: Record<string, string> = {};
    for (const role of ROLES) {
      const response = await request(base, 'POST', '/api/v1/auth/login', {}, { username: `bench.${role.replace('_', '.')}`, password: PASSWORD });
      tokens[role] = (JSON.parse(response.body) as { accessToken: string }).accessToken;
    }
    const admin = tokens.super_admin ?? '';
    const oneSchool = (await db.query<{ id: string }>('select id from schools order by id limit 1')).rows[0]?.id ?? '';
    const results: Record<string, unknown> = { dataset: { ...size, counts, seedSeconds: dataset.seedSeconds }, machine: { cpus: os.cpus().length, memGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, calibrationMs }, at: new Date().toISOString() };
    const rows: [string, Stats | string, string][] = [];
    const scenarios: Scenario[] = [];
    // Latency scenarios are collected here and measured together, interleaved (runInterleaved).
    const measure = async (name: string, url: string, token: string, target: string) => {
      await warmUp(base, url, token);
      scenarios.push({ name, url, token, target, times: [] });
    };

    const extraRows: string[] = [];
    if (want('dashboard')) {
      await measure('dashboard, all schools (super_admin)', '/api/v1/reports/dashboard', admin, 'p95 ≤ 50 ms');
      await measure('dashboard, one school', `/api/v1/reports/dashboard?schoolId=${oneSchool}`, admin, 'p95 ≤ 20 ms');
      await measure('dashboard, school_admin (2 schools)', '/api/v1/reports/dashboard', tokens.school_admin ?? '', 'p95 ≤ 20 ms');
      await measure('dashboard, finance_analyst (all, masked)', '/api/v1/reports/dashboard', tokens.finance_analyst ?? '', 'p95 ≤ 50 ms');
      const lastMonth = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
      await measure('dashboard, all schools, last 30 days', `/api/v1/reports/dashboard?from=${lastMonth}`, admin, 'p95 ≤ 50 ms');
      // Issue 19: any date range over every school (platform tier: whole months and edge days).
      const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      await measure('dashboard, all schools, 100 days mid-year', `/api/v1/reports/dashboard?from=${day(-200)}&to=${day(-100)}`, admin, 'p95 ≤ 50 ms');
      await measure('dashboard, all schools, a year, by name', `/api/v1/reports/dashboard?from=${day(-365)}&to=${day(0)}&schoolsSort=name`, admin, 'p95 ≤ 50 ms');
      // 10 clients at once for 5 s, three times: requests per second, the median and the
      // range (one 5-second run on this shared VM moved by a third from run to run).
      const dashboardSeconds = 5;
      const runs: number[] = [];
      for (let run = 0; run < 3; run++) {
        let served = 0;
        const until = performance.now() + dashboardSeconds * 1000;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (performance.now() < until) {
              const response = await request(base, 'GET', '/api/v1/reports/dashboard', { authorization: `Bearer ${admin}` });
              if (response.status === 200) {
                served++;
              }
            }
          }),
        );
        runs.push(Math.round(served / dashboardSeconds));
      }
      runs.sort((a, b) => a - b);
      const dashboardPerSecond = runs[1] ?? 0;
      const dashboardRange = `${(runs[0] ?? 0).toLocaleString('en')}–${(runs[2] ?? 0).toLocaleString('en')}`;
      results.dashboardThroughput = { clients: 10, perSecond: dashboardPerSecond, runs };
      log(`dashboard: ${dashboardPerSecond} req/s with 10 connections (${dashboardRange} over three runs)`);
      extraRows.push(`| dashboard, all schools, 10 connections (median of three 5 s runs; ${dashboardRange}) | ${dashboardPerSecond.toLocaleString('en')} req/s | | | | ≥ 200 req/s |`);
    }
    if (want('queue')) {
      await measure('pending queue, first page', '/api/v1/reports/pending-payments?limit=50', admin, 'p95 ≤ 30 ms');
      // A deep page: walk the cursor a long way down the queue first.
      let cursor: string | null = null;
      for (let i = 0; i < 40; i++) {
        const page = await request(base, 'GET', `/api/v1/reports/pending-payments?limit=500${cursor ? `&cursor=${cursor}` : ''}`, { authorization: `Bearer ${admin}` });
        const next = (JSON.parse(page.body) as { nextCursor: string | null }).nextCursor;
        if (!next) {
          break;
        }
        cursor = next;
    }
    await measure('pending queue, deep page (~20 000 rows in)', `/api/v1/reports/pending-payments?limit=50${cursor ? `&cursor=${cursor}` : ''}`, admin, 'p95 ≤ 30 ms');
    }
    if (want('failures')) {
      // Issue 19: from hourly rollups (migration 0032), whatever the window.
      await measure('failures feed, last 24 h (developer)', '/api/v1/reports/transactions/failures?lastHours=24', tokens.developer ?? '', 'p95 ≤ 15 ms');
      await measure('failures feed, last 720 h (developer)', '/api/v1/reports/transactions/failures?lastHours=720', tokens.developer ?? '', 'p95 ≤ 15 ms');
      await measure('failures feed, last 720 h, two gateways (developer)', '/api/v1/reports/transactions/failures?lastHours=720&gateway=stripe,conekta', tokens.developer ?? '', 'p95 ≤ 15 ms');

    }
    if (want('naive')) {
      // Naive comparison: the dashboard totals computed on the fly from the raw tables.
      const naive: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await db.query(`select s.currency, sum(i.amount) filter (where i.cancelled_at is null), sum(i.paid_amount), sum(i.amount - i.paid_amount) filter (where i.cancelled_at is null and i.due_date < (now() at time zone s.timezone)::date)
                          from invoices i join schools s on s.id = i.school_id group by s.currency`);
        await db.query(`select p.method, sum(p.amount) from payments p group by p.method`);
        naive.push(performance.now() - t0);
    }
    rows.push(['naive on-the-fly dashboard SQL (for comparison)', stats(naive), '—']);
    }
    if (want('export')) {

      // Export: rows/s and server RSS growth, over five runs one after the other (the
      // median is reported; the RSS growth is the peak over all of them).
      const pid = server.pid ?? 0;
      const rssBefore = await rssMb(pid);
      let rssPeak = rssBefore;
      const sampler = setInterval(() => void rssMb(pid).then((mb) => (rssPeak = Math.max(rssPeak, mb))), 100);
      const exportRows = Number((await db.query<{ n: string }>('select count(*) n from invoices where cancelled_at is null and paid_amount < amount')).rows[0]?.n);
      const runs: { status: number; bytes: number; seconds: number; rowsPerSecond: number }[] = [];
      // One warm-up export first, not counted (as every latency scenario has its warm-up).
      for (let run = -1; run < 5; run++) {
        const t0 = performance.now();
        const exported = await request(base, 'GET', '/api/v1/reports/pending-payments/export?format=csv', { authorization: `Bearer ${admin}` });
        const seconds = (performance.now() - t0) / 1000;
        if (exported.status !== 200 || exported.bytes === 0) {
          throw new Error(`export → ${exported.status} ${exported.body.slice(0, 300)}`);
        }
        if (run >= 0) {
          runs.push({ status: exported.status, bytes: exported.bytes, seconds: Math.round(seconds * 1000) / 1000, rowsPerSecond: Math.round(exportRows / seconds) });
        }
      }
      clearInterval(sampler);
      const perSecond = runs.map((r) => r.rowsPerSecond).sort((a, b) => a - b);
      const median = perSecond[Math.floor(perSecond.length / 2)] ?? 0;
      const exportResult = { rows: exportRows, bytes: runs[0]?.bytes, runs, rowsPerSecond: median, rowsPerSecondRange: [perSecond[0], perSecond.at(-1)], rssGrowthMb: rssPeak - rssBefore };
      results.export = exportResult;
      log(`export: ${JSON.stringify(exportResult)}`);
      extraRows.push(`| export CSV (${exportRows.toLocaleString('en')} rows), median of 5 (${(perSecond[0] ?? 0).toLocaleString('en')}–${(perSecond.at(-1) ?? 0).toLocaleString('en')}) | ${median.toLocaleString('en')} rows/s | RSS +${exportResult.rssGrowthMb} MB | | | ≥ 300 000 rows/s, ≤ 64 MB |`);
    }
    if (want('journal')) {
      // The accounting journal of every school, whole, as CSV (as many at a time as one user may export): lines/s over the data set and the server's memory meanwhile.
      const journal = await benchJournal({ base, token: admin, db, serverRssMb: () => rssMb(server?.pid ?? 0), clients: MAX_CONCURRENT_EXPORTS_PER_USER, log });
      results.journal = journal;
      extraRows.push(
        `| accounting journal CSV, every school whole (${journal.lines.toLocaleString('en')} lines, ${journal.megabytes} MB, ${journal.clients} at a time) | ${journal.linesPerSecond.toLocaleString('en')} lines/s | RSS ${journal.serverRssMb.before} → ${journal.serverRssMb.max} MB | | | ≥ 200 000 lines/s, flat memory |`,
      );
    }
    if (want('live')) {
      const runs = [];
      for (const rate of [50, 500]) {
        const live = await liveLatency(base, admin, db, rate);
        runs.push(live);
        log(`live: ${JSON.stringify(live)}`);
        extraRows.push(
          `| live event → client, ${live.clients} clients at ${live.eventsPerSecond} events/s (${live.droppedClients} dropped) | ${live.p50} | ${live.p95} | ${live.p99} | ${live.samples} | ${rate === 500 ? 'p99 ≤ 100 ms' : '—'} |`,
        );
      }
      results.live = runs;
    }
    if (want('webhooks')) {
      if (args['pg-stats']) {
        await db.query('create extension if not exists pg_stat_statements').then(() => db.query('select pg_stat_statements_reset()'));
      }
      const hooks = await benchWebhooks(base, admin, db, { rate: 100, seconds: 10 });
      if (args['pg-stats']) {
        const { rows: top } = await db.query<{ calls: string; total: number; mean: number; query: string }>(
          `select calls, round(total_exec_time)::int total, round(mean_exec_time::numeric, 2)::float mean, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 160) query
             from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database()) order by total_exec_time desc limit 12`,
        );
        for (const row of top) {
          log(`  webhooks: ${row.total} ms  ${row.calls}×  ${row.mean} ms  ${row.query}`);
        }
      }
      results.webhooks = hooks;
      log(`webhooks: ${JSON.stringify(hooks)}`);
      extraRows.push(
        `| gateway webhook → payment recorded (answer), ${hooks.webhooks} at ${hooks.perSecond}/s: ${Object.entries(hooks.outcomes).map(([k, v]) => `${v} ${k}`).join(', ')} | ${hooks.answer.p50} | ${hooks.answer.p95} | ${hooks.answer.p99} | ${hooks.answer.n} | |`,
        `| gateway webhook → live event delivered (${hooks.liveEventsMissing} missing) | ${hooks.live.p50} | ${hooks.live.p95} | ${hooks.live.p99} | ${hooks.live.n} | p99 ≤ 100 ms at 100/s |`,
      );
    }
    if (want('outbound-webhooks')) {
      const outbound = await benchOutboundWebhooks((method, url, headers, body) => request(base, method, url, headers, body), admin, db, { burst: 5_000, rate: 500, seconds: 10 });
      results.outboundWebhooks = outbound;
      log(`outbound-webhooks: ${JSON.stringify(outbound)}`);
      extraRows.push(
        `| outbound webhook deliveries to a local receiver, one worker (${outbound.burst} queued) | ${outbound.deliveriesPerSecond.toLocaleString('en')} /s | | | | ≥ 500 /s |`,
        `| outbound webhook outbox lag at ${outbound.rate}/s (${outbound.missing} missing) | ${outbound.lag.p50} | ${outbound.lag.p95} | ${outbound.lag.p99} | ${outbound.lag.n} | p99 ≤ 1 000 ms |`,
      );
    }
    if (want('payments')) {

      // Payments: throughput with 32 concurrent clients for 5 s, on invoices with room left.
      // Spread over every school (as real traffic is): ordering by id would pick the
      // oldest schools' invoices and serialise every payment on a few schools' hot rows.
      const open = (await db.query<{ id: string; pending: string }>(`select id, amount - paid_amount as pending from invoices where cancelled_at is null and amount - paid_amount >= 100000 order by md5(id::text) limit 20000`)).rows;
      let next = 0;
      let ok = 0;
      const payOnce = async () => {
        const invoice = open[next++ % open.length];
        const response = await request(base, 'POST', '/api/v1/payments', { authorization: `Bearer ${admin}`, 'idempotency-key': randomUUID() }, { invoiceId: invoice?.id, amount: 1, method: 'card' });
        if (response.status === 201) {
          ok++;
        }
        return response.ms;
      };
      const deadline = performance.now() + 5000;
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (performance.now() < deadline) {
          await payOnce();
        }
      }));
      const paymentsPerSecond = Math.round(ok / 5);
      log(`payments: ${paymentsPerSecond}/s with 32 concurrent clients`);
      // Latency at a steady 200/s.
      const paced: number[] = [];
      const start = performance.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) {
        const due = start + i * 5;
        const wait = due - performance.now();
        if (wait > 0) {
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
        inflight.push(payOnce().then((ms) => void paced.push(ms)));
    }
    await Promise.all(inflight);
    const pacedStats = stats(paced);
    results.payments = { throughputPerSecond: paymentsPerSecond, latencyAt200PerSecond: pacedStats };
    log(`payments at 200/s: p99 ${pacedStats.p99} ms`);
    extraRows.push(
      `| payment POST, 32 concurrent | ${paymentsPerSecond.toLocaleString('en')} /s | | | | ≥ 1 500 /s |`,
      `| payment POST at 200/s | ${pacedStats.p50} | ${pacedStats.p95} | ${pacedStats.p99} | ${pacedStats.n} | p99 ≤ 25 ms |`,
    );
    }
    // The latency scenarios while the data set's server runs (the billing groups below stop it).
    if (scenarios.length > 0) {
      const rounds = Math.max(1, Number(args.rounds));
      log(`latency: ${scenarios.length} scenarios interleaved in ${rounds} rounds`);
      await runInterleaved(base, scenarios, rounds);
      for (const scenario of scenarios) {
        const s = stats(scenario.times);
        rows.push([scenario.name, s, scenario.target]);
        log(`${scenario.name}: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms`);
      }
    }
    await db.end();
    if (billingUrl !== undefined) {
      // The school year billed, on the copy; its own server (the same settings).
      server.kill('SIGTERM');
      const billingServer = await startServer(billingUrl);
      server = billingServer.child;
      const billing = new pg.Client({ connectionString: billingUrl });
      billing.on('error', () => undefined);
      await billing.connect();
      const pgStats = async (label: string) => {
        if (!args['pg-stats']) {
          return;
        }
        const { rows: top } = await billing.query<{ calls: string; total: number; mean: number; rows: string; query: string }>(
          `select calls, round(total_exec_time)::int total, round(mean_exec_time::numeric, 2)::float mean, rows, left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 160) query
             from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
            order by total_exec_time desc limit 15`,
        );
        log(`pg_stat_statements, ${label} (ms total, calls, mean ms, rows, statement):`);
        for (const row of top) {
          log(`  ${row.total} ms  ${row.calls}×  ${row.mean} ms  ${row.rows} rows  ${row.query}`);
        }
        await billing.query('select pg_stat_statements_reset()');
      };
      if (args['pg-stats']) {
        await billing.query('create extension if not exists pg_stat_statements');
      }
      try {
        const signIn = async () => (JSON.parse((await request(billingServer.base, 'POST', '/api/v1/auth/login', {}, { username: 'bench.super.admin', password: PASSWORD })).body) as { accessToken: string }).accessToken;
        const ctx: BillingContext = {
          request: (method, url, headers, body) => request(billingServer.base, method, url, headers, body),
          base: billingServer.base,
          token: await signIn(),
          refresh: async () => {
            ctx.token = await signIn();
          },
          db: billing,
          log,
          clients: 4,
        };
        // The late fees first: on the data set's own bills (the bill runs below bill the
        // next academic year, nothing of which is due yet).
        if (want('latefees')) {
          const fees = await benchLateFees(ctx);
          await pgStats('late fees');
          results.latefees = fees;
          extraRows.push(
            `| daily late-fee and reminder run, ${fees.schools.toLocaleString('en')} schools (${fees.overdue.toLocaleString('en')} overdue invoices, ${fees.posted.toLocaleString('en')} fees posted, ${fees.reminders.toLocaleString('en')} reminders) | ${fees.seconds} s | | | | ≤ 30 s at L |`,
            `| the same day run again (${fees.rerun.posted} posted, ${fees.rerun.reminders} reminders) | ${fees.rerun.seconds} s | | | | ≤ 5 s at L, nothing twice |`,
          );
        }
        // A bank statement of 10 000 lines against the data set's own open bills (before the bill runs below add next year's).
        if (want('reconciliation')) {
          const reconciled = await benchReconciliation(ctx);
          await pgStats('reconciliation');
          results.reconciliation = reconciled;
          extraRows.push(
            `| bank statement import + auto-match, CAMT.053 of ${reconciled.lines.toLocaleString('en')} lines (${reconciled.megabytes} MB; ${reconciled.matched.toLocaleString('en')} matched and paid, ${reconciled.suggested.toLocaleString('en')} suggested, ${reconciled.unmatched.toLocaleString('en')} unmatched, ${reconciled.ignored.toLocaleString('en')} ignored) | ${reconciled.seconds} s | | | | ≤ 5 s |`,
            `| the same statement again (${reconciled.reimport.duplicates.toLocaleString('en')} duplicates, nothing added) | ${reconciled.reimport.seconds} s | | | | |`,
          );
        }
        const billedWanted = want('billrun') || want('familypay') || want('familystatement');
        const setup = billedWanted ? await setUpBilling(ctx) : undefined;
        await pgStats('set-up');
        const billed = setup ? await benchBillRuns(ctx, setup) : undefined;
        await pgStats('dry run and run');
        if (want('billrun') && setup && billed) {
          results.billrun = { setup: { ...setup, schools: setup.schools.length }, ...billed };
          extraRows.push(
            `| bill run dry run, ${billed.schools.toLocaleString('en')} schools (${billed.dryRun.invoices.toLocaleString('en')} invoices, ${billed.dryRun.lines.toLocaleString('en')} lines) | ${billed.dryRun.seconds} s | ${billed.dryRun.invoicesPerSecond.toLocaleString('en')} invoices/s | | | ≤ 10 s at L |`,
            `| bill run, ${billed.schools.toLocaleString('en')} schools (${billed.run.invoices.toLocaleString('en')} invoices, ${billed.run.lines.toLocaleString('en')} lines; ${billed.run.background} in the background) | ${billed.run.seconds} s | ${billed.run.invoicesPerSecond.toLocaleString('en')} invoices/s | | | ≤ 60 s at L |`,
          );
        }
        await billing.query('analyze invoices; analyze invoice_lines');
        if (want('familypay')) {
          const paid = await benchFamilyPayments(ctx, { clients: 32, seconds: 5, serverPid: billingServer.child.pid });
          await pgStats('family payments');
          results.familypay = paid;
          extraRows.push(`| family payment POST (${paid.allocationsPerPayment} invoices each), 32 concurrent | ${paid.perSecond.toLocaleString('en')} /s | | | ${paid.payments} | ≥ 1 000 /s |`);
          if (paid.cpuMsPerPayment) {
            const cpu = paid.cpuMsPerPayment;
            // The ceiling these costs allow on this machine's cores, whoever else takes a share.
            const ceiling = Math.round((os.cpus().length * 1000) / (cpu.database + cpu.server + cpu.client));
            extraRows.push(`| family payment, CPU per payment: database ${cpu.database} ms, server ${cpu.server} ms, client ${cpu.client} ms (at most ${ceiling.toLocaleString('en')} /s on ${os.cpus().length} cores; the database alone ${Math.round((os.cpus().length * 1000) / cpu.database).toLocaleString('en')} /s) | | | | | |`);
          }
        }
        if (want('familystatement')) {
          const family = await familyOfThree(billing);
          await ctx.refresh();
          const s = await latency(billingServer.base, `/api/v1/families/${family.id}/statement`, ctx.token);
          await pgStats('family statement');
          results.familystatement = { family, ...s };
          rows.push([`family statement JSON (3 children, ${family.invoices} invoices)`, s, 'p95 ≤ 30 ms']);
          log(`family statement: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms`);
        }
      } finally {
        await billing.end();
        server.kill('SIGTERM');
        await new Promise((resolve) => setTimeout(resolve, 500));
        if (!args['keep-billing']) {
          await dropDatabase(adminUrl, billingDb);
        }
      }
    }
    if (want('sync')) {
      // A simulated day of the vendor feed at its ceiling, in a database of its own (bench/sync.ts).
      const sync = await benchSync({ adminUrl, scale: Number(args['sync-scale']), log });
      results.sync = sync;
      log(`sync: ${JSON.stringify(sync)}`);
      extraRows.push(
        `| gateway sync, ${sync.virtualMinutes} simulated minutes at the vendor's ceiling | ${sync.ingestedPercent} % ingested | ${sync.requestsOverLimit} over the limit | ${sync.duplicates} duplicates | ${sync.stored.toLocaleString('en')} rows in ${sync.wallSeconds} s | ≥ 99 % of 7.2 M/day |`,
      );
    }

    const loadAtEnd = os.loadavg();
    results.loadAverage = { start: loadAtStart, end: loadAtEnd };
    results.latency = Object.fromEntries(rows.map(([name, s]) => [name, s]));
    const table = [
      '| scenario | p50 ms | p95 ms | p99 ms | samples | target |',
      '|---|---:|---:|---:|---:|---|',
      ...rows.map(([name, s, target]) => (typeof s === 'string' ? `| ${name} | ${s} | | | | ${target} |` : `| ${name} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.n} | ${target} |`)),
      ...extraRows,
      dataset.seedSeconds === null ? '' : `| seed data set (${size.transactions.toLocaleString('en')} transactions) | ${dataset.seedSeconds} s | | | | ≤ 90 s for L |`,
    ].filter(Boolean);
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    const header = `Data set: ${counts?.schools} schools, ${counts?.students} students, ${counts?.invoices} invoices, ${counts?.payments} payments, ${counts?.transactions} transactions (counted); ${os.cpus().length} cores, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; CPU calibration ${calibrationMs} ms (counting generate_series(1, 3 000 000); lower is faster); load average ${load(loadAtStart)} at the start, ${load(loadAtEnd)} at the end; latencies interleaved in ${args.rounds} rounds.`;
    if (only === undefined) {
      await writeFile(path.join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
      await writeFile(path.join(ROOT, 'bench', 'results.md'), `${header}\n\n${table.join('\n')}\n`);
    } else if (only.every((group) => (BILLING_GROUPS as readonly string[]).includes(group))) {
      // The billing groups alone (they take minutes at L): their results replace those of
      // the last billing run in bench/results.* (a block of their own), the rest is kept.
      await writeBillingResults(results, `${header}\n\n${table.join('\n')}\n`, only);
    }
    console.log(`\n${header}\n\n${table.join('\n')}\n`);
  } finally {
    server?.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await embedded?.stop();
    agent.destroy();
  }
}

await main();
