import type { Db, DbOrTx } from '../../db/database.js';
import { notFound } from '../../shared/errors.js';
import { maskEmail, maskName, maskPhone } from '../../shared/masking.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import type { MessageFilter, MessageRow, MessagesRepository } from './messages.repository.js';
import type { Message } from './messages.schemas.js';

/**
 * The delivery log of a family or an invoice, and the outbox (SPEC §8). Scoped by school
 * like every read; for roles that see PII masked the recipient is masked and the text
 * (which names the student and carries a pay link) is left out.
 */
export function present(row: MessageRow, scope: Scope): Message {
  const { guardianFirstName, guardianLastName, createdAt, sentAt, ...rest } = row;
  const guardianName = guardianFirstName === null || guardianLastName === null ? null : scope.pii === 'clear' ? `${guardianFirstName} ${guardianLastName}` : maskName(guardianFirstName, guardianLastName);
  const masked = scope.pii !== 'clear';
  return {
    ...rest,
    guardianName,
    recipient: masked ? (row.channel === 'email' ? maskEmail(row.recipient) : maskPhone(row.recipient)) : row.recipient,
    subject: masked ? null : row.subject,
    body: masked ? '' : row.body,
    createdAt: createdAt.toISOString(),
    sentAt: sentAt === null ? null : sentAt.toISOString(),
  };
}

export function createMessagesService(deps: { db: Db; repo: MessagesRepository }) {
  const { db, repo } = deps;

  async function page(scope: Scope, filter: MessageFilter, query: { limit: number; cursor?: string | undefined }): Promise<Page<Message>> {
    const before = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
    const rows = await repo.list(db, scope, filter, { limit: query.limit, ...(before === undefined ? {} : { before }) });
    const result = toPage(rows, query.limit, (row) => [row.id]);
    return { ...result, data: result.data.map((row) => present(row, scope)) };
  }

  return {
    async familyMessages(scope: Scope, familyId: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Message>> {
      if (!(await repo.familyVisible(db, scope, familyId))) {
        throw notFound('family');
      }
      return page(scope, { familyId }, query);
    },

    async invoiceMessages(scope: Scope, invoiceId: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Message>> {
      if (!(await repo.invoiceVisible(db, scope, invoiceId))) {
        throw notFound('invoice');
      }
      return page(scope, { invoiceId }, query);
    },

    async outbox(scope: Scope, query: { schoolId?: string | undefined; limit: number; cursor?: string | undefined }): Promise<Page<Message>> {
      if (query.schoolId !== undefined && !(await repo.schoolVisible(db, scope, query.schoolId))) {
        throw notFound('school');
      }
      return page(scope, { outbox: true, ...(query.schoolId === undefined ? {} : { schoolId: query.schoolId }) }, query);
    },
  };
}

/**
 * A notice to a staff user (webhook_disabled: their endpoint was disabled), written to the
 * outbox of `schoolId` in the caller's transaction, once per `dedupeKey`. Staff users have
 * no address in Bursar, so it is never sent by a channel: it waits in GET /outbox for the
 * owner (recipient: their username). Answers false when it was there already.
 */
export async function queueStaffNotice(
  trx: DbOrTx,
  notice: { schoolId: string; kind: 'webhook_disabled'; dedupeKey: string; recipient: string; subject: string; body: string; language?: 'es' | 'en' },
): Promise<boolean> {
  const result = await trx
    .insertInto('messages')
    .values({
      school_id: notice.schoolId,
      kind: notice.kind,
      dedupe_key: notice.dedupeKey,
      family_id: null,
      guardian_id: null,
      invoice_id: null,
      template: null,
      day: null,
      channel: 'email',
      language: notice.language ?? 'en',
      recipient: notice.recipient.slice(0, 254),
      status: 'outbox',
      subject: notice.subject,
      body: notice.body,
      next_attempt_at: null,
      lease_until: null,
      last_error: null,
      provider_message_id: null,
      sent_at: null,
    })
    .onConflict((oc) => oc.columns(['school_id', 'dedupe_key']).doNothing())
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}
