import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import { ApiError } from '../../web/src/lib/api-error.js';
import { dashboardI18n } from '../../web/src/lib/i18n.js';
import { detailSentence, fieldMessage, problemSentence, refusalText } from '../../web/src/lib/problems.js';

/**
 * The API's refusals in Spanish (web/src/lib/problems.ts): every detail the server writes
 * for CONFLICT, BUSINESS_RULE_VIOLATION and NOT_FOUND (read from src/ itself, so a new
 * refusal without its Spanish fails here), the field messages of the forms, and the
 * line a form shows.
 */
const SRC = path.resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : [],
  );
}

/** A value for each expression the server's details interpolate: a new one must be added here (and get its words). */
const SAMPLES: Record<string, string> = {
  role: 'finance_analyst',
  settled: '150000',
  day: '2025-08-01',
  MAX_FAMILY_NUMBER: '999999',
  students: '2',
  owed: '150000',
  'family.creditBalance': '5000',
  MAX_GUARDIANS_PER_FAMILY: '6',
  'body.to': '2027-03-31',
  'credited.credited': '2000',
  'explainDeadLetter(row, feed.status).explanation': 'it was retried and applied',
};

/** Details a person of the dashboard does not read: the portal words its own 404s; the demo statement is for developers. */
const LEFT_IN_ENGLISH = new Set(['this invitation link is not valid', 'sample statements are written for demo schools only']);

function serverDetails(): { file: string; detail: string }[] {
  const refusal = /new AppError\(\s*'(?:CONFLICT|BUSINESS_RULE_VIOLATION|NOT_FOUND)',\s*(?:'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`)/g;
  const thing = /\bnotFound\('([^']+)'/g;
  const out: { file: string; detail: string }[] = [];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(refusal)) {
      const literal = match[1] ?? match[2] ?? '';
      if (literal === '${what} not found') {
        continue; // the notFound helpers: their things are read below
      }
      const detail = literal.replace(/\$\{([^}]+)\}/g, (_, expression: string) => {
        const sample = SAMPLES[expression];
        assert.ok(sample !== undefined, `${path.relative(SRC, file)}: add a sample for \${${expression}} to SAMPLES`);
        return sample;
      });
      out.push({ file, detail: detail.replace(/\\"/g, '"') });
    }
    for (const match of text.matchAll(thing)) {
      out.push({ file, detail: `${match[1]} not found` });
    }
  }
  return out;
}

/** Every message a bank statement file is refused with (`new StatementError('body', …)`), as a pattern its interpolations match anything in. */
function statementMessages(): { file: string; pattern: RegExp }[] {
  const out: { file: string; pattern: RegExp }[] = [];
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const file of sources(path.join(SRC, 'modules/reconciliation'))) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    const visit = (node: ts.Node): void => {
      const [field, message] = ts.isNewExpression(node) && node.expression.getText(source) === 'StatementError' ? (node.arguments ?? []) : [];
      if (field !== undefined && ts.isStringLiteral(field) && field.text === 'body' && message !== undefined) {
        // A quoted string or a template: its text around the interpolations, each of which matches anything.
        const parts = ts.isStringLiteralLike(message) ? [message.text] : ts.isTemplateExpression(message) ? [message.head.text, ...message.templateSpans.map((span) => span.literal.text)] : [];
        assert.ok(parts.length > 0, `${path.relative(SRC, file)}: a StatementError message that is not a literal: ${message.getText(source)}`);
        out.push({ file, pattern: new RegExp(`^${parts.map(escape).join('.*')}$`, 's') });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

/** One message of each kind a bank statement is refused with, as the readers write them (a new kind must be added here). */
const STATEMENT_SAMPLES = [
  'the header has no column "date" (it has: "fecha", "monto")',
  'the CSV is malformed: Invalid Closing Quote: got "x" at line 3 instead of delimiter, record delimiter, trimable character (if activated) or comment',
  'the CSV is empty (no header row)',
  'the statement has more than 20000 lines; split it',
  'the statement has more than 20000 entries; split it',
  'the statement has more than 20000 transactions; split it',
  `date "03/02/2027" is not a YYYY-MM-DD date (set the mapping's dateFormat to DD/MM/YYYY or MM/DD/YYYY)`,
  'amount "12,3,4" is not an amount',
  'amount "1.234.5" has more than one decimal mark \'.\'',
  'amount "1,23.00" has \',\' out of place (the decimal mark is \'.\')',
  'amount "10.001" has more decimals than MXN has (2)',
  'amount "99999999999999999" is too large',
  `the amounts mix '.' and ',' as the decimal mark: line 2 "1,500.00" and line 5 "200,50"`,
  'the statement file is empty',
  "the statement is in USD, but the school's currency is MXN",
  'this is not an OFX statement (no <OFX> element)',
  'the OFX has an unterminated comment or processing instruction',
  'the OFX has a malformed tag "<STMT TRN>"',
  'the OFX has text "hello" where an element was expected',
  'the OFX closes </BANKTRANLIST> but <STMTTRN> (line 12) is open',
  'the OFX closes </OFX> but no element is open',
  'the OFX never closes <STMTTRN>',
  'the OFX has no bank or credit-card statement (STMTRS / CCSTMTRS)',
  'the OFX statement has no CURDEF',
  'STMTTRN TRNAMT "12,3,4" is not an amount',
  'STMTTRN DTPOSTED is missing',
  'STMTTRN DTPOSTED "2027-13-45" is not a date',
  'the OFX statement declares a DOCTYPE or ENTITY, which is not accepted in a bank statement',
  'this is not a CAMT.053 statement (no Document/BkToCstmrStmt element)',
  'the CAMT.053 document has no Stmt element',
  'Ntry has no Amt',
  'Ntry Amt "ten" is not an amount',
  'Ntry CdtDbtInd is "RVSL", not CRDT or DBIT',
  'Ntry BookgDt is missing',
  'Ntry BookgDt "yesterday" is not a date',
  'the CAMT.053 statement declares a DOCTYPE or ENTITY, which is not accepted in a bank statement',
  'the CAMT.053 statement is not well-formed XML: Unexpected close tag.',
  'the CAMT.053 statement is not well-formed XML: it ends with Document, BkToCstmrStmt still open',
];

describe('web: the API’s refusals in the reader’s language', () => {
  before(async () => {
    await dashboardI18n.changeLanguage('es');
  });
  after(async () => {
    await dashboardI18n.changeLanguage('en');
  });

  test('every CONFLICT, BUSINESS_RULE_VIOLATION and NOT_FOUND detail the server writes has Spanish words', () => {
    const details = serverDetails();
    assert.ok(details.length >= 40, `only ${details.length} details found: is the pattern still reading src/?`);
    const missing = details.filter(({ detail }) => !LEFT_IN_ENGLISH.has(detail) && !/^[a-z-]+ policy \(/.test(detail) && detailSentence(detail) === null);
    assert.deepEqual(
      missing.map(({ file, detail }) => `${path.relative(SRC, file)}: ${detail}`),
      [],
      'give these a rule in web/src/lib/problems.ts (DETAIL_RULES) and words in strings/problems.ts',
    );
  });

  test('a detail’s values reach the sentence; a 404 names its thing in Spanish; an unknown detail is left to the API', () => {
    assert.equal(
      detailSentence('paidAt is before 2025-08-01, a year before the school was registered in Bursar'),
      'La fecha de pago es anterior al 2025-08-01, un año antes de que la escuela se registrara en Bursar.',
    );
    assert.equal(detailSentence('the family already has 6 guardians, the most one family may have'), 'La familia ya tiene 6 tutores, el máximo por familia.');
    assert.equal(detailSentence('family not found'), 'No se encontró la familia, o no es algo que usted pueda ver.');
    assert.equal(detailSentence('fee plan not found'), 'No se encontró el plan de pago, o no es algo que usted pueda ver.');
    assert.equal(detailSentence('spaceship not found'), null, 'a thing without words stays the API’s');
    assert.equal(detailSentence('something new went wrong'), null);
    assert.equal(detailSentence(undefined), null);
  });

  test('the code’s sentence comes first; a CONFLICT is read by its detail', () => {
    const conflict = new ApiError({ status: 409, code: 'CONFLICT', detail: 'the family still owes 150000 (minor units); settle or cancel its invoices first' });
    assert.equal(problemSentence(conflict), 'La familia aún debe facturas: liquídelas o cancélelas primero.');
    const overpaid = new ApiError({ status: 422, code: 'OVERPAYMENT', detail: 'amount 500 exceeds the open amount' });
    assert.equal(problemSentence(overpaid), 'El monto es mayor que lo que aún se debe de esta factura.');
  });

  test('the fee-plan and family forms’ field messages in Spanish', () => {
    const cases: [string, string][] = [
      ['shares must sum to 1 (within 1e-6); they sum to 0.9', 'Las partes deben sumar 1; suman 0.9.'],
      ['2028-09-01 is outside the academic year (2027-08-01 to 2028-07-31)', '2028-09-01 está fuera del ciclo escolar.'],
      ['the last instalment (2028-10-05) falls after the academic year ends (2028-07-31)', 'La última parcialidad (2028-10-05) cae después del fin del ciclo escolar (2028-07-31).'],
      ['a schedule needs at least one due date', 'Un calendario necesita al menos una fecha de vencimiento.'],
      ['must not be before from (2027-09-01)', 'No debe ser anterior a 2027-09-01.'],
      ['TRANSPORT is not optional in this plan (it is billed to every enrolment)', 'TRANSPORT no es opcional en este plan: se cobra a todas las inscripciones.'],
      ['is not a guardian of the student’s family', 'No es tutor de esta familia.'],
      ['must look like ABC-000123-4 (letters or digits, six digits, a check digit)', 'Debe tener la forma ABC-000123-4 (letras o dígitos, seis dígitos, un dígito verificador).'],
      ['must be a positive amount of minor units', 'Debe ser un monto mayor que cero.'],
      ['must NOT have more than 10 items', 'Debe incluir como máximo 10.'],
    ];
    for (const [api, spanish] of cases) {
      assert.equal(fieldMessage(api), spanish, api);
    }
  });

  test('a bank statement that cannot be read: its line, the value it quotes and the saved mapping, in Spanish', () => {
    const mapping = ' (read by the school’s saved CSV mapping, /schools/0190/statement-mapping)';
    assert.equal(
      detailSentence(`the statement cannot be read: line 1: the header has no column "date" (it has: "fecha", "monto")${mapping}`),
      'No se pudo leer el estado de cuenta: línea 1: el encabezado no tiene la columna "date" (tiene: "fecha", "monto") (leído con las columnas CSV guardadas de la escuela)',
    );
    assert.equal(
      detailSentence(`the statement cannot be read: line 4: date "03/02/2027" is not a YYYY-MM-DD date (set the mapping's dateFormat to DD/MM/YYYY or MM/DD/YYYY)`),
      'No se pudo leer el estado de cuenta: línea 4: la fecha "03/02/2027" no es una fecha YYYY-MM-DD (cambie el formato de fecha de las columnas CSV a DD/MM/YYYY o MM/DD/YYYY)',
    );
    assert.equal(detailSentence('the statement cannot be read: line 7: amount "12,3,4" is not an amount'), 'No se pudo leer el estado de cuenta: línea 7: el monto "12,3,4" no es un monto');
    assert.equal(
      detailSentence("the statement cannot be read: the statement is in USD, but the school's currency is MXN"),
      'No se pudo leer el estado de cuenta: el estado de cuenta está en USD, pero la moneda de la escuela es MXN',
    );
    assert.equal(detailSentence('the statement cannot be read: line 9: the bank wrote something new'), null, 'a message this does not know stays the API’s');
  });

  test('every message a bank statement is refused with has Spanish words, and each kind the readers write has a sample here', () => {
    const messages = statementMessages();
    assert.ok(messages.length >= 25, `only ${messages.length} StatementError messages found: is the pattern still reading src/modules/reconciliation?`);
    const unsampled = messages.filter(({ pattern }) => !STATEMENT_SAMPLES.some((sample) => pattern.test(sample)));
    assert.deepEqual(unsampled.map(({ file, pattern }) => `${path.relative(SRC, file)}: ${pattern.source}`), [], 'add a sample of these to STATEMENT_SAMPLES');
    const untranslated = STATEMENT_SAMPLES.filter((sample) => detailSentence(`the statement cannot be read: line 3: ${sample}`) === null);
    assert.deepEqual(untranslated, [], 'give these a rule in web/src/lib/problems.ts (STATEMENT_RULES) and words in strings/problems.ts (bankFile)');
    assert.equal(
      detailSentence('the statement cannot be read: line 9: the OFX never closes <STMTTRN>'),
      'No se pudo leer el estado de cuenta: línea 9: el OFX nunca cierra <STMTTRN>',
    );
    assert.equal(
      detailSentence('the statement cannot be read: line 14: Ntry Amt "ten" is not an amount'),
      'No se pudo leer el estado de cuenta: línea 14: el monto "ten" no es un monto',
      'an entry’s amount reads like a CSV amount',
    );
    assert.equal(
      detailSentence('the statement cannot be read: line 6: Ntry CdtDbtInd is "RVSL", not CRDT or DBIT'),
      'No se pudo leer el estado de cuenta: línea 6: el movimiento está marcado "RVSL", ni abono (CRDT) ni cargo (DBIT)',
    );
  });

  test('a form’s line: a refusal its fields explain says so, with each field in Spanish', () => {
    const refused = new ApiError({
      status: 422,
      code: 'BUSINESS_RULE_VIOLATION',
      detail: 'payers shares must sum to 1 (within 1e-6); they sum to 0.9',
      errors: [{ field: 'payers', message: 'shares must sum to 1 (within 1e-6); they sum to 0.9' }],
    });
    assert.equal(refusalText(refused), 'Hay campos que corregir. (payers: Las partes deben sumar 1; suman 0.9.)');
    const bare = new ApiError({ status: 409, code: 'CONFLICT', detail: 'something only the API can say' });
    assert.equal(refusalText(bare), 'something only the API can say');
  });
});
