import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { signPayload, SIMULATOR_SIGNATURE_HEADER } from '../gateway/gateway.adapters.js';
import { checkoutPage, type PageMessage } from './gatewaysim.page.js';
import { attemptPayment, deliverDue, findSimulatorSession, simulatorSecret, TEST_CARDS, type SendWebhook } from './gatewaysim.store.js';

const RETRY_TICK_MS = 2_000;
const SEND_TIMEOUT_MS = 10_000;

export interface GatewaySimulatorOptions {
  db: Db;
  config: Pick<Config, 'gateway'>;
  clock?: Clock;
  /** Retry undelivered webhooks in the background (default: on). Tests call `app.gatewaySimulator.deliverDue()`. */
  retry?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    gatewaySimulator?: { deliverDue(): Promise<{ delivered: number; failed: number }>; webhookUrl(): string | undefined };
  }
}

function expiryOk(value: string, now: Date): boolean {
  const match = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(value);
  if (!match) {
    return false;
  }
  const month = Number(match[1]);
  const year = Number(match[2]) + (match[2]?.length === 2 ? 2000 : 0);
  return month >= 1 && month <= 12 && new Date(Date.UTC(year, month, 1)).getTime() > now.getTime();
}

/**
 * The bundled gateway simulator (used by `npm start`; GATEWAY=simulator): the hosted
 * checkout page under /gateway-simulator/checkout/:id, and the webhooks it sends to this
 * server's POST /api/v1/gateway/webhooks/simulator (or GATEWAY_SIMULATOR_WEBHOOK_URL),
 * signed `Simulator-Signature: t=…,v1=…` and retried with backoff until answered 2xx.
 */
async function gatewaySimulatorPlugin(app: FastifyInstance, options: GatewaySimulatorOptions): Promise<void> {
  const { db } = options;
  const clock = options.clock ?? systemClock;

  const webhookUrl = (): string | undefined => {
    if (options.config.gateway.simulatorWebhookUrl) {
      return options.config.gateway.simulatorWebhookUrl;
    }
    const address: AddressInfo | string | null = app.server.address();
    return address !== null && typeof address === 'object' ? `http://127.0.0.1:${address.port}/api/v1/gateway/webhooks/simulator` : undefined;
  };

  const send: SendWebhook = async (body) => {
    const url = webhookUrl();
    if (url === undefined) {
      return { ok: false, status: 'not listening yet' };
    }
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIMULATOR_SIGNATURE_HEADER]: signPayload(body, await simulatorSecret(db), new Date(clock.now())), 'user-agent': 'bursar-gateway-simulator' },
      body,
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return { ok: response.ok, status: response.status };
  };

  app.decorate('gatewaySimulator', { deliverDue: () => deliverDue(db, send, new Date(clock.now())), webhookUrl });

  await app.register((pages, _options, done) => {
    pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    const html = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' };

    pages.get<{ Params: { id: string } }>('/gateway-simulator/checkout/:id', { config: { policy: 'public' }, schema: { hide: true } }, async (request, reply) => {
      const session = await findSimulatorSession(db, request.params.id.slice(0, 100));
      const state = session === undefined ? 'missing' : session.status === 'complete' ? 'complete' : session.expiresAt.getTime() <= clock.now() ? 'expired' : 'open';
      return reply.code(session === undefined ? 404 : 200).headers(html).send(checkoutPage(session, { language: 'es', state }));
    });

    pages.get<{ Params: { id: string } }>('/gateway-simulator/checkout/:id/cancel', { config: { policy: 'public' }, schema: { hide: true } }, async (request, reply) => {
      const session = await findSimulatorSession(db, request.params.id.slice(0, 100));
      if (session === undefined) {
        return reply.code(404).headers(html).send(checkoutPage(undefined, { language: 'es', state: 'missing' }));
      }
      return reply.redirect(session.cancelUrl, 303);
    });

    pages.post<{ Params: { id: string }; Body: Record<string, string> | undefined }>(
      '/gateway-simulator/checkout/:id',
      { config: { policy: 'public' }, schema: { hide: true } },
      async (request, reply) => {
        const session = await findSimulatorSession(db, request.params.id.slice(0, 100));
        const now = new Date(clock.now());
        if (session === undefined || session.status === 'complete' || session.expiresAt.getTime() <= now.getTime()) {
          const state = session === undefined ? 'missing' : session.status === 'complete' ? 'complete' : 'expired';
          return reply.code(session === undefined ? 404 : 409).headers(html).send(checkoutPage(session, { language: 'es', state }));
        }
        const body = request.body ?? {};
        const card = String(body.card ?? '').replace(/[\s-]/g, '');
        const name = String(body.name ?? '').slice(0, 100);
        const refuse = (message: PageMessage) => reply.code(422).headers(html).send(checkoutPage(session, { language: session.language, state: 'open', message, values: { name } }));
        if (!(card in TEST_CARDS)) {
          return refuse('notTestCard');
        }
        if (!expiryOk(String(body.expiry ?? ''), now)) {
          return refuse('badExpiry');
        }
        if (!/^\d{3,4}$/.test(String(body.cvc ?? '').trim())) {
          return refuse('badCvc');
        }
        const result = await attemptPayment(db, session, card as keyof typeof TEST_CARDS, now);
        if (result.outcome === 'already_complete') {
          return reply.code(409).headers(html).send(checkoutPage(session, { language: session.language, state: 'complete' }));
        }
        // Sent now, so the payer comes back to a page that already shows the payment; retried later if Bursar did not answer.
        await deliverDue(db, send, now, result.eventId).catch((error: unknown) => request.log.warn({ err: error }, 'gateway simulator: webhook not sent now; it will be retried'));
        if (result.outcome === 'succeeded') {
          return reply.redirect(session.successUrl, 303);
        }
        return reply.code(402).headers(html).send(checkoutPage(session, { language: session.language, state: 'open', message: result.code as PageMessage, values: { name } }));
      },
    );
    done();
  });

  if (options.retry !== false) {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> | undefined;
    app.addHook('onReady', (done) => {
      timer = setInterval(() => {
        running ??= deliverDue(db, send, new Date(clock.now()))
          .catch((error: unknown) => app.log.warn({ err: error }, 'gateway simulator: retrying webhooks failed'))
          .finally(() => {
            running = undefined;
          });
      }, RETRY_TICK_MS);
      timer.unref();
      done();
    });
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running;
    });
  }
}

export default fp(gatewaySimulatorPlugin, { name: 'gateway-simulator' });
