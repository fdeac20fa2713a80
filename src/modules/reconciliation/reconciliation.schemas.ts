import { Type, type Static } from 'typebox';
import { DateOnly, ListQuery, Timestamp, Uuid } from '../billing/billing.schemas.js';
import { MAX_STATEMENT_LINES } from './statements.js';

/** TypeBox schemas of bank reconciliation (SPEC §9 "Bank reconciliation"). */
export const StatementFormat = Type.Union([Type.Literal('csv'), Type.Literal('camt053'), Type.Literal('ofx')], {
  description: 'csv (a header row; columns date, amount, description, id by default, or the school’s saved mapping), camt053 (ISO 20022 XML), ofx (1.x SGML or 2.x XML)',
});

export const ImportQuery = Type.Object({ schoolId: Uuid, format: StatementFormat }, { additionalProperties: false });
export type ImportQuery = Static<typeof ImportQuery>;

const Count = Type.Integer({ minimum: 0 });
export const BankImport = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    format: StatementFormat,
    lines: Type.Integer({ minimum: 0, maximum: MAX_STATEMENT_LINES, description: 'lines in the file (a line repeated inside it counted once)' }),
    matched: Type.Integer({ minimum: 0, description: 'new lines whose payment was recorded' }),
    suggested: Type.Integer({ minimum: 0, description: 'new lines with a likely invoice or family, waiting for a person' }),
    unmatched: Type.Integer({ minimum: 0, description: 'new lines nothing was found for' }),
    ignored: Type.Integer({ minimum: 0, description: 'new lines of money paid out' }),
    duplicates: Type.Integer({ minimum: 0, description: 'lines already stored (this file again, an overlapping statement) or repeated in the file: nothing added' }),
    createdAt: Timestamp,
  },
  { $id: 'BankImport' },
);

export const BankLineStatus = Type.Union([Type.Literal('matched'), Type.Literal('suggested'), Type.Literal('unmatched'), Type.Literal('ignored')]);

export const BankLine = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    importId: Uuid,
    bankTransactionId: Type.String({ description: 'the bank’s id of the movement (or sha256:… when the file has none): stored once per school' }),
    date: DateOnly,
    amount: Type.Integer({ description: 'minor units; negative = paid out' }),
    currency: Type.String(),
    description: Type.String({ description: 'the remittance text' }),
    payerName: Type.Union([Type.String(), Type.Null()]),
    status: BankLineStatus,
    reason: Type.Union([Type.String(), Type.Null()], {
      description: 'why: invoice | reference (matched by the number or reference and the amount) | invoice_amount | invoices | reference_amount | check_digit | amount (suggested) | none | outgoing | manual | unmatched | an error code (a match the ledger refused)',
    }),
    invoice: Type.Union([Type.Object({ id: Uuid, number: Type.String(), pendingAmount: Type.Integer() }), Type.Null()], { description: 'the invoice matched or suggested' }),
    family: Type.Union([Type.Object({ id: Uuid, name: Type.String(), reference: Type.String() }), Type.Null()], { description: 'the family matched or suggested' }),
    paymentId: Type.Union([Uuid, Type.Null()]),
    familyPaymentId: Type.Union([Uuid, Type.Null()]),
    decidedAt: Type.Union([Timestamp, Type.Null()]),
    createdAt: Timestamp,
  },
  { $id: 'BankLine' },
);

export const LinesQuery = Type.Object(
  { schoolId: Uuid, status: Type.Optional(BankLineStatus), importId: Type.Optional(Uuid), ...ListQuery },
  { additionalProperties: false },
);
export type LinesQuery = Static<typeof LinesQuery>;

export const BankLinePage = Type.Object(
  {
    data: Type.Array(Type.Ref('BankLine')),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
    counts: Type.Object({ matched: Count, suggested: Count, unmatched: Count, ignored: Count }, { description: 'all of the school’s lines by status (the match rate)' }),
  },
  { $id: 'BankLinePage' },
);

export const MatchBody = Type.Object(
  {
    invoiceId: Type.Optional(Uuid),
    familyId: Type.Optional(Uuid),
  },
  { additionalProperties: false, description: 'an invoice (a payment on it) or a family (a family payment, oldest due first; the rest becomes credit); neither: confirm the suggestion' },
);
export type MatchBody = Static<typeof MatchBody>;

export const UnmatchBody = Type.Object({ reason: Type.String({ minLength: 3, maxLength: 500, description: 'why the match was wrong (audited; on the refunds it makes)' }) }, { additionalProperties: false });
export const IgnoreBody = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false });

const Column = Type.String({ minLength: 1, maxLength: 100 });
export const CsvMappingBody = Type.Object(
  {
    date: Type.Optional(Column),
    amount: Type.Optional(Column),
    description: Type.Optional(Column),
    id: Type.Optional(Column),
    dateFormat: Type.Optional(Type.Union([Type.Literal('YYYY-MM-DD'), Type.Literal('DD/MM/YYYY'), Type.Literal('MM/DD/YYYY')])),
  },
  { additionalProperties: false, description: 'the bank’s CSV column names (any case) and date format; missing keys use the defaults date, amount, description, id' },
);
export type CsvMappingBody = Static<typeof CsvMappingBody>;

export const StatementMapping = Type.Object(
  { schoolId: Uuid, mapping: CsvMappingBody, updatedAt: Type.Union([Timestamp, Type.Null()]) },
  { $id: 'StatementMapping' },
);

export const RECONCILIATION_SCHEMAS = [BankImport, BankLine, BankLinePage, StatementMapping];
