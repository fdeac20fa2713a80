import { Type, type Static } from 'typebox';
import { DateInput, DateOnly, ListQuery, Timestamp, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of the accounting journal and the chart of accounts (SPEC §9 "Accounting"). */
const Code = Type.String({ minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$', description: 'an account code of the school’s chart of accounts', examples: ['1200'] });
const Method = <T extends string>(name: T) => Type.Optional(Type.Union([Code, Type.Null()], { description: `the cash account of ${name} payments` }));

export const AccountsBody = Type.Object(
  {
    receivable: Code,
    cash: Code,
    cashByMethod: Type.Optional(
      Type.Object(
        { card: Method('card'), bank_transfer: Method('bank transfer'), cash: Method('cash'), cash_voucher: Method('cash voucher'), direct_debit: Method('direct debit'), wallet: Method('wallet') },
        { additionalProperties: false, description: 'per payment method, the account money comes in on (default: cash)' },
      ),
    ),
    income: Code,
    discounts: Code,
    lateFees: Code,
    creditNotes: Code,
    writeOffs: Code,
    familyCredit: Code,
  },
  { additionalProperties: false },
);
export type AccountsBody = Static<typeof AccountsBody>;

export const SchoolAccounts = Type.Object(
  {
    schoolId: Uuid,
    receivable: Type.String(),
    cash: Type.String(),
    cashByMethod: Type.Record(Type.String(), Type.String()),
    income: Type.String({ description: 'fees billed; a fee plan item’s accountCode wins for its charges' }),
    discounts: Type.String(),
    lateFees: Type.String(),
    creditNotes: Type.String(),
    writeOffs: Type.String(),
    familyCredit: Type.String({ description: 'money received and not yet applied to an invoice (a liability)' }),
    updatedAt: Type.Union([Timestamp, Type.Null()], { description: 'null: the defaults, never set' }),
  },
  { $id: 'SchoolAccounts' },
);
export type SchoolAccounts = Static<typeof SchoolAccounts>;

export const JournalLine = Type.Object(
  {
    entryId: Type.String({ description: 'the entry this line belongs to: its lines balance (Σ debit = Σ credit)', examples: ['payment:0193…'] }),
    date: DateOnly,
    account: Type.String({ examples: ['1200'] }),
    debit: Type.Integer({ minimum: 0, description: 'minor units' }),
    credit: Type.Integer({ minimum: 0, description: 'minor units' }),
    currency: Type.String({ examples: ['MXN'] }),
    description: Type.String(),
    sourceType: Type.String({ description: 'invoice | payment | family_payment | credit_application | refund | credit_note | write_off | waiver' }),
    sourceId: Uuid,
  },
  { $id: 'JournalLine' },
);
export type JournalLine = Static<typeof JournalLine>;

export const JournalFormat = Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('xlsx'), Type.Literal('xero'), Type.Literal('quickbooks')], {
  description: 'json (keyset-paginated); csv and xlsx (every line, streamed); xero and quickbooks (their manual-journal import layouts, CSV)',
});

export const JournalQuery = Type.Object(
  {
    schoolId: Uuid,
    from: DateInput('the first day, in the school’s time zone'),
    to: DateInput('the last day, in the school’s time zone'),
    format: Type.Optional(JournalFormat),
    ...ListQuery,
  },
  { additionalProperties: false },
);
export type JournalQuery = Static<typeof JournalQuery>;

export const ACCOUNTING_SCHEMAS = [SchoolAccounts, JournalLine];
