import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import PDFDocument from 'pdfkit';
import { createCsvStringifier, createPeopleCsv, csvComment, csvHeadLine, CsvNumber, type CsvColumn, type ExportStyle, type PeopleColumn } from '../../shared/csv.js';
import { contentDisposition as dispositionOf, downloadName, type DownloadName } from '../../shared/filenames.js';
import { formatLocalTimestamp, INVOICE_STATUS_LABELS, type Language, type Localized } from '../../shared/locale.js';
import { formatMoney, minorToDecimal } from '../../shared/money.js';
import { createPdfTable, fitText, TABLE_BOLD, TABLE_FONT, TABLE_GAP, TABLE_ROW_PADDING, type TableColumn } from '../../shared/pdf-table.js';
import type { ExportHead, ExportRow, StatementExport } from './statements.service.js';

/**
 * CSV and PDF renderings of a statement export. Both stream: rows are pulled batch by
 * batch from the export as the output is consumed, so memory stays bounded by a batch
 * whatever the number of invoices. Names arrive already masked for the reader.
 *
 * For people (CSV `style=people`, the default, and every PDF): words in the reader's
 * language, amounts in currency units, times in the school's zone. `style=raw` is the
 * CSV as machines have read it so far: field names and minor units.
 */

export { formatMoney };

export interface RenderOptions {
  language: Language;
  style: ExportStyle;
}

const RAW_CHANGED_NOTE = 'Note: billing data changed while this export was being produced; rows may be newer than the summary above.';

/** Every word a statement prints, in each language. */
const WORDS = {
  studentTitle: { en: 'Statement of account', es: 'Estado de cuenta' },
  schoolTitle: { en: 'School statement', es: 'Estado de cuenta de la escuela' },
  school: { en: 'School', es: 'Escuela' },
  address: { en: 'Address', es: 'Dirección' },
  phone: { en: 'Phone', es: 'Teléfono' },
  student: { en: 'Student', es: 'Alumno' },
  period: { en: 'Period (due date)', es: 'Periodo (vencimiento)' },
  open: { en: 'open', es: 'abierto' },
  to: { en: 'to', es: 'a' },
  currency: { en: 'Currency', es: 'Moneda' },
  generatedAt: { en: 'Generated at', es: 'Generado el' },
  students: { en: 'Students', es: 'Alumnos' },
  active: { en: 'active', es: 'activos' },
  summary: { en: 'Summary', es: 'Resumen' },
  invoices: { en: 'Invoices', es: 'Facturas' },
  totalInvoiced: { en: 'Total invoiced', es: 'Total facturado' },
  totalPaid: { en: 'Total paid', es: 'Total pagado' },
  totalCredited: { en: 'Total credited (credit notes and write-offs)', es: 'Total acreditado (notas de crédito y condonaciones)' },
  note: { en: 'Note', es: 'Nota' },
  totalPending: { en: 'Total pending', es: 'Total pendiente' },
  totalOverdue: { en: 'Total overdue', es: 'Total vencido' },
  totals: { en: 'Totals (cancelled invoices excluded)', es: 'Totales (sin facturas canceladas)' },
  cancelledNote: {
    en: 'Cancelled invoices are listed but excluded from every total.',
    es: 'Las facturas canceladas se listan pero no cuentan en ningún total.',
  },
  noInvoices: { en: 'No invoices in this period.', es: 'No hay facturas en este periodo.' },
  changedNote: {
    en: 'Note: billing data changed while this statement was being produced; rows may be newer than the summary above.',
    es: 'Nota: los datos cambiaron mientras se generaba este estado de cuenta; algunas filas pueden ser más recientes que el resumen.',
  },
  page: { en: 'Page', es: 'Página' },
  of: { en: 'of', es: 'de' },
  invoice: { en: 'Invoice', es: 'Factura' },
  description: { en: 'Description', es: 'Concepto' },
  dueDate: { en: 'Due date', es: 'Vencimiento' },
  status: { en: 'Status', es: 'Estado' },
  amount: { en: 'Amount', es: 'Importe' },
  paid: { en: 'Paid', es: 'Pagado' },
  credited: { en: 'Credited', es: 'Acreditado' },
  pending: { en: 'Pending', es: 'Pendiente' },
} as const satisfies Record<string, Localized>;

// --- file names --------------------------------------------------------------------

/**
 * `bursar-statement-<school>[-<student>]-<YYYY-MM-DD>.<ext>`, dated in the school's zone.
 * The student's name is as this reader sees it (initials when masked), as in the document.
 */
export function statementFilename(head: ExportHead, extension: 'csv' | 'pdf'): DownloadName {
  return downloadName({
    what: 'statement',
    scope: [head.schoolName, head.studentName],
    asciiFallback: head.subjectId.slice(0, 8),
    date: head.today,
    ext: extension,
  });
}

export function contentDisposition(head: ExportHead, extension: 'csv' | 'pdf'): string {
  return dispositionOf(statementFilename(head, extension));
}

// --- CSV ---------------------------------------------------------------------------

/** `style=raw`: the API's field names, amounts in minor units. */
export const STATEMENT_CSV_COLUMNS: readonly CsvColumn<ExportRow>[] = [
  { key: 'id', header: 'invoiceId' },
  { key: 'number', header: 'number' },
  { key: 'studentId', header: 'studentId' },
  { key: 'studentName', header: 'studentName' },
  { key: 'description', header: 'description' },
  { key: 'dueDate', header: 'dueDate' },
  { key: 'status', header: 'status' },
  { key: 'amount', header: 'amount' },
  { key: 'paidAmount', header: 'paidAmount' },
  { key: 'creditedAmount', header: 'creditedAmount' },
  { key: 'pendingAmount', header: 'pendingAmount' },
  { key: 'currency', header: 'currency' },
];

/** `style=people`: words, statuses in words, amounts in currency units with a Currency column, no ids. */
export const STATEMENT_PEOPLE_COLUMNS: readonly PeopleColumn<ExportRow>[] = [
  { header: WORDS.invoice, width: 18, cell: (row) => ({ text: row.number }) },
  { header: WORDS.student, width: 28, cell: (row) => ({ text: row.studentName }) },
  { header: WORDS.description, width: 32, cell: (row) => ({ text: row.description }) },
  { header: WORDS.dueDate, width: 12, cell: (row) => ({ date: row.dueDate }) },
  { header: WORDS.status, width: 15, cell: (row, language) => ({ text: INVOICE_STATUS_LABELS[row.status][language] }) },
  { header: WORDS.amount, width: 18, cell: (row) => ({ money: row.amount, currency: row.currency }) },
  { header: WORDS.paid, width: 18, cell: (row) => ({ money: row.paidAmount, currency: row.currency }) },
  { header: WORDS.credited, width: 18, cell: (row) => ({ money: row.creditedAmount, currency: row.currency }) },
  { header: WORDS.pending, width: 18, cell: (row) => ({ money: row.pendingAmount, currency: row.currency }) },
  { header: WORDS.currency, width: 10, cell: (row) => ({ text: row.currency }) },
];

/** The head as the raw CSV has always written it (minor units, UTC). */
function rawHeadLines(head: ExportHead): [string, string][] {
  const lines: [string, string][] = [
    ['Statement', head.kind === 'student' ? 'student statement' : 'school statement'],
    ['School', `${head.schoolName} (${head.schoolId})`],
  ];
  if (head.studentId !== null) {
    lines.push(['Student', `${head.studentName ?? ''} (${head.studentId})`]);
  }
  lines.push(
    ['Currency', `${head.currency} (amounts in minor units)`],
    ['Period (due date)', `${head.period.from ?? 'open'} to ${head.period.to ?? 'open'}`],
  );
  if (head.summary.totalStudents !== undefined) {
    lines.push(['Students', `${head.summary.totalStudents} (active ${head.summary.activeStudents ?? 0})`]);
  }
  lines.push(
    ['Total invoiced', String(head.summary.totalInvoiced)],
    ['Total paid', String(head.summary.totalPaid)],
    ['Total credited', String(head.summary.totalCredited)],
    ['Total pending', String(head.summary.totalPending)],
    ['Total overdue', String(head.summary.totalOverdue)],
    ['Cancelled invoices', 'listed, excluded from every total'],
    ['Generated at', head.generatedAt],
  );
  return lines;
}

/** The period in words: "2026-09-01 to 2027-06-30", "open to 2027-06-30". */
function periodText(head: ExportHead, language: Language): string {
  return `${head.period.from ?? WORDS.open[language]} ${WORDS.to[language]} ${head.period.to ?? WORDS.open[language]}`;
}

/**
 * The head for people: words, amounts in currency units (numbers: each line is a label
 * cell and a value cell, see csvHeadLine), the generation time in the school's zone.
 */
function peopleHeadLines(head: ExportHead, language: Language): [string, string | CsvNumber][] {
  const amount = (minor: number) => new CsvNumber(minorToDecimal(minor, head.currency));
  const lines: [string, string | CsvNumber][] = [[WORDS.school[language], head.schoolName]];
  if (head.schoolAddress !== null && head.schoolAddress.trim() !== '') {
    lines.push([WORDS.address[language], head.schoolAddress]);
  }
  if (head.studentName !== null) {
    lines.push([WORDS.student[language], head.studentName]);
  }
  lines.push([WORDS.period[language], periodText(head, language)], [WORDS.currency[language], head.currency]);
  if (head.summary.totalStudents !== undefined) {
    lines.push([WORDS.students[language], `${head.summary.totalStudents} (${WORDS.active[language]} ${head.summary.activeStudents ?? 0})`]);
  }
  lines.push(
    [WORDS.totalInvoiced[language], amount(head.summary.totalInvoiced)],
    [WORDS.totalPaid[language], amount(head.summary.totalPaid)],
    [WORDS.totalCredited[language], amount(head.summary.totalCredited)],
    [WORDS.totalPending[language], amount(head.summary.totalPending)],
    [WORDS.totalOverdue[language], amount(head.summary.totalOverdue)],
    [WORDS.generatedAt[language], formatLocalTimestamp(new Date(head.generatedAt), head.timezone)],
  );
  return lines;
}

async function* rowsOf<T>(batches: AsyncIterable<ExportRow[]>, map: (row: ExportRow) => T): AsyncGenerator<T> {
  for await (const batch of batches) {
    for (const row of batch) {
      yield map(row);
    }
  }
}

/**
 * `#` comment lines with the statement's head and summary, the header row, then one
 * row per invoice (all of them), streamed through csv-stringify. For people: a UTF-8
 * byte-order mark first, the title and head in words, the cancelled-invoices rule, and
 * the columns of STATEMENT_PEOPLE_COLUMNS.
 */
export function statementCsv(exported: StatementExport, options: RenderOptions = { language: 'en', style: 'raw' }): Readable {
  const { head } = exported;
  const { language } = options;
  const out = new PassThrough();
  let stringifier;
  let rows: AsyncGenerator<unknown>;
  if (options.style === 'raw') {
    out.write(rawHeadLines(head).map(([label, value]) => csvComment(`${label}: ${value}`)).join(''));
    stringifier = createCsvStringifier(STATEMENT_CSV_COLUMNS);
    rows = rowsOf(exported.batches(), (row) => row);
  } else {
    const title = (head.kind === 'student' ? WORDS.studentTitle : WORDS.schoolTitle)[language];
    out.write('\ufeff');
    out.write(
      [
        csvComment(title),
        ...peopleHeadLines(head, language).map(([label, value]) => csvHeadLine(label, value)),
        csvHeadLine(WORDS.note[language], WORDS.cancelledNote[language]),
      ].join(''),
    );
    const people = createPeopleCsv(STATEMENT_PEOPLE_COLUMNS, language);
    stringifier = people.stringifier;
    rows = rowsOf(exported.batches(), (row) => people.toRecord(row));
  }
  pipeline(Readable.from(rows), stringifier, out, { end: false })
    .then(async () => {
      if (await exported.changedSince()) {
        out.write(options.style === 'raw' ? csvComment(RAW_CHANGED_NOTE) : csvHeadLine(WORDS.note[language], WORDS.changedNote[language]));
      }
      out.end();
    })
    // A failed query or a client that went away: the response is aborted (the error is logged by Fastify).
    .catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}

// --- PDF ---------------------------------------------------------------------------

const MARGIN = 40;
const FONT = TABLE_FONT;
const BOLD = TABLE_BOLD;
const FONT_SIZE = 8;
const GAP = TABLE_GAP;
const ROW_PADDING = TABLE_ROW_PADDING;
/** Narrowest the name (or description) column may be before the page turns to landscape. */
const MIN_NAME_WIDTH = 110;
/** Widest the invoice number column gets; longer numbers wrap. */
const MAX_NUMBER_WIDTH = 110;
/** A4 in points. */
const A4_SHORT = 595.28;
const A4_LONG = 841.89;
/** Pause producing while this much PDF is waiting for a slow reader. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const FOOTER_SIZE = 7;
const GREY = '#555555';

interface PdfColumn extends TableColumn {
  value(row: ExportRow): string;
  /** The column's cell in the totals row, if any. */
  total?: string;
}

interface PdfLayout {
  landscape: boolean;
  columns: PdfColumn[];
  tableWidth: number;
}

/**
 * The table's columns, measured: due date, status and the four amounts (amount, paid,
 * credited, pending) are as wide as their widest possible value (the largest invoice
 * and the totals, in bold for the totals row) or their title, so an amount is never
 * cut; the invoice number as its longest (up to MAX_NUMBER_WIDTH); the name (or
 * description) gets what is left and wraps. When that would be less than
 * MIN_NAME_WIDTH on a portrait A4 (very large amounts), the page is landscape.
 */
function layoutOf(doc: PDFKit.PDFDocument, head: ExportHead, language: Language): PdfLayout {
  const widest = (texts: string[], font: string) => {
    doc.font(font).fontSize(FONT_SIZE);
    return Math.ceil(Math.max(...texts.map((text) => doc.widthOfString(text))));
  };
  const money = (minor: number) => formatMoney(minor, head.currency);
  const { summary } = head;
  const amounts = [head.largestAmount, summary.totalInvoiced, summary.totalPaid, summary.totalCredited, summary.totalPending].map(money);
  const moneyWidth = Math.max(
    widest(amounts, BOLD),
    widest([WORDS.amount[language], WORDS.paid[language], WORDS.credited[language], WORDS.pending[language]], BOLD),
  );
  const dueWidth = Math.max(widest(['0000-00-00'], FONT), widest([WORDS.dueDate[language]], BOLD));
  const statusWidth = Math.max(
    widest(Object.values(INVOICE_STATUS_LABELS).map((label) => label[language]), FONT),
    widest([WORDS.status[language]], BOLD),
  );
  // Invoice numbers are short codes: as wide as the longest one (within bounds; a longer one wraps).
  const numberWidth = Math.min(Math.max(widest([head.longestNumber ?? '', WORDS.invoice[language]], FONT) + 2, 40), MAX_NUMBER_WIDTH);
  const fixed = numberWidth + dueWidth + statusWidth + 4 * moneyWidth + 7 * GAP;
  const landscape = A4_SHORT - 2 * MARGIN - fixed < MIN_NAME_WIDTH;
  const tableWidth = (landscape ? A4_LONG : A4_SHORT) - 2 * MARGIN;
  const nameWidth = Math.floor(tableWidth - fixed);
  const who: PdfColumn =
    head.kind === 'school'
      ? { title: WORDS.student[language], width: nameWidth, align: 'left', value: (row) => row.studentName }
      : { title: WORDS.description[language], width: nameWidth, align: 'left', value: (row) => row.description ?? '' };
  return {
    landscape,
    tableWidth,
    columns: [
      { title: WORDS.invoice[language], width: numberWidth, align: 'left', value: (row) => row.number, total: WORDS.totals[language] },
      who,
      { title: WORDS.dueDate[language], width: dueWidth, align: 'left', value: (row) => row.dueDate },
      { title: WORDS.status[language], width: statusWidth, align: 'left', value: (row) => INVOICE_STATUS_LABELS[row.status][language] },
      { title: WORDS.amount[language], width: moneyWidth, align: 'right', value: (row) => money(row.amount), total: money(summary.totalInvoiced) },
      { title: WORDS.paid[language], width: moneyWidth, align: 'right', value: (row) => money(row.paidAmount), total: money(summary.totalPaid) },
      { title: WORDS.credited[language], width: moneyWidth, align: 'right', value: (row) => money(row.creditedAmount), total: money(summary.totalCredited) },
      { title: WORDS.pending[language], width: moneyWidth, align: 'right', value: (row) => money(row.pendingAmount), total: money(summary.totalPending) },
    ],
  };
}

function pdfTitle(head: ExportHead, language: Language): string {
  return head.kind === 'student'
    ? `${WORDS.studentTitle[language]}: ${head.studentName ?? ''}, ${head.schoolName}`
    : `${WORDS.schoolTitle[language]}: ${head.schoolName}`;
}

/** What pdfkit keeps about the current font and does not type: its resource name and dictionary. */
interface FontInternals {
  _font: { id: string; ref(): PDFKit.PDFKitReference };
}

/** What pdfkit keeps about a page and does not type: its XObject resources. */
interface PageInternals {
  xobjects: Record<string, PDFKit.PDFKitReference>;
}

/**
 * "Page 3 of N" while streaming: N is not known until the last row, and pages are sent
 * as they fill (pdfkit's bufferPages would hold the whole document). So N is a Form
 * XObject that every page's footer draws and that is written once, at the end, with
 * the page count in it (the "total pages template" of PDF libraries); PDF allows an
 * object to be referenced before it is written.
 */
function pageTotal(doc: PDFKit.PDFDocument) {
  doc.font(FONT).fontSize(FOOTER_SIZE);
  const font = (doc as unknown as FontInternals)._font;
  const box = { width: 60, height: FOOTER_SIZE * 1.5 };
  const template = doc.ref({ Type: 'XObject', Subtype: 'Form', BBox: [0, -FOOTER_SIZE * 0.5, box.width, box.height], Resources: { Font: { [font.id]: font.ref() } } });
  return {
    /** Draws the total at (x, top of the line), in the footer's font. */
    place(x: number, y: number) {
      (doc.page as unknown as PageInternals).xobjects.PageTotal = template;
      const baseline = y + (718 / 1000) * FOOTER_SIZE; // Helvetica's ascender
      doc.addContent(`q 1 0 0 -1 ${x.toFixed(2)} ${baseline.toFixed(2)} cm /PageTotal Do Q`);
    },
    /** Writes the count into the template (once, before the document ends). */
    finish(pages: number) {
      const grey = (Number.parseInt(GREY.slice(1, 3), 16) / 255).toFixed(3);
      template.end(`${grey} g BT /${font.id} ${FOOTER_SIZE} Tf 0 0 Td (${pages}) Tj ET`);
    },
  };
}

/**
 * A printable statement: the school's name, address and phone, the student, period,
 * currency and generation time (the school's zone); the summary; the invoice table over
 * as many pages as it takes (its header repeated, long names wrapped, every amount
 * whole: see layoutOf), the totals after the last row; "Page n of N" and the title on
 * every page. Streamed: pages are flushed as they fill.
 */
export function statementPdf(exported: StatementExport, options: Pick<RenderOptions, 'language'> = { language: 'en' }): Readable {
  const { head } = exported;
  const doc = new PDFDocument({
    autoFirstPage: false,
    bufferPages: false,
    info: {
      Title: pdfTitle(head, options.language),
      Author: 'Bursar',
      Subject: `${head.kind} statement`,
      CreationDate: new Date(head.generatedAt),
    },
  });
  fillPdf(doc, exported, options.language).catch((error: unknown) => doc.destroy(error instanceof Error ? error : new Error(String(error))));
  return doc;
}

async function fillPdf(doc: PDFKit.PDFDocument, exported: StatementExport, language: Language): Promise<void> {
  const { head } = exported;
  const layout = layoutOf(doc, head, language);
  const { columns, tableWidth } = layout;
  const left = MARGIN;
  const right = left + tableWidth;
  const generated = formatLocalTimestamp(new Date(head.generatedAt), head.timezone);
  let page = 0;

  const addPage = () => {
    doc.addPage({ size: 'A4', layout: layout.landscape ? 'landscape' : 'portrait', margin: MARGIN });
    page++;
    footer();
    doc.x = left;
    doc.y = MARGIN;
  };
  const total = pageTotal(doc);

  /** `text` on one line within `width`, cut with … only where a cut is harmless (the footer's title). */
  const fitted = (text: string, width: number) => fitText(doc, text, width);

  function footer() {
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0; // writing inside the bottom margin must not start a new page
    doc.font(FONT).fontSize(FOOTER_SIZE).fillColor(GREY);
    const y = doc.page.height - MARGIN + 14;
    // "Page n of " on the left, N (drawn later, see pageTotal) right after it; the title on the right.
    const label = `${WORDS.page[language]} ${page} ${WORDS.of[language]} `;
    doc.text(label, left, y, { lineBreak: false });
    total.place(left + doc.widthOfString(label), y);
    const labelWidth = doc.widthOfString(`${WORDS.page[language]} 00000 ${WORDS.of[language]} 00000`);
    const title = fitted(`${pdfTitle(head, language)} · ${generated}`, tableWidth - labelWidth - GAP);
    doc.text(title, right - doc.widthOfString(title), y, { lineBreak: false });
    doc.fillColor('black');
    doc.page.margins.bottom = bottom;
  }

  const maxY = () => doc.page.height - doc.page.margins.bottom;
  const { rowHeight, drawRow, header: tableHeader } = createPdfTable(doc, { left, columns, fontSize: FONT_SIZE });

  // --- head ---
  addPage();
  doc.font(BOLD).fontSize(16).text(head.kind === 'student' ? WORDS.studentTitle[language] : WORDS.schoolTitle[language], left, MARGIN, { width: tableWidth });
  doc.moveDown(0.3).font(BOLD).fontSize(11).text(head.schoolName, { width: tableWidth });
  doc.font(FONT).fontSize(9);
  if (head.schoolAddress !== null && head.schoolAddress.trim() !== '') {
    doc.text(head.schoolAddress, { width: tableWidth });
  }
  if (head.schoolPhone !== null && head.schoolPhone.trim() !== '') {
    doc.text(`${WORDS.phone[language]}: ${head.schoolPhone}`, { width: tableWidth });
  }
  doc.moveDown(0.6).fontSize(10);
  const facts: [string, string][] = [];
  if (head.studentName !== null) {
    facts.push([WORDS.student[language], head.studentName]);
  }
  facts.push([WORDS.period[language], periodText(head, language)], [WORDS.currency[language], head.currency], [WORDS.generatedAt[language], generated]);
  for (const [label, value] of facts) {
    doc.text(`${label}: ${value}`, left, doc.y, { width: tableWidth });
  }

  doc.moveDown(0.8).font(BOLD).fontSize(11).text(WORDS.summary[language], left);
  doc.font(FONT).fontSize(10);
  const summary: [string, string][] = [];
  if (head.summary.totalStudents !== undefined) {
    summary.push([WORDS.students[language], `${head.summary.totalStudents} (${WORDS.active[language]} ${head.summary.activeStudents ?? 0})`]);
  }
  summary.push(
    [WORDS.totalInvoiced[language], formatMoney(head.summary.totalInvoiced, head.currency)],
    [WORDS.totalPaid[language], formatMoney(head.summary.totalPaid, head.currency)],
    [WORDS.totalCredited[language], formatMoney(head.summary.totalCredited, head.currency)],
    [WORDS.totalPending[language], formatMoney(head.summary.totalPending, head.currency)],
    [WORDS.totalOverdue[language], formatMoney(head.summary.totalOverdue, head.currency)],
  );
  const labelWidth = Math.max(...summary.map(([label]) => doc.widthOfString(label))) + 2 * GAP;
  const valueWidth = Math.max(...summary.map(([, value]) => doc.widthOfString(value)));
  for (const [label, value] of summary) {
    const y = doc.y;
    doc.text(label, left, y, { lineBreak: false });
    doc.text(value, left + labelWidth + valueWidth - doc.widthOfString(value), y, { lineBreak: false });
    doc.y = y + 14;
  }
  doc.fontSize(8).fillColor(GREY).text(WORDS.cancelledNote[language], left, doc.y, { width: tableWidth }).fillColor('black');

  doc.moveDown(1).font(BOLD).fontSize(11).text(WORDS.invoices[language], left);
  doc.moveDown(0.3);
  tableHeader();

  // --- rows ---
  let rows = 0;
  for await (const batch of exported.batches()) {
    if (doc.destroyed) {
      return; // the reader went away: stop querying
    }
    for (const row of batch) {
      const texts = columns.map((column) => column.value(row));
      const height = rowHeight(texts);
      if (doc.y + height > maxY()) {
        // Laying out text is CPU work: let other requests run between pages.
        await nextTurn();
        if (doc.destroyed) {
          return;
        }
        addPage();
        tableHeader();
      }
      drawRow(texts, height, rows % 2 === 1);
      rows++;
    }
    // Backpressure: pdfkit pushes whatever is written; wait for a slow reader to catch up.
    while (doc.readableLength > MAX_BUFFERED_BYTES && !doc.destroyed) {
      await sleep(20);
    }
  }

  // --- totals, on the last page ---
  if (rows === 0) {
    doc.font('Helvetica-Oblique').fontSize(9).text(WORDS.noInvoices[language], left, doc.y + ROW_PADDING, { width: tableWidth });
  } else {
    doc.font(BOLD).fontSize(FONT_SIZE);
    const texts = columns.map((column) => column.total ?? '');
    // The totals label may take the invoice and name columns together.
    const merged = columns.slice(0, 2).reduce((sum, column) => sum + column.width + GAP, -GAP);
    const height = Math.max(rowHeight(texts.map((text, index) => (index === 0 ? '' : text))), doc.heightOfString(texts[0] ?? '', { width: merged }) + 2 * ROW_PADDING);
    if (doc.y + height + 4 > maxY()) {
      addPage();
      tableHeader();
      doc.font(BOLD).fontSize(FONT_SIZE);
    }
    doc.moveTo(left, doc.y).lineTo(right, doc.y).lineWidth(0.8).stroke();
    const y = doc.y + 2;
    doc.text(texts[0] ?? '', left, y + ROW_PADDING, { width: merged });
    doc.y = y;
    drawRow(['', '', ...texts.slice(2)], height, false);
    doc.font(FONT);
  }
  if (await exported.changedSince()) {
    doc.font('Helvetica-Oblique').fontSize(8);
    const note = WORDS.changedNote[language];
    if (doc.y + doc.heightOfString(note, { width: tableWidth }) + 12 > maxY()) {
      addPage();
    }
    doc.text(note, left, doc.y + 10, { width: tableWidth });
  }
  total.finish(page);
  doc.end();
}
