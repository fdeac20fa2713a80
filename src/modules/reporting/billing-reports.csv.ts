import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCsvStringifier, createPeopleCsv, type ExportStyle, type PeopleColumn } from '../../shared/csv.js';
import { contentDisposition, downloadName } from '../../shared/filenames.js';
import { INVOICE_STATUS_LABELS, localDate, PAYMENT_METHOD_LABELS, type Language } from '../../shared/locale.js';
import { MAX_PAGE_SIZE, type Page } from '../../shared/pagination.js';
import {
  DailyCollectionsRow,
  InvoiceDetailsRow,
  MonthlyRevenueRow,
  OverdueRow,
  PaymentHistoryRow,
  SchoolSummaryRow,
  StudentBalanceRow,
} from './billing-reports.schemas.js';

/**
 * The billing reports as CSV (`?format=csv`): every matching row, read page by page
 * (MAX_PAGE_SIZE rows per query, the report's own keyset pages, so one short query at a
 * time and never the whole result in memory) and written as the client reads.
 *
 * `style=people` (default): headers and words in the reader's language, amounts in
 * currency units with a Currency column, a UTF-8 byte-order mark; these reports span
 * several schools and zones, so moments are in UTC and their header says so.
 * `style=raw`: the JSON rows' field names and values (minor units, ISO timestamps).
 */

/** UTC is the zone of every moment in a report that spans schools (the header says "(UTC)"). */
const UTC = 'UTC';

/** Credit notes and write-offs, beside Paid (cash) in every report that shows what settled an invoice. */
const CREDITED = { en: 'Credited', es: 'Acreditado' };
const money = <Row extends { currency: string }>(pick: (row: Row) => number) => (row: Row) => ({ money: pick(row), currency: row.currency });
const currency = { header: { en: 'Currency', es: 'Moneda' }, width: 10, cell: (row: { currency: string }) => ({ text: row.currency }) };
const school = { header: { en: 'School', es: 'Escuela' }, width: 28, cell: (row: { schoolName: string }) => ({ text: row.schoolName }) };
const student = { header: { en: 'Student', es: 'Alumno' }, width: 28, cell: (row: { studentName: string }) => ({ text: row.studentName }) };
const grade = { header: { en: 'Grade', es: 'Grado' }, width: 8, cell: (row: { grade: string }) => ({ text: row.grade }) };

/** One report's CSV: what it is called in file names, and its columns for people. */
export interface ReportCsv<Row> {
  what: string;
  /** `style=raw`: the JSON row's fields, in the schema's order. */
  raw: readonly (keyof Row & string)[];
  people: readonly PeopleColumn<Row>[];
}

const fieldsOf = <Row>(schema: { properties: object }) => Object.keys(schema.properties) as (keyof Row & string)[];

export const STUDENT_BALANCE_CSV: ReportCsv<StudentBalanceRow> = {
  what: 'student-balances',
  raw: fieldsOf<StudentBalanceRow>(StudentBalanceRow),
  people: [
    student,
    school,
    grade,
    { header: { en: 'Invoices', es: 'Facturas' }, width: 10, cell: (row) => ({ integer: row.invoiceCount }) },
    { header: { en: 'Invoiced', es: 'Facturado' }, width: 18, cell: money((row) => row.totalInvoiced) },
    { header: { en: 'Paid', es: 'Pagado' }, width: 18, cell: money((row) => row.totalPaid) },
    { header: CREDITED, width: 18, cell: money((row) => row.totalCredited) },
    { header: { en: 'Balance', es: 'Saldo' }, width: 18, cell: money((row) => row.balance) },
    { header: { en: 'Overdue', es: 'Vencido' }, width: 18, cell: money((row) => row.overdueAmount) },
    { header: { en: 'Oldest overdue due date', es: 'Vencimiento más antiguo' }, width: 14, cell: (row) => ({ date: row.oldestOverdueDueDate }) },
    currency,
  ],
};

export const SCHOOL_SUMMARY_CSV: ReportCsv<SchoolSummaryRow> = {
  what: 'school-summary',
  raw: fieldsOf<SchoolSummaryRow>(SchoolSummaryRow),
  people: [
    school,
    { header: { en: 'Students', es: 'Alumnos' }, width: 10, cell: (row) => ({ integer: row.totalStudents }) },
    { header: { en: 'Active students', es: 'Alumnos activos' }, width: 10, cell: (row) => ({ integer: row.activeStudents }) },
    { header: { en: 'Invoices', es: 'Facturas' }, width: 10, cell: (row) => ({ integer: row.invoiceCount }) },
    { header: { en: 'Invoiced', es: 'Facturado' }, width: 18, cell: money((row) => row.totalInvoiced) },
    { header: { en: 'Paid', es: 'Pagado' }, width: 18, cell: money((row) => row.totalPaid) },
    { header: CREDITED, width: 18, cell: money((row) => row.totalCredited) },
    { header: { en: 'Pending', es: 'Pendiente' }, width: 18, cell: money((row) => row.totalPending) },
    { header: { en: 'Overdue', es: 'Vencido' }, width: 18, cell: money((row) => row.totalOverdue) },
    { header: { en: 'Collection rate (%)', es: 'Tasa de cobro (%)' }, width: 12, cell: (row) => ({ ratio: row.collectionRate }) },
    currency,
  ],
};

export const INVOICE_DETAILS_CSV: ReportCsv<InvoiceDetailsRow> = {
  what: 'invoice-details',
  raw: fieldsOf<InvoiceDetailsRow>(InvoiceDetailsRow),
  people: [
    { header: { en: 'Invoice', es: 'Factura' }, width: 18, cell: (row) => ({ text: row.number }) },
    school,
    student,
    grade,
    { header: { en: 'Description', es: 'Concepto' }, width: 32, cell: (row) => ({ text: row.description }) },
    { header: { en: 'Due date', es: 'Vencimiento' }, width: 12, cell: (row) => ({ date: row.dueDate }) },
    { header: { en: 'Status', es: 'Estado' }, width: 15, cell: (row, language) => ({ text: INVOICE_STATUS_LABELS[row.status][language] }) },
    { header: { en: 'Amount', es: 'Importe' }, width: 18, cell: money((row) => row.amount) },
    { header: { en: 'Paid', es: 'Pagado' }, width: 18, cell: money((row) => row.paidAmount) },
    { header: CREDITED, width: 18, cell: money((row) => row.creditedAmount) },
    { header: { en: 'Pending', es: 'Pendiente' }, width: 18, cell: money((row) => row.pendingAmount) },
    currency,
    { header: { en: 'Payments', es: 'Pagos' }, width: 10, cell: (row) => ({ integer: row.paymentCount }) },
    {
      header: { en: 'Last payment (UTC)', es: 'Último pago (UTC)' },
      width: 18,
      cell: (row) => ({ at: row.lastPaymentAt === null ? null : new Date(row.lastPaymentAt), timeZone: UTC }),
    },
  ],
};

export const OVERDUE_CSV: ReportCsv<OverdueRow> = {
  what: 'overdue-invoices',
  raw: fieldsOf<OverdueRow>(OverdueRow),
  people: [
    { header: { en: 'Invoice', es: 'Factura' }, width: 18, cell: (row) => ({ text: row.number }) },
    school,
    student,
    grade,
    { header: { en: 'Due date', es: 'Vencimiento' }, width: 12, cell: (row) => ({ date: row.dueDate }) },
    { header: { en: 'Days overdue', es: 'Días de atraso' }, width: 14, cell: (row) => ({ integer: row.daysOverdue }) },
    { header: { en: 'Amount', es: 'Importe' }, width: 18, cell: money((row) => row.amount) },
    { header: { en: 'Paid', es: 'Pagado' }, width: 18, cell: money((row) => row.paidAmount) },
    { header: CREDITED, width: 18, cell: money((row) => row.creditedAmount) },
    { header: { en: 'Pending', es: 'Pendiente' }, width: 18, cell: money((row) => row.pendingAmount) },
    currency,
  ],
};

export const PAYMENT_HISTORY_CSV: ReportCsv<PaymentHistoryRow> = {
  what: 'payment-history',
  raw: fieldsOf<PaymentHistoryRow>(PaymentHistoryRow),
  people: [
    { header: { en: 'Paid at (UTC)', es: 'Pagado el (UTC)' }, width: 18, cell: (row) => ({ at: new Date(row.paidAt), timeZone: UTC }) },
    school,
    student,
    { header: { en: 'Invoice', es: 'Factura' }, width: 18, cell: (row) => ({ text: row.invoiceNumber }) },
    { header: { en: 'Method', es: 'Método' }, width: 16, cell: (row, language) => ({ text: PAYMENT_METHOD_LABELS[row.method][language] }) },
    { header: { en: 'Reference', es: 'Referencia' }, width: 18, cell: (row) => ({ text: row.reference }) },
    { header: { en: 'Amount', es: 'Importe' }, width: 18, cell: money((row) => row.amount) },
    { header: { en: 'Refunded', es: 'Reembolsado' }, width: 18, cell: money((row) => row.refundedAmount) },
    { header: { en: 'Net', es: 'Neto' }, width: 18, cell: money((row) => row.netAmount) },
    currency,
  ],
};

export const DAILY_COLLECTIONS_CSV: ReportCsv<DailyCollectionsRow> = {
  what: 'daily-collections',
  raw: fieldsOf<DailyCollectionsRow>(DailyCollectionsRow),
  people: [
    { header: { en: 'Date', es: 'Fecha' }, width: 12, cell: (row) => ({ date: row.date }) },
    school,
    { header: { en: 'Payments', es: 'Pagos' }, width: 10, cell: (row) => ({ integer: row.paymentCount }) },
    { header: { en: 'Collected', es: 'Cobrado' }, width: 18, cell: money((row) => row.collected) },
    { header: { en: 'Refunded', es: 'Reembolsado' }, width: 18, cell: money((row) => row.refunded) },
    { header: { en: 'Net', es: 'Neto' }, width: 18, cell: money((row) => row.net) },
    currency,
  ],
};

export const MONTHLY_REVENUE_CSV: ReportCsv<MonthlyRevenueRow> = {
  what: 'monthly-revenue',
  raw: fieldsOf<MonthlyRevenueRow>(MonthlyRevenueRow),
  people: [
    { header: { en: 'Month', es: 'Mes' }, width: 10, cell: (row) => ({ text: row.month }) },
    school,
    { header: { en: 'Invoices', es: 'Facturas' }, width: 10, cell: (row) => ({ integer: row.invoiceCount }) },
    { header: { en: 'Invoiced', es: 'Facturado' }, width: 18, cell: money((row) => row.invoiced) },
    { header: { en: 'Collected', es: 'Cobrado' }, width: 18, cell: money((row) => row.collected) },
    { header: { en: 'Outstanding', es: 'Pendiente' }, width: 18, cell: money((row) => row.outstanding) },
    currency,
  ],
};

/** Every row of a report from `cursor` on, page after page, each page read when the CSV needs more. */
async function* allRows<Row>(page: (limit: number, cursor: string | undefined) => Promise<Page<Row>>, cursor: string | undefined): AsyncGenerator<Row> {
  let next = cursor;
  do {
    const { data, nextCursor } = await page(MAX_PAGE_SIZE, next);
    yield* data;
    next = nextCursor ?? undefined;
  } while (next !== undefined);
}

export interface ReportCsvFile {
  contentDisposition: string;
  body: Readable;
}

/**
 * A report as a CSV file: its first page is read before answering (so a bad filter or
 * cursor is an ordinary error response), then the rest streams. `school` names the file
 * (its zone dates it) when the report is filtered to one school.
 */
export async function reportCsv<Row extends object>(
  report: ReportCsv<Row>,
  page: (limit: number, cursor: string | undefined) => Promise<Page<Row>>,
  options: { cursor: string | undefined; style: ExportStyle; language: Language; school?: { name: string; timezone: string } },
): Promise<ReportCsvFile> {
  const first = await page(MAX_PAGE_SIZE, options.cursor);
  async function* rows(): AsyncGenerator<Row> {
    yield* first.data;
    if (first.nextCursor !== null) {
      yield* allRows(page, first.nextCursor);
    }
  }
  const out = new PassThrough();
  let source: Readable;
  let stringifier;
  if (options.style === 'raw') {
    stringifier = createCsvStringifier<Row>(report.raw.map((key) => ({ key, header: key })));
    source = Readable.from(rows());
  } else {
    const people = createPeopleCsv(report.people, options.language, { bom: true });
    stringifier = people.stringifier;
    source = Readable.from(
      (async function* () {
        for await (const row of rows()) {
          yield people.toRecord(row);
        }
      })(),
    );
  }
  pipeline(source, stringifier, out).catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  const name = downloadName({
    what: report.what,
    scope: [options.school?.name ?? 'all-schools'],
    date: localDate(new Date(), options.school?.timezone ?? UTC),
    ext: 'csv',
  });
  return { contentDisposition: contentDisposition(name), body: out };
}
