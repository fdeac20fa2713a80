import { addDays, formatDay, formatMoney, smsSize, SMS_LIMIT, toGsm7, type Language, type SmsSize } from './format.js';
import type { Tone } from './risk.js';

/**
 * Collection messages from templates: e-mail, SMS and WhatsApp, Spanish and English,
 * three tones. The facts (amounts, dates, names) are filled in by code, never typed by a
 * model; an LLM may only rephrase a draft, and its result is checked against the same
 * facts (see llm.ts).
 */
export type Channel = 'email' | 'sms' | 'whatsapp';

export interface OpenBill {
  number: string | null;
  dueDate: string;
  pending: number;
  overdue: boolean;
}

export interface MessageFacts {
  /** As the caller may see it: initials for masked roles. */
  studentName: string;
  schoolName: string | null;
  currency: string;
  /** Today in the school's time zone. */
  today: string;
  /** Open bills, oldest due first. */
  bills: OpenBill[];
  /** The family's payment reference for bank transfers (reminders). */
  familyReference?: string;
  /** Where to pay online: a pay link (reminders). */
  payUrl?: string;
  /** Pronto pago still on offer (reminders): pay `amount` by `by` and save `saving`. */
  earlyPayment?: { amount: number; by: string; saving: number };
}

export interface ComposedMessage {
  channel: Channel;
  language: Language;
  tone: Tone;
  subject: string | null;
  body: string;
  characters: number;
  sms: SmsSize | null;
  amounts: { outstanding: number; overdue: number; formattedOutstanding: string; formattedOverdue: string };
  currency: string;
  dueDates: { oldestOverdue: string | null; nextDue: string | null; payBy: string | null };
  /** Strings any rephrasing must keep verbatim (amounts and dates as written). */
  requiredPhrases: string[];
}

/** Days given to pay after a firm reminder or a final notice. */
export const PAY_WITHIN_DAYS: Record<Tone, number> = { friendly: 0, firm: 7, final_notice: 3 };
const MAX_LISTED_BILLS = 5;

const tr = (language: Language, en: string, es: string) => (language === 'es' ? es : en);

export function totalsOf(facts: MessageFacts) {
  const outstanding = facts.bills.reduce((sum, bill) => sum + bill.pending, 0);
  const overdueBills = facts.bills.filter((bill) => bill.overdue);
  const overdue = overdueBills.reduce((sum, bill) => sum + bill.pending, 0);
  const oldestOverdue = overdueBills.reduce<string | null>((min, bill) => (min === null || bill.dueDate < min ? bill.dueDate : min), null);
  const nextDue = facts.bills.filter((bill) => !bill.overdue).reduce<string | null>((min, bill) => (min === null || bill.dueDate < min ? bill.dueDate : min), null);
  return { outstanding, overdue, oldestOverdue, nextDue };
}

export function composeMessage(facts: MessageFacts, options: { channel: Channel; language: Language; tone: Tone }): ComposedMessage {
  const { channel, language, tone } = options;
  const { outstanding, overdue, oldestOverdue, nextDue } = totalsOf(facts);
  const money = (minor: number) => formatMoney(minor, facts.currency, language);
  const isOverdue = overdue > 0;
  const headline = isOverdue ? overdue : outstanding;
  const payBy = tone === 'friendly' ? (isOverdue ? null : nextDue) : isOverdue ? addDays(facts.today, PAY_WITHIN_DAYS[tone]) : nextDue;
  const headlineDate = isOverdue ? oldestOverdue : nextDue;
  const dayStyle: 'long' | 'short' = channel === 'email' ? 'long' : 'short';
  const day = (value: string) => formatDay(value, language, dayStyle);
  const school = facts.schoolName ?? tr(language, 'The school', 'La escuela');
  const student = facts.studentName;

  const base = {
    channel,
    language,
    tone,
    amounts: { outstanding, overdue, formattedOutstanding: money(outstanding), formattedOverdue: money(overdue) },
    currency: facts.currency,
    dueDates: { oldestOverdue, nextDue, payBy },
  };
  const required = [money(headline), ...(headlineDate ? [day(headlineDate)] : []), ...(payBy && payBy !== headlineDate ? [day(payBy)] : [])];

  if (channel === 'sms') {
    // The facts fit one segment; a pay link goes on its own line after them (a second segment).
    const body = composeSms(facts, { language, tone, isOverdue, headline, headlineDate, payBy }) + (facts.payUrl ? `\n${facts.payUrl}` : '');
    const requiredSms = [money(headline), ...(headlineDate ? [formatDay(headlineDate, language, 'short')] : [])].map(toGsm7);
    return { ...base, subject: null, body, characters: Array.from(body).length, sms: smsSize(body), requiredPhrases: requiredSms };
  }

  // What is owed, in one sentence.
  const owed = isOverdue
    ? tr(
        language,
        `a balance of ${money(overdue)} for ${student} has been overdue since ${day(oldestOverdue ?? facts.today)}`,
        `${student} tiene un saldo vencido de ${money(overdue)} desde el ${day(oldestOverdue ?? facts.today)}`,
      ) +
      (outstanding > overdue
        ? tr(language, ` (total outstanding, including bills not yet due: ${money(outstanding)})`, ` (saldo total, incluidas facturas por vencer: ${money(outstanding)})`)
        : '')
    : tr(language, `a payment of ${money(outstanding)} for ${student} is due on ${day(nextDue ?? facts.today)}`, `${student} tiene un pago de ${money(outstanding)} con vencimiento el ${day(nextDue ?? facts.today)}`);

  const opening: Record<Tone, string> = {
    friendly: tr(language, `This is a friendly reminder from ${school}: ${owed}.`, `Le enviamos un amable recordatorio de ${school}: ${owed}.`),
    firm: tr(language, `Our records at ${school} show that ${owed}.`, `Nuestros registros en ${school} indican que ${owed}.`),
    final_notice: tr(language, `FINAL NOTICE from ${school}: ${owed}.`, `AVISO FINAL de ${school}: ${owed}.`),
  };
  const ask: Record<Tone, string> = {
    friendly: isOverdue
      ? tr(language, 'If you have already paid, please disregard this message. If you need a payment plan, just reply and we will help.', 'Si ya realizó el pago, por favor ignore este mensaje. Si necesita un plan de pagos, responda y con gusto le ayudamos.')
      : tr(language, 'Thank you for paying on time. If you have already paid, please disregard this message.', 'Gracias por pagar a tiempo. Si ya realizó el pago, por favor ignore este mensaje.'),
    firm: tr(
      language,
      `Please pay ${money(headline)} by ${day(payBy ?? facts.today)}. If you cannot, contact us before that date to agree a payment plan.`,
      `Le pedimos pagar ${money(headline)} a más tardar el ${day(payBy ?? facts.today)}. Si no le es posible, contáctenos antes de esa fecha para acordar un plan de pagos.`,
    ),
    final_notice: tr(
      language,
      `Unless ${money(headline)} is paid or a payment plan is agreed by ${day(payBy ?? facts.today)}, the account will be referred to the school administration under its collection policy.`,
      `Si no se paga ${money(headline)} o se acuerda un plan de pagos a más tardar el ${day(payBy ?? facts.today)}, la cuenta se turnará a la administración escolar conforme a su política de cobranza.`,
    ),
  };

  const listed = facts.bills.slice(0, MAX_LISTED_BILLS);
  const lines = listed.map((bill) => {
    const label = bill.number ?? tr(language, 'Bill', 'Factura');
    const state = bill.overdue ? tr(language, 'overdue', 'vencida') : tr(language, 'due', 'vence');
    return `- ${label}: ${money(bill.pending)}, ${state} ${day(bill.dueDate)}`;
  });
  if (facts.bills.length > listed.length) {
    lines.push(tr(language, `- and ${facts.bills.length - listed.length} more`, `- y ${facts.bills.length - listed.length} más`));
  }

  if (channel === 'email') {
    const subjects: Record<Tone, string> = {
      friendly: tr(language, `Payment reminder: ${money(headline)} for ${student}`, `Recordatorio de pago: ${money(headline)} de ${student}`),
      firm: isOverdue
        ? tr(language, `Overdue balance of ${money(headline)} for ${student}`, `Saldo vencido de ${money(headline)} de ${student}`)
        : tr(language, `Payment due: ${money(headline)} for ${student}`, `Pago por vencer: ${money(headline)} de ${student}`),
      final_notice: tr(language, `Final notice: ${money(headline)} for ${student}`, `Aviso final: ${money(headline)} de ${student}`),
    };
    const body = [
      tr(language, `Dear family of ${student},`, `Estimada familia de ${student}:`),
      '',
      opening[tone],
      '',
      ...(lines.length > 0 ? [tr(language, 'Open bills:', 'Facturas pendientes:'), ...lines, ''] : []),
      ...(facts.earlyPayment
        ? [
            tr(
              language,
              `Pay ${money(facts.earlyPayment.amount)} by ${day(facts.earlyPayment.by)} and save ${money(facts.earlyPayment.saving)} (early payment discount).`,
              `Pague ${money(facts.earlyPayment.amount)} a más tardar el ${day(facts.earlyPayment.by)} y ahorre ${money(facts.earlyPayment.saving)} (descuento por pronto pago).`,
            ),
          ]
        : []),
      ...(facts.payUrl ? [tr(language, `Pay online: ${facts.payUrl}`, `Pague en línea: ${facts.payUrl}`)] : []),
      ...(facts.familyReference
        ? [tr(language, `For a bank transfer, use the reference ${facts.familyReference}.`, `Para pagar por transferencia, use la referencia ${facts.familyReference}.`)]
        : []),
      ...(facts.payUrl || facts.familyReference ? [''] : []),
      ask[tone],
      '',
      tr(language, 'Kind regards,', 'Atentamente,'),
      school,
    ].join('\n');
    return { ...base, subject: subjects[tone], body, characters: Array.from(body).length, sms: null, requiredPhrases: required };
  }

  // WhatsApp: short paragraphs, *bold* amounts, no long list.
  const bold = (text: string) => `*${text}*`;
  const owedWhatsApp = isOverdue
    ? tr(language, `${student} has ${bold(money(overdue))} overdue since ${day(oldestOverdue ?? facts.today)}.`, `${student} tiene ${bold(money(overdue))} vencidos desde el ${day(oldestOverdue ?? facts.today)}.`)
    : tr(language, `${student} has a payment of ${bold(money(outstanding))} due on ${day(nextDue ?? facts.today)}.`, `${student} tiene un pago de ${bold(money(outstanding))} que vence el ${day(nextDue ?? facts.today)}.`);
  const greeting: Record<Tone, string> = {
    friendly: tr(language, `Hello! A friendly reminder from ${school}.`, `¡Hola! Un amable recordatorio de ${school}.`),
    firm: tr(language, `Hello, this is ${school}.`, `Hola, le escribimos de ${school}.`),
    final_notice: tr(language, `${bold('FINAL NOTICE')} from ${school}.`, `${bold('AVISO FINAL')} de ${school}.`),
  };
  const payLine = [
    ...(facts.earlyPayment
        ? [
            tr(
              language,
              `Pay ${bold(money(facts.earlyPayment.amount))} by ${day(facts.earlyPayment.by)} and save ${money(facts.earlyPayment.saving)}.`,
              `Pague ${bold(money(facts.earlyPayment.amount))} a más tardar el ${day(facts.earlyPayment.by)} y ahorre ${money(facts.earlyPayment.saving)}.`,
            ),
          ]
        : []),
    ...(facts.payUrl ? [tr(language, `Pay here: ${facts.payUrl}`, `Pague aquí: ${facts.payUrl}`)] : []),
    ...(facts.familyReference ? [tr(language, `Transfer reference: ${facts.familyReference}`, `Referencia para transferencia: ${facts.familyReference}`)] : []),
  ];
  const body = [greeting[tone], owedWhatsApp, ...(payLine.length > 0 ? [payLine.join('\n')] : []), ask[tone]].join('\n\n');
  return { ...base, subject: null, body, characters: Array.from(body).length, sms: null, requiredPhrases: required };
}

/**
 * An SMS within one GSM-7 segment (160 septets): the longest variant that fits, from the
 * full sentence down to the bare facts, with names shortened last. Always GSM-7.
 */
function composeSms(
  facts: MessageFacts,
  p: { language: Language; tone: Tone; isOverdue: boolean; headline: number; headlineDate: string | null; payBy: string | null },
): string {
  const { language, tone, isOverdue } = p;
  const amount = formatMoney(p.headline, facts.currency, language);
  const date = p.headlineDate ? formatDay(p.headlineDate, language, 'short') : '';
  const payBy = p.payBy ? formatDay(p.payBy, language, 'short') : '';
  const variants = (school: string, student: string): string[] => {
    const prefix = tone === 'final_notice' ? tr(language, `${school} FINAL NOTICE: `, `${school} AVISO FINAL: `) : `${school}: `;
    const fact = isOverdue
      ? tr(language, `${student} has ${amount} overdue since ${date}.`, `${student} tiene ${amount} vencido desde el ${date}.`)
      : tr(language, `${student} has ${amount} due on ${date}.`, `${student} tiene un pago de ${amount} que vence el ${date}.`);
    const shortFact = isOverdue
      ? tr(language, `${student} owes ${amount} since ${date}.`, `${student} debe ${amount} desde ${date}.`)
      : tr(language, `${student}: ${amount} due ${date}.`, `${student}: ${amount} vence ${date}.`);
    const asks: Record<Tone, string[]> = {
      friendly: [tr(language, ' Already paid? Please ignore this. Thank you!', ' ¿Ya pagó? Ignore este mensaje. ¡Gracias!'), tr(language, ' Thanks!', ' ¡Gracias!'), ''],
      firm: [
        tr(language, ` Please pay by ${payBy} or call us to agree a plan.`, ` Pague a más tardar el ${payBy} o llámenos para acordar un plan.`),
        tr(language, ` Please pay by ${payBy}.`, ` Pague antes del ${payBy}.`),
        tr(language, ` Pay by ${payBy}.`, ` Pagar al ${payBy}.`),
      ],
      final_notice: [
        tr(language, ` Pay or agree a plan by ${payBy} to avoid referral to administration.`, ` Pague o acuerde un plan antes del ${payBy} para evitar turnarlo a administración.`),
        tr(language, ` Pay by ${payBy} or contact us.`, ` Pague antes del ${payBy} o contáctenos.`),
        tr(language, ` Pay by ${payBy}.`, ` Pagar al ${payBy}.`),
      ],
    };
    const out: string[] = [];
    for (const ask of asks[tone]) {
      out.push(prefix + fact + ask);
    }
    for (const ask of asks[tone]) {
      out.push(prefix + shortFact + ask);
    }
    return out;
  };
  const school = facts.schoolName ?? tr(language, 'School', 'Escuela');
  const candidates = [
    ...variants(school, facts.studentName),
    ...variants(truncate(school, 24), truncate(facts.studentName, 24)),
    ...variants(truncate(school, 12), initialsOf(facts.studentName)),
  ].map(toGsm7);
  const fitting = candidates.find((text) => smsSize(text).units <= SMS_LIMIT);
  if (fitting !== undefined) {
    return fitting;
  }
  // Only a pathological amount or date string can get here: cut, keep the facts first.
  const last = candidates[candidates.length - 1] ?? '';
  let text = last;
  while (smsSize(text).units > SMS_LIMIT) {
    text = Array.from(text).slice(0, -4).join('') + '...';
    text = text.replace(/\.{3}\.{3}$/, '...');
    if (text.length <= 3) {
      break;
    }
  }
  return text;
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text.trim());
  return chars.length <= max ? text.trim() : `${chars.slice(0, max - 1).join('').trimEnd()}.`;
}

function initialsOf(name: string): string {
  const parts = name.split(/\s+/).filter(Boolean);
  if (parts.length === 0) {
    return name;
  }
  return parts.map((part) => `${Array.from(part)[0] ?? ''}.`).join(' ');
}
