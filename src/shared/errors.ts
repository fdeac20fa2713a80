/**
 * Domain error codes and the one table that maps them to HTTP statuses. Services throw
 * AppError; the error plugin turns it (and framework and database errors) into
 * application/problem+json.
 */
export const ERROR_STATUS = {
  /** Request input failed schema validation; `errors` names each field. */
  VALIDATION_FAILED: 400,
  /** Malformed request outside the schema (bad JSON, bad cursor, ...). */
  BAD_REQUEST: 400,
  /** No or unusable credentials. */
  UNAUTHENTICATED: 401,
  /** Username/password pair did not match an active user (deliberately vague). */
  INVALID_CREDENTIALS: 401,
  /** Access token past its expiry. */
  TOKEN_EXPIRED: 401,
  /** A refresh token presented twice: its whole session has been revoked. */
  REFRESH_TOKEN_REUSED: 401,
  /** Authenticated, but the role may not do this. */
  FORBIDDEN: 403,
  /** Does not exist, or exists outside the caller's scope (no existence leak). */
  NOT_FOUND: 404,
  NOT_ACCEPTABLE: 406,
  /** The client took too long to send the request (headers or body). */
  REQUEST_TIMEOUT: 408,
  /** A unique value already taken. */
  ALREADY_EXISTS: 409,
  /** State conflict: the row changed or the operation does not fit its state. */
  CONFLICT: 409,
  /** UPDATE/DELETE of an append-only record (payments, refunds, ledger, audit). */
  IMMUTABLE_RECORD: 409,
  /** A pay link past its expiry (SPEC §8): ask the school for a new one. */
  LINK_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  /** A path segment (an id) longer than any the API defines. */
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The invoice is cancelled: no payments, no changes. */
  INVOICE_CANCELLED: 409,
  /** Cancelling an invoice that has money paid on it (refund first). */
  INVOICE_HAS_PAYMENTS: 409,
  /** The gateway vendor no longer knows the sync's cursor: no retry can succeed; reset the sync from a time. */
  SYNC_NEEDS_RESET: 409,
  /** Well-formed input that breaks a business rule. */
  BUSINESS_RULE_VIOLATION: 422,
  /** A payment larger than what the invoice still owes. */
  OVERPAYMENT: 422,
  /** A refund larger than what remains refundable on the payment. */
  REFUND_EXCEEDS_PAYMENT: 422,
  /** A credit note or write-off larger than what the invoice still owes (SPEC §7). */
  EXCEEDS_OPEN_AMOUNT: 422,
  /** A waiver asked of an invoice that has no late fees (SPEC §8: only late fees are waived). */
  NOT_A_LATE_FEE: 422,
  /** A fee plan change to an instalment that is already billed (SPEC §7: only what is not billed yet changes). */
  INSTALMENT_BILLED: 409,
  /** Deleting a guardian who still pays a running enrolment (the next bill run would bill them). */
  GUARDIAN_IS_PAYER: 409,
  /** The input names a related record that does not exist. */
  REFERENCE_NOT_FOUND: 422,
  /** Same Idempotency-Key sent with a different request. */
  IDEMPOTENCY_KEY_REUSED: 422,
  /** Per-user or per-IP request budget spent. */
  RATE_LIMITED: 429,
  /** Too many failed logins for this username or client. */
  LOGIN_THROTTLED: 429,
  /** The request line and headers (a query string included) exceed the server's limit. */
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  /** The database is unreachable or restarting, or the server is shutting down: retry (Retry-After). */
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  /** Dotted path of the offending field, e.g. `schoolIds.0` or `limit`. */
  field: string;
  /** Where the field was: body, querystring, params or headers. */
  in?: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);

export const forbidden = (message = 'your role may not do this') => new AppError('FORBIDDEN', message);

export const unprocessable = (field: string, message: string) =>
  new AppError('BUSINESS_RULE_VIOLATION', message, { errors: [{ field, message }] });
