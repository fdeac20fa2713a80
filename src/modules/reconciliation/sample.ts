/**
 * Bank statements written from a school's own open bills: the demo's sample statement
 * (GET /reconciliation/sample-statement, demo schools only) and the benchmark's large
 * one. What a school's bank would send after a few days of families paying by transfer:
 * payments naming their invoice, family references (one mistyped), partial payments,
 * transfers nobody can place, and the bank's own fees.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { CsvMapping, StatementFormat } from './statements.js';

export interface SampleLine {
  id: string;
  date: string;
  /** Minor units; negative = paid out. */
  amount: number;
  text: string;
  payer: string | null;
}

const money = (minor: number) => (Math.abs(minor) / 100).toFixed(2);
const signed = (minor: number) => `${minor < 0 ? '-' : ''}${money(minor)}`;
const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const csvCell = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
/** A stable bank id for a movement: the same bills give the same ids, so downloading again and importing adds nothing. */
const bankId = (day: string, ...parts: (string | number)[]) => `DEMO${day.replaceAll('-', '')}${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 10).toUpperCase()}`;

/** A mistyped copy of a family reference: its check digit off by one. */
export function mistyped(reference: string): string {
  return `${reference.slice(0, -1)}${(Number(reference.slice(-1)) + 1) % 10}`;
}

/** The lines of a few days of a school's bank account, from its open bills (oldest due first). */
export async function sampleLines(db: DbOrTx, schoolId: string, day: string): Promise<SampleLine[]> {
  const invoices = (
    await sql<{ id: string; number: string; pending: string; payer: string | null }>`
      select i.id, i.number, i.amount - i.paid_amount as pending,
             (select g.first_name || ' ' || g.last_name from guardians g
               where g.school_id = i.school_id and g.family_id = coalesce(i.family_id, s.family_id) and g.deleted_at is null
               order by g.is_primary desc, g.id limit 1) as payer
        from invoices i join students s on s.id = i.student_id
       where i.school_id = ${schoolId} and i.cancelled_at is null and i.paid_amount < i.amount and i.kind = 'regular'
       order by i.due_date, i.id
       limit 20`.execute(db)
  ).rows.map((row) => ({ ...row, pending: Number(row.pending) }));
  const families = (
    await sql<{ id: string; reference: string; open: string; payer: string | null }>`
      select f.id, f.reference, o.open,
             (select g.first_name || ' ' || g.last_name from guardians g where g.school_id = f.school_id and g.family_id = f.id and g.deleted_at is null
               order by g.is_primary desc, g.id limit 1) as payer
        from families f
        cross join lateral (select coalesce(sum(fi.amount - fi.paid_amount), 0) as open from family_invoices(f.school_id, f.id) fi
                             where fi.cancelled_at is null and fi.paid_amount < fi.amount) o
       where f.school_id = ${schoolId} and f.deleted_at is null and o.open > 0
       order by f.reference
       limit 6`.execute(db)
  ).rows.map((row) => ({ ...row, open: Number(row.open) }));
  const lines: SampleLine[] = [];
  const exact = invoices.slice(0, 10);
  const partly = invoices.slice(10, 12);
  const amountOnly = invoices.slice(12, 13);
  for (const invoice of exact) {
    lines.push({ id: bankId(day, invoice.id, invoice.pending), date: day, amount: invoice.pending, text: `SPEI RECIBIDO PAGO ${invoice.number}`, payer: invoice.payer });
  }
  for (const invoice of partly) {
    const half = Math.max(1, Math.round(invoice.pending / 200) * 100);
    lines.push({ id: bankId(day, invoice.id, half), date: day, amount: half, text: `ABONO ${invoice.number}`, payer: invoice.payer });
  }
  for (const invoice of amountOnly) {
    lines.push({ id: bankId(day, invoice.id, 'amount'), date: day, amount: invoice.pending, text: 'TRANSFERENCIA RECIBIDA', payer: invoice.payer });
  }
  for (const [n, family] of families.entries()) {
    const amount = Math.min(family.open, 250_000);
    const reference = n === families.length - 1 ? mistyped(family.reference) : family.reference;
    lines.push({ id: bankId(day, family.id, amount, reference), date: day, amount, text: `COLEGIATURA REF ${reference}`, payer: family.payer });
  }
  lines.push({ id: bankId(day, schoolId, 'unknown-1'), date: day, amount: 131_313, text: 'DEPOSITO EN EFECTIVO SUC 0412', payer: null });
  lines.push({ id: bankId(day, schoolId, 'unknown-2'), date: day, amount: 50_000, text: 'TRASPASO DE TERCEROS', payer: 'INVERSIONES DEL NORTE SA' });
  lines.push({ id: bankId(day, schoolId, 'fee-1'), date: day, amount: -1_500, text: 'COMISION SPEI', payer: null });
  lines.push({ id: bankId(day, schoolId, 'fee-2'), date: day, amount: -240, text: 'IVA COMISION SPEI', payer: null });
  lines.push({ id: bankId(day, schoolId, 'fee-3'), date: day, amount: -35_000, text: 'CUOTA MANEJO DE CUENTA', payer: null });
  return lines;
}

/** A date in a CSV mapping's format. */
function csvDate(date: string, format: CsvMapping['dateFormat']): string {
  const [y, m, d] = date.split('-');
  return format === 'DD/MM/YYYY' ? `${d}/${m}/${y}` : format === 'MM/DD/YYYY' ? `${m}/${d}/${y}` : date;
}

/**
 * The lines as a file the way a bank writes it: CSV (date, amount, description, id,
 * payer — or the school's saved column names and date format), CAMT.053 or OFX 1.x.
 */
export function writeStatement(lines: readonly SampleLine[], format: StatementFormat, account: { currency: string; id: string; mapping?: CsvMapping }): Buffer {
  const first = lines.reduce((min, line) => (line.date < min ? line.date : min), lines[0]?.date ?? '2000-01-01');
  const last = lines.reduce((max, line) => (line.date > max ? line.date : max), first);
  if (format === 'csv') {
    const m = account.mapping ?? {};
    const header = [m.date ?? 'date', m.amount ?? 'amount', m.description ?? 'description', m.id ?? 'id', 'payer'].map(csvCell).join(',');
    return Buffer.from([header, ...lines.map((l) => [csvDate(l.date, m.dateFormat), signed(l.amount), csvCell(l.text), l.id, csvCell(l.payer ?? '')].join(','))].join('\n') + '\n');
  }
  if (format === 'camt053') {
    const entries = lines.map(
      (l) =>
        `<Ntry><Amt Ccy="${account.currency}">${money(l.amount)}</Amt><CdtDbtInd>${l.amount < 0 ? 'DBIT' : 'CRDT'}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>` +
        `<BookgDt><Dt>${l.date}</Dt></BookgDt><ValDt><Dt>${l.date}</Dt></ValDt><AcctSvcrRef>${xml(l.id)}</AcctSvcrRef><NtryDtls><TxDtls>` +
        `${l.payer === null ? '' : `<RltdPties><Dbtr><Nm>${xml(l.payer)}</Nm></Dbtr></RltdPties>`}<RmtInf><Ustrd>${xml(l.text)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>`,
    );
    return Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>` +
        `<GrpHdr><MsgId>${xml(account.id)}-${last}</MsgId><CreDtTm>${last}T23:00:00</CreDtTm></GrpHdr>` +
        `<Stmt><Id>${xml(account.id)}-${last}</Id><CreDtTm>${last}T23:00:00</CreDtTm><Acct><Id><Othr><Id>${xml(account.id)}</Id></Othr></Id><Ccy>${account.currency}</Ccy></Acct>\n` +
        `${entries.join('\n')}\n</Stmt></BkToCstmrStmt></Document>\n`,
    );
  }
  const compact = (date: string) => date.replaceAll('-', '');
  // OFX 1.x is ASCII here (ENCODING:USASCII): accents dropped, markup characters left out.
  const sgml = (text: string) => text.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^\x20-\x7e]/g, '').replace(/</g, ' ').replace(/&/g, ' y ');
  const transactions = lines.map(
    (l) =>
      `<STMTTRN>\n<TRNTYPE>${l.amount < 0 ? 'DEBIT' : 'CREDIT'}\n<DTPOSTED>${compact(l.date)}\n<TRNAMT>${signed(l.amount)}\n<FITID>${l.id}\n` +
      `<NAME>${sgml(l.payer ?? l.text).slice(0, 32)}\n<MEMO>${sgml(l.text)}\n</STMTTRN>`,
  );
  return Buffer.from(
    [
      'OFXHEADER:100', 'DATA:OFXSGML', 'VERSION:102', 'SECURITY:NONE', 'ENCODING:USASCII', 'CHARSET:1252', 'COMPRESSION:NONE', 'OLDFILEUID:NONE', 'NEWFILEUID:NONE', '',
      '<OFX>', '<BANKMSGSRSV1>', '<STMTTRNRS>', '<TRNUID>1', '<STATUS>', '<CODE>0', '<SEVERITY>INFO', '</STATUS>', '<STMTRS>', `<CURDEF>${account.currency}`,
      '<BANKACCTFROM>', '<BANKID>000', `<ACCTID>${sgml(account.id)}`, '<ACCTTYPE>CHECKING', '</BANKACCTFROM>', '<BANKTRANLIST>', `<DTSTART>${compact(first)}`, `<DTEND>${compact(last)}`,
      ...transactions, '</BANKTRANLIST>', '</STMTRS>', '</STMTTRNRS>', '</BANKMSGSRSV1>', '</OFX>', '',
    ].join('\n'),
  );
}
