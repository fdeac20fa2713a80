import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  MAX_STATEMENT_LINES,
  parseStatement,
  StatementError,
  syntheticTransactionId,
  type StatementLine,
} from '../../src/modules/reconciliation/statements.js';
import { minorToDecimal } from '../../src/shared/money.js';
import { parseAmount } from '../../src/modules/reconciliation/values.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/statements/${name}`, import.meta.url));
const MXN = { currency: 'MXN' };

const line = (bankTransactionId: string, date: string, amount: number, description: string, payerName: string | null = null): StatementLine => ({
  bankTransactionId,
  date,
  amount,
  currency: 'MXN',
  description,
  payerName,
});

/** Asserts `work` throws a StatementError on `field` (and `line`) whose message matches `message`. */
function assertStatementError(work: () => unknown, field: string, message: RegExp, lineNumber?: number): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof StatementError, `not a StatementError: ${String(error)}`);
    assert.equal(error.field, field);
    assert.match(error.message, message);
    assert.equal(error.line, lineNumber);
    return true;
  });
}

describe('bank statements: CSV', () => {
  test('the sample: ids, signed minor units, thousands commas, a quoted multi-line description collapsed', () => {
    const parsed = parseStatement(fixture('sample.csv'), 'csv', MXN);
    assert.deepEqual(parsed, {
      format: 'csv',
      currency: 'MXN',
      duplicates: 0,
      lines: [
        line('MBK20260803001', '2026-08-03', 450000, 'SPEI RECIBIDO COLEGIATURA ESC-000123-4 AGOSTO DE MARÍA LÓPEZ'),
        line('MBK20260803002', '2026-08-03', 125050, 'DEPOSITO EN EFECTIVO INV-000042'),
        line('MBK20260804001', '2026-08-04', -1500, 'COMISION SPEI'),
        line('MBK20260804002', '2026-08-04', -240, 'IVA COMISION SPEI'),
        line('MBK20260805001', '2026-08-05', 900000, 'PAGO ESC-000217-9 INSCRIPCION'),
        line('MBK20260806001', '2026-08-06', 320000, 'TRANSFERENCIA RECIBIDA'),
        line('MBK20260807001', '2026-08-07', 450000, 'REF ESC-000311-2 colegiatura agosto'),
        line('MBK20260810001', '2026-08-10', 1200000, 'PAGO FACTURAS INV-000051 INV-000052'),
        line('MBK20260811001', '2026-08-11', -35000, 'CUOTA MANEJO DE CUENTA'),
      ],
    });
  });

  test('a mapping renames columns and sets DD/MM/YYYY; ";" files with decimal commas', () => {
    const body = Buffer.from(
      'Fecha;Concepto;Importe;Referencia\n' +
        '03/08/2026;Colegiatura ESC-000123-4;1.500,00;R1\n' +
        '04/08/2026;Comisión;-200,50;R2\n' +
        '05/08/2026;Pago INV-000042;1.234.567,8;R3\n' +
        '06/08/2026;Ajuste;7;R4\n',
      'latin1',
    );
    const parsed = parseStatement(body, 'csv', {
      currency: 'MXN',
      mapping: { date: 'fecha', amount: 'IMPORTE', description: 'Concepto', id: 'referencia', dateFormat: 'DD/MM/YYYY' },
    });
    assert.deepEqual(parsed.lines, [
      line('R1', '2026-08-03', 150000, 'Colegiatura ESC-000123-4'),
      line('R2', '2026-08-04', -20050, 'Comisión'),
      line('R3', '2026-08-05', 123456780, 'Pago INV-000042'),
      line('R4', '2026-08-06', 700, 'Ajuste'),
    ]);
    const us = parseStatement(Buffer.from('date,amount,description\n08/03/2026,"1,500",x\n'), 'csv', { currency: 'MXN', mapping: { dateFormat: 'MM/DD/YYYY' } });
    assert.deepEqual(us.lines.map((l) => [l.date, l.amount]), [['2026-08-03', 150000]]);
  });

  test('the decimal mark is decided per file; CLP (0 digits) reads "1.500" as 1500; mixing marks is refused', () => {
    const clp = parseStatement(Buffer.from('date,amount,description\n2026-08-03,1.500,a\n2026-08-04,-25.000,b\n'), 'csv', { currency: 'CLP' });
    assert.deepEqual(clp.lines.map((l) => [l.amount, l.currency]), [[1500, 'CLP'], [-25000, 'CLP']]);
    const dotOnly = parseStatement(Buffer.from('date,amount,description\n2026-08-03,"1,500",a\n2026-08-04,"12,345,678.9",b\n'), 'csv', MXN);
    assert.deepEqual(dotOnly.lines.map((l) => l.amount), [150000, 1234567890]);
    assertStatementError(
      () => parseStatement(Buffer.from('date;amount;description\n2026-08-03;1,500.00;a\n2026-08-04;1.500,00;b\n'), 'csv', MXN),
      'body',
      /mix '\.' and ',' as the decimal mark: line 2 "1,500\.00" and line 3 "1\.500,00"/,
    );
  });

  test('without an id column each line gets a stable hash; identical movements stay two lines', () => {
    const body = Buffer.from('date,amount,description\n2026-08-03,100.00,Pago ESC-000123-4\n2026-08-03,100.00,Pago   ESC-000123-4\n2026-08-04,-5.00,Comision\n');
    const first = parseStatement(body, 'csv', MXN);
    const again = parseStatement(body, 'csv', MXN);
    assert.deepEqual(first, again);
    assert.equal(first.duplicates, 0);
    assert.deepEqual(
      first.lines.map((l) => l.bankTransactionId),
      [
        syntheticTransactionId('2026-08-03', 10000, 'Pago ESC-000123-4', 0),
        syntheticTransactionId('2026-08-03', 10000, 'Pago ESC-000123-4', 1),
        syntheticTransactionId('2026-08-04', -500, 'Comision', 0),
      ],
    );
    assert.match(first.lines[0]?.bankTransactionId ?? '', /^sha256:[0-9a-f]{32}$/);
    assert.equal(new Set(first.lines.map((l) => l.bankTransactionId)).size, 3);
  });

  test('repeated ids: the first line is kept and the rest counted', () => {
    const body = Buffer.from('id,date,amount,description\nA,2026-08-03,1.00,first\nB,2026-08-03,2.00,b\nA,2026-08-04,9.00,again\nA,2026-08-05,9.00,again\n');
    const parsed = parseStatement(body, 'csv', MXN);
    assert.equal(parsed.duplicates, 2);
    assert.deepEqual(parsed.lines, [line('A', '2026-08-03', 100, 'first'), line('B', '2026-08-03', 200, 'b')]);
  });

  test('a bad date or amount names its line; slash dates without a dateFormat say how to fix it', () => {
    const csv = (rows: string) => Buffer.from(`date,amount,description\n${rows}`);
    assertStatementError(() => parseStatement(csv('2026-08-03,1.00,a\n2026-02-30,1.00,b\n'), 'csv', MXN), 'body', /date "2026-02-30" is not a YYYY-MM-DD date/, 3);
    assertStatementError(() => parseStatement(csv('03/08/2026,1.00,a\n'), 'csv', MXN), 'body', /set the mapping's dateFormat/, 2);
    assertStatementError(() => parseStatement(csv('2026-08-03,1.00,a\n2026-08-04,12x,b\n'), 'csv', MXN), 'body', /amount "12x" is not an amount/, 3);
    assertStatementError(() => parseStatement(csv('2026-08-03,1.0051,a\n'), 'csv', MXN), 'body', /amount "1\.0051" has more decimals than MXN has \(2\)/, 2);
    // Three digits after a single mark are a thousands group in a 2-digit currency: 1.005 is 1005 pesos.
    assert.equal(parseStatement(csv('2026-08-03,1.005,a\n'), 'csv', MXN).lines[0]?.amount, 100500);
    assertStatementError(() => parseStatement(csv('2026-08-03,,a\n'), 'csv', MXN), 'body', /amount "" is not an amount/, 2);
  });

  test('malformed CSV, missing columns and bad options are refused, naming where', () => {
    assertStatementError(() => parseStatement(Buffer.from('date,amount,description\n2026-08-03,"1.00"x,a\n'), 'csv', MXN), 'body', /the CSV is malformed: Invalid Closing Quote/, 2);
    assertStatementError(() => parseStatement(Buffer.from('date,amount,description\n2026-08-03,1.00\n'), 'csv', MXN), 'body', /the CSV is malformed: Invalid Record Length/, 2);
    assertStatementError(() => parseStatement(Buffer.from('fecha,amount,description\n'), 'csv', MXN), 'body', /no column "date" \(it has: "fecha", "amount", "description"\)/, 1);
    assertStatementError(() => parseStatement(Buffer.from('date,amount,description\n'), 'csv', { currency: 'MXN', mapping: { id: 'folio' } }), 'mapping.id', /no column "folio"/, 1);
    assertStatementError(() => parseStatement(Buffer.from('  \n'), 'csv', MXN), 'body', /empty/);
    assertStatementError(() => parseStatement(Buffer.from('a'), 'csv', { currency: 'mxn' }), 'currency', /ISO 4217/);
  });

  test(`more than ${MAX_STATEMENT_LINES} lines are refused`, () => {
    const rows = '2026-08-03,1.00,x\n'.repeat(MAX_STATEMENT_LINES + 1);
    assertStatementError(() => parseStatement(Buffer.from(`date,amount,description\n${rows}`), 'csv', MXN), 'body', /more than 100000 lines/);
    const atLimit = parseStatement(Buffer.from(`date,amount,description\n${'2026-08-03,1.00,x\n'.repeat(MAX_STATEMENT_LINES)}`), 'csv', MXN);
    assert.equal(atLimit.lines.length, MAX_STATEMENT_LINES);
  });
});

describe('bank statements: CAMT.053', () => {
  test('the sample: CRDT/DBIT, AcctSvcrRef then EndToEndId/TxId, Ustrd joined, debtor names, DtTm dates', () => {
    const parsed = parseStatement(fixture('sample.camt053.xml'), 'camt053', MXN);
    assert.deepEqual(parsed, {
      format: 'camt053',
      currency: 'MXN',
      duplicates: 0,
      lines: [
        line('BNK0803A001', '2026-08-03', 450000, 'COLEGIATURA AGOSTO ESC-000123-4', 'MARÍA LÓPEZ HERNÁNDEZ'),
        line('TX-0803-0042', '2026-08-03', 125050, 'PAGO INV-000042', 'PEDRO RAMÍREZ & ASOCIADOS'),
        line('BNK0804F001', '2026-08-04', -1500, 'COMISION SPEI'),
        line('BNK0804F002', '2026-08-04', -240, 'IVA COMISION SPEI'),
        line('BNK0805A001', '2026-08-05', 900000, 'INSCRIPCION ESC-000217-9', 'JOSÉ GARCÍA'),
        line('BNK0806A001', '2026-08-06', 320000, 'TRANSFERENCIA RECIBIDA'),
        line('BNK0810A001', '2026-08-10', 1200000, 'FACTURAS INV-000051 INV-000052', 'ANA TORRES'),
        line('BNK0811F001', '2026-08-11', -35000, 'CUOTA MANEJO DE CUENTA'),
      ],
    });
  });

  const camt = (entries: string, ccy = 'MXN') =>
    Buffer.from(
      `<?xml version="1.0"?>\n<ns:Document xmlns:ns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><ns:BkToCstmrStmt><ns:Stmt>\n<ns:Acct><ns:Ccy>${ccy}</ns:Ccy></ns:Acct>\n${entries}</ns:Stmt></ns:BkToCstmrStmt></ns:Document>`,
    );
  const entry = (amt: string, extra = '') =>
    `<ns:Ntry><ns:Amt Ccy="MXN">${amt}</ns:Amt><ns:CdtDbtInd>CRDT</ns:CdtDbtInd><ns:BookgDt><ns:Dt>2026-08-03</ns:Dt></ns:BookgDt>${extra}</ns:Ntry>\n`;

  test('prefixed namespaces and Dbtr/Pty/Nm (001.08); EndToEndId NOTPROVIDED is not an id', () => {
    const parsed = parseStatement(
      camt(entry('10.5', '<ns:NtryDtls><ns:TxDtls><ns:Refs><ns:EndToEndId>E1</ns:EndToEndId></ns:Refs><ns:RltdPties><ns:Dbtr><ns:Pty><ns:Nm>Ana</ns:Nm></ns:Pty></ns:Dbtr></ns:RltdPties></ns:TxDtls></ns:NtryDtls>') + entry('1.00', '<ns:NtryDtls><ns:TxDtls><ns:Refs><ns:EndToEndId>NOTPROVIDED</ns:EndToEndId></ns:Refs></ns:TxDtls></ns:NtryDtls>')),
      'camt053',
      MXN,
    );
    assert.deepEqual(parsed.lines[0], line('E1', '2026-08-03', 1050, '', 'Ana'));
    assert.equal(parsed.lines[1]?.bankTransactionId, syntheticTransactionId('2026-08-03', 100, '', 0));
  });

  test('another currency than the school\'s is refused, naming both', () => {
    assertStatementError(() => parseStatement(camt(entry('1.00'), 'USD'), 'camt053', MXN), 'body', /the statement is in USD, but the school's currency is MXN/);
    assertStatementError(() => parseStatement(fixture('sample.camt053.xml'), 'camt053', { currency: 'COP' }), 'body', /is in MXN, but the school's currency is COP/);
  });

  test('a bad amount, indicator or date names the entry\'s line; malformed XML names its line', () => {
    assertStatementError(() => parseStatement(camt(entry('1.00') + entry('1,50')), 'camt053', MXN), 'body', /Ntry Amt "1,50" is not a decimal amount/, 5);
    assertStatementError(() => parseStatement(camt(entry('-1.00')), 'camt053', MXN), 'body', /not a decimal amount/, 4);
    assertStatementError(() => parseStatement(camt(entry('1.00').replace('CRDT', 'CREDIT')), 'camt053', MXN), 'body', /CdtDbtInd is "CREDIT"/, 4);
    assertStatementError(() => parseStatement(camt(entry('1.00').replace('2026-08-03', '03/08/2026')), 'camt053', MXN), 'body', /BookgDt "03\/08\/2026" is not a date/, 4);
    assertStatementError(() => parseStatement(Buffer.from(camt(entry('1.00')).toString().replace('</ns:Stmt></ns:BkToCstmrStmt></ns:Document>', '')), 'camt053', MXN), 'body', /not well-formed XML: it ends with <ns:Document>, <ns:BkToCstmrStmt>, <ns:Stmt> still open/);
    assertStatementError(() => parseStatement(Buffer.from('<a>\n<b></a>'), 'camt053', MXN), 'body', /not well-formed XML: Expected closing tag 'b'/, 2);
    assertStatementError(() => parseStatement(Buffer.from('<Document><Other/></Document>'), 'camt053', MXN), 'body', /not a CAMT\.053 statement/);
  });

  test('the billion-laughs bomb is refused at its DOCTYPE, fast, without expanding anything', () => {
    const started = performance.now();
    assertStatementError(() => parseStatement(fixture('bomb.camt053.xml'), 'camt053', MXN), 'body', /declares a DOCTYPE or ENTITY/, 2);
    assert.ok(performance.now() - started < 200, 'took too long');
    // Even past the DOCTYPE check, an undeclared entity reference stays literal text.
    const parsed = parseStatement(camt(entry('1.00', '<ns:NtryDtls><ns:TxDtls><ns:RmtInf><ns:Ustrd>&amp;lol9; &#65;</ns:Ustrd></ns:RmtInf></ns:TxDtls></ns:NtryDtls>')), 'camt053', MXN);
    assert.equal(parsed.lines[0]?.description, '&lol9; A');
  });

  test('repeated AcctSvcrRef: first kept, the rest counted', () => {
    const ref = (r: string) => `<ns:AcctSvcrRef>${r}</ns:AcctSvcrRef>`;
    const parsed = parseStatement(camt(entry('1.00', ref('X')) + entry('2.00', ref('Y')) + entry('3.00', ref('X'))), 'camt053', MXN);
    assert.equal(parsed.duplicates, 1);
    assert.deepEqual(parsed.lines.map((l) => [l.bankTransactionId, l.amount]), [['X', 100], ['Y', 200]]);
  });
});

describe('bank statements: OFX', () => {
  const expectedOfx = (prefix: string, names: { maria: string; deposito: string; comision: string; iva: string; jose: string; transferencia: string; ana: string; cuota: string }, memos: { maria: string; jose: string; ana: string; inscripcion?: string }) => [
    line(`${prefix}20260803-0001`, '2026-08-03', 450000, `${names.maria} ${memos.maria}`, names.maria),
    line(`${prefix}20260803-0002`, '2026-08-03', 125050, `${names.deposito} INV-000042`, names.deposito),
    line(`${prefix}20260804-0001`, '2026-08-04', -1500, names.comision),
    line(`${prefix}20260804-0002`, '2026-08-04', -240, names.iva),
    line(`${prefix}20260805-0001`, '2026-08-05', 900000, `${names.jose} ${memos.jose}`, names.jose),
    line(`${prefix}20260806-0001`, '2026-08-06', 320000, names.transferencia, names.transferencia),
    line(`${prefix}20260810-0001`, '2026-08-10', 1200000, `${names.ana} ${memos.ana}`, names.ana),
    line(`${prefix}20260811-0001`, '2026-08-11', -35000, names.cuota),
  ];

  test('the 1.x SGML sample: leaves without closing tags, DTPOSTED with time and zone, &amp; decoded', () => {
    const parsed = parseStatement(fixture('sample.ofx'), 'ofx', MXN);
    assert.equal(parsed.format, 'ofx');
    assert.equal(parsed.duplicates, 0);
    assert.deepEqual(
      parsed.lines,
      expectedOfx(
        '',
        { maria: 'MARIA LOPEZ HERNANDEZ', deposito: 'DEPOSITO EFECTIVO', comision: 'COMISION SPEI', iva: 'IVA COMISION SPEI', jose: 'JOSE GARCIA', transferencia: 'TRANSFERENCIA RECIBIDA', ana: 'ANA TORRES', cuota: 'CUOTA MANEJO DE CUENTA' },
        { maria: 'SPEI COLEGIATURA ESC-000123-4', jose: 'INSCRIPCION ESC-000217-9', ana: 'FACTURAS INV-000051 INV-000052 & RECARGO' },
      ),
    );
  });

  test('the 2.x XML sample: the same statement with closed tags, UTF-8 accents, an empty MEMO', () => {
    const parsed = parseStatement(fixture('sample-v2.ofx'), 'ofx', MXN);
    assert.deepEqual(
      parsed.lines,
      expectedOfx(
        'A',
        { maria: 'María López Hernández', deposito: 'Depósito efectivo', comision: 'Comisión SPEI', iva: 'IVA comisión SPEI', jose: 'José García', transferencia: 'Transferencia recibida', ana: 'Ana Torres', cuota: 'Cuota manejo de cuenta' },
        { maria: 'SPEI colegiatura ESC-000123-4', jose: 'Inscripción ESC-000217-9', ana: 'Facturas INV-000051 INV-000052' },
      ),
    );
  });

  const ofx = (transactions: string, curdef = 'MXN') =>
    Buffer.from(`OFXHEADER:100\nDATA:OFXSGML\n\n<OFX>\n<BANKMSGSRSV1><STMTTRNRS><STMTRS>\n<CURDEF>${curdef}\n<BANKTRANLIST>\n${transactions}</BANKTRANLIST>\n</STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n`);
  const trn = (amount: string, fitid: string, extra = '') => `<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20260803\n<TRNAMT>${amount}\n<FITID>${fitid}\n${extra}</STMTTRN>\n`;

  test('decimal commas, repeated FITIDs, a Windows-1252 file', () => {
    const parsed = parseStatement(ofx(trn('1.500,25', 'F1') + trn('-3,5', 'F2') + trn('7,00', 'F1')), 'ofx', MXN);
    assert.equal(parsed.duplicates, 1);
    assert.deepEqual(parsed.lines.map((l) => [l.bankTransactionId, l.amount]), [['F1', 150025], ['F2', -350]]);
    const latin = parseStatement(Buffer.from(ofx(trn('1.00', 'F1', '<NAME>JOSÉ PEÑA\n')).toString('utf8'), 'latin1'), 'ofx', MXN);
    assert.equal(latin.lines[0]?.payerName, 'JOSÉ PEÑA');
  });

  test('another currency, bad amounts and dates, unclosed or stray tags are refused, naming the line', () => {
    assertStatementError(() => parseStatement(ofx(trn('1.00', 'F1'), 'USD'), 'ofx', MXN), 'body', /the statement is in USD, but the school's currency is MXN/, 5);
    assertStatementError(() => parseStatement(ofx(trn('1.00', 'F1') + trn('abc', 'F2')), 'ofx', MXN), 'body', /TRNAMT "abc" is not an amount/, 14);
    assertStatementError(() => parseStatement(ofx(trn('1.00', 'F1').replace('20260803', '2026-08-03')), 'ofx', MXN), 'body', /DTPOSTED "2026-08-03" is not a date/, 8);
    assertStatementError(() => parseStatement(ofx(trn('1.00', 'F1')).subarray(0, 120), 'ofx', MXN), 'body', /never closes <STMTTRN>/, 8);
    assertStatementError(() => parseStatement(ofx(trn('1.00', 'F1').replace('</STMTTRN>', '</STMTTRNX>')), 'ofx', MXN), 'body', /closes <\/STMTTRNX> but <STMTTRN> \(line 8\) is open/, 13);
    assertStatementError(() => parseStatement(ofx(trn('1.00', 'F1', '<NAME a="1">x\n')), 'ofx', MXN), 'body', /malformed tag "<NAME a="1">"/, 13);
    assertStatementError(() => parseStatement(Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><OFX></OFX>'), 'ofx', MXN), 'body', /DOCTYPE/, 1);
    assertStatementError(() => parseStatement(Buffer.from('just text'), 'ofx', MXN), 'body', /not an OFX statement/);
    assertStatementError(() => parseStatement(Buffer.from('<OFX></OFX>'), 'ofx', MXN), 'body', /no bank or credit-card statement/);
  });
});

describe('bank amounts', () => {
  /** Minor units written the ways banks write them: grouping, decimal mark, sign style. */
  const bankText = (minor: number, currency: string, mark: '.' | ',', grouped: boolean, sign: 'minus' | 'parens' | 'trailing') => {
    const plain = minorToDecimal(Math.abs(minor), currency);
    const [whole = '', fraction] = plain.split('.');
    const group = mark === '.' ? ',' : '.';
    const wholeText = grouped ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, group) : whole;
    const body = fraction === undefined ? wholeText : `${wholeText}${mark}${fraction}`;
    if (minor >= 0) {
      return body;
    }
    return sign === 'minus' ? `-${body}` : sign === 'parens' ? `(${body})` : `${body}-`;
  };

  test('property: any minor-unit amount formatted as bank text parses back exactly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom('MXN', 'USD', 'COP', 'JPY', 'CLP', 'KWD'),
        fc.constantFrom<'.' | ','>('.', ','),
        fc.boolean(),
        fc.constantFrom<'minus' | 'parens' | 'trailing'>('minus', 'parens', 'trailing'),
        (minor, currency, mark, grouped, sign) => {
          const text = bankText(minor, currency, mark, grouped, sign);
          assert.equal(parseAmount(text, mark, currency), minor === 0 ? 0 : minor, text);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('property: a CSV of such amounts, decimal mark detected from the file, parses back exactly (MXN)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e12, max: 1e12 }), { minLength: 1, maxLength: 20 }), fc.constantFrom<'.' | ','>('.', ','), (amounts, mark) => {
        // Each row's amount has its decimals written, so every row votes for `mark`.
        const rows = amounts.map((minor, i) => `2026-08-03;${bankText(minor, 'MXN', mark, true, 'minus')};row ${i};id${i}`).join('\n');
        const parsed = parseStatement(Buffer.from(`date;amount;description;id\n${rows}\n`), 'csv', MXN);
        assert.deepEqual(parsed.lines.map((l) => l.amount), amounts.map((a) => (a === 0 ? 0 : a)));
      }),
      { numRuns: 300 },
    );
  });
});
