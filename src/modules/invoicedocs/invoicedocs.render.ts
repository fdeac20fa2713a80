import PDFDocument from 'pdfkit';
import { contentDisposition, downloadName } from '../../shared/filenames.js';
import { formatLocalTimestamp, INVOICE_STATUS_LABELS, type Language, type Localized } from '../../shared/locale.js';
import { formatMoney } from '../../shared/money.js';
import { createPdfTable, fitText, onePagePdf, TABLE_ROW_PADDING } from '../../shared/pdf-table.js';
import type { InvoiceDocument } from './invoicedocs.service.js';
import { drawPayLinkBlock, PAY_LINK_BLOCK_HEIGHT } from './paylink-qr.js';

/**
 * The printed invoice: ONE A4 page. The school's name and address; "Invoice
 * INV-000123" and its status; issue and due dates, the student, the family and its
 * bank-transfer reference, the guardian it is billed to; its lines (charges, late fees,
 * discounts as negative amounts); total, paid, credited and the amount due; the
 * early-payment offer while it stands; and, while something is due, a QR code of a pay
 * link with its URL under it. Words in the reader's language, amounts as the house
 * writes them ("MXN 4,500.00", src/shared/money.ts, as receipts and statements do),
 * times in the school's zone. Names arrive already masked for the reader.
 *
 * One page whatever the invoice: rows are one line each (a long description ends in …,
 * never an amount), and an invoice with more lines than the page holds sums the rest
 * in its last row.
 */

const WORDS = {
  invoice: { en: 'Invoice', es: 'Factura' },
  lateFeeInvoice: { en: 'Late-fee invoice', es: 'Factura de recargos' },
  phone: { en: 'Phone', es: 'Teléfono' },
  issued: { en: 'Issue date', es: 'Fecha de emisión' },
  dueDate: { en: 'Due date', es: 'Fecha de vencimiento' },
  student: { en: 'Student', es: 'Alumno' },
  family: { en: 'Family', es: 'Familia' },
  familyReference: { en: 'Family reference', es: 'Referencia familiar' },
  referenceHint: { en: 'quote it on every bank transfer', es: 'indíquela en cada transferencia bancaria' },
  billTo: { en: 'Billed to', es: 'A cargo de' },
  description: { en: 'Description', es: 'Concepto' },
  amount: { en: 'Amount', es: 'Importe' },
  more: { en: 'more lines', es: 'conceptos más' },
  total: { en: 'Total', es: 'Total' },
  paid: { en: 'Paid', es: 'Pagado' },
  credited: { en: 'Credited (credit notes, write-offs)', es: 'Acreditado (notas de crédito, condonaciones)' },
  due: { en: 'Amount due', es: 'Saldo a pagar' },
  cancelled: { en: 'This invoice is cancelled: nothing is due.', es: 'Esta factura está cancelada: no hay nada que pagar.' },
  paidInFull: { en: 'Paid in full. Thank you.', es: 'Pagada en su totalidad. Gracias.' },
  earlyPay: { en: 'Pay', es: 'Pague' },
  earlyBy: { en: 'by', es: 'a más tardar el' },
  earlySave: { en: 'and save', es: 'y ahorre' },
  earlyNote: { en: 'Early-payment discount, when the invoice is paid in full by that day.', es: 'Descuento por pronto pago, si la factura se paga completa a más tardar ese día.' },
  currency: { en: 'Currency', es: 'Moneda' },
  generatedAt: { en: 'Generated at', es: 'Generada el' },
  transfer: { en: 'Paying by bank transfer? Quote your family reference', es: '¿Paga por transferencia? Indique su referencia familiar' },
} as const satisfies Record<string, Localized>;

const MARGIN = 40;
const FONT = 'Helvetica';
const BOLD = 'Helvetica-Bold';
const GREY = '#555555';
const A4 = { width: 595.28, height: 841.89 };
const WIDTH = A4.width - 2 * MARGIN;
const TABLE_SIZE = 9;
const ROW_HEIGHT = 15;
const GAP = 8;
const STATUS_COLOURS: Readonly<Record<InvoiceDocument['status'], string>> = {
  PENDING: '#1f4e8c',
  PARTIAL: '#1f4e8c',
  OVERDUE: '#b00020',
  PAID: '#1b6e2e',
  CANCELLED: GREY,
};

/** `bursar-invoice-<school>-<number>-<YYYY-MM-DD>.pdf`, dated the day it was made in the school's zone. */
export function invoiceDisposition(invoice: InvoiceDocument, today: string): string {
  return contentDisposition(downloadName({ what: 'invoice', scope: [invoice.schoolName, invoice.number], asciiFallback: invoice.invoiceId.slice(0, 8), date: today, ext: 'pdf' }));
}

export function invoiceTitle(invoice: InvoiceDocument, language: Language): string {
  return `${(invoice.kind === 'late_fee' ? WORDS.lateFeeInvoice : WORDS.invoice)[language]} ${invoice.number}`;
}

/** Renders the invoice; resolves with the whole PDF (one page, a few kilobytes). */
export function invoicePdf(invoice: InvoiceDocument, language: Language): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    autoFirstPage: true,
    info: { Title: `${invoiceTitle(invoice, language)} · ${invoice.schoolName}`, Author: 'Bursar', Subject: 'invoice', CreationDate: invoice.generatedAt },
  });
  return onePagePdf(doc, () => draw(doc, invoice, language));
}

function draw(doc: PDFKit.PDFDocument, invoice: InvoiceDocument, language: Language): void {
  const left = MARGIN;
  const right = A4.width - MARGIN;
  const money = (minor: number) => formatMoney(minor, invoice.currency);
  // Nothing may start a second page: every piece is placed, and the bottom margin is ours.
  doc.page.margins.bottom = 0;
  const fitted = (text: string, width: number) => fitText(doc, text, width);
  const line = (y: number, weight = 0.5, color = '#999999') => {
    doc.moveTo(left, y).lineTo(right, y).lineWidth(weight).strokeColor(color).stroke().strokeColor('black');
  };

  // --- the school ---
  let y = MARGIN;
  doc.font(BOLD).fontSize(16).fillColor('black').text(fitted(invoice.schoolName, WIDTH), left, y, { lineBreak: false });
  y += 20;
  doc.font(FONT).fontSize(9).fillColor(GREY);
  const contact = [invoice.schoolAddress, invoice.schoolPhone === null ? null : `${WORDS.phone[language]}: ${invoice.schoolPhone}`].filter(
    (part): part is string => part !== null && part.trim() !== '',
  );
  for (const part of contact) {
    doc.text(fitted(part, WIDTH), left, y, { lineBreak: false });
    y += 12;
  }
  y += 8;
  line(y, 1, '#333333');
  y += 14;

  // --- the number and its status ---
  const status = INVOICE_STATUS_LABELS[invoice.status][language];
  doc.font(BOLD).fontSize(12);
  const statusWidth = doc.widthOfString(status);
  doc.fillColor(STATUS_COLOURS[invoice.status]).text(status, right - statusWidth, y + 6, { lineBreak: false });
  doc.font(BOLD).fontSize(20).fillColor('black').text(fitted(invoiceTitle(invoice, language), WIDTH - statusWidth - 2 * GAP), left, y, { lineBreak: false });
  y += 36;

  // --- dates and people ---
  const facts: [string, string, string?][] = [
    [WORDS.issued[language], invoice.issuedOn],
    [WORDS.dueDate[language], invoice.dueDate],
    [WORDS.student[language], invoice.student],
  ];
  if (invoice.familyName !== null) {
    facts.push([WORDS.family[language], invoice.familyName]);
  }
  if (invoice.familyReference !== null) {
    facts.push([WORDS.familyReference[language], invoice.familyReference, WORDS.referenceHint[language]]);
  }
  if (invoice.billTo !== null) {
    facts.push([WORDS.billTo[language], invoice.billTo]);
  }
  doc.fontSize(10).font(BOLD);
  const labelWidth = Math.max(...facts.map(([label]) => doc.widthOfString(`${label}:`))) + GAP * 2;
  for (const [label, value, hint] of facts) {
    doc.font(BOLD).fontSize(10).fillColor(GREY).text(`${label}:`, left, y, { lineBreak: false });
    doc.font(FONT).fillColor('black');
    const text = fitted(value, WIDTH - labelWidth);
    doc.text(text, left + labelWidth, y, { lineBreak: false });
    if (hint !== undefined) {
      const after = left + labelWidth + doc.widthOfString(text) + GAP;
      doc.fontSize(8).fillColor(GREY).text(fitted(`(${hint})`, right - after), after, y + 1.5, { lineBreak: false });
    }
    y += 15;
  }
  y += 14;

  // --- the lines ---
  doc.fontSize(TABLE_SIZE).font(BOLD);
  const amounts = [...invoice.lines.map((row) => row.amount), invoice.amount].map(money);
  const amountWidth = Math.ceil(Math.max(...amounts.map((text) => doc.widthOfString(text)), doc.widthOfString(WORDS.amount[language])));
  const table = createPdfTable(doc, {
    left,
    fontSize: TABLE_SIZE,
    gap: GAP,
    fixedRowHeight: ROW_HEIGHT,
    columns: [
      { title: WORDS.description[language], width: WIDTH - amountWidth - GAP, align: 'left', overflow: 'ellipsis' },
      { title: WORDS.amount[language], width: amountWidth, align: 'right', overflow: 'ellipsis' },
    ],
  });
  const row = (texts: string[], font: string, shade: boolean) => {
    doc.font(font).fontSize(TABLE_SIZE).fillColor('black');
    doc.y = y - TABLE_ROW_PADDING;
    table.drawRow(texts, ROW_HEIGHT, shade);
    y += ROW_HEIGHT;
  };
  row([WORDS.description[language], WORDS.amount[language]], BOLD, false);
  line(y - 4);

  // Room for the rows: what follows them (totals, the offer, the pay link, the footer) is reserved.
  const footTop = A4.height - MARGIN - 22;
  const totalsHeight = 100;
  const earlyHeight = invoice.earlyPayment === null ? 0 : 46;
  const payHeight = invoice.payLink === null ? 0 : PAY_LINK_BLOCK_HEIGHT + 28;
  const capacity = Math.max(1, Math.floor((footTop - 12 - totalsHeight - earlyHeight - payHeight - y) / ROW_HEIGHT));
  const rows = invoice.lines.length > 0 ? invoice.lines : [{ kind: 'charge' as const, code: '', description: invoice.description ?? '', amount: invoice.amount }];
  const shown = rows.length <= capacity ? rows : rows.slice(0, capacity - 1);
  shown.forEach((item, index) => row([item.description, money(item.amount)], FONT, index % 2 === 1));
  const hidden = rows.slice(shown.length);
  if (hidden.length > 0) {
    row([`… ${hidden.length} ${WORDS.more[language]}`, money(hidden.reduce((sum, item) => sum + item.amount, 0))], FONT, shown.length % 2 === 1);
  }
  line(y - 3, 0.8, '#333333');
  y += 6;

  // --- the totals: labels in a column of their own, amounts right-aligned under the lines' ---
  const totals: [string, string, number][] = [
    [WORDS.total[language], money(invoice.amount), 10],
    [WORDS.paid[language], money(invoice.paid), 10],
  ];
  if (invoice.credited > 0) {
    totals.push([WORDS.credited[language], money(invoice.credited), 10]);
  }
  totals.push([WORDS.due[language], money(invoice.due), 13]);
  doc.font(BOLD);
  const valueWidth = Math.max(...totals.map(([, value, size]) => doc.fontSize(size).widthOfString(value)));
  const labelRoom = Math.max(...totals.map(([label, , size]) => doc.fontSize(size).widthOfString(label)));
  const totalsLeft = right - valueWidth - 3 * GAP - labelRoom;
  totals.forEach(([label, value, size], index) => {
    const strong = index === 0 || index === totals.length - 1;
    if (index === totals.length - 1) {
      y += 3;
    }
    doc.font(strong ? BOLD : FONT).fontSize(size).fillColor('black');
    doc.text(label, totalsLeft, y, { lineBreak: false });
    doc.text(value, right - doc.widthOfString(value), y, { lineBreak: false });
    y += size + 5;
  });
  doc.font(FONT).fontSize(8).fillColor(GREY);
  const currency = `${WORDS.currency[language]}: ${invoice.currency}`;
  doc.text(currency, right - doc.widthOfString(currency), y, { lineBreak: false });
  if (invoice.status === 'CANCELLED' || invoice.due === 0) {
    // Said once, at the left of the totals: why nothing is due (and why there is no pay link).
    doc.font(BOLD).fontSize(10).fillColor(STATUS_COLOURS[invoice.status]);
    const note = invoice.status === 'CANCELLED' ? WORDS.cancelled[language] : WORDS.paidInFull[language];
    doc.text(fitted(note, totalsLeft - left - 2 * GAP), left, y - 30, { lineBreak: false });
  }
  doc.fillColor('black');
  y += 22;

  // --- pronto pago ---
  const early = invoice.earlyPayment;
  if (early !== null) {
    doc.rect(left, y, WIDTH, 36).fillColor('#eef5ec').fill();
    doc.fillColor('black').font(BOLD).fontSize(11);
    const offer = `${WORDS.earlyPay[language]} ${money(early.amountDue)} ${WORDS.earlyBy[language]} ${early.payBy} ${WORDS.earlySave[language]} ${money(early.discount)}`;
    doc.text(fitted(offer, WIDTH - 16), left + 8, y + 6, { lineBreak: false });
    doc.font(FONT).fontSize(8).fillColor(GREY).text(fitted(WORDS.earlyNote[language], WIDTH - 16), left + 8, y + 22, { lineBreak: false });
    doc.fillColor('black');
    y += earlyHeight;
  }

  // --- pay online ---
  if (invoice.payLink !== null) {
    y += 8;
    line(y - 4);
    y += 14;
    drawPayLinkBlock(doc, {
      link: invoice.payLink,
      left,
      y,
      width: WIDTH,
      language,
      timeZone: invoice.timeZone,
      facts: [`${WORDS.due[language]}: ${money(invoice.due)}`, invoiceTitle(invoice, language)],
    });
  }

  // --- footer, at the foot of the page ---
  line(footTop - 6);
  doc.font(FONT).fontSize(8).fillColor(GREY);
  if (invoice.familyReference !== null) {
    doc.text(fitted(`${WORDS.transfer[language]}: ${invoice.familyReference}`, WIDTH), left, footTop, { lineBreak: false });
  }
  doc.text(fitted(`${WORDS.generatedAt[language]} ${formatLocalTimestamp(invoice.generatedAt, invoice.timeZone)}`, WIDTH), left, footTop + 11, { lineBreak: false });
  doc.fillColor('black');
}
