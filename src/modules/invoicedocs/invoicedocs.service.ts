import type { Db } from '../../db/database.js';
import type { Language } from '../../db/types.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { localDate } from '../../shared/locale.js';
import { maskName, maskReference } from '../../shared/masking.js';
import type { Scope } from '../../shared/scope.js';
import type { InvoiceStatus } from '../billing/billing.schemas.js';
import type { BillingService } from '../billing/billing.service.js';
import type { InvoiceLineRow } from '../billing/invoices.repository.js';
import { studentName } from '../billing/students.repository.js';
import { maskFamilyName } from '../receipts/receipts.service.js';
import { createInvoiceDocsRepository, type InvoiceDocsRepository } from './invoicedocs.repository.js';
import { printedInvoicePayLink, type PrintedPayLink } from './paylink-qr.js';

/** Everything the printed invoice shows, names already as the reader may see them. */
export interface InvoiceDocument {
  invoiceId: string;
  number: string;
  kind: 'regular' | 'late_fee';
  status: InvoiceStatus;
  schoolName: string;
  schoolAddress: string | null;
  schoolPhone: string | null;
  currency: string;
  timeZone: string;
  /** The day it was issued (created), in the school's zone. */
  issuedOn: string;
  dueDate: string;
  description: string | null;
  student: string;
  familyName: string | null;
  /** The family's bank-transfer reference; last 4 characters for readers who see PII masked. */
  familyReference: string | null;
  /** The guardian this invoice is billed to, when instalments are split between payers. */
  billTo: string | null;
  lines: InvoiceLineRow[];
  amount: number;
  /** Cash received (payments − refunds + family credit applied). */
  paid: number;
  /** Credit notes and write-offs. */
  credited: number;
  /** Still open (0 when cancelled). */
  due: number;
  /** Pronto pago still on offer: pay `amountDue` by `payBy` and save `discount`. */
  earlyPayment: { discount: number; payBy: string; amountDue: number } | null;
  /** The link the QR code carries: only when something is due, and only for readers who may hand out pay links. */
  payLink: PrintedPayLink | null;
  generatedAt: Date;
}

export interface PrintableInvoice {
  document: InvoiceDocument;
  /** The payer's language, else the family's: the PDF's language when the request names none. */
  language: Language | null;
}

/**
 * The printed invoice (SPEC §7, issue 17): an invoice the caller may see (billing's
 * scope; 404 otherwise), with its student, family, reference and payer masked for roles
 * that see PII masked (as receipts mask them), and, while something is due, a pay link
 * for its QR code.
 */
export function createInvoiceDocsService(deps: { db: Db; billing: BillingService; publicUrl: string; clock: Clock; repository?: InvoiceDocsRepository }) {
  const { db, billing, publicUrl, clock } = deps;
  const repository = deps.repository ?? createInvoiceDocsRepository();

  return {
    /** `payLink`: whether the reader may be handed a link to pay it (staff who may make pay links, the family's own guardian). */
    async invoiceDocument(scope: Scope, id: string, options: { payLink: boolean }): Promise<PrintableInvoice> {
      const invoice = await billing.getInvoice(scope, id);
      const parties = await repository.parties(db, invoice);
      if (parties === undefined) {
        throw notFound('invoice');
      }
      const clear = scope.pii === 'clear';
      const person = (p: { firstName: string; lastName: string }) => (clear ? `${p.firstName} ${p.lastName}` : maskName(p.firstName, p.lastName));
      const { family, payer } = parties;
      const cancelled = invoice.cancelledAt !== null;
      const due = cancelled ? 0 : invoice.pendingAmount;
      const now = clock.now();
      const early = invoice.earlyPayment;
      return {
        document: {
          invoiceId: invoice.id,
          number: invoice.number,
          kind: invoice.kind,
          status: invoice.status,
          schoolName: parties.schoolName,
          schoolAddress: parties.schoolAddress,
          schoolPhone: parties.schoolPhone,
          currency: invoice.currency,
          timeZone: parties.timezone,
          issuedOn: localDate(invoice.createdAt, parties.timezone),
          dueDate: invoice.dueDate,
          description: invoice.description,
          student: studentName(parties.student.firstName, parties.student.lastName, scope),
          familyName: family === null ? null : clear ? family.name : maskFamilyName(family.name),
          familyReference: family === null ? null : clear ? family.reference : maskReference(family.reference),
          billTo: payer === null ? null : person(payer),
          lines: invoice.lines ?? [],
          amount: invoice.amount,
          paid: invoice.paidAmount,
          credited: invoice.creditedAmount,
          due,
          earlyPayment: early !== null && early.available ? { discount: early.discount, payBy: early.payBy, amountDue: early.amountDue } : null,
          payLink: options.payLink && due > 0 ? await printedInvoicePayLink(db, publicUrl, invoice.id, now) : null,
          generatedAt: new Date(now),
        },
        language: payer?.language ?? family?.language ?? null,
      };
    },
  };
}

export type InvoiceDocsService = ReturnType<typeof createInvoiceDocsService>;
