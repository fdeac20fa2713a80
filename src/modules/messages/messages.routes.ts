import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { pageOf } from '../billing/billing.schemas.js';
import { createMessagesRepository } from './messages.repository.js';
import { IdParams, MessageListQuery, OutboxQuery } from './messages.schemas.js';
import { createMessagesService } from './messages.service.js';

/** The delivery log and the outbox (SPEC §8): billing:read, scoped by school. */
export default function messagesRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createMessagesService({ db: options.db, repo: createMessagesRepository() });
  const tags = ['messages'];

  api.get('/families/:id/messages', {
    config: { policy: 'billing:read' },
    schema: {
      tags: [...tags, 'families'],
      summary: 'The family’s delivery log: every reminder to its guardians and what became of it, newest first',
      params: IdParams,
      querystring: MessageListQuery,
      response: { 200: pageOf('Message'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.familyMessages(principalOf(request), request.params.id, { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.get('/invoices/:id/messages', {
    config: { policy: 'billing:read' },
    schema: {
      tags: [...tags, 'invoices'],
      summary: 'The reminders sent about one invoice, newest first',
      params: IdParams,
      querystring: MessageListQuery,
      response: { 200: pageOf('Message'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.invoiceMessages(principalOf(request), request.params.id, { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.get('/outbox', {
    config: { policy: 'billing:read' },
    schema: {
      tags,
      summary: 'What the outbox holds: messages whose channel is not configured, newest first (of one school, or of every school you see)',
      querystring: OutboxQuery,
      response: { 200: pageOf('Message'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.outbox(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));
}
