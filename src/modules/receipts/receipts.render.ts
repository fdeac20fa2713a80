import PDFDocument from 'pdfkit';
import { contentDisposition as dispositionOf, downloadName, type DownloadName } from '../../shared/filenames.js';
import { formatLocalTimestamp, localDate, PAYMENT_METHOD_LABELS, type Language, type Localized } from '../../shared/locale.js';
import { formatMoney } from '../../shared/money.js';
import { createPdfTable, fitText, onePagePdf, TABLE_ROW_PADDING } from '../../shared/pdf-table.js';
import type { ReceiptDocument } from './receipts.schemas.js';

/**
 * The printed receipt: ONE A4 page a parent would keep. The school's name and address,
 * "Receipt MIR-2026-000123", who paid, for which students, what was paid for (one row
 * per invoice, the family credit, the total), the method and reference, the local date
 * and time with the zone, and the balance left. Words in the reader's language, amounts
 * as the house writes them ("MXN 4,500.00", src/shared/money.ts), times in the school's
 * zone (src/shared/locale.ts). Names arrive already masked for the reader.
 *
 * One page whatever the payment: cells are one line each (a long description or name
 * is shortened with …, never an amount), and when a family payment covers more
 * invoices than the page holds, the last row says how many more and what they took.
 */

const WORDS = {
  receipt: { en: 'Receipt', es: 'Recibo' },
  unnumbered: { en: '(recorded before receipts were numbered)', es: '(registrado antes de numerar los recibos)' },
  phone: { en: 'Phone', es: 'Teléfono' },
  receivedFrom: { en: 'Received from', es: 'Recibimos de' },
  student: { en: 'Student', es: 'Alumno' },
  students: { en: 'Students', es: 'Alumnos' },
  familyReference: { en: 'Family reference', es: 'Referencia familiar' },
  date: { en: 'Date', es: 'Fecha' },
  method: { en: 'Method', es: 'Forma de pago' },
  reference: { en: 'Payment reference', es: 'Referencia de pago' },
  paidFor: { en: 'What was paid for', es: 'Conceptos pagados' },
  invoice: { en: 'Invoice', es: 'Factura' },
  description: { en: 'Description', es: 'Concepto' },
  amount: { en: 'Amount', es: 'Importe' },
  credit: { en: 'Credit to the family account', es: 'Saldo a favor de la familia' },
  more: { en: 'more invoices', es: 'facturas más' },
  total: { en: 'Total received', es: 'Total recibido' },
  refunded: { en: 'Refunded since', es: 'Reembolsado después' },
  balance: { en: 'Balance left', es: 'Saldo pendiente' },
  asOf: { en: 'as of', es: 'al' },
  owed: { en: 'Still owed', es: 'Pendiente de pago' },
  familyCredit: { en: 'Family credit', es: 'Saldo a favor' },
  currency: { en: 'Currency', es: 'Moneda' },
  thanks: { en: 'Thank you for your payment.', es: 'Gracias por su pago.' },
  keep: {
    en: 'Please keep this receipt. Receipt numbers are sequential for each school.',
    es: 'Conserve este recibo. Los recibos de cada escuela se numeran de forma consecutiva.',
  },
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

/** `bursar-receipt-<school>-<number>-<YYYY-MM-DD>.pdf`, dated the day it was paid in the school's zone. */
export function receiptFilename(receipt: ReceiptDocument): DownloadName {
  return downloadName({
    what: 'receipt',
    scope: [receipt.schoolName, receipt.number ?? (receipt.paymentId ?? receipt.familyPaymentId ?? '').slice(0, 8)],
    asciiFallback: receipt.schoolId.slice(0, 8),
    date: localDate(new Date(receipt.paidAt), receipt.timeZone),
    ext: 'pdf',
  });
}

export const receiptDisposition = (receipt: ReceiptDocument) => dispositionOf(receiptFilename(receipt));

export function receiptTitle(receipt: ReceiptDocument, language: Language): string {
  return receipt.number === null ? WORDS.receipt[language] : `${WORDS.receipt[language]} ${receipt.number}`;
}

/** Renders the receipt; resolves with the whole PDF (one page, a few kilobytes). */
export function receiptPdf(receipt: ReceiptDocument, language: Language): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    autoFirstPage: true,
    info: { Title: `${receiptTitle(receipt, language)} · ${receipt.schoolName}`, Author: 'Bursar', Subject: 'payment receipt', CreationDate: new Date(receipt.balanceAsOf) },
  });
  return onePagePdf(doc, () => draw(doc, receipt, language));
}

function draw(doc: PDFKit.PDFDocument, receipt: ReceiptDocument, language: Language): void {
  const left = MARGIN;
  const right = A4.width - MARGIN;
  const money = (minor: number) => formatMoney(minor, receipt.currency);
  // Nothing may start a second page: every piece is placed, and the bottom margin is ours.
  doc.page.margins.bottom = 0;

  /** `text` on one line within `width`, shortened with … if it must be. */
  const fitted = (text: string, width: number) => fitText(doc, text, width);
  const line = (y: number, weight = 0.5, color = '#999999') => {
    doc.moveTo(left, y).lineTo(right, y).lineWidth(weight).strokeColor(color).stroke().strokeColor('black');
  };

  // --- the school ---
  let y = MARGIN;
  doc.font(BOLD).fontSize(16).fillColor('black');
  doc.text(receipt.schoolName, left, y, { width: WIDTH });
  y = doc.y + 2;
  doc.font(FONT).fontSize(9).fillColor(GREY);
  const contact = [receipt.schoolAddress, receipt.schoolPhone === null ? null : `${WORDS.phone[language]}: ${receipt.schoolPhone}`].filter(
    (part): part is string => part !== null && part.trim() !== '',
  );
  for (const part of contact) {
    doc.text(part, left, y, { width: WIDTH });
    y = doc.y;
  }
  y += 10;
  line(y, 1, '#333333');
  y += 14;

  // --- the receipt number ---
  doc.font(BOLD).fontSize(20).fillColor('black');
  const title = receiptTitle(receipt, language);
  doc.text(fitted(title, WIDTH), left, y, { lineBreak: false });
  if (receipt.number === null) {
    doc.font(FONT).fontSize(9).fillColor(GREY).text(WORDS.unnumbered[language], left, y + 24, { lineBreak: false });
    y += 12;
  }
  y += 34;

  // --- who, for whom, when, how ---
  const when = formatLocalTimestamp(new Date(receipt.paidAt), receipt.timeZone);
  const facts: [string, string][] = [[WORDS.receivedFrom[language], receipt.payer]];
  if (receipt.students.length > 0) {
    facts.push([(receipt.students.length === 1 ? WORDS.student : WORDS.students)[language], receipt.students.join(', ')]);
  }
  if (receipt.familyReference !== null) {
    facts.push([WORDS.familyReference[language], receipt.familyReference]);
  }
  facts.push([WORDS.date[language], when], [WORDS.method[language], PAYMENT_METHOD_LABELS[receipt.method][language]]);
  if (receipt.reference !== null) {
    facts.push([WORDS.reference[language], receipt.reference]);
  }
  doc.fontSize(10);
  doc.font(BOLD);
  const labelWidth = Math.max(...facts.map(([label]) => doc.widthOfString(`${label}:`))) + GAP * 2;
  for (const [label, value] of facts) {
    doc.font(BOLD).fillColor(GREY).text(`${label}:`, left, y, { lineBreak: false });
    doc.font(FONT).fillColor('black');
    // A list of students may take two lines; anything longer is shortened.
    const width = WIDTH - labelWidth;
    const text = doc.heightOfString(value, { width }) > 2 * doc.currentLineHeight(true) + 1 ? fitted(value, width * 2 - 20) : value;
    doc.text(text, left + labelWidth, y, { width, height: 2 * doc.currentLineHeight(true) + 1, ellipsis: true });
    y = Math.max(doc.y, y + doc.currentLineHeight(true)) + 4;
  }
  y += 14;

  // --- what was paid for ---
  doc.font(BOLD).fontSize(12).fillColor('black').text(WORDS.paidFor[language], left, y, { lineBreak: false });
  y += 20;
  doc.fontSize(TABLE_SIZE);
  const amounts = [...receipt.lines.map((row) => row.amount), receipt.credited, receipt.total].map(money);
  doc.font(BOLD);
  const amountWidth = Math.ceil(Math.max(...amounts.map((text) => doc.widthOfString(text)), doc.widthOfString(WORDS.amount[language])));
  doc.font(FONT);
  const numberWidth = Math.min(Math.ceil(Math.max(doc.widthOfString(WORDS.invoice[language]), ...receipt.lines.map((row) => doc.widthOfString(row.invoiceNumber)))) + 2, 110);
  const rest = WIDTH - numberWidth - amountWidth - 3 * GAP;
  const studentWidth = Math.floor(rest * 0.4);
  const descriptionWidth = rest - studentWidth;
  // One page, always: rows of one line each, a text too long for its column ends in … (the amounts are sized to fit).
  const table = createPdfTable(doc, {
    left,
    fontSize: TABLE_SIZE,
    gap: GAP,
    fixedRowHeight: ROW_HEIGHT,
    columns: [
      { title: WORDS.invoice[language], width: numberWidth, align: 'left', overflow: 'ellipsis' },
      { title: WORDS.student[language], width: studentWidth, align: 'left', overflow: 'ellipsis' },
      { title: WORDS.description[language], width: descriptionWidth, align: 'left', overflow: 'ellipsis' },
      { title: WORDS.amount[language], width: amountWidth, align: 'right', overflow: 'ellipsis' },
    ],
  });
  /** A row whose text starts at `y` (the table's padding above it), then `y` moves below it. */
  const row = (texts: string[], font: string, shade: boolean) => {
    doc.font(font).fontSize(TABLE_SIZE).fillColor('black');
    doc.y = y - TABLE_ROW_PADDING;
    table.drawRow(texts, ROW_HEIGHT, shade);
    y += ROW_HEIGHT;
  };
  row([WORDS.invoice[language], WORDS.student[language], WORDS.description[language], WORDS.amount[language]], BOLD, false);
  line(y - 4);

  // Room for the rows: what follows the table (credit, total, refunds, balance, footer) is reserved.
  const reserved = 150 + (receipt.credited > 0 ? ROW_HEIGHT : 0) + (receipt.refunded > 0 ? 16 : 0);
  const capacity = Math.max(1, Math.floor((A4.height - MARGIN - reserved - y) / ROW_HEIGHT));
  const shown = receipt.lines.length <= capacity ? receipt.lines : receipt.lines.slice(0, capacity - 1);
  shown.forEach((item, index) => {
    row([item.invoiceNumber, item.studentName, item.description ?? '', money(item.amount)], FONT, index % 2 === 1);
  });
  const hidden = receipt.lines.slice(shown.length);
  if (hidden.length > 0) {
    const sum = hidden.reduce((total, item) => total + item.amount, 0);
    row(['…', '', `${hidden.length} ${WORDS.more[language]}`, money(sum)], FONT, shown.length % 2 === 1);
  }
  if (receipt.credited > 0) {
    row(['', '', WORDS.credit[language], money(receipt.credited)], FONT, false);
  }
  line(y - 3, 0.8, '#333333');
  y += 2;
  doc.font(BOLD).fontSize(11);
  const totalText = money(receipt.total);
  doc.text(WORDS.total[language], left, y, { lineBreak: false });
  doc.text(totalText, right - doc.widthOfString(totalText), y, { lineBreak: false });
  y += 18;
  doc.font(FONT).fontSize(8).fillColor(GREY).text(`${WORDS.currency[language]}: ${receipt.currency}`, left, y, { lineBreak: false });
  y += 12;
  if (receipt.refunded > 0) {
    const refunded = `${WORDS.refunded[language]}: ${money(receipt.refunded)}`;
    doc.font(FONT).fontSize(9).fillColor('black').text(refunded, left, y, { lineBreak: false });
    y += 16;
  }
  y += 14;

  // --- the balance left ---
  doc.font(BOLD).fontSize(12).fillColor('black').text(WORDS.balance[language], left, y, { lineBreak: false });
  y += 18;
  const asOf = `${WORDS.asOf[language]} ${formatLocalTimestamp(new Date(receipt.balanceAsOf), receipt.timeZone)}`;
  const balance: [string, string][] = [[WORDS.owed[language], money(receipt.balanceLeft.owed)]];
  if (receipt.familyId !== null) {
    balance.push([WORDS.familyCredit[language], money(receipt.balanceLeft.credit)]);
  }
  doc.fontSize(10);
  const balanceLabel = Math.max(...balance.map(([label]) => doc.font(FONT).widthOfString(label))) + 3 * GAP;
  const balanceValue = Math.max(...balance.map(([, value]) => doc.font(BOLD).widthOfString(value)));
  for (const [label, value] of balance) {
    doc.font(FONT).text(label, left, y, { lineBreak: false });
    doc.font(BOLD).text(value, left + balanceLabel + balanceValue - doc.widthOfString(value), y, { lineBreak: false });
    y += 15;
  }
  doc.font(FONT).fontSize(8).fillColor(GREY).text(fitted(asOf, WIDTH), left, y + 1, { lineBreak: false });

  // --- footer, at the foot of the page ---
  const foot = A4.height - MARGIN - 22;
  line(foot - 6);
  doc.font(BOLD).fontSize(9).fillColor('black').text(WORDS.thanks[language], left, foot, { lineBreak: false });
  doc.font(FONT).fontSize(8).fillColor(GREY).text(fitted(WORDS.keep[language], WIDTH), left, foot + 12, { lineBreak: false });
  doc.fillColor('black');
}
