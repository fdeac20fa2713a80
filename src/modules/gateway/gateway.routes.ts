import { createHash } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { GatewayProvider } from '../../db/types.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { AppError, notFound } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import { Timestamp, Uuid } from '../billing/billing.schemas.js';
import { createBillingService } from '../billing/billing.service.js';
import { createInvoicesRepository } from '../billing/invoices.repository.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createStudentsRepository } from '../billing/students.repository.js';
import { createFamilyPaymentsRepository } from '../familypayments/familypayments.repository.js';
import { createFamilyPaymentsService } from '../familypayments/familypayments.service.js';
import * as ledger from '../ledger/ledger.js';
import { payLinkKey, verifyPayToken } from '../paylinks/paylinks.tokens.js';
import { createCheckoutRepository } from './checkout.repository.js';
import { createCheckoutService, type Opener } from './checkout.service.js';
import { gatewayFromConfig, WebhookRejected, type Gateway } from './gateway.adapters.js';

const Checkout = Type.Object(
  {
    id: Uuid,
    url: Type.String({ description: 'the gateway’s hosted checkout page: send the payer there' }),
    provider: Type.Union([Type.Literal('simulator'), Type.Literal('stripe')]),
    amount: Type.Integer({ minimum: 1, description: 'what the session charges, minor units' }),
    currency: Type.String(),
    expiresAt: Timestamp,
  },
  { $id: 'Checkout', description: 'A session at the payment gateway (SPEC §8); the payment is recorded when the gateway’s webhook arrives' },
);
const Language = Type.Optional(Type.Union([Type.Literal('es'), Type.Literal('en')], { description: 'the hosted page’s language; default the family’s' }));
const InvoiceCheckoutBody = Type.Object({ language: Language }, { additionalProperties: false });
const FamilyCheckoutBody = Type.Object(
  { amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'minor units; default all the family owes, never more' })), language: Language },
  { additionalProperties: false },
);
const WebhookAnswer = Type.Object({
  received: Type.Boolean(),
  recorded: Type.Union([
    Type.Literal('payment'),
    Type.Literal('family_payment'),
    Type.Literal('failed_attempt'),
    Type.Literal('unapplied'),
    Type.Literal('duplicate'),
    Type.Literal('ignored'),
  ]),
  checkoutId: Type.Union([Uuid, Type.Null()]),
});

const REPLAY_WINDOW = '10 minutes';

/**
 * Online payment (SPEC §8): checkouts for an invoice or a family (staff in their schools,
 * a guardian for their own family, anyone holding a pay link), and the gateways' webhooks.
 */
export default function gatewayRoutes(app: FastifyInstance, options: { db: Db; config: Pick<Config, 'gateway' | 'publicUrl'>; clock?: Clock; gateway?: Gateway }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { db, config } = options;
  const clock = options.clock ?? systemClock;
  const gateway = options.gateway ?? gatewayFromConfig(db, config);
  const billing = createBillingService({ db, schools: createSchoolsRepository(), students: createStudentsRepository(), invoices: createInvoicesRepository(), payments: createPaymentsRepository(), clock });
  const familyPayments = createFamilyPaymentsService({ db, repository: createFamilyPaymentsRepository(), ledger: { applyCredit: ledger.applyCredit }, clock });
  const repository = createCheckoutRepository();
  const checkouts = createCheckoutService({ db, gateway, billing, familyPayments, repository, clock, log: app.log });
  api.addSchema(Checkout);
  const base = config.publicUrl;

  /** The invoice's school when the caller may pay it: staff in scope, a guardian for their family's invoices; else 404. */
  async function payableInvoice(principal: Principal, id: string): Promise<string> {
    const schoolId =
      principal.role === 'guardian'
        ? principal.guardian === null
          ? undefined
          : await repository.familyInvoiceSchool(db, principal.guardian, id)
        : await repository.scopedInvoiceSchool(db, principal, id);
    if (schoolId === undefined) {
      throw notFound('invoice');
    }
    return schoolId;
  }

  async function payableFamily(principal: Principal, id: string): Promise<void> {
    const mine = principal.role === 'guardian' ? principal.guardian?.familyId === id : await repository.scopedFamilyExists(db, principal, id);
    if (!mine) {
      throw notFound('family');
    }
  }

  const opener = (principal: Principal, staffReturn: string, language: 'es' | 'en' | undefined): Opener => ({
    via: principal.role === 'guardian' ? 'portal' : 'staff',
    userId: principal.userId,
    returnUrl: principal.role === 'guardian' ? `${base}/portal` : staffReturn,
    ...(language ? { language } : {}),
  });

  api.post('/invoices/:id/checkout', {
    config: { policy: 'payments:checkout' },
    schema: {
      tags: ['invoices', 'online payment'],
      summary: 'Open a checkout at the payment gateway for what the invoice still owes',
      description: 'The amount is what is open, less the early-payment discount while it is on offer. A guardian may open one for their own family’s invoices.',
      params: Type.Object({ id: Uuid }),
      body: Type.Optional(InvoiceCheckoutBody),
      response: { 201: Type.Ref('Checkout'), ...problemResponses(400, 401, 403, 404, 409, 422, 503) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const schoolId = await payableInvoice(principal, request.params.id);
    const checkout = await checkouts.invoiceCheckout(request.params.id, schoolId, opener(principal, `${base}/invoices/${request.params.id}`, request.body?.language));
    return reply.code(201).send(checkout);
  });

  api.post('/families/:id/checkout', {
    config: { policy: 'payments:checkout' },
    schema: {
      tags: ['families', 'online payment'],
      summary: 'Open a checkout for what a family owes, or part of it',
      description: 'The payment is shared out over the family’s open invoices, oldest due first, like POST /families/:id/payments.',
      params: Type.Object({ id: Uuid }),
      body: Type.Optional(FamilyCheckoutBody),
      response: { 201: Type.Ref('Checkout'), ...problemResponses(400, 401, 403, 404, 422, 503) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    await payableFamily(principal, request.params.id);
    const checkout = await checkouts.familyCheckout(request.params.id, request.body?.amount, opener(principal, `${base}/families/${request.params.id}`, request.body?.language));
    return reply.code(201).send(checkout);
  });

  api.post('/pay-links/:token/checkout', {
    config: { policy: 'public' },
    schema: {
      tags: ['pay links', 'online payment'],
      summary: 'Pay what a pay link names (no login): open a checkout at the gateway',
      params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
      body: Type.Optional(FamilyCheckoutBody),
      response: { 201: Type.Ref('Checkout'), ...problemResponses(400, 404, 409, 410, 422, 503) },
    },
  }, async (request, reply) => {
    const { token } = request.params;
    const verified = verifyPayToken(await payLinkKey(db), token, new Date(clock.now()));
    if (verified === 'expired') {
      throw new AppError('LINK_EXPIRED', 'this pay link has expired: ask the school for a new one');
    }
    if (typeof verified === 'string') {
      throw notFound('pay link');
    }
    const language = request.body?.language;
    const via: Opener = { via: 'pay_link', userId: null, returnUrl: `${base}/pay/${token}`, ...(language ? { language } : {}) };
    if (verified.kind === 'family') {
      return reply.code(201).send(await checkouts.familyCheckout(verified.familyId, request.body?.amount, via));
    }
    if (request.body?.amount !== undefined) {
      throw new AppError('VALIDATION_FAILED', 'an invoice’s pay link pays what the invoice owes', { errors: [{ field: 'amount', in: 'body', message: 'not allowed for an invoice link' }] });
    }
    const schoolId = await repository.invoiceSchool(db, verified.invoiceId);
    if (schoolId === undefined) {
      throw notFound('pay link');
    }
    return reply.code(201).send(await checkouts.invoiceCheckout(verified.invoiceId, schoolId, via));
  });

  // Webhooks need the exact bytes the gateway signed: this scope keeps JSON bodies raw.
  void api.register((hooks, _options, done) => {
    hooks.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_request, body, done) => done(null, body));
    hooks.withTypeProvider<TypeBoxTypeProvider>().post('/gateway/webhooks/:provider', {
      // Signed by the gateway, which sends bursts from few addresses: no per-IP budget.
      config: { policy: 'public', rateLimit: false },
      schema: {
        tags: ['online payment'],
        summary: 'Where a payment gateway reports results (signature verified; recorded once per gateway payment id)',
        description:
          'simulator: `Simulator-Signature: t=…,v1=…`; stripe: `Stripe-Signature` as Stripe signs. A bad signature, a timestamp more than 5 minutes ' +
          'away, a replayed request, an unknown checkout or an amount that is not the checkout’s → 400 and nothing recorded.',
        params: Type.Object({ provider: Type.Union([Type.Literal('simulator'), Type.Literal('stripe')], { description: 'the gateway reporting; one not configured here is a 404', examples: ['simulator'] }) }),
        response: { 200: WebhookAnswer, ...problemResponses(400, 404, 413, 415) },
      },
    }, async (request) => {
      const provider: GatewayProvider = request.params.provider;
      if (gateway === undefined || provider !== gateway.provider) {
        throw notFound('gateway');
      }
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) {
        throw new AppError('BAD_REQUEST', 'the webhook body must be JSON', { errors: [{ field: 'body', in: 'body', message: 'must be application/json' }] });
      }
      const reject = (reason: string): never => {
        request.log.warn({ provider, reason }, 'gateway webhook refused');
        throw new AppError('BAD_REQUEST', `webhook refused: ${reason.replace('_', ' ')}`, { errors: [{ field: `${provider}-signature`, in: 'headers', message: reason }] });
      };
      let event;
      try {
        event = await gateway.readEvent(raw, request.headers, new Date(clock.now()));
      } catch (error) {
        if (error instanceof WebhookRejected) {
          return reject(error.reason);
        }
        throw error;
      }
      // The same signed request twice is a replay (a gateway's own retry is signed anew).
      const digest = createHash('sha256').update(gateway.signatureOf(request.headers) ?? '').digest();
      const { rows } = await sql<{ fresh: boolean }>`
        with pruned as (delete from gateway_webhook_receipts where received_at < now() - ${REPLAY_WINDOW}::interval)
        insert into gateway_webhook_receipts (provider, signature) values (${provider}, ${digest})
        on conflict do nothing returning true as fresh`.execute(db);
      if (rows.length === 0) {
        return reject('replayed');
      }
      try {
        const outcome = await checkouts.record(provider, event);
        request.log.info({ provider, eventId: event.eventId, ...outcome }, 'gateway webhook');
        return { received: true, ...outcome };
      } catch (error) {
        // Not taken: the gateway may send these very bytes again.
        await sql`delete from gateway_webhook_receipts where provider = ${provider} and signature = ${digest}`.execute(db).catch(() => undefined);
        if (error instanceof AppError && error.status === 400) {
          request.log.warn({ provider, eventId: event.eventId, message: error.message }, 'gateway webhook refused');
        }
        throw error;
      }
    });
    done();
  });
}
