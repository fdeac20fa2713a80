import { createHmac, timingSafeEqual } from 'node:crypto';
import Stripe from 'stripe';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { GatewayProvider, Language } from '../../db/types.js';
import { createSimulatorSession, simulatorSecret } from '../gatewaysim/gatewaysim.store.js';

/**
 * Payment gateways are adapters (SPEC §8): the bundled simulator and Stripe Checkout. Each
 * opens a hosted checkout session and turns the webhooks it sends into one shape, after
 * checking their signature. Bursar records what an event says in checkout.service.ts,
 * whatever the gateway.
 */
export interface SessionRequest {
  /** Bursar's checkout id: the gateway's idempotency key for opening the session. */
  checkoutId: string;
  schoolId: string;
  schoolName: string;
  target: { invoiceId: string } | { familyId: string };
  amount: number;
  currency: string;
  description: string;
  language: Language;
  successUrl: string;
  cancelUrl: string;
  customerEmail: string | null;
  expiresAt: Date;
}

export interface OpenedSession {
  sessionId: string;
  url: string;
}

/** What a verified webhook says, in Bursar's terms. */
export type GatewayEvent =
  | {
      kind: 'succeeded' | 'failed';
      eventId: string;
      sessionId: string;
      /** The gateway's payment id (Stripe: the payment intent): a payment is recorded once per id. */
      paymentId: string;
      schoolId: string;
      amount: number;
      currency: string;
      occurredAt: Date;
      failureCode?: string;
      failureMessage?: string;
    }
  /** Verified, but nothing to record (another event type, or a payment still pending). */
  | { kind: 'ignored'; eventId: string; type: string };

/** Why a webhook is refused: 400, logged, nothing recorded. */
export class WebhookRejected extends Error {
  constructor(readonly reason: 'bad_signature' | 'old_timestamp' | 'malformed') {
    super(`webhook rejected: ${reason}`);
    this.name = 'WebhookRejected';
  }
}

export interface Gateway {
  readonly provider: GatewayProvider;
  openSession(request: SessionRequest): Promise<OpenedSession>;
  /** Verifies the signature (5-minute tolerance) and reads the event; throws WebhookRejected. */
  readEvent(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, now: Date): Promise<GatewayEvent>;
  /** The signature header's value (replay detection keys on it). */
  signatureOf(headers: Record<string, string | string[] | undefined>): string | undefined;
}

export const SIGNATURE_TOLERANCE_SECONDS = 300;
export const SIMULATOR_SIGNATURE_HEADER = 'simulator-signature';

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the scheme Stripe documents,
 * which the simulator signs with too. Returns the timestamp when one v1 matches.
 */
export function verifySignedPayload(rawBody: Buffer, signature: string | undefined, secret: string, now: Date): number {
  if (signature === undefined) {
    throw new WebhookRejected('bad_signature');
  }
  const parts = signature.split(',').map((part) => part.trim().split('='));
  const t = Number(parts.find(([key]) => key === 't')?.[1]);
  const candidates = parts.filter(([key, value]) => key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)).map(([, value]) => value as string);
  if (!Number.isSafeInteger(t) || candidates.length === 0) {
    throw new WebhookRejected('bad_signature');
  }
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  if (!candidates.some((candidate) => timingSafeEqual(Buffer.from(candidate, 'hex'), expected))) {
    throw new WebhookRejected('bad_signature');
  }
  if (Math.abs(now.getTime() / 1000 - t) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new WebhookRejected('old_timestamp');
  }
  return t;
}

export function signPayload(body: string, secret: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown) => (typeof value === 'string' && value.length > 0 && value.length <= 255 ? value : undefined);
const int = (value: unknown) => (typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined);

function parseJson(rawBody: Buffer): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(rawBody.toString('utf8'));
    if (isRecord(parsed)) {
      return parsed;
    }
  } catch {
    // fall through
  }
  throw new WebhookRejected('malformed');
}

/** The bundled simulator: its sessions live in its own tables (src/modules/gatewaysim); it signs with the installation's secret. */
export function simulatorGateway(db: Db, publicUrl: string): Gateway {
  return {
    provider: 'simulator',
    async openSession(request) {
      const id = await createSimulatorSession(db, {
        merchant: request.schoolName,
        description: request.description,
        amount: request.amount,
        currency: request.currency,
        language: request.language,
        clientReferenceId: 'invoiceId' in request.target ? request.target.invoiceId : `family:${request.target.familyId}`,
        metadata: { schoolId: request.schoolId, checkoutId: request.checkoutId, ...request.target },
        successUrl: request.successUrl,
        cancelUrl: request.cancelUrl,
        expiresAt: request.expiresAt,
      });
      return { sessionId: id, url: `${publicUrl}/gateway-simulator/checkout/${id}` };
    },
    signatureOf: (headers) => header(headers, SIMULATOR_SIGNATURE_HEADER),
    async readEvent(rawBody, headers, now) {
      verifySignedPayload(rawBody, header(headers, SIMULATOR_SIGNATURE_HEADER), await simulatorSecret(db), now);
      const event = parseJson(rawBody);
      const data = isRecord(event.data) ? event.data : {};
      const metadata = isRecord(data.metadata) ? data.metadata : {};
      const eventId = str(event.id);
      const type = str(event.type);
      if (eventId === undefined || type === undefined) {
        throw new WebhookRejected('malformed');
      }
      if (type !== 'payment.succeeded' && type !== 'payment.failed') {
        return { kind: 'ignored', eventId, type };
      }
      const sessionId = str(data.sessionId);
      const paymentId = str(data.paymentId);
      const schoolId = str(metadata.schoolId);
      const amount = int(data.amount);
      const currency = str(data.currency);
      const created = int(event.created);
      if (!sessionId || !paymentId || !schoolId || !amount || !currency || !created) {
        throw new WebhookRejected('malformed');
      }
      return {
        kind: type === 'payment.succeeded' ? 'succeeded' : 'failed',
        eventId,
        sessionId,
        paymentId,
        schoolId,
        amount,
        currency: currency.toUpperCase(),
        occurredAt: new Date(created * 1000),
        ...(type === 'payment.failed' ? { failureCode: str(data.failureCode) ?? 'card_declined', failureMessage: str(data.failureMessage) ?? 'The card was declined' } : {}),
      };
    },
  };
}

/** Stripe's `host`/`port`/`protocol` options from STRIPE_API_BASE (tests point the SDK at a local server). */
function stripeHost(apiBase: string | undefined): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (apiBase === undefined) {
    return {};
  }
  const url = new URL(apiBase);
  return { host: url.hostname, port: url.port || (url.protocol === 'http:' ? 80 : 443), protocol: url.protocol === 'http:' ? 'http' : 'https' };
}

/**
 * Stripe Checkout through the official SDK (SPEC §8): a session per checkout with
 * `client_reference_id` = the invoice id (or `family:<id>`) and `metadata` naming the
 * invoice or family and the school; `checkout.session.completed` (paid) and
 * `checkout.session.async_payment_succeeded` record the payment under its payment intent,
 * `checkout.session.async_payment_failed` a failed transaction. Signatures are checked by
 * the SDK (`Stripe-Signature`, 5-minute tolerance, against the machine's clock).
 */
export function stripeGateway(config: NonNullable<Config['gateway']['stripe']>): Gateway {
  const stripe = new Stripe(config.secretKey, { maxNetworkRetries: 2, timeout: 15_000, ...stripeHost(config.apiBase) });
  return {
    provider: 'stripe',
    async openSession(request) {
      const metadata = { schoolId: request.schoolId, checkoutId: request.checkoutId, ...request.target };
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: 'invoiceId' in request.target ? request.target.invoiceId : `family:${request.target.familyId}`,
          metadata,
          payment_intent_data: { metadata, description: request.description },
          line_items: [{ quantity: 1, price_data: { currency: request.currency.toLowerCase(), unit_amount: request.amount, product_data: { name: request.description } } }],
          locale: request.language,
          success_url: request.successUrl,
          cancel_url: request.cancelUrl,
          expires_at: Math.floor(request.expiresAt.getTime() / 1000),
          ...(request.customerEmail ? { customer_email: request.customerEmail } : {}),
        },
        { idempotencyKey: `bursar-checkout-${request.checkoutId}` },
      );
      if (!session.url) {
        throw new Error(`Stripe returned checkout session ${session.id} without a url`);
      }
      return { sessionId: session.id, url: session.url };
    },
    signatureOf: (headers) => header(headers, 'stripe-signature'),
    async readEvent(rawBody, headers) {
      const signature = header(headers, 'stripe-signature');
      let event: Stripe.Event;
      try {
        event = await stripe.webhooks.constructEventAsync(rawBody, signature ?? '', config.webhookSecret, SIGNATURE_TOLERANCE_SECONDS);
      } catch (error) {
        throw new WebhookRejected(/tolerance/i.test(String((error as Error).message)) ? 'old_timestamp' : 'bad_signature');
      }
      const type = event.type;
      if (type !== 'checkout.session.completed' && type !== 'checkout.session.async_payment_succeeded' && type !== 'checkout.session.async_payment_failed') {
        return { kind: 'ignored', eventId: event.id, type };
      }
      const session = event.data.object;
      if (type === 'checkout.session.completed' && session.payment_status !== 'paid') {
        // An asynchronous method (OXXO, a bank transfer): the async_payment_* event follows.
        return { kind: 'ignored', eventId: event.id, type: `${type}:${session.payment_status}` };
      }
      const paymentId = typeof session.payment_intent === 'string' ? session.payment_intent : session.payment_intent?.id;
      const schoolId = session.metadata?.schoolId;
      if (!paymentId || !schoolId || !session.amount_total || !session.currency) {
        throw new WebhookRejected('malformed');
      }
      return {
        kind: type === 'checkout.session.async_payment_failed' ? 'failed' : 'succeeded',
        eventId: event.id,
        sessionId: session.id,
        paymentId,
        schoolId,
        amount: session.amount_total,
        currency: session.currency.toUpperCase(),
        occurredAt: new Date(event.created * 1000),
        ...(type === 'checkout.session.async_payment_failed' ? { failureCode: 'async_payment_failed', failureMessage: 'The payment failed after checkout' } : {}),
      };
    },
  };
}

/** The configured gateway, or undefined when online payment is off. */
export function gatewayFromConfig(db: Db, config: Pick<Config, 'gateway' | 'publicUrl'>): Gateway | undefined {
  switch (config.gateway.provider) {
    case 'stripe':
      return config.gateway.stripe ? stripeGateway(config.gateway.stripe) : undefined;
    case 'simulator':
      return simulatorGateway(db, config.publicUrl);
    case 'off':
      return undefined;
  }
}
