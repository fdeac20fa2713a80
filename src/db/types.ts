import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of the schema in ./migrations. Keep in step with the SQL; the
 * migrations test checks every table and column named here exists.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** A calendar date, always 'YYYY-MM-DD' (see pg-types.ts). */
type DateOnly = ColumnType<string, string, string>;

export type Role = 'super_admin' | 'school_admin' | 'finance_analyst' | 'developer';
export type PaymentMethod = 'card' | 'bank_transfer' | 'cash' | 'cash_voucher' | 'direct_debit' | 'wallet';
export type TransactionStatus = 'succeeded' | 'failed' | 'refunded' | 'pending';
export type LedgerEntryType = 'earned' | 'spent' | 'payout' | 'paid_out';

export interface AppMetaTable {
  key: string;
  value: unknown;
  updated_at: Generated<Date>;
}

export interface SchoolsTable {
  id: Generated<string>;
  name: string;
  address: string | null;
  phone: string | null;
  email: string | null;
  currency: Generated<string>;
  timezone: Generated<string>;
  public_statements: Generated<boolean>;
  is_active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

export interface StudentsTable {
  id: Generated<string>;
  school_id: string;
  first_name: string;
  last_name: string;
  email: string | null;
  grade: string;
  enrolled_at: ColumnType<string, string | undefined, string>;
  is_active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

export interface InvoicesTable {
  id: Generated<string>;
  school_id: string;
  student_id: string;
  number: string;
  description: string | null;
  amount: number;
  paid_amount: Generated<number>;
  due_date: DateOnly;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  cancelled_at: Timestamp | null;
}

export interface PaymentsTable {
  id: Generated<string>;
  school_id: string;
  invoice_id: string;
  amount: number;
  method: PaymentMethod;
  reference: string | null;
  paid_at: ColumnType<Date, Date | string | undefined, never>;
  created_at: CreatedAt;
  created_by: string | null;
}

export interface RefundsTable {
  id: Generated<string>;
  school_id: string;
  payment_id: string;
  invoice_id: string;
  amount: number;
  reason: string | null;
  created_at: CreatedAt;
  created_by: string | null;
}

export interface TransactionsTable {
  id: Generated<string>;
  school_id: string;
  invoice_id: string | null;
  payment_id: string | null;
  refund_id: string | null;
  amount: number;
  method: PaymentMethod;
  status: TransactionStatus;
  failure_code: string | null;
  failure_message: string | null;
  gateway: Generated<string>;
  created_at: CreatedAt;
  /** The writing database transaction (xid8, as text); null for history loaded in bulk (0006). */
  xact_id: Generated<string | null>;
}

export interface LedgerEntriesTable {
  vendor_id: string;
  account_id: string;
  type: LedgerEntryType;
  amount: number;
  created_at: Timestamp;
  ingested_at: Generated<Date>;
  body_hash: Buffer;
}

export interface UsersTable {
  id: Generated<string>;
  username: string;
  password_hash: string;
  role: Role;
  is_active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  last_login_at: Timestamp | null;
}

export interface UserSchoolsTable {
  user_id: string;
  school_id: string;
}

export interface AuthSessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  session_id: string;
  token_hash: Buffer;
  created_at: CreatedAt;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface LoginThrottleTable {
  key: string;
  failures: Generated<number>;
  window_start: Generated<Date>;
  locked_until: Timestamp | null;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_method: string;
  request_path: string;
  request_hash: Buffer;
  response_status: number | null;
  response_body: unknown;
  created_at: CreatedAt;
  expires_at: Generated<Date>;
}

export interface AuditLogTable {
  id: Generated<string>;
  occurred_at: Generated<Date>;
  actor_user_id: string | null;
  actor_username: string | null;
  request_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  school_id: string | null;
  changes: unknown;
}

export interface InvoiceCountersTable {
  school_id: string;
  last_number: number;
}

export interface BillingVersionsTable {
  school_id: string;
  version: Generated<number>;
}

/** Dashboard rollups (0003): live invoices per school, grade and due date. */
export interface InvoiceRollupsTable {
  school_id: string;
  grade: string;
  due_date: DateOnly;
  invoice_count: number;
  amount_due: number;
  amount_paid: number;
  /** Invoices with paid_amount < amount (0004). */
  outstanding_count: number;
  /** Invoices with 0 < paid_amount < amount (0004). */
  partial_count: number;
}

/** invoice_rollups summed over due dates, per school and grade; grade '' = all grades (0004). */
export interface InvoiceTotalsTable {
  school_id: string;
  grade: string;
  invoice_count: number;
  amount_due: number;
  amount_paid: number;
  outstanding_count: number;
  partial_count: number;
}

/** payment_rollups summed over days, per school, grade and method; '' = all grades / methods (0004). */
export interface PaymentTotalsTable {
  school_id: string;
  grade: string;
  method: PaymentMethod | '';
  payment_count: number;
  amount: number;
}

/** Dashboard rollups (0003): money received (payments − refunds) per school, grade, method and local day. */
export interface PaymentRollupsTable {
  school_id: string;
  grade: string;
  method: PaymentMethod;
  paid_on: DateOnly;
  payment_count: number;
  amount: number;
}

export interface DB {
  app_meta: AppMetaTable;
  schools: SchoolsTable;
  students: StudentsTable;
  invoices: InvoicesTable;
  payments: PaymentsTable;
  refunds: RefundsTable;
  transactions: TransactionsTable;
  ledger_entries: LedgerEntriesTable;
  users: UsersTable;
  user_schools: UserSchoolsTable;
  auth_sessions: AuthSessionsTable;
  refresh_tokens: RefreshTokensTable;
  login_throttle: LoginThrottleTable;
  idempotency_keys: IdempotencyKeysTable;
  audit_log: AuditLogTable;
  invoice_counters: InvoiceCountersTable;
  billing_versions: BillingVersionsTable;
  invoice_rollups: InvoiceRollupsTable;
  payment_rollups: PaymentRollupsTable;
  invoice_totals: InvoiceTotalsTable;
  payment_totals: PaymentTotalsTable;
}
