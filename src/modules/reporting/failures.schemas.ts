import { Type, type Static } from 'typebox';
import { Money, PaymentMethod, Uuid } from '../billing/billing.schemas.js';

/**
 * The developer monitoring feed of failed gateway transactions
 * (`GET /reports/transactions/failures`). No PII by construction: no student, email or
 * payment reference is selected, and free-text failure messages are scrubbed of
 * e-mail addresses and long digit runs (card or account numbers) before they leave.
 */
export const MAX_LAST_HOURS = 720;
export const DEFAULT_LAST_HOURS = 24;
/** Up to this window the series is hourly, beyond it daily. */
export const HOURLY_SERIES_MAX_HOURS = 72;
export const RECENT_FAILURES = 50;
/** At most this many gateways or failure codes in one filter. */
export const MAX_FILTER_VALUES = 20;
/** One gateway or failure code is at most this long. */
export const MAX_FILTER_VALUE_LENGTH = 64;

/** A filter on several values: comma-separated (`gateway=stripe,spei`) or the parameter repeated. */
const OneOrMore = (what: string) =>
  Type.Union([Type.String({ minLength: 1, maxLength: 2_000 }), Type.Array(Type.String({ minLength: 1, maxLength: 2_000 }), { minItems: 1, maxItems: MAX_FILTER_VALUES })], {
    description: `a ${what}, or several: separated by commas, or the parameter repeated (up to ${MAX_FILTER_VALUES}); any of them matches`,
  });

export const FailuresQuery = Type.Object(
  {
    lastHours: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_LAST_HOURS, default: DEFAULT_LAST_HOURS, description: 'window length in hours, ending now' }),
    ),
    schoolId: Type.Optional(Uuid),
    method: Type.Optional(PaymentMethod),
    gateway: Type.Optional(OneOrMore('gateway')),
    failureCode: Type.Optional(OneOrMore('failure code')),
  },
  { additionalProperties: false },
);
export type FailuresQuery = Static<typeof FailuresQuery>;

const Timestamp = Type.String({ format: 'date-time' });
const Count = Type.Integer({ minimum: 0 });

export const FailuresReport = Type.Object({
  window: Type.Object({ from: Timestamp, to: Timestamp, lastHours: Type.Integer({ minimum: 1, maximum: MAX_LAST_HOURS }) }),
  total: Count,
  byCode: Type.Array(
    Type.Object({
      failureCode: Type.String(),
      count: Count,
      amount: Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'sum of minor units across every school in the window: mixes currencies unless they are all one (see amountByCurrency)',
      }),
      amountByCurrency: Type.Array(Type.Object({ currency: Type.String(), amount: Money })),
    }),
  ),
  byGateway: Type.Array(Type.Object({ gateway: Type.String(), count: Count })),
  series: Type.Array(
    Type.Object({
      bucket: Type.String({ format: 'date-time', description: 'start of the UTC hour (or UTC day when lastHours > 72)' }),
      count: Count,
    }),
    { description: 'every bucket of the window in order, empty ones with count 0' },
  ),
  recent: Type.Array(
    Type.Object({
      id: Uuid,
      createdAt: Timestamp,
      schoolId: Uuid,
      schoolName: Type.String(),
      method: PaymentMethod,
      gateway: Type.String(),
      amount: Money,
      currency: Type.String(),
      failureCode: Type.String(),
      failureMessage: Type.Union([Type.String(), Type.Null()], { description: 'scrubbed of e-mail addresses and long digit runs' }),
    }),
    { description: `the latest ${RECENT_FAILURES} failures, newest first` },
  ),
});
export type FailuresReport = Static<typeof FailuresReport>;
