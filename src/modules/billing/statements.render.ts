import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import PDFDocument from 'pdfkit';
import { createCsvStringifier, csvComment, type CsvColumn } from '../../shared/csv.js';
import { currencyDigits } from '../../shared/money.js';
import type { ExportHead, ExportRow, StatementExport } from './statements.service.js';

/**
 * CSV and PDF renderings of a statement export. Both stream: rows are pulled batch by
 * batch from the export as the output is consumed, so memory stays bounded by a batch
 * whatever the number of invoices. Names arrive already masked for the reader.
 */

const CHANGED_NOTE = 'Note: billing data changed while this export was being produced; rows may be newer than the summary above.';

/** `statement-school-<id>[-from-YYYY-MM-DD][-to-YYYY-MM-DD].csv`: ids only, never names (PII, non-ASCII). */
export function exportFilename(head: ExportHead, extension: 'csv' | 'pdf'): string {
  const from = head.period.from ? `-from-${head.period.from}` : '';
  const to = head.period.to ? `-to-${head.period.to}` : '';
  return `statement-${head.kind}-${head.subjectId}${from}${to}.${extension}`;
}

export function contentDisposition(head: ExportHead, extension: 'csv' | 'pdf'): string {
  return `attachment; filename="${exportFilename(head, extension)}"`;
}

// --- CSV ---------------------------------------------------------------------------

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
  { key: 'pendingAmount', header: 'pendingAmount' },
  { key: 'currency', header: 'currency' },
];

function headLines(head: ExportHead): [string, string][] {
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
    ['Total pending', String(head.summary.totalPending)],
    ['Total overdue', String(head.summary.totalOverdue)],
    ['Cancelled invoices', 'listed, excluded from every total'],
    ['Generated at', head.generatedAt],
  );
  return lines;
}

async function* rowsOf(batches: AsyncIterable<ExportRow[]>): AsyncGenerator<ExportRow> {
  for await (const batch of batches) {
    yield* batch;
  }
}

/**
 * `#` comment lines with the statement's head and summary, the header row, then one
 * row per invoice (all of them), streamed through csv-stringify.
 */
export function statementCsv(exported: StatementExport): Readable {
  const out = new PassThrough();
  out.write(headLines(exported.head).map(([label, value]) => csvComment(`${label}: ${value}`)).join(''));
  const stringifier = createCsvStringifier(STATEMENT_CSV_COLUMNS);
  pipeline(Readable.from(rowsOf(exported.batches())), stringifier, out, { end: false })
    .then(async () => {
      if (await exported.changedSince()) {
        out.write(csvComment(CHANGED_NOTE));
      }
      out.end();
    })
    // A failed query or a client that went away: the response is aborted (the error is logged by Fastify).
    .catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}

// --- PDF ---------------------------------------------------------------------------

const moneyFormats = new Map<string, Intl.NumberFormat>();

/** 12 345 minor units of MXN → "MXN 123.45" (the currency's ISO 4217 decimals: COP 2, JPY 0). */
export function formatMoney(minor: number, currency: string): string {
  const digits = currencyDigits(currency);
  let format = moneyFormats.get(currency);
  if (format === undefined) {
    format = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    moneyFormats.set(currency, format);
  }
  return `${currency} ${format.format(minor / 10 ** digits)}`;
}

interface PdfColumn {
  title: string;
  width: number;
  align: 'left' | 'right';
  value(row: ExportRow, currency: string): string;
}

const MONEY_WIDTH = 78;

function pdfColumns(kind: ExportHead['kind']): PdfColumn[] {
  const who: PdfColumn =
    kind === 'school'
      ? { title: 'Student', width: 120, align: 'left', value: (row) => row.studentName }
      : { title: 'Description', width: 120, align: 'left', value: (row) => row.description ?? '' };
  return [
    { title: 'Invoice', width: 70, align: 'left', value: (row) => row.number },
    who,
    { title: 'Due date', width: 58, align: 'left', value: (row) => row.dueDate },
    { title: 'Status', width: 55, align: 'left', value: (row) => row.status },
    { title: 'Amount', width: MONEY_WIDTH, align: 'right', value: (row, currency) => formatMoney(row.amount, currency) },
    { title: 'Paid', width: MONEY_WIDTH, align: 'right', value: (row, currency) => formatMoney(row.paidAmount, currency) },
    { title: 'Pending', width: MONEY_WIDTH, align: 'right', value: (row, currency) => formatMoney(row.pendingAmount, currency) },
  ];
}

const MARGIN = 40;
const ROW_HEIGHT = 14;
const FONT_SIZE = 8;
/** Pause producing while this much PDF is waiting for a slow reader. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function pdfTitle(head: ExportHead): string {
  return head.kind === 'student' ? `Statement of account: ${head.studentName ?? ''}, ${head.schoolName}` : `School statement: ${head.schoolName}`;
}

/**
 * A printable statement: title, school (and student), period, summary, the invoice
 * table over as many pages as it takes (header row repeated, page numbers), and the
 * generation time. Streamed: pages are flushed as they fill.
 */
export function statementPdf(exported: StatementExport): Readable {
  const { head } = exported;
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: false,
    info: { Title: pdfTitle(head), Author: 'Bursar', Subject: `${head.kind} statement`, CreationDate: new Date(head.generatedAt) },
  });
  fillPdf(doc, exported).catch((error: unknown) => doc.destroy(error instanceof Error ? error : new Error(String(error))));
  return doc;
}

async function fillPdf(doc: PDFKit.PDFDocument, exported: StatementExport): Promise<void> {
  const { head } = exported;
  const columns = pdfColumns(head.kind);
  const left = MARGIN;
  const tableWidth = columns.reduce((sum, column) => sum + column.width + 4, 0);
  let page = 1;

  /**
   * One table cell on one line, cut with … to its width. Drawn without a `width` option:
   * pdfkit then skips its line wrapper, which is most of the cost on long statements.
   */
  const cell = (text: string, x: number, y: number, width: number, align: 'left' | 'right') => {
    let fitted = text;
    let measured = doc.widthOfString(fitted);
    if (measured > width) {
      // Start from a proportional guess, then trim to fit.
      fitted = fitted.slice(0, Math.max(0, Math.floor((fitted.length * width) / measured)));
      while (fitted.length > 0 && doc.widthOfString(`${fitted}…`) > width) {
        fitted = fitted.slice(0, -1);
      }
      fitted = `${fitted}…`;
      measured = doc.widthOfString(fitted);
    }
    doc.text(fitted, align === 'right' ? x + width - measured : x, y, { lineBreak: false });
  };

  const footer = () => {
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0; // writing inside the bottom margin must not start a new page
    doc.font('Helvetica').fontSize(7).fillColor('#666666');
    const pageLabel = ` · page ${page}`;
    const width = doc.page.width - 2 * MARGIN - doc.widthOfString(pageLabel);
    cell(`${pdfTitle(head)} · generated ${head.generatedAt}`, left, doc.page.height - MARGIN + 12, width, 'left');
    cell(pageLabel, left + width, doc.page.height - MARGIN + 12, doc.widthOfString(pageLabel), 'left');
    doc.fillColor('black');
    doc.page.margins.bottom = bottom;
  };

  const tableHeader = () => {
    let x = left;
    const y = doc.y;
    doc.font('Helvetica-Bold').fontSize(FONT_SIZE);
    for (const column of columns) {
      cell(column.title, x, y, column.width, column.align);
      x += column.width + 4;
    }
    doc
      .moveTo(left, y + ROW_HEIGHT - 3)
      .lineTo(left + tableWidth, y + ROW_HEIGHT - 3)
      .lineWidth(0.5)
      .stroke();
    doc.font('Helvetica').fontSize(FONT_SIZE);
    doc.y = y + ROW_HEIGHT;
  };

  // Title block.
  footer();
  doc.font('Helvetica-Bold').fontSize(16).text(head.kind === 'student' ? 'Statement of account' : 'School statement', left, MARGIN);
  doc.moveDown(0.5).font('Helvetica').fontSize(10);
  doc.text(`School: ${head.schoolName}`);
  if (head.studentName !== null) {
    doc.text(`Student: ${head.studentName}`);
  }
  doc.text(`Period (due date): ${head.period.from ?? 'open'} to ${head.period.to ?? 'open'}`);
  doc.text(`Currency: ${head.currency}`);
  doc.text(`Generated at: ${head.generatedAt}`);

  doc.moveDown(0.8).font('Helvetica-Bold').fontSize(11).text('Summary', left);
  doc.font('Helvetica').fontSize(10);
  const summary: [string, string][] = [];
  if (head.summary.totalStudents !== undefined) {
    summary.push(['Students', `${head.summary.totalStudents} (active ${head.summary.activeStudents ?? 0})`]);
  }
  summary.push(
    ['Total invoiced', formatMoney(head.summary.totalInvoiced, head.currency)],
    ['Total paid', formatMoney(head.summary.totalPaid, head.currency)],
    ['Total pending', formatMoney(head.summary.totalPending, head.currency)],
    ['Total overdue', formatMoney(head.summary.totalOverdue, head.currency)],
  );
  for (const [label, value] of summary) {
    const y = doc.y;
    doc.text(label, left, y, { width: 120, lineBreak: false });
    doc.text(value, left + 120, y, { width: 140, align: 'right', lineBreak: false });
    doc.y = y + 14;
  }
  doc.fontSize(8).fillColor('#666666').text('Cancelled invoices are listed but excluded from every total.', left).fillColor('black');

  doc.moveDown(1).font('Helvetica-Bold').fontSize(11).text('Invoices', left);
  doc.moveDown(0.3);
  tableHeader();

  let rows = 0;
  const maxY = () => doc.page.height - doc.page.margins.bottom;
  for await (const batch of exported.batches()) {
    if (doc.destroyed) {
      return; // the reader went away: stop querying
    }
    for (const row of batch) {
      if (doc.y + ROW_HEIGHT > maxY()) {
        // Laying out text is CPU work (~35 µs a cell): let other requests run between pages.
        await nextTurn();
        if (doc.destroyed) {
          return;
        }
        doc.addPage();
        page++;
        footer();
        doc.y = MARGIN;
        tableHeader();
      }
      let x = left;
      const y = doc.y;
      for (const column of columns) {
        cell(column.value(row, head.currency), x, y, column.width, column.align);
        x += column.width + 4;
      }
      doc.y = y + ROW_HEIGHT;
      rows++;
    }
    // Backpressure: pdfkit pushes whatever is written; wait for a slow reader to catch up.
    while (doc.readableLength > MAX_BUFFERED_BYTES && !doc.destroyed) {
      await sleep(20);
    }
  }
  if (rows === 0) {
    doc.font('Helvetica-Oblique').fontSize(9).text('No invoices in this period.', left);
  }
  if (await exported.changedSince()) {
    if (doc.y + 30 > maxY()) {
      doc.addPage();
      page++;
      footer();
      doc.y = MARGIN;
    }
    doc.moveDown(1).font('Helvetica-Oblique').fontSize(8).text(CHANGED_NOTE, left);
  }
  doc.end();
}
