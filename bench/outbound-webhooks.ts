/**
 * `npm run bench -- --only outbound-webhooks`: outbound webhook delivery (issue 18 "Speed":
 * ≥ 500 deliveries/s to a local receiver with one worker; outbox lag p99 ≤ 1 s at that
 * rate). The bench server's own delivery worker (one process, WEBHOOKS on,
 * WEBHOOKS_ALLOW_LOCAL on) sends to a node:http receiver here that answers 200 at once.
 *
 * - Throughput: BURST events are put in the outbox in one statement (one delivery each to
 *   the bench endpoint); deliveries/s = BURST / (last arrival − the commit).
 * - Lag: events written at RATE/s (a statement every 100 ms) for SECONDS; lag = arrival
 *   at the receiver − the event's occurred_at (its transaction's time; same clock).
 *
 * Events are `endpoint.test` rows written straight to the outbox tables: how an event is
 * made does not change what delivering it costs. The endpoint is deleted at the end (the
 * data set is reused by later runs).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), n: sorted.length };
}

export interface OutboundWebhooksResult {
  burst: number;
  deliveriesPerSecond: number;
  rate: number;
  seconds: number;
  lag: { p50: number; p95: number; p99: number; n: number };
  missing: number;
}

type Request = (method: string, url: string, headers: Record<string, string>, body?: unknown) => Promise<{ status: number; body: string }>;

export async function benchOutboundWebhooks(request: Request, token: string, db: pg.Client, options: { burst: number; rate: number; seconds: number }): Promise<OutboundWebhooksResult> {
  const arrivals = new Map<string, number>();
  let waiting: { count: number; resolve: () => void } | undefined;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (!arrivals.has(id)) {
        arrivals.set(id, Date.now());
      }
      res.writeHead(200).end();
      if (waiting && arrivals.size >= waiting.count) {
        waiting.resolve();
        waiting = undefined;
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const created = await request('POST', '/api/v1/webhook-endpoints', { authorization: `Bearer ${token}` }, { url, events: ['invoice.paid'] });
  if (created.status !== 201) {
    throw new Error(`outbound-webhooks: creating the endpoint answered ${created.status} ${created.body} (the bench server needs WEBHOOKS_ALLOW_LOCAL=on)`);
  }
  const endpointId = (JSON.parse(created.body) as { id: string }).id;
  const school = (await db.query<{ id: string }>('select id from schools order by id limit 1')).rows[0]?.id;
  if (school === undefined) {
    throw new Error('outbound-webhooks: no school');
  }
  const enqueue = async (count: number): Promise<{ id: string; at: number }[]> => {
    const { rows } = await db.query<{ id: string; at: Date }>(
      `with ev as (
         insert into webhook_events (school_id, type, object_id, data)
         select $1, 'endpoint.test', gen_random_uuid()::text, jsonb_build_object('endpointId', $2::text, 'message', 'bench')
           from generate_series(1, $3)
         returning school_id, id, seq, object_id, occurred_at
       ),
       d as (
         insert into webhook_deliveries (school_id, event_id, event_seq, endpoint_id, object_id)
         select school_id, id, seq, $2::uuid, object_id from ev
       )
       select id, occurred_at as at from ev`,
      [school, endpointId, count],
    );
    return rows.map((row) => ({ id: row.id, at: row.at.getTime() }));
  };
  const until = (count: number, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (arrivals.size >= count) {
        resolve();
        return;
      }
      const timer = setTimeout(() => reject(new Error(`outbound-webhooks: ${arrivals.size} of ${count} arrived within ${timeoutMs} ms`)), timeoutMs);
      waiting = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });

  try {
    // Warm-up: connections, JIT, plans.
    await enqueue(200);
    await until(200, 60_000);

    // Throughput: one burst, drained by the one worker.
    const before = arrivals.size;
    const burst = await enqueue(options.burst);
    const committed = Date.now();
    await until(before + options.burst, 300_000);
    const last = Math.max(...burst.map((e) => arrivals.get(e.id) ?? 0));
    const deliveriesPerSecond = Math.round(options.burst / ((last - committed) / 1000));

    // Lag at a steady rate.
    const perTick = Math.max(1, Math.round(options.rate / 10));
    const sent: { id: string; at: number }[] = [];
    const started = Date.now();
    for (let tick = 0; tick < options.seconds * 10; tick++) {
      const due = started + tick * 100;
      const wait = due - Date.now();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sent.push(...(await enqueue(perTick)));
    }
    const target = before + options.burst + sent.length;
    await until(target, 120_000).catch(() => undefined);
    const lags = sent.filter((e) => arrivals.has(e.id)).map((e) => (arrivals.get(e.id) ?? 0) - e.at);
    return {
      burst: options.burst,
      deliveriesPerSecond,
      rate: perTick * 10,
      seconds: options.seconds,
      lag: percentiles(lags),
      missing: sent.length - lags.length,
    };
  } finally {
    await request('DELETE', `/api/v1/webhook-endpoints/${endpointId}`, { authorization: `Bearer ${token}` });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
