/**
 * `npm run bench -- --only webhooks`: gateway webhook → payment recorded and live event
 * delivered (SPEC §8: p99 ≤ 100 ms at 100/s). Opens one checkout session per open invoice
 * (as POST /invoices/:id/checkout records them), then sends signed `payment.succeeded`
 * webhooks as the bundled simulator signs them, open loop at the given rate (after 200
 * unmeasured ones), to the running server, while a live-feed client waits for each payment's event. Measures the
 * webhook's answer (the payment is committed before it) and webhook → live event.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type pg from 'pg';
import WebSocket from 'ws';

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0) * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), n: sorted.length };
}

/** Webhooks sent first at the same rate and not measured (connections, JIT, caches). */
const WARM_UP = 200;

export async function benchWebhooks(base: string, token: string, db: pg.Client, options: { rate: number; seconds: number }) {
  const measured = options.rate * options.seconds;
  const total = measured + WARM_UP;
  // Open invoices spread over the schools, each with a checkout session for what it owes.
  const { rows: invoices } = await db.query<{ school_id: string; id: string; open: string; currency: string }>(
    `select i.school_id, i.id, (i.amount - i.paid_amount)::text as open, s.currency
       from invoices i join schools s on s.id = i.school_id
      where i.cancelled_at is null and i.paid_amount < i.amount and i.kind = 'regular'
      order by hashtext(i.id::text) limit $1`,
    [total],
  );
  if (invoices.length < total) {
    throw new Error(`webhooks: only ${invoices.length} open invoices for ${total} webhooks`);
  }
  const run = randomBytes(4).toString('hex');
  const sessions = invoices.map((invoice, i) => ({ ...invoice, sessionId: `bench_${run}_${i}`, paymentId: `bench_pi_${run}_${i}`, amount: Number(invoice.open) }));
  await db.query(
    `insert into checkout_sessions (school_id, provider, provider_session_id, invoice_id, amount, currency, via, url, expires_at)
     select s.school_id, 'simulator', s.session_id, s.invoice_id, s.amount, s.currency, 'staff', 'http://bench.invalid', now() + interval '1 day'
       from jsonb_to_recordset($1::jsonb) as s(school_id uuid, session_id text, invoice_id uuid, amount bigint, currency text)`,
    [JSON.stringify(sessions.map((s) => ({ school_id: s.school_id, session_id: s.sessionId, invoice_id: s.id, amount: s.amount, currency: s.currency })))],
  );
  const secret = (await db.query<{ value: string }>(`select value #>> '{}' as value from app_meta where key = 'gateway_sim_secret'`)).rows[0]?.value;
  if (!secret) {
    throw new Error('webhooks: no gateway_sim_secret (migration 0025)');
  }

  const sentAt = new Map<string, number>();
  const warm = new Set(sessions.slice(0, WARM_UP).map((s) => s.id));
  const liveLatencies: number[] = [];
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/v1/live?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve());
    socket.once('error', reject);
  });
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as { payment?: { invoiceId: string | null; status: string } };
    const invoiceId = message.payment?.invoiceId;
    const sent = invoiceId ? sentAt.get(invoiceId) : undefined;
    if (sent !== undefined && message.payment?.status === 'succeeded') {
      if (!warm.has(invoiceId ?? '')) {
        liveLatencies.push(performance.now() - sent);
      }
      sentAt.delete(invoiceId ?? '');
    }
  });

  const answerLatencies: number[] = [];
  const outcomes = new Map<string, number>();
  const url = `${base}/api/v1/gateway/webhooks/simulator`;
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  for (const [i, session] of sessions.entries()) {
    const due = started + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const body = JSON.stringify({
      id: `evt_${session.paymentId}`,
      type: 'payment.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { sessionId: session.sessionId, paymentId: session.paymentId, amount: session.amount, currency: session.currency, metadata: { schoolId: session.school_id, invoiceId: session.id } },
    });
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
    const sent = performance.now();
    sentAt.set(session.id, sent);
    inFlight.push(
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'simulator-signature': signature }, body }).then(async (response) => {
        if (i >= WARM_UP) {
          answerLatencies.push(performance.now() - sent);
        }
        const answer = (await response.json()) as { recorded?: string };
        const key = response.ok ? (answer.recorded ?? '?') : `http ${response.status}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
    );
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000 - WARM_UP / options.rate;
  const deadline = performance.now() + 10_000;
  while (sentAt.size > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  socket.terminate();
  return {
    webhooks: measured,
    perSecond: Math.round(measured / seconds),
    outcomes: Object.fromEntries(outcomes),
    liveEventsMissing: sentAt.size,
    answer: percentiles(answerLatencies),
    live: percentiles(liveLatencies),
  };
}
