import { sql } from 'kysely';
import type { Config } from '../../config.js';
import type { DbOrTx } from '../../db/database.js';
import type { Language, ReminderChannel, ReminderStep, ReminderTemplate } from '../../db/types.js';
import { addDays } from '../assistant/format.js';
import { composeMessage, type OpenBill } from '../assistant/messages.js';
import type { Tone } from '../assistant/risk.js';
import { configuredChannels, initialDelivery } from '../messages/channels.js';
import { payLinkKey, payUrl, signPayToken } from '../paylinks/paylinks.tokens.js';

/**
 * The reminders of a school day (SPEC §8 "Reminders"): for each step of the school's
 * policy, every open regular invoice due exactly `offsetDays` before `day` (a step is sent
 * on its day, not later) gets one message per guardian who pays it — the invoice's payer
 * when its instalments are split between payers, else every guardian of the family (the
 * invoice's, or its student's for an invoice typed in by hand) — in
 * the guardian's language, with the amount, the due date, the family reference and a pay
 * link. Guardians who opted out, or have no address for the step's channel, are skipped
 * (and counted).
 *
 * Exactly once: each message's dedupe_key is reminder:<invoice>:<guardian>:<offset>:<channel>,
 * unique per school, and rows are inserted with `on conflict do nothing`; a re-run or a
 * concurrent run of the day inserts nothing again (the second waits for the first's
 * transaction on the unique index, then skips).
 */
export interface ReminderSettings {
  /** Channels with an adapter: their messages are queued for sending; any other lands in the outbox. */
  sending: ReadonlySet<ReminderChannel>;
  /** The base of pay links. */
  publicUrl: string;
}

export function reminderSettings(config: Pick<Config, 'messaging' | 'publicUrl'>): ReminderSettings {
  return { sending: configuredChannels(config), publicUrl: config.publicUrl };
}

export interface ReminderTotals {
  sent: number;
  skipped: number;
}

/** The tone of the shared message templates (src/modules/assistant/messages.ts) each reminder template uses. */
export const TEMPLATE_TONE: Record<ReminderTemplate, Tone> = { upcoming: 'friendly', due: 'friendly', overdue: 'firm', final_notice: 'final_notice' };

/** A pay link in a reminder stays valid this long after the reminder's day. */
export const REMINDER_LINK_DAYS = 30;

const INSERT_CHUNK = 500;

interface DueInvoice {
  id: string;
  number: string;
  dueDate: string;
  open: number;
  familyId: string | null;
  payerGuardianId: string | null;
  studentName: string;
  reference: string | null;
  feeNumber: string | null;
  feeDueDate: string | null;
  feeOpen: number | null;
  /** Pronto pago still on offer on the reminder's day. */
  earlyPayment: { amount: number; by: string; saving: number } | null;
}

interface Recipient {
  id: string;
  familyId: string;
  email: string | null;
  phone: string | null;
  language: Language;
  optedOut: boolean;
}

export async function findReminderSteps(db: DbOrTx, schoolId: string): Promise<ReminderStep[]> {
  const row = await db.selectFrom('reminder_policies').select('steps').where('school_id', '=', schoolId).where('enabled', '=', true).executeTakeFirst();
  return row?.steps ?? [];
}

export async function sendReminders(trx: DbOrTx, schoolId: string, day: string, settings: ReminderSettings): Promise<ReminderTotals> {
  const steps = await findReminderSteps(trx, schoolId);
  if (steps.length === 0) {
    return { sent: 0, skipped: 0 };
  }
  const school = await trx.selectFrom('schools').select(['name', 'currency']).where('id', '=', schoolId).executeTakeFirstOrThrow();
  const dueDates = [...new Set(steps.map((step) => addDays(day, -step.offsetDays)))];

  const { rows: invoices } = await sql<DueInvoice>`
    select i.id, i.number, to_char(i.due_date, 'YYYY-MM-DD') as "dueDate", (i.amount - i.paid_amount)::int8 as open,
           coalesce(i.family_id, s.family_id) as "familyId", i.payer_guardian_id as "payerGuardianId",
           s.first_name || ' ' || s.last_name as "studentName", f.reference,
           lf.number as "feeNumber", to_char(lf.due_date, 'YYYY-MM-DD') as "feeDueDate", (lf.amount - lf.paid_amount)::int8 as "feeOpen",
           case when i.early_discount > 0 and not i.early_applied and i.early_by >= ${day}::date
                     and i.early_discount < i.amount - i.paid_amount
                then json_build_object('amount', i.amount - i.paid_amount - i.early_discount, 'by', to_char(i.early_by, 'YYYY-MM-DD'), 'saving', i.early_discount)
           end as "earlyPayment"
      from invoices i
      join students s on s.school_id = i.school_id and s.id = i.student_id
      left join families f on f.school_id = i.school_id and f.id = coalesce(i.family_id, s.family_id)
      left join invoices lf on lf.school_id = i.school_id and lf.related_invoice_id = i.id
                           and lf.cancelled_at is null and lf.paid_amount < lf.amount
     where i.school_id = ${schoolId} and i.kind = 'regular' and i.cancelled_at is null and i.paid_amount < i.amount
       and i.due_date = any (${dueDates}::date[])
       -- A re-run of the day: an invoice that has its reminders of the day (one run writes
       -- them all, in one transaction) is not composed again. The unique dedupe key still
       -- decides what is written when runs overlap.
       and not exists (select 1 from messages m where m.school_id = i.school_id and m.invoice_id = i.id and m.kind = 'reminder' and m.day = ${day}::date)
     order by i.due_date, i.id`.execute(trx);
  if (invoices.length === 0) {
    return { sent: 0, skipped: 0 };
  }

  const familyIds = [...new Set(invoices.map((invoice) => invoice.familyId).filter((id): id is string => id !== null))];
  const guardians =
    familyIds.length === 0
      ? []
      : await trx
          .selectFrom('guardians')
          .select(['id', 'family_id as familyId', 'email', 'phone', 'preferred_language as language', 'reminders_opt_out as optedOut'])
          .where('school_id', '=', schoolId)
          .where('family_id', 'in', familyIds)
          .where('deleted_at', 'is', null)
          .orderBy('family_id')
          .orderBy('is_primary', 'desc')
          .orderBy('id')
          .execute();
  const byFamily = new Map<string, Recipient[]>();
  for (const guardian of guardians) {
    byFamily.set(guardian.familyId, [...(byFamily.get(guardian.familyId) ?? []), guardian]);
  }

  const key = await payLinkKey(trx);
  const linkExpiry = new Date(`${addDays(day, REMINDER_LINK_DAYS)}T23:59:59Z`);
  let skipped = 0;
  const rows: {
    school_id: string;
    kind: 'reminder';
    dedupe_key: string;
    family_id: string | null;
    guardian_id: string;
    invoice_id: string;
    template: ReminderTemplate;
    day: string;
    channel: ReminderChannel;
    language: Language;
    recipient: string;
    status: 'queued' | 'outbox';
    subject: string | null;
    body: string;
    next_attempt_at: Date | null;
  }[] = [];

  for (const invoice of invoices) {
    const family = invoice.familyId === null ? [] : (byFamily.get(invoice.familyId) ?? []);
    const recipients = invoice.payerGuardianId === null ? family : family.filter((guardian) => guardian.id === invoice.payerGuardianId);
    const bills: OpenBill[] = [{ number: invoice.number, dueDate: invoice.dueDate, pending: Number(invoice.open), overdue: invoice.dueDate < day }];
    if (invoice.feeNumber !== null && invoice.feeDueDate !== null && invoice.feeOpen !== null) {
      bills.push({ number: invoice.feeNumber, dueDate: invoice.feeDueDate, pending: Number(invoice.feeOpen), overdue: invoice.feeDueDate < day });
    }
    const link = payUrl(settings.publicUrl, signPayToken(key, invoice.id, linkExpiry));
    for (const step of steps) {
      if (addDays(day, -step.offsetDays) !== invoice.dueDate) {
        continue;
      }
      if (recipients.length === 0) {
        skipped += 1;
        continue;
      }
      for (const guardian of recipients) {
        const address = step.channel === 'email' ? guardian.email : guardian.phone;
        if (guardian.optedOut || address === null || address.trim() === '') {
          skipped += 1;
          continue;
        }
        const dedupeKey = `reminder:${invoice.id}:${guardian.id}:${step.offsetDays}:${step.channel}`;
        const message = composeMessage(
          {
            studentName: invoice.studentName,
            schoolName: school.name,
            currency: school.currency,
            today: day,
            bills,
            payUrl: link,
            ...(invoice.earlyPayment === null ? {} : { earlyPayment: { ...invoice.earlyPayment, amount: Number(invoice.earlyPayment.amount), saving: Number(invoice.earlyPayment.saving) } }),
            ...(invoice.reference === null ? {} : { familyReference: invoice.reference }),
          },
          { channel: step.channel, language: guardian.language, tone: TEMPLATE_TONE[step.template] },
        );
        rows.push({
          school_id: schoolId,
          kind: 'reminder',
          dedupe_key: dedupeKey,
          family_id: invoice.familyId,
          guardian_id: guardian.id,
          invoice_id: invoice.id,
          template: step.template,
          day,
          channel: step.channel,
          language: guardian.language,
          recipient: address.trim(),
          subject: message.subject,
          body: message.body,
          ...initialDelivery(settings.sending, step.channel),
        });
      }
    }
  }

  let sent = 0;
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    const inserted = await trx
      .insertInto('messages')
      .values(rows.slice(start, start + INSERT_CHUNK))
      .onConflict((oc) => oc.columns(['school_id', 'dedupe_key']).doNothing())
      .returning('id')
      .execute();
    sent += inserted.length;
  }
  return { sent, skipped };
}
