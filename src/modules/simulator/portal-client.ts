import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * A simulated family paying online the way a parent does (SPEC §8 "Pay online"): it
 * opens a pay link (the one in a reminder, or the QR code on an invoice), asks for a
 * checkout, and pays on the bundled gateway simulator's hosted page with a test card.
 * Everything goes over HTTP to this server — the pay-link page, the checkout, the
 * hosted page, and the gateway's signed webhook that records the payment — so the demo
 * and `bursar simulate` exercise exactly what a family's phone would.
 */
export type PortalOutcome =
  | { status: 'paid'; amount: number }
  | { status: 'declined'; code: string }
  /** Not paid, and not by the gateway's decision: the link expired, the invoice was settled meanwhile, the server is not listening yet, … */
  | { status: 'refused'; reason: string };

export interface PortalPayment {
  /** The pay link's token (the last part of `/pay/<token>`). */
  token: string;
  /** Part of what a family link names; an invoice link always pays what the invoice owes. */
  amount?: number;
  /** The card typed on the hosted page: the simulator's success card unless told otherwise. */
  card?: 'succeeds' | 'declined';
  /** The family's language (the hosted page's). */
  language: 'es' | 'en';
  /** Business time (epoch ms): the card's expiry is a few years after it. */
  now: number;
}

export interface PortalClient {
  /** False while the server is not listening (a family cannot pay online yet). */
  available(): boolean;
  pay(payment: PortalPayment): Promise<PortalOutcome>;
}

const CARDS = { succeeds: '4242424242424242', declined: '4000000000000002' } as const;
const TIMEOUT_MS = 15_000;

/** The pay-link token in a message body (`…/pay/<token>`), if it has one. */
export function payTokenIn(text: string): string | undefined {
  return /\/pay\/([A-Za-z0-9_-]{50})(?![A-Za-z0-9_-])/.exec(text)?.[1];
}

async function problemOf(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { title?: string; detail?: string };
    return `${response.status} ${body.detail ?? body.title ?? ''}`.trim();
  } catch {
    return `${response.status}`;
  }
}

/** A portal client talking to the Bursar server at `base()` (undefined while it is not listening). */
export function httpPortalClient(base: () => string | undefined): PortalClient {
  return {
    available: () => base() !== undefined,
    async pay(payment) {
      const root = base();
      if (root === undefined) {
        return { status: 'refused', reason: 'the server is not listening yet' };
      }
      const signal = AbortSignal.timeout(TIMEOUT_MS);
      const api = `${root}/api/v1/pay-links/${payment.token}`;
      // What the pay-link page shows first (school, number, amount): a link that expired or was settled stops here.
      const page = await fetch(api, { signal });
      if (!page.ok) {
        return { status: 'refused', reason: `pay link: ${await problemOf(page)}` };
      }
      await page.arrayBuffer();
      const opened = await fetch(`${api}/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ language: payment.language, ...(payment.amount === undefined ? {} : { amount: payment.amount }) }),
        signal,
      });
      if (opened.status !== 201) {
        return { status: 'refused', reason: `checkout: ${await problemOf(opened)}` };
      }
      const checkout = (await opened.json()) as { url: string; provider: string; amount: number };
      if (checkout.provider !== 'simulator') {
        return { status: 'refused', reason: `the gateway is ${checkout.provider}, not the bundled simulator` };
      }
      // The hosted page is this server's, whatever PUBLIC_URL says.
      const hosted = new URL(checkout.url);
      const year = new Date(payment.now).getUTCFullYear() + 3;
      const form = new URLSearchParams({ card: CARDS[payment.card ?? 'succeeds'], expiry: `12/${year}`, cvc: '123', name: 'Familia' });
      const paid = await fetch(`${root}${hosted.pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        redirect: 'manual',
        signal,
      });
      await paid.arrayBuffer();
      if (paid.status === 303) {
        return { status: 'paid', amount: checkout.amount };
      }
      if (paid.status === 402) {
        return { status: 'declined', code: payment.card === 'declined' ? 'card_declined' : 'declined' };
      }
      return { status: 'refused', reason: `hosted page answered ${paid.status}` };
    },
  };
}

/** http://127.0.0.1:<port> of a listening Fastify app (undefined before it listens). */
export function loopbackBase(app: FastifyInstance): string | undefined {
  const address: AddressInfo | string | null = app.server.address();
  return address !== null && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : undefined;
}
