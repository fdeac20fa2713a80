import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local server that speaks the small part of Stripe's API Bursar uses — creating a
 * Checkout Session — and sends webhooks signed as Stripe documents them
 * (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`). The
 * official SDK talks to it through STRIPE_API_BASE; nothing in Bursar's process is mocked.
 */
export interface FakeSession {
  id: string;
  object: 'checkout.session';
  url: string;
  mode: string;
  status: 'open' | 'complete';
  payment_status: 'unpaid' | 'paid';
  payment_intent: string | null;
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  success_url: string;
  cancel_url: string;
  locale: string | null;
  customer_email: string | null;
  expires_at: number;
}

export interface FakeStripe {
  url: string;
  /** Every request the SDK made: method, path, headers and the decoded form. */
  requests: { method: string; path: string; headers: IncomingHttpHeaders; form: Record<string, unknown> }[];
  sessions: Map<string, FakeSession>;
  /** Answer every API request with 500 while true (Stripe down). */
  failing: boolean;
  /** Builds, signs and posts an event about a session to `webhookUrl`; answers Bursar's response. */
  send(type: string, sessionId: string, options?: { paymentStatus?: 'paid' | 'unpaid'; paymentIntent?: string; secret?: string; at?: Date; eventId?: string }): Promise<{ status: number; body: string; payload: string; signature: string }>;
  close(): Promise<void>;
}

/** Stripe's form encoding (`a[b][0][c]=v`) back into objects and arrays. */
function decodeForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> = root;
    path.forEach((part, i) => {
      if (i === path.length - 1) {
        node[part] = value;
      } else {
        node[part] ??= /^\d+$/.test(path[i + 1] ?? '') ? [] : {};
        node = node[part] as Record<string, unknown>;
      }
    });
  }
  return root;
}

export function stripeSignature(payload: string, secret: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}`;
}

export async function startFakeStripe(options: { secretKey: string; webhookSecret: string; webhookUrl: () => string }): Promise<FakeStripe> {
  const sessions = new Map<string, FakeSession>();
  const byIdempotencyKey = new Map<string, string>();
  const requests: FakeStripe['requests'] = [];
  const fake = { failing: false };
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const form = decodeForm(body);
      requests.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, form });
      const reply = (status: number, json: object) => {
        response.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(6).toString('hex')}` });
        response.end(JSON.stringify(json));
      };
      if (fake.failing) {
        return reply(500, { error: { type: 'api_error', message: 'The fake is down' } });
      }
      if (request.headers.authorization !== `Bearer ${options.secretKey}`) {
        return reply(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      }
      if (request.method === 'POST' && request.url === '/v1/checkout/sessions') {
        const key = request.headers['idempotency-key'];
        const existing = typeof key === 'string' ? byIdempotencyKey.get(key) : undefined;
        if (existing !== undefined) {
          return reply(200, sessions.get(existing) ?? {});
        }
        const items = form.line_items as { price_data: { unit_amount: string; currency: string } }[];
        const id = `cs_test_${randomBytes(12).toString('hex')}`;
        const { port } = server.address() as AddressInfo;
        const session: FakeSession = {
          id,
          object: 'checkout.session',
          url: `http://127.0.0.1:${port}/c/pay/${id}`,
          mode: String(form.mode),
          status: 'open',
          payment_status: 'unpaid',
          payment_intent: null,
          amount_total: Number(items[0]?.price_data.unit_amount),
          currency: String(items[0]?.price_data.currency),
          client_reference_id: typeof form.client_reference_id === 'string' ? form.client_reference_id : null,
          metadata: (form.metadata ?? {}) as Record<string, string>,
          success_url: String(form.success_url),
          cancel_url: String(form.cancel_url),
          locale: typeof form.locale === 'string' ? form.locale : null,
          customer_email: typeof form.customer_email === 'string' ? form.customer_email : null,
          expires_at: Number(form.expires_at),
        };
        sessions.set(id, session);
        if (typeof key === 'string') {
          byIdempotencyKey.set(key, id);
        }
        return reply(200, session);
      }
      return reply(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${request.method} ${request.url})` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    requests,
    sessions,
    async send(type: string, sessionId: string, o: Parameters<FakeStripe['send']>[2] = {}) {
      const session = sessions.get(sessionId);
      if (session === undefined) {
        throw new Error(`no session ${sessionId}`);
      }
      const paid = o.paymentStatus ?? (type === 'checkout.session.async_payment_failed' ? 'unpaid' : 'paid');
      const object = { ...session, status: 'complete', payment_status: paid, payment_intent: o.paymentIntent ?? session.payment_intent ?? `pi_${randomBytes(12).toString('hex')}` };
      session.payment_intent = object.payment_intent;
      const at = o.at ?? new Date();
      const payload = JSON.stringify({
        id: o.eventId ?? `evt_${randomBytes(12).toString('hex')}`,
        object: 'event',
        api_version: '2026-11-18.endive',
        created: Math.floor(at.getTime() / 1000),
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type,
        data: { object },
      });
      const signature = stripeSignature(payload, o.secret ?? options.webhookSecret, at);
      const response = await fetch(options.webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature, 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' }, body: payload });
      return { status: response.status, body: await response.text(), payload, signature };
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  });
}
