import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { problemResponses } from '../../plugins/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { requirePrincipal } from '../../shared/context.js';
import { AppError, notFound } from '../../shared/errors.js';
import { inScope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import { actorOf } from '../auth/auth.routes.js';
import { Timestamp, Uuid } from '../billing/billing.schemas.js';
import { familyDue } from './paylinks.repository.js';
import { payLinkKey, payUrl, signPayToken, verifyPayToken } from './paylinks.tokens.js';

const PayLinkBody = Type.Object(
  { expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, description: 'default 14' })) },
  { additionalProperties: false },
);
const PayLink = Type.Object(
  { url: Type.String({ description: '<PUBLIC_URL>/pay/<token>: opens the no-login pay page' }), expiresAt: Timestamp },
  { $id: 'PayLink' },
);
const PayLinkView = Type.Object(
  {
    kind: Type.Union([Type.Literal('invoice'), Type.Literal('family')], { description: 'invoice: one invoice; family: what a family owes (the QR code on its statement)' }),
    schoolName: Type.String(),
    invoiceNumber: Type.Optional(Type.String({ description: 'kind invoice' })),
    familyReference: Type.Optional(Type.String({ description: 'kind family: the reference the family pays by' })),
    amountDue: Type.Integer({ minimum: 0, description: 'what is still open, minor units' }),
    currency: Type.String(),
    status: Type.Union([Type.Literal('open'), Type.Literal('paid'), Type.Literal('cancelled')]),
    expiresAt: Timestamp,
  },
  { $id: 'PayLinkView', description: 'What a pay link shows: the school, the invoice number and the amount; no other personal data' },
);
type PayLinkView = Static<typeof PayLinkView>;

export const DEFAULT_PAY_LINK_DAYS = 14;

/**
 * Pay links (SPEC §8): `POST /invoices/:id/pay-link` signs one (billing:write, the invoice
 * in scope); `GET /pay-links/:token` is public and answers only what the pay page shows.
 * A tampered token is a 404, an expired one a 410; neither says anything about the invoice.
 */
export default function payLinksRoutes(app: FastifyInstance, options: { db: Db; config: Pick<Config, 'publicUrl'>; clock?: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = options;
  const clock = options.clock ?? systemClock;
  api.addSchema(PayLink);
  api.addSchema(PayLinkView);

  api.post('/invoices/:id/pay-link', {
    config: { policy: 'billing:write' },
    schema: {
      tags: ['invoices', 'pay links'],
      summary: 'A signed, expiring link to pay this invoice without logging in',
      params: Type.Object({ id: Uuid }),
      body: Type.Optional(PayLinkBody),
      response: { 201: Type.Ref('PayLink'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const actor = actorOf(request);
    const principal = requirePrincipal(actor);
    const invoice = await db
      .selectFrom('invoices')
      .select(['id', 'school_id as schoolId', 'amount', 'paid_amount as paidAmount', 'cancelled_at as cancelledAt'])
      .where('id', '=', request.params.id)
      .where((eb) => inScope(eb, 'school_id', principal))
      .executeTakeFirst();
    if (invoice === undefined) {
      throw notFound('invoice');
    }
    if (invoice.cancelledAt !== null) {
      throw new AppError('INVOICE_CANCELLED', 'the invoice is cancelled: there is nothing to pay');
    }
    if (invoice.paidAmount >= invoice.amount) {
      throw new AppError('BUSINESS_RULE_VIOLATION', 'the invoice is paid in full: there is nothing to pay', { errors: [{ field: 'id', in: 'params', message: 'paid in full' }] });
    }
    const days = request.body?.expiresInDays ?? DEFAULT_PAY_LINK_DAYS;
    const expiresAt = new Date(Math.floor((clock.now() + days * 86_400_000) / 1000) * 1000);
    const token = signPayToken(await payLinkKey(db), invoice.id, expiresAt);
    await recordAudit(db, actor, { action: 'invoice.pay_link', entityType: 'invoice', entityId: invoice.id, schoolId: invoice.schoolId, changes: { expiresAt: expiresAt.toISOString() } });
    return reply.code(201).send({ url: payUrl(options.config.publicUrl, token), expiresAt: expiresAt.toISOString() });
  });

  api.get('/pay-links/:token', {
    config: { policy: 'public' },
    schema: {
      tags: ['pay links'],
      summary: 'What a pay link opens: school, invoice number, amount due (no login)',
      params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
      response: { 200: Type.Ref('PayLinkView'), ...problemResponses(400, 404, 410) },
    },
  }, async (request): Promise<PayLinkView> => {
    const verified = verifyPayToken(await payLinkKey(db), request.params.token, new Date(clock.now()));
    if (verified === 'expired') {
      throw new AppError('LINK_EXPIRED', 'this pay link has expired: ask the school for a new one');
    }
    if (typeof verified === 'string') {
      throw notFound('pay link');
    }
    if (verified.kind === 'family') {
      const family = await familyDue(db, verified.familyId);
      if (family === undefined) {
        throw notFound('pay link');
      }
      return {
        kind: 'family',
        schoolName: family.schoolName,
        familyReference: family.reference,
        amountDue: family.owed,
        currency: family.currency,
        status: family.owed > 0 ? 'open' : 'paid',
        expiresAt: verified.expiresAt.toISOString(),
      };
    }
    const row = await db
      .selectFrom('invoices')
      .innerJoin('schools', 'schools.id', 'invoices.school_id')
      .select(['schools.name as schoolName', 'schools.currency', 'invoices.number', 'invoices.amount', 'invoices.paid_amount as paidAmount', 'invoices.cancelled_at as cancelledAt'])
      .where('invoices.id', '=', verified.invoiceId)
      .executeTakeFirst();
    if (row === undefined) {
      throw notFound('pay link');
    }
    const status = row.cancelledAt !== null ? 'cancelled' : row.paidAmount >= row.amount ? 'paid' : 'open';
    return {
      kind: 'invoice',
      schoolName: row.schoolName,
      invoiceNumber: row.number,
      amountDue: status === 'open' ? row.amount - row.paidAmount : 0,
      currency: row.currency,
      status,
      expiresAt: verified.expiresAt.toISOString(),
    };
  });
}
