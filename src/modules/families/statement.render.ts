import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import PDFDocument from 'pdfkit';
import { createCsvStringifier, createPeopleCsv, csvComment, csvHeadLine, CsvNumber, type CsvColumn, type ExportStyle, type PeopleColumn } from '../../shared/csv.js';
import { contentDisposition, downloadName } from '../../shared/filenames.js';
import { formatLocalTimestamp, INVOICE_STATUS_LABELS, PAYMENT_METHOD_LABELS, type Language, type Localized } from '../../shared/locale.js';
import { formatMoney, minorToDecimal } from '../../shared/money.js';
import { drawPayLinkBlock, PAY_LINK_BLOCK_MIN_WIDTH, PAY_LINK_BLOCK_WIDTH } from '../invoicedocs/paylink-qr.js';
import { createPdfTable, TABLE_BOLD, TABLE_FONT, TABLE_GAP, TABLE_ROW_PADDING, type TableColumn } from '../../shared/pdf-table.js';
import type { EntryKind, FamilyStatement, FamilyStatementEntry } from './statement.schemas.js';
import type { FamilyStatementDocument } from './statement.service.js';

/**
 * The family statement for people (CSV `style=people`, the default, and the PDF) and
 * for machines (CSV `style=raw`). A statement is bounded (MAX_FAMILY_STATEMENT_ENTRIES),
 * so both are drawn from the statement in memory. Names arrive already masked for the
 * reader. Words are in the reader's language, amounts in currency units ("MXN 4,500.00"),
 * days and times in the school's zone.
 */

export interface FamilyRenderOptions {
  language: Language;
  style: ExportStyle;
}

const WORDS = {
  title: { en: 'Family statement', es: 'Estado de cuenta familiar' },
  school: { en: 'School', es: 'Escuela' },
  address: { en: 'Address', es: 'Dirección' },
  phone: { en: 'Phone', es: 'Teléfono' },
  family: { en: 'Family', es: 'Familia' },
  reference: { en: 'Payment reference', es: 'Referencia de pago' },
  referenceHint: {
    en: 'Quote this reference on every bank transfer.',
    es: 'Indique esta referencia en cada transferencia bancaria.',
  },
  guardian: { en: 'Guardian', es: 'Tutor' },
  students: { en: 'Students', es: 'Alumnos' },
  period: { en: 'Period', es: 'Periodo' },
  open: { en: 'open', es: 'abierto' },
  to: { en: 'to', es: 'a' },
  currency: { en: 'Currency', es: 'Moneda' },
  generatedAt: { en: 'Generated at', es: 'Generado el' },
  summary: { en: 'Summary', es: 'Resumen' },
  openingBalance: { en: 'Opening balance', es: 'Saldo inicial' },
  closingBalance: { en: 'Closing balance', es: 'Saldo final' },
  invoiced: { en: 'Invoiced', es: 'Facturado' },
  paid: { en: 'Paid', es: 'Pagado' },
  refunded: { en: 'Refunded', es: 'Reembolsado' },
  creditNotes: { en: 'Credit notes', es: 'Notas de crédito' },
  writeOffs: { en: 'Written off', es: 'Condonado' },
  creditHeld: { en: 'Family credit held', es: 'Saldo a favor de la familia' },
  owed: { en: 'Owed on invoices', es: 'Adeudo en facturas' },
  balanceNote: {
    en: 'Balance = what the invoices still owe - the family’s credit. A negative balance is money in the family’s favour. Invoices count on their due date; cancelled invoices count nothing.',
    es: 'Saldo = lo que adeudan las facturas - el saldo a favor de la familia. Un saldo negativo es dinero a favor de la familia. Las facturas cuentan en su fecha de vencimiento; las canceladas no cuentan.',
  },
  movements: { en: 'Movements', es: 'Movimientos' },
  noMovements: { en: 'No movements in this period.', es: 'No hay movimientos en este periodo.' },
  truncated: {
    en: 'Only the first movements of the period are listed; the closing balance counts them all.',
    es: 'Solo se listan los primeros movimientos del periodo; el saldo final los cuenta todos.',
  },
  periodTotals: { en: 'Totals of the period', es: 'Totales del periodo' },
  note: { en: 'Note', es: 'Nota' },
  page: { en: 'Page', es: 'Página' },
  of: { en: 'of', es: 'de' },
  date: { en: 'Date', es: 'Fecha' },
  movement: { en: 'Movement', es: 'Movimiento' },
  student: { en: 'Student', es: 'Alumno' },
  invoice: { en: 'Invoice', es: 'Factura' },
  detail: { en: 'Detail', es: 'Detalle' },
  charge: { en: 'Charges', es: 'Cargos' },
  credited: { en: 'Credited', es: 'Acreditado' },
  credit: { en: 'Payments and credits', es: 'Abonos' },
  balance: { en: 'Balance', es: 'Saldo' },
  receipt: { en: 'receipt', es: 'recibo' },
  toCredit: { en: 'to family credit', es: 'a saldo a favor' },
  creditUsed: { en: 'family credit used', es: 'saldo a favor aplicado' },
  cancelled: { en: 'counts nothing', es: 'no cuenta' },
  owedToday: { en: 'Owed today', es: 'Adeudo al día de hoy' },
} as const satisfies Record<string, Localized>;

export const ENTRY_LABELS: Readonly<Record<EntryKind, Localized>> = {
  invoice: { en: 'Invoice', es: 'Factura' },
  payment: { en: 'Payment', es: 'Pago' },
  family_payment: { en: 'Family payment', es: 'Pago familiar' },
  refund: { en: 'Refund', es: 'Reembolso' },
  credit_note: { en: 'Credit note', es: 'Nota de crédito' },
  write_off: { en: 'Write-off', es: 'Condonación' },
  waiver: { en: 'Late fee waived', es: 'Recargo condonado' },
  credit_applied: { en: 'Credit applied', es: 'Saldo a favor aplicado' },
};

// --- file names ------------------------------------------------------------------------

/** `bursar-family-statement-<school>-<family>-<YYYY-MM-DD>.<ext>`, dated in the school's zone; the family as this reader sees it. */
export function familyStatementDisposition(document: FamilyStatementDocument, extension: 'csv' | 'pdf'): string {
  const { body } = document;
  return contentDisposition(
    downloadName({ what: 'family-statement', scope: [body.schoolName, body.familyName], asciiFallback: body.reference, date: document.today, ext: extension }),
  );
}

// --- words shared by CSV and PDF ---------------------------------------------------------

function periodText(statement: FamilyStatement, language: Language): string {
  return `${statement.period.from ?? WORDS.open[language]} ${WORDS.to[language]} ${statement.period.to ?? WORDS.open[language]}`;
}

/** What a person needs to know about an entry besides its kind, student, invoice and amounts. */
export function entryDetail(entry: FamilyStatementEntry, currency: string, language: Language): string {
  const parts: string[] = [];
  const money = (minor: number) => formatMoney(minor, currency);
  switch (entry.kind) {
    case 'invoice':
      parts.push(entry.note ?? '');
      if (entry.status !== null) {
        // Its status now: a family reads at a glance which invoices are still open.
        const status = INVOICE_STATUS_LABELS[entry.status][language];
        parts.push(entry.status === 'CANCELLED' ? `${status} (${WORDS.cancelled[language]})` : status);
      }
      break;
    case 'payment':
    case 'family_payment':
      parts.push(entry.method === null ? '' : PAYMENT_METHOD_LABELS[entry.method][language]);
      if (entry.document !== null) {
        parts.push(`${WORDS.receipt[language]} ${entry.document}`);
      }
      if (entry.reference !== null) {
        parts.push(entry.reference);
      }
      if (entry.creditAdded > 0) {
        parts.push(`${money(entry.creditAdded)} ${WORDS.toCredit[language]}`);
      }
      break;
    case 'credit_note':
      parts.push(entry.document ?? '', entry.note ?? '');
      break;
    case 'refund':
    case 'write_off':
    case 'waiver':
      parts.push(entry.note ?? '');
      break;
    case 'credit_applied':
      parts.push(`${WORDS.creditUsed[language]}: ${money(entry.creditUsed)}`);
      break;
  }
  return parts.filter((part) => part.trim() !== '').join(' · ');
}

/** The head of the statement as label/value lines, for people. */
function headLines(document: FamilyStatementDocument, language: Language): [string, string][] {
  const { body } = document;
  const lines: [string, string][] = [[WORDS.school[language], body.schoolName]];
  if (document.schoolAddress !== null && document.schoolAddress.trim() !== '') {
    lines.push([WORDS.address[language], document.schoolAddress]);
  }
  lines.push([WORDS.family[language], body.familyName], [WORDS.reference[language], body.reference]);
  if (body.primaryGuardian !== null) {
    lines.push([WORDS.guardian[language], body.primaryGuardian]);
  }
  if (body.students.length > 0) {
    lines.push([WORDS.students[language], body.students.map((student) => `${student.name} (${student.grade})`).join(', ')]);
  }
  lines.push(
    [WORDS.period[language], periodText(body, language)],
    [WORDS.currency[language], body.currency],
    [WORDS.generatedAt[language], formatLocalTimestamp(new Date(body.generatedAt), body.timezone)],
  );
  return lines;
}

/** The summary as label/amount lines: opening, the period's movements, closing, credit. */
function summaryLines(body: FamilyStatement, language: Language): [string, number][] {
  return [
    [WORDS.openingBalance[language], body.opening.balance],
    [WORDS.invoiced[language], body.summary.invoiced],
    [WORDS.paid[language], -body.summary.paid],
    [WORDS.refunded[language], body.summary.refunded],
    [WORDS.creditNotes[language], -body.summary.creditNotes],
    [WORDS.writeOffs[language], -body.summary.writeOffs],
    [WORDS.closingBalance[language], body.closing.balance],
    [WORDS.owed[language], body.closing.owed],
    [WORDS.creditHeld[language], body.closing.credit],
  ];
}

// --- CSV ---------------------------------------------------------------------------------

type RawEntry = FamilyStatementEntry & { currency: string };

/** `style=raw`: the API's field names, amounts in minor units. */
export const FAMILY_STATEMENT_RAW_COLUMNS: readonly CsvColumn<RawEntry>[] = (
  [
    'date',
    'at',
    'kind',
    'studentId',
    'studentName',
    'invoiceId',
    'invoiceNumber',
    'dueDate',
    'status',
    'pendingAmount',
    'paidAmount',
    'creditedAmount',
    'document',
    'method',
    'reference',
    'note',
    'amount',
    'debit',
    'credit',
    'creditAdded',
    'creditUsed',
    'balance',
    'currency',
  ] as const
).map((key) => ({ key, header: key }));

/**
 * `style=people`: words, amounts in currency units (blank where a movement has none),
 * no ids. What a movement takes off the balance is split as in the printed statement:
 * Paid (payments and family payments: money) and Credited (credit notes and
 * write-offs: no money moved).
 */
export function familyStatementPeopleColumns(currency: string): readonly PeopleColumn<FamilyStatementEntry>[] {
  const amount = (value: number | undefined) => (value === undefined || value === 0 ? { text: null } : { money: value, currency });
  return [
    { header: WORDS.date, width: 12, cell: (entry) => ({ date: entry.date }) },
    { header: WORDS.movement, width: 18, cell: (entry, language) => ({ text: ENTRY_LABELS[entry.kind][language] }) },
    { header: WORDS.student, width: 24, cell: (entry) => ({ text: entry.studentName }) },
    { header: WORDS.invoice, width: 16, cell: (entry) => ({ text: entry.invoiceNumber }) },
    { header: WORDS.detail, width: 40, cell: (entry, language) => ({ text: entryDetail(entry, currency, language) }) },
    { header: WORDS.charge, width: 16, cell: (entry) => amount(entry.debit) },
    { header: WORDS.paid, width: 16, cell: (entry) => amount(amountCells(entry, true)[1]) },
    { header: WORDS.credited, width: 16, cell: (entry) => amount(amountCells(entry, true)[2]) },
    { header: WORDS.balance, width: 16, cell: (entry) => ({ money: entry.balance, currency }) },
    { header: WORDS.currency, width: 10, cell: () => ({ text: currency }) },
  ];
}

/** `#` lines with the head, opening and closing positions and the summary; a header row; one row per entry. */
export function familyStatementCsv(document: FamilyStatementDocument, options: FamilyRenderOptions): Readable {
  const { body } = document;
  const { language } = options;
  const out = new PassThrough();
  let stringifier;
  let records: unknown[];
  if (options.style === 'raw') {
    const head: [string, string][] = [
      ['Statement', 'family statement'],
      ['School', `${body.schoolName} (${body.schoolId})`],
      ['Family', `${body.familyName} (${body.familyId})`],
      ['Reference', body.reference],
      ['Currency', `${body.currency} (amounts in minor units)`],
      ['Period', `${body.period.from ?? 'open'} to ${body.period.to ?? 'open'}`],
      ['Opening', `balance ${body.opening.balance}, owed ${body.opening.owed}, credit ${body.opening.credit}`],
      ['Closing', `balance ${body.closing.balance}, owed ${body.closing.owed}, credit ${body.closing.credit}`],
      ...Object.entries(body.summary).map(([key, value]): [string, string] => [key, String(value)]),
      ['Entries truncated', String(body.entriesTruncated)],
      ['Generated at', body.generatedAt],
    ];
    out.write(head.map(([label, value]) => csvComment(`${label}: ${value}`)).join(''));
    stringifier = createCsvStringifier(FAMILY_STATEMENT_RAW_COLUMNS);
    records = body.entries.map((entry) => ({ ...entry, currency: body.currency }));
  } else {
    out.write('\ufeff');
    // Head lines of two cells each (csvHeadLine): a spreadsheet shows every label beside its value, amounts as numbers.
    out.write(
      [
        csvComment(WORDS.title[language]),
        ...headLines(document, language).map(([label, value]) => csvHeadLine(label, value)),
        ...summaryLines(body, language).map(([label, value]) => csvHeadLine(label, new CsvNumber(minorToDecimal(value, body.currency)))),
        csvHeadLine(WORDS.note[language], WORDS.balanceNote[language]),
        ...(body.entriesTruncated ? [csvHeadLine(WORDS.note[language], WORDS.truncated[language])] : []),
      ].join(''),
    );
    const people = createPeopleCsv(familyStatementPeopleColumns(body.currency), language);
    stringifier = people.stringifier;
    records = body.entries.map((entry) => people.toRecord(entry));
  }
  pipeline(Readable.from(records), stringifier, out).catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}

// --- PDF ---------------------------------------------------------------------------------

const MARGIN = 40;
const FONT = TABLE_FONT;
const BOLD = TABLE_BOLD;
const ITALIC = 'Helvetica-Oblique';
const FONT_SIZE = 8;
const GAP = TABLE_GAP;
const ROW_PADDING = TABLE_ROW_PADDING;
/** Narrowest the detail column may be before the page turns to landscape. */
const MIN_DETAIL_WIDTH = 110;
/** Widest the student and invoice columns get; longer names wrap. */
const MAX_STUDENT_WIDTH = 110;
const MAX_INVOICE_WIDTH = 90;
const A4_SHORT = 595.28;
const A4_LONG = 841.89;
const FOOTER_SIZE = 7;
const GREY = '#555555';

/**
 * The amounts of a movement, by column: what it adds (charges: invoices, refunds), what
 * it takes off as money (paid: payments and family payments) and as credit without
 * money (credited: credit notes and write-offs); `split` false prints the last two in
 * one column (payments and credits).
 */
function amountCells(entry: FamilyStatementEntry, split: boolean): number[] {
  const credited = entry.kind === 'credit_note' || entry.kind === 'write_off' || entry.kind === 'waiver' ? entry.credit : 0;
  return split ? [entry.debit, entry.credit - credited, credited] : [entry.debit, entry.credit];
}

/** The period's totals in the same columns as amountCells. */
function totalCells(body: FamilyStatement, split: boolean): number[] {
  const charges = body.summary.invoiced + body.summary.refunded;
  const credited = body.summary.creditNotes + body.summary.writeOffs;
  return split ? [charges, body.summary.paid, credited] : [charges, body.summary.paid + credited];
}

/**
 * The movements table, measured: date, movement and the amounts are as wide as their
 * widest value (every amount listed, the balances and totals in bold) or the longest
 * word of their title (a title may wrap), so no amount is ever cut; student and invoice
 * as their longest (within bounds; longer ones wrap); the detail gets what is left and
 * wraps. Paid and Credited are two columns when the detail keeps MIN_DETAIL_WIDTH on a
 * portrait A4; otherwise one (payments and credits; the summary above the table lists
 * paid, credit notes and write-offs apart) — and when even that leaves the detail too
 * narrow, the page is landscape (with both columns if they fit there).
 */
function layoutOf(doc: PDFKit.PDFDocument, body: FamilyStatement, language: Language) {
  const widest = (texts: string[], font: string) => {
    doc.font(font).fontSize(FONT_SIZE);
    return Math.ceil(Math.max(0, ...texts.map((text) => doc.widthOfString(text))));
  };
  const money = (minor: number) => formatMoney(minor, body.currency);
  const amounts = [
    ...body.entries.flatMap((entry) => [...amountCells(entry, true), entry.credit, entry.balance]),
    body.opening.balance,
    body.closing.balance,
    ...totalCells(body, true),
    ...totalCells(body, false),
  ].map(money);
  const titleWords = [WORDS.charge, WORDS.paid, WORDS.credited, WORDS.credit, WORDS.balance].flatMap((title) => title[language].split(' '));
  const moneyWidth = Math.max(widest(amounts, BOLD), widest(titleWords, BOLD));
  const dateWidth = Math.max(widest(['0000-00-00'], FONT), widest([WORDS.date[language]], BOLD));
  const movementWidth = Math.max(widest(Object.values(ENTRY_LABELS).map((label) => label[language]), FONT), widest([WORDS.movement[language]], BOLD));
  const studentWidth = Math.min(Math.max(widest(body.entries.map((entry) => entry.studentName ?? ''), FONT), widest([WORDS.student[language]], BOLD)), MAX_STUDENT_WIDTH);
  const invoiceWidth = Math.min(Math.max(widest(body.entries.map((entry) => entry.invoiceNumber ?? ''), FONT), widest([WORDS.invoice[language]], BOLD)) + 2, MAX_INVOICE_WIDTH);
  const fixed = (moneyColumns: number) => dateWidth + movementWidth + studentWidth + invoiceWidth + moneyColumns * moneyWidth + (4 + moneyColumns) * GAP;
  const fits = (width: number, moneyColumns: number) => width - 2 * MARGIN - fixed(moneyColumns) >= MIN_DETAIL_WIDTH;
  const [landscape, split] = fits(A4_SHORT, 4) ? [false, true] : fits(A4_SHORT, 3) ? [false, false] : [true, fits(A4_LONG, 4)];
  const tableWidth = (landscape ? A4_LONG : A4_SHORT) - 2 * MARGIN;
  const amountTitles = split ? [WORDS.charge, WORDS.paid, WORDS.credited, WORDS.balance] : [WORDS.charge, WORDS.credit, WORDS.balance];
  const columns: TableColumn[] = [
    { title: WORDS.date[language], width: dateWidth, align: 'left' },
    { title: WORDS.movement[language], width: movementWidth, align: 'left' },
    { title: WORDS.student[language], width: studentWidth, align: 'left' },
    { title: WORDS.invoice[language], width: invoiceWidth, align: 'left' },
    { title: WORDS.detail[language], width: Math.floor(tableWidth - fixed(amountTitles.length)), align: 'left' },
    ...amountTitles.map((title): TableColumn => ({ title: title[language], width: moneyWidth, align: 'right' })),
  ];
  return { landscape, split, tableWidth, columns };
}

/**
 * A printable family statement: the school's name, address and phone; the family, its
 * payment reference (large, to copy onto a transfer), guardian and students; period,
 * currency and generation time in the school's zone; the summary; every movement with a
 * running balance between the opening and the closing balance; "Page n of N" and the
 * title on every page. The statement is bounded, so pages are buffered and numbered at
 * the end.
 */
export function familyStatementPdf(document: FamilyStatementDocument, options: Pick<FamilyRenderOptions, 'language'>): Readable {
  const { body } = document;
  const { language } = options;
  const doc = new PDFDocument({
    autoFirstPage: false,
    bufferPages: true,
    info: { Title: `${WORDS.title[language]}: ${body.familyName} (${body.reference}), ${body.schoolName}`, Author: 'Bursar', Subject: 'family statement', CreationDate: new Date(body.generatedAt) },
  });
  try {
    drawPdf(doc, document, language);
  } catch (error) {
    doc.destroy(error instanceof Error ? error : new Error(String(error)));
  }
  return doc;
}

function drawPdf(doc: PDFKit.PDFDocument, document: FamilyStatementDocument, language: Language): void {
  const { body } = document;
  const layout = layoutOf(doc, body, language);
  const { columns, tableWidth, split } = layout;
  const left = MARGIN;
  const right = left + tableWidth;
  const money = (minor: number) => formatMoney(minor, body.currency);
  const generated = formatLocalTimestamp(new Date(body.generatedAt), body.timezone);
  /** The amount columns after the detail, blank where a movement has none. */
  const amountTexts = (amounts: number[]) => amounts.map((amount) => (amount === 0 ? '' : money(amount)));
  const noAmounts = () => columns.slice(5, -1).map(() => '');

  const addPage = () => {
    doc.addPage({ size: 'A4', layout: layout.landscape ? 'landscape' : 'portrait', margin: MARGIN });
    doc.x = left;
    doc.y = MARGIN;
  };
  const maxY = () => doc.page.height - doc.page.margins.bottom;
  const table = createPdfTable(doc, { left, columns, fontSize: FONT_SIZE });
  const { rowHeight, drawRow, header: tableHeader } = table;

  /**
   * A balance or totals row: its label spans the movement, student, invoice and detail
   * columns (one line: it is always shorter than they are together), its amounts in
   * their columns.
   */
  const placeSummaryRow = (date: string, label: string, amounts: string[]) => {
    doc.font(BOLD).fontSize(FONT_SIZE);
    const cells = [date, '', '', '', '', ...amounts];
    const height = rowHeight(cells);
    if (doc.y + height > maxY()) {
      addPage();
      tableHeader();
      doc.font(BOLD).fontSize(FONT_SIZE);
    }
    const y = doc.y;
    drawRow(cells, height, false);
    doc.text(label, table.xOf(1), y + ROW_PADDING, { lineBreak: false });
    doc.y = y + height;
  };

  /** A row, on a new page (with the table's header again) when it does not fit. */
  const placeRow = (cells: string[], font: string, shade: boolean) => {
    doc.font(font).fontSize(FONT_SIZE);
    const height = rowHeight(cells);
    if (doc.y + height > maxY()) {
      addPage();
      tableHeader();
      doc.font(font).fontSize(FONT_SIZE);
    }
    drawRow(cells, height, shade);
  };
  // --- head ---
  addPage();
  doc.font(BOLD).fontSize(16).text(WORDS.title[language], left, MARGIN, { width: tableWidth });
  doc.moveDown(0.3).font(BOLD).fontSize(11).text(body.schoolName, { width: tableWidth });
  doc.font(FONT).fontSize(9);
  if (document.schoolAddress !== null && document.schoolAddress.trim() !== '') {
    doc.text(document.schoolAddress, { width: tableWidth });
  }
  if (document.schoolPhone !== null && document.schoolPhone.trim() !== '') {
    doc.text(`${WORDS.phone[language]}: ${document.schoolPhone}`, { width: tableWidth });
  }
  doc.moveDown(0.6);
  doc.font(BOLD).fontSize(12).text(`${WORDS.reference[language]}: ${body.reference}`, left, doc.y, { width: tableWidth });
  doc.font(FONT).fontSize(8).fillColor(GREY).text(WORDS.referenceHint[language], { width: tableWidth }).fillColor('black');
  doc.moveDown(0.4).fontSize(10);
  for (const [label, value] of headLines(document, language).filter(([label]) => label !== WORDS.school[language] && label !== WORDS.address[language] && label !== WORDS.reference[language])) {
    doc.text(`${label}: ${value}`, left, doc.y, { width: tableWidth });
  }


  // --- summary ---
  doc.moveDown(0.8);
  const summaryTop = doc.y;
  doc.font(BOLD).fontSize(11).text(WORDS.summary[language], left, summaryTop);
  doc.font(FONT).fontSize(10);
  const summary = summaryLines(body, language).map(([label, value]): [string, string] => [label, money(value)]);
  const labelWidth = Math.max(...summary.map(([label]) => doc.widthOfString(label))) + 2 * GAP;
  doc.font(BOLD);
  const valueWidth = Math.max(...summary.map(([, value]) => doc.widthOfString(value)));
  summary.forEach(([label, value], index) => {
    const strong = index === 0 || index === 6;
    doc.font(strong ? BOLD : FONT);
    const y = doc.y;
    doc.text(label, left, y, { lineBreak: false });
    doc.text(value, left + labelWidth + valueWidth - doc.widthOfString(value), y, { lineBreak: false });
    doc.y = y + 14;
  });

  // --- pay online: the QR code of the family's pay link, beside the summary (or under it when the amounts leave no room) ---
  if (document.payLink !== null) {
    const payLink = {
      link: document.payLink,
      language,
      timeZone: body.timezone,
      facts: [`${WORDS.owedToday[language]}: ${money(document.payLink.owed)}`, `${WORDS.reference[language]}: ${body.reference}`],
    };
    const besideLeft = Math.max(left + labelWidth + valueWidth + 4 * GAP, right - PAY_LINK_BLOCK_WIDTH);
    if (right - besideLeft >= PAY_LINK_BLOCK_MIN_WIDTH) {
      doc.y = Math.max(doc.y, drawPayLinkBlock(doc, { ...payLink, left: besideLeft, y: summaryTop + 4, width: right - besideLeft }));
    } else {
      doc.y = drawPayLinkBlock(doc, { ...payLink, left, y: doc.y + 12, width: tableWidth });
    }
  }
  doc.font(FONT).fontSize(8).fillColor(GREY).text(WORDS.balanceNote[language], left, doc.y, { width: tableWidth }).fillColor('black');

  // --- movements ---
  doc.moveDown(1).font(BOLD).fontSize(11).text(WORDS.movements[language], left);
  doc.moveDown(0.3);
  tableHeader();
  placeSummaryRow(body.period.from ?? '', WORDS.openingBalance[language], [...noAmounts(), money(body.opening.balance)]);
  body.entries.forEach((entry, index) => {
    placeRow(
      [
        entry.date,
        ENTRY_LABELS[entry.kind][language],
        entry.studentName ?? '',
        entry.invoiceNumber ?? '',
        entryDetail(entry, body.currency, language),
        ...amountTexts(amountCells(entry, split)),
        money(entry.balance),
      ],
      FONT,
      index % 2 === 0,
    );
  });
  if (body.entries.length === 0) {
    doc.font(ITALIC).fontSize(9).text(WORDS.noMovements[language], left, doc.y + ROW_PADDING, { width: tableWidth });
    doc.moveDown(0.5);
  }
  // The period's totals and the closing balance stay together, after the last row.
  doc.font(BOLD).fontSize(FONT_SIZE);
  const together = 2 * (doc.currentLineHeight(true) + 2 * ROW_PADDING) + 4;
  if (doc.y + together > maxY()) {
    addPage();
    tableHeader();
  }
  doc.moveTo(left, doc.y).lineTo(right, doc.y).lineWidth(0.8).stroke();
  doc.y += 2;
  placeSummaryRow('', WORDS.periodTotals[language], [...totalCells(body, split).map(money), '']);
  placeSummaryRow(body.period.to ?? '', WORDS.closingBalance[language], [...noAmounts(), money(body.closing.balance)]);
  if (body.entriesTruncated) {
    doc.font(ITALIC).fontSize(8);
    if (doc.y + doc.heightOfString(WORDS.truncated[language], { width: tableWidth }) + 12 > maxY()) {
      addPage();
    }
    doc.text(WORDS.truncated[language], left, doc.y + 10, { width: tableWidth });
  }

  // --- footers: "Page n of N" now that N is known ---
  const range = doc.bufferedPageRange();
  const title = `${WORDS.title[language]}: ${body.familyName} · ${body.reference} · ${generated}`;
  for (let index = range.start; index < range.start + range.count; index++) {
    doc.switchToPage(index);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0; // writing inside the bottom margin must not start a new page
    doc.font(FONT).fontSize(FOOTER_SIZE).fillColor(GREY);
    const y = doc.page.height - MARGIN + 14;
    const label = `${WORDS.page[language]} ${index - range.start + 1} ${WORDS.of[language]} ${range.count}`;
    doc.text(label, left, y, { lineBreak: false });
    const room = tableWidth - doc.widthOfString(label) - 2 * GAP;
    let fitted = title;
    while (fitted.length > 1 && doc.widthOfString(fitted) > room) {
      fitted = `${fitted.slice(0, -2)}…`;
    }
    doc.text(fitted, right - doc.widthOfString(fitted), y, { lineBreak: false });
    doc.fillColor('black');
    doc.page.margins.bottom = bottom;
  }
  doc.end();
}
