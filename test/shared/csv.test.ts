import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import {
  createCsvStringifier,
  createPeopleCsv,
  CsvNumber,
  csvComment,
  csvValueOf,
  FORMULA_TRIGGERS,
  neutraliseFormula,
  type CsvColumn,
  type PeopleColumn,
} from '../../src/shared/csv.js';

interface Row {
  name: string | null;
  amount: number;
  at?: Date;
  flag?: boolean;
}

const columns: CsvColumn<Row>[] = [
  { key: 'name', header: 'Name' },
  { key: 'amount', header: 'Amount' },
  { key: 'at', header: 'At' },
  { key: 'flag', header: 'Flag' },
];

/** Streams rows through a stringifier and returns the CSV text. */
async function toCsv<T extends object>(cols: readonly CsvColumn<T>[], rows: T[]): Promise<string> {
  const stringifier = createCsvStringifier(cols);
  Readable.from(rows).pipe(stringifier);
  return text(stringifier);
}

const startsWithTrigger = (cell: string) => FORMULA_TRIGGERS.includes(cell.charAt(0));

describe('CSV helpers', () => {
  test('neutraliseFormula prefixes exactly the formula triggers', () => {
    for (const trigger of ['=', '+', '-', '@', '\t', '\r']) {
      assert.equal(neutraliseFormula(`${trigger}SUM(A1:A9)`), `'${trigger}SUM(A1:A9)`);
    }
    assert.equal(neutraliseFormula('Ana Alvarez'), 'Ana Alvarez');
    assert.equal(neutraliseFormula(''), '');
    assert.equal(neutraliseFormula("'=already text"), "'=already text");
    assert.equal(neutraliseFormula(' =1+1'), ' =1+1', 'only the first character counts');
  });

  test('the stringifier writes the header row, then rows in column order, neutralised and typed', async () => {
    const csv = await toCsv(columns, [
      { name: '=HYPERLINK("http://evil","x")', amount: -5, at: new Date('2026-01-02T03:04:05.000Z'), flag: true },
      { name: null, amount: 1200 },
      { name: 'Invoice #7, "quoted"\nsecond line', amount: 0, flag: false },
    ]);
    const lines = csv.split('\n');
    assert.equal(lines[0], 'Name,Amount,At,Flag');
    const records = parse<Record<string, string>>(csv, { columns: true });
    assert.deepEqual(records, [
      { Name: `'=HYPERLINK("http://evil","x")`, Amount: '-5', At: '2026-01-02T03:04:05.000Z', Flag: 'true' },
      { Name: '', Amount: '1200', At: '', Flag: '' },
      { Name: 'Invoice #7, "quoted"\nsecond line', Amount: '0', At: '', Flag: 'false' },
    ]);
  });

  test('a cell containing # is quoted, so comment-aware readers keep it whole', async () => {
    const csv = await toCsv(columns, [{ name: 'Room #4', amount: 1 }, { name: '#1 student', amount: 2 }]);
    assert.match(csv, /"Room #4"/);
    const records = parse<Record<string, string>>(csvComment('metadata: x') + csv, { columns: true, comment: '#' });
    assert.deepEqual(records.map((record) => record.Name), ['Room #4', '#1 student']);
  });

  test('csvComment is one line that csv-parse skips, and holds no formula even when split on , or ;', () => {
    const line = csvComment('School: Foo,=HYPERLINK("x"); +1\r\n@SUM(A1)');
    assert.equal(line.split('\n').length, 2, 'exactly one line');
    assert.ok(line.startsWith('# '));
    assert.deepEqual(parse(`${line}a,b\n1,2\n`, { comment: '#' }), [['a', 'b'], ['1', '2']]);
    const naive = parse(line, { delimiter: [',', ';'], quote: false, relax_column_count: true }).flat();
    assert.ok(naive.length >= 3);
    for (const cell of naive) {
      assert.ok(!startsWithTrigger(cell.trimStart()), `cell ${JSON.stringify(cell)} is a formula`);
    }
  });

  // Any text, with formula triggers over-represented at the start.
  const anyCell = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.tuple(fc.constantFrom(...FORMULA_TRIGGERS), fc.string({ unit: 'binary', maxLength: 40 })).map(([head, tail]) => head + tail),
  );

  test('property: a parsed-back cell never starts with a formula character unless prefixed by \'', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyCell, { minLength: 1, maxLength: 5 }), async (cells) => {
        const cols = cells.map((_, i) => ({ key: `c${i}`, header: `c${i}` }));
        const row = Object.fromEntries(cells.map((cell, i) => [`c${i}`, cell]));
        const csv = await toCsv(cols, [row]);
        const [header, parsed, ...rest] = parse(csv, { relax_quotes: false });
        assert.deepEqual(header, cols.map((col) => col.header));
        assert.equal(rest.length, 0, 'one record per row, whatever the cell holds');
        assert.equal(parsed?.length, cells.length);
        parsed?.forEach((cell, i) => {
          const original = cells[i] ?? '';
          assert.ok(!startsWithTrigger(cell), `cell ${JSON.stringify(cell)} starts with a formula character`);
          assert.equal(cell, startsWithTrigger(original) ? `'${original}` : original, 'the value round-trips (only the prefix added)');
        });
      }),
      { numRuns: 200 },
    );
  });

  test('property: a comment is one line and no piece of it is a formula', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(anyCell, fc.constantFrom(',', ';', ', ', '')), { maxLength: 4 }).map((parts) => parts.flat().join('')), (value) => {
        const line = csvComment(value);
        assert.equal(line.indexOf('\n'), line.length - 1);
        assert.ok(!/[\r\u2028\u2029]/.test(line));
        for (const piece of line.slice(0, -1).split(/[,;]/)) {
          assert.ok(!startsWithTrigger(piece.trimStart()), `piece ${JSON.stringify(piece)} is a formula`);
        }
      }),
    );
  });
});

describe('CSV for people', () => {
  interface Line {
    name: string;
    minor: number;
    currency: string;
    due: string;
    at: Date;
    rate: number;
  }
  const people: PeopleColumn<Line>[] = [
    { header: { en: 'Name', es: 'Nombre' }, width: 20, cell: (row) => ({ text: row.name }) },
    { header: { en: 'Net', es: 'Neto' }, width: 12, cell: (row) => ({ money: row.minor, currency: row.currency }) },
    { header: { en: 'Due date', es: 'Vencimiento' }, width: 12, cell: (row) => ({ date: row.due }) },
    { header: { en: 'Paid at', es: 'Pagado el' }, width: 16, cell: (row) => ({ at: row.at, timeZone: 'America/Mexico_City' }) },
    { header: { en: 'Rate (%)', es: 'Tasa (%)' }, width: 8, cell: (row) => ({ ratio: row.rate }) },
  ];

  test('amounts as plain decimals with the currency digits (a sign is not a formula), times local, words as headers', async () => {
    const csv = createPeopleCsv(people, 'es', { bom: true });
    const rows: Line[] = [
      { name: '-Refund', minor: -1_250, currency: 'USD', due: '2026-12-02', at: new Date('2026-12-02T18:45:00Z'), rate: 0.8567 },
      { name: 'Yen', minor: 5_000, currency: 'JPY', due: '2026-01-31', at: new Date('2026-07-01T05:00:00Z'), rate: 1 },
    ];
    Readable.from(rows.map((row) => csv.toRecord(row))).pipe(csv.stringifier);
    const bytes = await buffer(csv.stringifier);
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'byte-order mark');
    assert.equal(
      bytes.subarray(3).toString('utf8'),
      'Nombre,Neto,Vencimiento,Pagado el,Tasa (%)\n' + "'-Refund,-12.50,2026-12-02,2026-12-02 12:45,85.67\n" + 'Yen,5000,2026-01-31,2026-06-30 23:00,100.00\n',
    );
    assert.equal(csvValueOf({ money: 450_000, currency: 'MXN' }) instanceof CsvNumber, true);
    assert.throws(() => new CsvNumber('=1+1'), RangeError);
  });
});
