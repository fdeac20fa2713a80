import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Language, ReminderChannel } from '../../db/types.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, forbidden, notFound } from '../../shared/errors.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { GuardianLink, Principal } from '../../shared/policy.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import { hashPassword } from '../auth/passwords.js';
import { normaliseUsername } from '../auth/auth.service.js';
import { createUsersRepository } from '../auth/users.repository.js';
import type { BillingService } from '../billing/billing.service.js';
import type { InvoiceRow, InvoicesRepository } from '../billing/invoices.repository.js';
import type { InvoiceStatus } from '../billing/billing.schemas.js';
import { initialDelivery } from '../messages/channels.js';
import { createMessagesRepository } from '../messages/messages.repository.js';
import { present as presentMessage } from '../messages/messages.service.js';
import type { Message } from '../messages/messages.schemas.js';
import type { FamilyStatementDocument, FamilyStatementService } from '../families/statement.service.js';
import type { FamilyStatementQuery } from '../families/statement.schemas.js';
import type { InvoiceDocsService, PrintableInvoice } from '../invoicedocs/invoicedocs.service.js';
import type { Receipt, ReceiptsService } from '../receipts/receipts.service.js';

/** The services the portal's downloads reuse: the printed invoice, the family statement and receipts. */
export interface PortalDocuments {
  invoiceDocs: InvoiceDocsService;
  statements: FamilyStatementService;
  receipts: ReceiptsService;
}

/**
 * The family portal's data (SPEC §8): everything is the family of the caller's guardian
 * (principal.guardian), looked up again on every request; another family's invoice is a
 * 404 like one that does not exist. Invitations: a one-time token, only its SHA-256
 * stored, sent as a message (outbox without SMTP), accepted once before it expires.
 */
export const INVITATION_DAYS = 7;

export interface PortalMe {
  guardian: { id: string; firstName: string; lastName: string; email: string | null; phone: string | null; preferredLanguage: Language; remindersOptOut: boolean };
  family: { id: string; name: string; reference: string; balance: { owed: number; credit: number } };
  school: { id: string; name: string; currency: string; timezone: string };
  students: { id: string; firstName: string; lastName: string; grade: string }[];
  nextDue: { invoiceId: string; number: string; dueDate: string; pendingAmount: number } | null;
}

/** A receipt the family can download (GET /portal/receipts). */
export interface PortalReceipt {
  number: string;
  paymentId: string;
  amount: number;
  method: string;
  paidAt: string;
}

const sha256 = (token: string) => createHash('sha256').update(token).digest();

function linkOf(principal: Principal): GuardianLink {
  if (principal.role !== 'guardian') {
    throw forbidden('the portal is for guardian users (a parent or payer); staff use the dashboard');
  }
  if (principal.guardian === null) {
    // The guardian was deleted after the user was made: nothing is theirs any more.
    throw notFound('guardian');
  }
  return principal.guardian;
}

export function createPortalService(deps: {
  db: Db;
  billing: BillingService;
  invoices: InvoicesRepository;
  publicUrl: string;
  sending: ReadonlySet<ReminderChannel>;
  documents?: PortalDocuments;
}) {
  const { db, billing, invoices } = deps;
  const messages = createMessagesRepository();
  const users = createUsersRepository();

  async function familyInvoice(principal: Principal, id: string): Promise<InvoiceRow> {
    const link = linkOf(principal);
    const { rows } = await sql<{ ok: boolean }>`select true as ok from family_invoices(${link.schoolId}::uuid, ${link.familyId}::uuid) fi where fi.id = ${id}::uuid`.execute(db);
    if (rows.length === 0) {
      throw notFound('invoice');
    }
    return billing.getInvoice(principal, id);
  }

  function documents(): PortalDocuments {
    if (deps.documents === undefined) {
      throw new Error('the portal service was made without its documents (createPortalService deps.documents)');
    }
    return deps.documents;
  }

  /** The guardian's own language: a document's language when the request names none. */
  async function guardianLanguage(link: GuardianLink): Promise<Language | null> {
    const row = await db.selectFrom('guardians').select('preferred_language as language').where('school_id', '=', link.schoolId).where('id', '=', link.guardianId).executeTakeFirst();
    return row?.language ?? null;
  }

  async function me(principal: Principal): Promise<PortalMe> {
      const link = linkOf(principal);
      const head = await db
        .selectFrom('guardians as g')
        .innerJoin('families as f', (join) => join.onRef('f.school_id', '=', 'g.school_id').onRef('f.id', '=', 'g.family_id'))
        .innerJoin('schools as s', 's.id', 'g.school_id')
        .select([
          'g.id',
          'g.first_name as firstName',
          'g.last_name as lastName',
          'g.email',
          'g.phone',
          'g.preferred_language as preferredLanguage',
          'g.reminders_opt_out as remindersOptOut',
          'f.id as familyId',
          'f.name as familyName',
          'f.reference',
          'f.credit_balance as credit',
          's.id as schoolId',
          's.name as schoolName',
          's.currency',
          's.timezone',
        ])
        .where('g.school_id', '=', link.schoolId)
        .where('g.id', '=', link.guardianId)
        .where('g.deleted_at', 'is', null)
        .where('f.deleted_at', 'is', null)
        .executeTakeFirst();
      if (!head) {
        throw notFound('family');
      }
      const students = await db
        .selectFrom('students')
        .select(['id', 'first_name as firstName', 'last_name as lastName', 'grade'])
        .where('school_id', '=', link.schoolId)
        .where('family_id', '=', link.familyId)
        .where('deleted_at', 'is', null)
        .orderBy('first_name')
        .orderBy('id')
        .limit(50)
        .execute();
      const { rows } = await sql<{ owed: string; next: { invoiceId: string; number: string; dueDate: string; pendingAmount: number } | null }>`
        select coalesce(sum(fi.amount - fi.paid_amount) filter (where fi.cancelled_at is null), 0)::text as owed,
               (select json_build_object('invoiceId', n.id, 'number', n.number, 'dueDate', to_char(n.due_date, 'YYYY-MM-DD'), 'pendingAmount', n.amount - n.paid_amount)
                  from family_invoices(${link.schoolId}::uuid, ${link.familyId}::uuid) n
                 where n.cancelled_at is null and n.paid_amount < n.amount
                 order by n.due_date, n.id limit 1) as next
          from family_invoices(${link.schoolId}::uuid, ${link.familyId}::uuid) fi`.execute(db);
      const { familyId, familyName, reference, credit, schoolId, schoolName, currency, timezone, ...guardian } = head;
      return {
        guardian,
        family: { id: familyId, name: familyName, reference, balance: { owed: Number(rows[0]?.owed ?? 0), credit: Number(credit) } },
        school: { id: schoolId, name: schoolName, currency, timezone },
        students,
        nextDue: rows[0]?.next ?? null,
      };
  }

  return {
    me,

    async invoices(principal: Principal, query: { limit: number; cursor?: string | undefined; status?: InvoiceStatus | undefined }): Promise<Page<InvoiceRow>> {
      const link = linkOf(principal);
      const afterId = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
      const rows = await invoices.list(db, principal, {
        limit: query.limit,
        family: link,
        schoolId: link.schoolId,
        ...(afterId === undefined ? {} : { afterId }),
        ...(query.status === undefined ? {} : { status: query.status }),
      });
      return toPage(rows, query.limit, (row) => [row.id]);
    },

    invoice: (principal: Principal, id: string) => familyInvoice(principal, id),

    /** One of the family's invoices to print (404 for any other), with its QR pay link while something is due; in clear. */
    async invoicePdf(principal: Principal, id: string): Promise<PrintableInvoice> {
      const link = linkOf(principal);
      await familyInvoice(principal, id);
      const printable = await documents().invoiceDocs.invoiceDocument(principal, id, { payLink: true });
      return { ...printable, language: (await guardianLanguage(link)) ?? printable.language };
    },

    /** The family's statement (as staff print it, with the family's pay link on the PDF); `language` is the guardian's. */
    async statement(principal: Principal, query: FamilyStatementQuery, print: { payLink: boolean }): Promise<{ document: FamilyStatementDocument; language: Language | null }> {
      const link = linkOf(principal);
      const document = await documents().statements.statement(principal, link.familyId, query, print);
      return { document, language: await guardianLanguage(link) };
    },

    /** The receipt of a payment on the family's invoices, or of one of its family payments (404 for any other). */
    async receipt(principal: Principal, id: string): Promise<Receipt & { language: Language | null }> {
      const link = linkOf(principal);
      const receipt = await documents().receipts.getReceipt(principal, id, { family: link });
      return { ...receipt, language: await guardianLanguage(link) };
    },

    /** The guardian's own messages (reminders and invitations), newest first. */
    /**
     * The family's receipts, newest first: one per family payment, and one per payment made
     * straight on one of the family's invoices; `paymentId` is what
     * GET /portal/payments/:id/receipt takes. Paged by the school's gapless receipt number.
     */
    async receipts(principal: Principal, query: { limit: number; cursor?: string | undefined }): Promise<Page<PortalReceipt>> {
      const link = linkOf(principal);
      const before = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.count])[0];
      const { rows } = await sql<PortalReceipt & { seq: number }>`
        select r.seq, r.number, coalesce(p.id, fp.id) as "paymentId", coalesce(p.amount, fp.amount)::int8 as amount,
               coalesce(p.method, fp.method) as method, coalesce(p.paid_at, fp.paid_at) as "paidAt"
          from receipts r
          left join payments p on r.payment_id is not null and p.school_id = r.school_id and p.id = r.payment_id
          left join family_payments fp on r.family_payment_id is not null and fp.school_id = r.school_id and fp.id = r.family_payment_id
         where r.school_id = ${link.schoolId}
           and (fp.family_id = ${link.familyId}
                or p.invoice_id in (select fi.id from family_invoices(${link.schoolId}::uuid, ${link.familyId}::uuid) fi))
           ${before === undefined ? sql`` : sql`and r.seq < ${before}`}
         order by r.seq desc
         limit ${query.limit + 1}`.execute(db);
      const page = toPage(rows, query.limit, (row) => [Number(row.seq)]);
      return { ...page, data: page.data.map(({ seq: _seq, paidAt, amount, ...row }) => ({ ...row, amount: Number(amount), paidAt: new Date(paidAt).toISOString() })) };
    },

    async messages(principal: Principal, query: { limit: number; cursor?: string | undefined }): Promise<Page<Message>> {
      const link = linkOf(principal);
      const before = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
      const rows = await messages.list(db, principal, { familyId: link.familyId, guardianId: link.guardianId }, { limit: query.limit, ...(before === undefined ? {} : { before }) });
      const mine = toPage(rows, query.limit, (row) => [row.id]);
      return { ...mine, data: mine.data.map((row) => presentMessage(row, principal)) };
    },

    /** PATCH /portal/me: the guardian's own reminder and language preferences (audited). */
    async updateMe(actor: Actor, body: { remindersOptOut?: boolean | undefined; preferredLanguage?: Language | undefined }): Promise<PortalMe> {
      const principal = requirePrincipal(actor);
      const link = linkOf(principal);
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('guardians')
          .set({
            ...(body.remindersOptOut === undefined ? {} : { reminders_opt_out: body.remindersOptOut }),
            ...(body.preferredLanguage === undefined ? {} : { preferred_language: body.preferredLanguage }),
            updated_at: sql<Date>`now()`,
          })
          .where('school_id', '=', link.schoolId)
          .where('id', '=', link.guardianId)
          .execute();
        await recordAudit(trx, actor, { action: 'guardian.preferences', entityType: 'guardian', entityId: link.guardianId, schoolId: link.schoolId, changes: { ...body } });
      });
      return me(principal);
    },

    /**
     * POST /guardians/:id/invite (staff, billing:write, the guardian's school in scope):
     * a one-time link to set a password, e-mailed in the guardian's language.
     */
    async invite(actor: Actor, guardianId: string, now: Date): Promise<{ id: string; guardianId: string; expiresAt: string; messageId: string; status: 'queued' | 'outbox' }> {
      const principal = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const guardian = await trx
          .selectFrom('guardians as g')
          .innerJoin('families as f', (join) => join.onRef('f.school_id', '=', 'g.school_id').onRef('f.id', '=', 'g.family_id'))
          .innerJoin('schools as s', 's.id', 'g.school_id')
          .select(['g.school_id as schoolId', 'g.id', 'g.family_id as familyId', 'g.first_name as firstName', 'g.email', 'g.preferred_language as language', 's.name as schoolName'])
          .where('g.id', '=', guardianId)
          .where('g.deleted_at', 'is', null)
          .where((eb) => inScope(eb, 'g.school_id', principal as Scope))
          .forUpdate('g')
          .executeTakeFirst();
        if (!guardian) {
          throw notFound('guardian');
        }
        if (guardian.email === null) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'the guardian has no e-mail address to send the invitation to', {
            errors: [{ field: 'id', in: 'params', message: 'add an e-mail address first (PATCH /guardians/:id {email})' }],
          });
        }
        const user = await trx.selectFrom('users').select('id').where('guardian_school_id', '=', guardian.schoolId).where('guardian_id', '=', guardian.id).executeTakeFirst();
        if (user) {
          throw new AppError('ALREADY_EXISTS', 'this guardian already has a portal login', { errors: [{ field: 'id', in: 'params', message: 'already has a user' }] });
        }
        const token = randomBytes(32).toString('base64url');
        const expiresAt = new Date(now.getTime() + INVITATION_DAYS * 86_400_000);
        const invitation = await trx
          .insertInto('guardian_invitations')
          .values({ school_id: guardian.schoolId, guardian_id: guardian.id, token_hash: sha256(token), expires_at: expiresAt, created_by: principal.userId })
          .returning('id')
          .executeTakeFirstOrThrow();
        const url = `${deps.publicUrl}/portal/welcome?invitation=${token}`;
        const es = guardian.language === 'es';
        const subject = es ? `Su acceso al portal de pagos de ${guardian.schoolName}` : `Your access to the ${guardian.schoolName} payment portal`;
        const body = es
          ? `Hola, ${guardian.firstName}:\n\n${guardian.schoolName} le invita al portal de pagos, donde verá el saldo de su familia, las facturas y los recibos, y podrá pagar en línea.\n\nElija su usuario y contraseña aquí (el enlace sirve una sola vez y vence en ${INVITATION_DAYS} días):\n${url}\n\nSi no esperaba este mensaje, ignórelo.`
          : `Hello ${guardian.firstName},\n\n${guardian.schoolName} invites you to its payment portal, where you can see your family's balance, invoices and receipts, and pay online.\n\nChoose your username and password here (the link works once and expires in ${INVITATION_DAYS} days):\n${url}\n\nIf you did not expect this message, please ignore it.`;
        const delivery = initialDelivery(deps.sending, 'email');
        const message = await trx
          .insertInto('messages')
          .values({
            school_id: guardian.schoolId,
            kind: 'invitation',
            dedupe_key: `invitation:${invitation.id}`,
            family_id: guardian.familyId,
            guardian_id: guardian.id,
            channel: 'email',
            language: guardian.language,
            recipient: guardian.email,
            subject,
            body,
            ...delivery,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        await recordAudit(trx, actor, { action: 'guardian.invite', entityType: 'guardian', entityId: guardian.id, schoolId: guardian.schoolId, changes: { invitationId: invitation.id, expiresAt: expiresAt.toISOString() } });
        return { id: invitation.id, guardianId: guardian.id, expiresAt: expiresAt.toISOString(), messageId: message.id, status: delivery.status };
      });
    },

    /** POST /auth/invitations/accept (no login): the guardian user is made, once; the client then signs in. */
    async accept(body: { token: string; username: string; password: string }, now: Date): Promise<{ userId: string; username: string }> {
      const passwordHash = await hashPassword(body.password);
      const username = normaliseUsername(body.username);
      return db.transaction().execute(async (trx) => {
        const invitation = await trx
          .selectFrom('guardian_invitations as i')
          .innerJoin('guardians as g', (join) => join.onRef('g.school_id', '=', 'i.school_id').onRef('g.id', '=', 'i.guardian_id'))
          .select(['i.school_id as schoolId', 'i.id', 'i.guardian_id as guardianId', 'i.expires_at as expiresAt', 'i.accepted_at as acceptedAt', 'g.deleted_at as guardianDeletedAt'])
          .where('i.token_hash', '=', sha256(body.token))
          .forUpdate('i')
          .executeTakeFirst();
        if (!invitation || invitation.guardianDeletedAt !== null) {
          throw new AppError('NOT_FOUND', 'this invitation link is not valid', { errors: [{ field: 'token', in: 'body', message: 'not a valid invitation' }] });
        }
        if (invitation.acceptedAt !== null) {
          throw new AppError('CONFLICT', 'this invitation was already used: sign in, or ask the school for a new one', { errors: [{ field: 'token', in: 'body', message: 'already used' }] });
        }
        if (invitation.expiresAt.getTime() <= now.getTime()) {
          throw new AppError('LINK_EXPIRED', 'this invitation has expired: ask the school for a new one', { errors: [{ field: 'token', in: 'body', message: 'expired' }] });
        }
        const taken = await trx.selectFrom('users').select(['id', 'username', 'guardian_id as guardianId']).where((eb) => eb.or([eb('username', '=', username), eb('guardian_id', '=', invitation.guardianId)])).execute();
        if (taken.some((user) => user.guardianId === invitation.guardianId)) {
          throw new AppError('CONFLICT', 'this guardian already has a portal login', { errors: [{ field: 'token', in: 'body', message: 'already has a user' }] });
        }
        if (taken.length > 0) {
          throw new AppError('ALREADY_EXISTS', 'this username is taken', { errors: [{ field: 'username', in: 'body', message: 'taken: choose another' }] });
        }
        const userId = await users.insert(trx, { username, passwordHash, role: 'guardian', guardian: { schoolId: invitation.schoolId, id: invitation.guardianId } });
        await trx.updateTable('guardian_invitations').set({ accepted_at: now, user_id: userId }).where('school_id', '=', invitation.schoolId).where('id', '=', invitation.id).execute();
        await recordAudit(trx, null, { action: 'guardian.invitation_accepted', entityType: 'guardian', entityId: invitation.guardianId, schoolId: invitation.schoolId, changes: { userId, username } });
        return { userId, username };
      });
    },
  };
}

export type PortalService = ReturnType<typeof createPortalService>;
