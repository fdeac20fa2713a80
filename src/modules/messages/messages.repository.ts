import { schoolVisible } from '../billing/schools.repository.js';
import type { DbOrTx } from '../../db/database.js';
import type { Language, MessageStatus, ReminderChannel } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';

export interface MessageRow {
  id: string;
  schoolId: string;
  familyId: string | null;
  invoiceId: string | null;
  invoiceNumber: string | null;
  guardianId: string | null;
  guardianFirstName: string | null;
  guardianLastName: string | null;
  kind: 'reminder' | 'invitation' | 'webhook_disabled';
  template: string | null;
  channel: ReminderChannel;
  language: Language;
  recipient: string;
  status: MessageStatus;
  subject: string | null;
  body: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

export type MessageFilter = { familyId: string; guardianId?: string } | { invoiceId: string } | { outbox: true; schoolId?: string };

export function createMessagesRepository() {
  return {
    /** Newest first (ids are time-ordered uuid v7), after `before` (exclusive), limit + 1 rows for toPage. */
    list(db: DbOrTx, scope: Scope, filter: MessageFilter, page: { limit: number; before?: string }): Promise<MessageRow[]> {
      return db
        .selectFrom('messages as m')
        .leftJoin('invoices as i', (join) => join.onRef('i.school_id', '=', 'm.school_id').onRef('i.id', '=', 'm.invoice_id'))
        .leftJoin('guardians as g', (join) => join.onRef('g.school_id', '=', 'm.school_id').onRef('g.id', '=', 'm.guardian_id'))
        .select([
          'm.id',
          'm.school_id as schoolId',
          'm.family_id as familyId',
          'm.invoice_id as invoiceId',
          'i.number as invoiceNumber',
          'm.guardian_id as guardianId',
          'g.first_name as guardianFirstName',
          'g.last_name as guardianLastName',
          'm.kind',
          'm.template',
          'm.channel',
          'm.language',
          'm.recipient',
          'm.status',
          'm.subject',
          'm.body',
          'm.attempts',
          'm.last_error as lastError',
          'm.created_at as createdAt',
          'm.sent_at as sentAt',
        ])
        .where((eb) => inScope(eb, 'm.school_id', scope))
        .$if('familyId' in filter, (qb) => qb.where('m.family_id', '=', 'familyId' in filter ? filter.familyId : ''))
        .$if('familyId' in filter && filter.guardianId !== undefined, (qb) => qb.where('m.guardian_id', '=', 'familyId' in filter ? (filter.guardianId ?? '') : ''))
        .$if('invoiceId' in filter, (qb) => qb.where('m.invoice_id', '=', 'invoiceId' in filter ? filter.invoiceId : ''))
        .$if('outbox' in filter, (qb) => qb.where('m.status', '=', 'outbox'))
        .$if('outbox' in filter && filter.schoolId !== undefined, (qb) => qb.where('m.school_id', '=', 'outbox' in filter ? (filter.schoolId ?? '') : ''))
        .$if(page.before !== undefined, (qb) => qb.where('m.id', '<', page.before ?? ''))
        .orderBy('m.id', 'desc')
        .limit(page.limit + 1)
        .execute();
    },

    async familyVisible(db: DbOrTx, scope: Scope, id: string): Promise<boolean> {
      const row = await db.selectFrom('families').select('id').where('id', '=', id).where('deleted_at', 'is', null).where((eb) => inScope(eb, 'school_id', scope)).executeTakeFirst();
      return row !== undefined;
    },

    async invoiceVisible(db: DbOrTx, scope: Scope, id: string): Promise<boolean> {
      const row = await db.selectFrom('invoices').select('id').where('id', '=', id).where((eb) => inScope(eb, 'school_id', scope)).executeTakeFirst();
      return row !== undefined;
    },

    schoolVisible,
  };
}

export type MessagesRepository = ReturnType<typeof createMessagesRepository>;
