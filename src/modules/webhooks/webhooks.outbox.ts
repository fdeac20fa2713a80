import { sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { ROLE_POLICY, ROLES } from '../../shared/policy.js';
import type { EventType } from './webhooks.events.js';

/**
 * The transactional outbox of outbound webhooks (SPEC §9). Every function here takes the
 * caller's transaction: the event is written with the change or not at all (a rolled-back
 * payment sends nothing; a committed one is always delivered).
 *
 * Cost when nobody listens: one probe of webhook_endpoints (a handful of rows) per call,
 * and nothing else — no event row, no JSON built. A bill run of 600 000 invoices with no
 * endpoint writes no extra row. With subscribers, each call is ONE insert-select: the
 * objects' JSON is built in SQL, an event row is written per object whose school has a
 * subscribed endpoint, and a delivery row per (event, subscribed endpoint), set-based
 * whatever the number of objects.
 *
 * Scoping, in SQL at fan-out: an endpoint receives an event only when its owner is an
 * active user whose role reads billing (ROLE_POLICY: billing:read) and may see the
 * event's school (every school, or one assigned to them), and the endpoint lists the
 * school (or lists none).
 */

const readsBilling = ROLES.filter((role) => ROLE_POLICY[role].permissions.has('billing:read'));
const ALL_SCHOOL_ROLES = readsBilling.filter((role) => ROLE_POLICY[role].schools === 'all');
const ASSIGNED_ROLES = readsBilling.filter((role) => ROLE_POLICY[role].schools === 'assigned');

/** True when endpoint `e` receives events of `type` from the school in `school` (a column or value). */
function subscribed(school: RawBuilder<unknown>, type: string): RawBuilder<boolean> {
  return sql<boolean>`e.deleted_at is null and e.enabled and ${type} = any(e.events)
    and (e.school_ids is null or ${school} = any(e.school_ids))
    and exists (select 1 from users u
                 where u.id = e.owner_id and u.is_active
                   and (u.role = any(${ALL_SCHOOL_ROLES}::text[])
                        or (u.role = any(${ASSIGNED_ROLES}::text[])
                            and exists (select 1 from user_schools us where us.user_id = u.id and us.school_id = ${school}))))`;
}

/** The cheap probe as an expression: is any endpoint subscribed to one of these types at all? */
export function anySubscriberSql(...types: EventType[]): RawBuilder<boolean> {
  return sql<boolean>`exists (select 1 from webhook_endpoints e where e.deleted_at is null and e.enabled and e.events && ${types}::text[])`;
}

/** The cheap probe: is any endpoint subscribed to one of these types at all? */
export async function anySubscriber(trx: DbOrTx, ...types: EventType[]): Promise<boolean> {
  const { rows } = await sql<{ any: boolean }>`select ${anySubscriberSql(...types)} as any`.execute(trx);
  return rows[0]?.any === true;
}

/**
 * Writes the events of `source` (a select of `school_id uuid, object_id text, data jsonb`)
 * and their deliveries. Answers how many events were written.
 */
async function publish(trx: DbOrTx, type: EventType, source: RawBuilder<unknown>): Promise<number> {
  if (!(await anySubscriber(trx, type))) {
    return 0;
  }
  const { rows } = await sql<{ events: number }>`
    with src as (${source}),
    ev as (
      insert into webhook_events (school_id, type, object_id, data)
      select src.school_id, ${type}, src.object_id, src.data
        from src
       where exists (select 1 from webhook_endpoints e where ${subscribed(sql`src.school_id`, type)})
      returning school_id, id, seq, object_id
    ),
    fan as (
      insert into webhook_deliveries (school_id, event_id, event_seq, endpoint_id, object_id)
      select ev.school_id, ev.id, ev.seq, e.id, ev.object_id
        from ev join webhook_endpoints e on ${subscribed(sql`ev.school_id`, type)}
    )
    select count(*)::int as events from ev`.execute(trx);
  return rows[0]?.events ?? 0;
}

const iso = (column: string) => sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

export interface ObjectRef {
  schoolId: string;
  id: string;
}

const refs = (objects: readonly ObjectRef[]) =>
  sql`unnest(${objects.map((o) => o.schoolId)}::uuid[], ${objects.map((o) => o.id)}::uuid[]) as r(school_id, id)`;

/** invoice.created (every new invoice, bill runs included), invoice.paid, invoice.overdue. */
export function publishInvoices(trx: DbOrTx, type: 'invoice.created' | 'invoice.paid' | 'invoice.overdue', invoices: readonly ObjectRef[]): Promise<number> {
  if (invoices.length === 0) {
    return Promise.resolve(0);
  }
  return publish(
    trx,
    type,
    sql`select i.school_id, i.id::text as object_id, webhook_invoice_json(i, s) as data
          from ${refs(invoices)}
          join invoices i on i.school_id = r.school_id and i.id = r.id
          join schools s on s.id = i.school_id`,
  );
}

/** invoice.paid for those of `invoices` that a posting just settled in full (status PAID). */
export function publishIfPaid(trx: DbOrTx, invoices: readonly ObjectRef[]): Promise<number> {
  if (invoices.length === 0) {
    return Promise.resolve(0);
  }
  return publish(
    trx,
    'invoice.paid',
    sql`select i.school_id, i.id::text as object_id, webhook_invoice_json(i, s) as data
          from ${refs(invoices)}
          join invoices i on i.school_id = r.school_id and i.id = r.id
          join schools s on s.id = i.school_id
         where i.cancelled_at is null and i.amount > 0 and i.paid_amount = i.amount`,
  );
}

/** payment.succeeded: each payment as GET /payments/:id shows it. */
export function publishPayments(trx: DbOrTx, payments: readonly ObjectRef[]): Promise<number> {
  if (payments.length === 0) {
    return Promise.resolve(0);
  }
  return publish(
    trx,
    'payment.succeeded',
    sql`select p.school_id, p.id::text as object_id, jsonb_build_object(
              'id', p.id, 'invoiceId', p.invoice_id, 'schoolId', p.school_id, 'studentId', i.student_id,
              'amount', p.amount,
              'refundedAmount', coalesce((select sum(f.amount) from refunds f where f.school_id = p.school_id and f.payment_id = p.id), 0),
              'currency', s.currency, 'method', p.method, 'reference', p.reference,
              'paidAt', ${iso('p.paid_at')}, 'createdAt', ${iso('p.created_at')},
              'receiptNumber', (select rc.number from receipts rc
                                 where rc.school_id = p.school_id
                                   and (rc.payment_id = p.id or (p.family_payment_id is not null and rc.family_payment_id = p.family_payment_id))
                                 limit 1)) as data
          from ${refs(payments)}
          join payments p on p.school_id = r.school_id and p.id = r.id
          join invoices i on i.school_id = p.school_id and i.id = p.invoice_id
          join schools s on s.id = p.school_id`,
  );
}

/** payment.failed: a gateway transaction that moved no money. */
export function publishFailedTransaction(trx: DbOrTx, transaction: ObjectRef): Promise<number> {
  return publish(
    trx,
    'payment.failed',
    sql`select t.school_id, t.id::text as object_id, jsonb_build_object(
              'id', t.id, 'schoolId', t.school_id, 'invoiceId', t.invoice_id, 'amount', t.amount, 'currency', s.currency,
              'method', t.method, 'status', t.status, 'failureCode', t.failure_code, 'failureMessage', t.failure_message,
              'gateway', t.gateway, 'createdAt', ${iso('t.created_at')}) as data
          from ${refs([transaction])}
          join transactions t on t.school_id = r.school_id and t.id = r.id
          join schools s on s.id = t.school_id`,
  );
}

/** refund.created. */
export function publishRefund(trx: DbOrTx, refund: ObjectRef): Promise<number> {
  return publish(
    trx,
    'refund.created',
    sql`select f.school_id, f.id::text as object_id, jsonb_build_object(
              'id', f.id, 'paymentId', f.payment_id, 'invoiceId', f.invoice_id, 'schoolId', f.school_id, 'amount', f.amount,
              'currency', s.currency, 'reason', f.reason, 'createdAt', ${iso('f.created_at')}) as data
          from ${refs([refund])}
          join refunds f on f.school_id = r.school_id and f.id = r.id
          join schools s on s.id = f.school_id`,
  );
}

/** credit_note.created. */
export function publishCreditNote(trx: DbOrTx, note: ObjectRef): Promise<number> {
  return publish(
    trx,
    'credit_note.created',
    sql`select a.school_id, a.id::text as object_id, jsonb_build_object(
              'id', a.id, 'invoiceId', a.invoice_id, 'schoolId', a.school_id, 'number', a.number, 'amount', a.amount,
              'currency', s.currency, 'reason', a.reason, 'createdAt', ${iso('a.created_at')}) as data
          from ${refs([note])}
          join invoice_adjustments a on a.school_id = r.school_id and a.id = r.id
          join schools s on s.id = a.school_id
         where a.kind = 'credit_note'`,
  );
}

/** reminder.sent: a reminder the delivery worker handed to its channel. */
export function publishReminderSent(trx: DbOrTx, message: ObjectRef): Promise<number> {
  return publish(
    trx,
    'reminder.sent',
    sql`select m.school_id, m.id::text as object_id, jsonb_build_object(
              'id', m.id, 'schoolId', m.school_id, 'familyId', m.family_id, 'invoiceId', m.invoice_id, 'guardianId', m.guardian_id,
              'template', m.template, 'channel', m.channel, 'language', m.language, 'recipient', m.recipient, 'subject', m.subject,
              'sentAt', ${iso('m.sent_at')}) as data
          from ${refs([message])}
          join messages m on m.school_id = r.school_id and m.id = r.id
         where m.kind = 'reminder' and m.sent_at is not null`,
  );
}

/** An event whose data the caller built (bill_run.finished: the run as the API presents it). */
export function publishObject(trx: DbOrTx, type: EventType, object: { schoolId: string; id: string; data: Record<string, unknown> }): Promise<number> {
  return publish(trx, type, sql`select ${object.schoolId}::uuid as school_id, ${object.id}::text as object_id, ${JSON.stringify(object.data)}::jsonb as data`);
}

/**
 * invoice.overdue of a school's collections day: regular invoices still open whose due
 * date passed in the last 7 days (the school's day), once per invoice (an invoice that
 * already has the event is skipped, so re-runs of the day publish nothing new).
 */
export function publishOverdue(trx: DbOrTx, school: { schoolId: string; day: string }): Promise<number> {
  return publish(
    trx,
    'invoice.overdue',
    sql`select i.school_id, i.id::text as object_id, webhook_invoice_json(i, s) as data
          from invoices i join schools s on s.id = i.school_id
         where i.school_id = ${school.schoolId} and i.cancelled_at is null and i.paid_amount < i.amount
           and i.due_date < ${school.day}::date and i.due_date >= ${school.day}::date - 7
           and not exists (select 1 from webhook_events w where w.school_id = i.school_id and w.type = 'invoice.overdue' and w.object_id = i.id::text)
         order by i.due_date, i.id
         limit 50000`,
  );
}
