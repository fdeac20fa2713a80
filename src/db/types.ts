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

export type Role = 'super_admin' | 'school_admin' | 'finance_analyst' | 'developer' | 'guardian';
export type PaymentMethod = 'card' | 'bank_transfer' | 'cash' | 'cash_voucher' | 'direct_debit' | 'wallet';
export type TransactionStatus = 'succeeded' | 'failed' | 'refunded' | 'pending';
export type LedgerEntryType = 'earned' | 'spent' | 'payout' | 'paid_out';

export interface AppMetaTable {
  key: string;
  value: unknown;
  updated_at: Generated<Date>;
}

export type SchoolLanguage = 'es' | 'en';

export interface SchoolsTable {
  id: Generated<string>;
  name: string;
  address: string | null;
  phone: string | null;
  email: string | null;
  currency: Generated<string>;
  timezone: Generated<string>;
  /** What Bursar writes into its invoices is in this language (0041); null on write: the currency's (USD en, else es). */
  language: ColumnType<SchoolLanguage, SchoolLanguage | null | undefined, SchoolLanguage | null>;
  public_statements: Generated<boolean>;
  is_active: Generated<boolean>;
  /** Created by the demo seed (migration 0012); never set through the API. */
  is_demo: Generated<boolean>;
  /** The demo simulator's switch for this school (meaningful only where is_demo). */
  simulator_enabled: Generated<boolean>;
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
  /** At most one family (0014). */
  family_id: ColumnType<string | null, string | null | undefined, string | null>;
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
  /** Set by a trigger on any write not declared the demo's (migration 0012). */
  touched_by_person_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The family billed (bill runs; migration 0014). */
  family_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The guardian billed when an enrolment splits its instalments between payers. */
  payer_guardian_id: ColumnType<string | null, string | null | undefined, string | null>;
  bill_run_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Credit notes and write-offs: the part of paid_amount (settled) that moved no money (0014). */
  credited_amount: Generated<number>;
  /** 'late_fee': the late fees of related_invoice_id (migration 0021). */
  kind: Generated<'regular' | 'late_fee'>;
  related_invoice_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Pronto pago (0023): the discount offered for paying in full by early_by, and whether it was taken. */
  early_discount: Generated<number>;
  early_by: ColumnType<string | null, string | null | undefined, string | null>;
  early_applied: Generated<boolean>;
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
  /** The family payment this allocation is part of (0014). */
  family_payment_id: ColumnType<string | null, string | null | undefined, never>;
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
  /** A guardian user's guardian (migration 0024): set exactly when role = 'guardian'. */
  guardian_school_id: ColumnType<string | null, string | null | undefined, string | null>;
  guardian_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One-time invitations of guardians to the portal (migration 0024); only the token's SHA-256 is kept. */
export interface GuardianInvitationsTable {
  school_id: string;
  id: Generated<string>;
  guardian_id: string;
  token_hash: Buffer;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  user_id: string | null;
  created_by: string | null;
  created_at: CreatedAt;
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

/** Dashboard rollups (0003, 0020): money received (payments − refunds + family credit) per school, grade, method and local day. */
export interface PaymentRollupsTable {
  school_id: string;
  grade: string;
  method: PaymentMethod;
  paid_on: DateOnly;
  payment_count: number;
  amount: number;
}

/** The demo's students and how each family pays (migration 0012). */
export interface DemoStudentsTable {
  school_id: string;
  student_id: string;
  behaviour: 'on_time' | 'late' | 'partial' | 'never';
}

/** One row per demo student and month billed: the simulator's business key (migration 0012). */
export interface DemoBillsTable {
  school_id: string;
  student_id: string;
  month: DateOnly;
  invoice_id: string;
}

// ---------------------------------------------------------------------------------
// Families, fee plans and the family ledger (migration 0014, SPEC §7)
// ---------------------------------------------------------------------------------
export type Language = 'es' | 'en';

export interface FamiliesTable {
  school_id: string;
  id: Generated<string>;
  name: string;
  reference: string;
  preferred_language: Generated<Language>;
  /** Money paid beyond the open invoices; only src/modules/ledger moves it. */
  credit_balance: Generated<number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

export interface FamilyCountersTable {
  school_id: string;
  last_number: number;
}

export interface GuardiansTable {
  school_id: string;
  id: Generated<string>;
  family_id: string;
  first_name: string;
  last_name: string;
  email: string | null;
  phone: string | null;
  relationship: Generated<string>;
  preferred_language: Generated<Language>;
  is_primary: Generated<boolean>;
  reminders_opt_out: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

export type FeeSchedule =
  | { kind: 'once'; dueDate: string }
  | { kind: 'monthly'; firstDue: string; count: number }
  | { kind: 'termly' | 'custom'; dueDates: string[] };

export interface FeePlansTable {
  school_id: string;
  id: Generated<string>;
  name: string;
  academic_year: string;
  year_start: DateOnly;
  year_end: DateOnly;
  /** Pronto pago for every item without its own (0023). */
  early_payment: ColumnType<EarlyPaymentTerms | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** Early-payment ("pronto pago") terms: percent (a number of percent) or fixed (minor units per instalment), earned by due date + byDay. */
export interface EarlyPaymentTerms {
  basis: 'percent' | 'fixed';
  value: number;
  byDay: number;
}

export interface FeePlanItemsTable {
  school_id: string;
  fee_plan_id: string;
  code: string;
  description: string;
  amount: number;
  optional: Generated<boolean>;
  account_code: string | null;
  schedule: ColumnType<FeeSchedule, string, string>;
  early_payment: ColumnType<EarlyPaymentTerms | null, string | null | undefined, string | null>;
  position: Generated<number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface EnrolmentsTable {
  school_id: string;
  id: Generated<string>;
  student_id: string;
  fee_plan_id: string;
  from_date: DateOnly;
  to_date: DateOnly | null;
  optional_items: ColumnType<string[], string[] | undefined, string[]>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface EnrolmentPayersTable {
  school_id: string;
  enrolment_id: string;
  guardian_id: string;
  /** numeric(7,6): pg returns it as a string. */
  share: ColumnType<string, string | number, string | number>;
  position: number;
}

export type DiscountKind = 'sibling' | 'staff' | 'scholarship' | 'custom';

export interface DiscountRulesTable {
  school_id: string;
  id: Generated<string>;
  name: string;
  kind: DiscountKind;
  basis: 'percent' | 'fixed';
  /** percent: basis points (10000 = 100 %); fixed: minor units per instalment line. */
  value: number;
  item_codes: string[] | null;
  from_sibling_number: number | null;
  cap: number | null;
  stacking: Generated<'stack' | 'best_only'>;
  valid_from: DateOnly | null;
  valid_to: DateOnly | null;
  is_active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface AwardsTable {
  school_id: string;
  id: Generated<string>;
  student_id: string;
  rule_id: string;
  reason: string;
  created_by: string | null;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export type BillRunStatus = 'queued' | 'running' | 'finished' | 'failed';

export interface BillRunsTable {
  school_id: string;
  id: Generated<string>;
  through: DateOnly;
  dry_run: Generated<boolean>;
  status: BillRunStatus;
  invoices_created: Generated<number>;
  lines_created: Generated<number>;
  skipped: Generated<number>;
  done: Generated<number>;
  total: number | null;
  totals: unknown;
  error: string | null;
  requested_by: string | null;
  created_at: CreatedAt;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export type InvoiceLineKind = 'charge' | 'discount' | 'late_fee';

export interface InvoiceLinesTable {
  school_id: string;
  id: Generated<string>;
  invoice_id: string;
  kind: InvoiceLineKind;
  code: string;
  description: string;
  /** Charges and late fees > 0, discounts < 0. */
  amount: number;
  enrolment_id: string | null;
  item_code: string | null;
  due_date: DateOnly | null;
  rule_id: string | null;
  award_id: string | null;
  billing_key: string | null;
  created_at: CreatedAt;
}

export interface FamilyPaymentsTable {
  school_id: string;
  id: Generated<string>;
  family_id: string;
  payer_guardian_id: string | null;
  amount: number;
  allocated: number;
  credited: number;
  method: PaymentMethod;
  reference: string | null;
  paid_at: ColumnType<Date, Date | string | undefined, never>;
  created_at: CreatedAt;
  created_by: string | null;
}

export interface CreditApplicationsTable {
  school_id: string;
  id: Generated<string>;
  family_id: string;
  invoice_id: string;
  amount: number;
  created_at: CreatedAt;
  created_by: string | null;
}

/** A school's late-fee policy (migration 0021). value: minor units (fixed) or percent (numeric, read as a string). */
export interface LateFeePoliciesTable {
  school_id: string;
  kind: 'fixed' | 'percent' | 'daily_interest';
  value: ColumnType<string, string | number, string | number>;
  grace_days: number;
  cap: number | null;
  enabled: Generated<boolean>;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

/** What a school day's collections run did (migration 0021). */
export interface CollectionRunsTable {
  school_id: string;
  day: DateOnly;
  late_fees_posted: Generated<number>;
  late_fee_amount: Generated<number>;
  reminders_sent: Generated<number>;
  reminders_skipped: Generated<number>;
  runs: Generated<number>;
  first_run_at: CreatedAt;
  last_run_at: UpdatedAt;
}

export type ReminderChannel = 'email' | 'sms' | 'whatsapp';
export type ReminderTemplate = 'upcoming' | 'due' | 'overdue' | 'final_notice';
export interface ReminderStep {
  offsetDays: number;
  channel: ReminderChannel;
  template: ReminderTemplate;
}

/** A school's reminder steps (migration 0022). */
export interface ReminderPoliciesTable {
  school_id: string;
  steps: ColumnType<ReminderStep[], string, string>;
  enabled: Generated<boolean>;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

export type MessageStatus = 'queued' | 'sent' | 'failed' | 'bounced' | 'outbox';

/** Reminders and other messages to guardians, their delivery state, the outbox (migration 0022). */
export interface MessagesTable {
  school_id: string;
  id: Generated<string>;
  kind: 'reminder' | 'invitation' | 'webhook_disabled';
  dedupe_key: string;
  family_id: string | null;
  guardian_id: string | null;
  invoice_id: string | null;
  template: ReminderTemplate | null;
  day: DateOnly | null;
  channel: ReminderChannel;
  language: Language;
  recipient: string;
  status: MessageStatus;
  subject: string | null;
  body: string;
  attempts: Generated<number>;
  next_attempt_at: Timestamp | null;
  lease_until: Timestamp | null;
  last_error: string | null;
  provider_message_id: string | null;
  sent_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type GatewayProvider = 'simulator' | 'stripe';

export interface CheckoutSessionsTable {
  school_id: string;
  id: Generated<string>;
  provider: GatewayProvider;
  provider_session_id: string;
  invoice_id: string | null;
  family_id: string | null;
  amount: number;
  currency: string;
  via: 'staff' | 'portal' | 'pay_link';
  created_by: string | null;
  status: ColumnType<'open' | 'paid' | 'failed' | 'unapplied', 'open' | 'paid' | 'failed' | 'unapplied' | undefined>;
  url: string;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

export interface GatewayPaymentsTable {
  school_id: string;
  provider: GatewayProvider;
  gateway_payment_id: string;
  outcome: 'succeeded' | 'failed' | 'unapplied';
  checkout_id: string;
  event_id: string;
  amount: number;
  payment_id: string | null;
  family_payment_id: string | null;
  transaction_id: string | null;
  created_at: CreatedAt;
}

export interface GatewaySimSessionsTable {
  id: string;
  merchant: string;
  description: string;
  amount: number;
  currency: string;
  language: Language;
  client_reference_id: string;
  metadata: ColumnType<Record<string, string>, string, string>;
  success_url: string;
  cancel_url: string;
  status: ColumnType<'open' | 'complete', 'open' | 'complete' | undefined>;
  payment_id: string | null;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

export interface GatewaySimEventsTable {
  id: string;
  session_id: string;
  body: string;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  lease_until: Timestamp | null;
  delivered_at: Timestamp | null;
  last_error: string | null;
  created_at: CreatedAt;
}

export interface InvoiceAdjustmentsTable {
  school_id: string;
  id: Generated<string>;
  invoice_id: string;
  kind: 'credit_note' | 'write_off' | 'waiver';
  amount: number;
  reason: string;
  number: string | null;
  created_at: CreatedAt;
  created_by: string | null;
}

/** 0027: the chart-of-accounts mapping of a school (src/modules/accounting/accounts.ts). */
export interface SchoolAccountsTable {
  school_id: string;
  accounts: ColumnType<unknown, string, string>;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

export interface StatementMappingsTable {
  school_id: string;
  mapping: ColumnType<unknown, string, string>;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

export type BankLineStatus = 'matched' | 'suggested' | 'unmatched' | 'ignored';

export interface BankImportsTable {
  school_id: string;
  id: Generated<string>;
  format: 'csv' | 'camt053' | 'ofx';
  currency: string;
  lines: number;
  added: number;
  known: number;
  repeats: number;
  created_at: CreatedAt;
  created_by: string | null;
}

export interface BankLinesTable {
  school_id: string;
  id: Generated<string>;
  import_id: string;
  bank_transaction_id: string;
  booked_on: DateOnly;
  amount: number;
  currency: string;
  description: string;
  payer_name: string | null;
  status: BankLineStatus;
  invoice_id: string | null;
  family_id: string | null;
  reason: string | null;
  payment_id: string | null;
  family_payment_id: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  created_at: CreatedAt;
}

export interface ReceiptCountersTable {
  school_id: string;
  last_number: number;
}

/** Credit-note numbers per school (CN-000001; migration 0017). */
export interface CreditNoteCountersTable {
  school_id: string;
  last_number: number;
}

export interface ReceiptsTable {
  school_id: string;
  seq: number;
  number: string;
  payment_id: string | null;
  family_payment_id: string | null;
  created_at: CreatedAt;
}

/** Outbound webhook endpoints (migration 0030): platform configuration, owned by a user. */
export interface WebhookEndpointsTable {
  id: Generated<string>;
  owner_id: string;
  url: string;
  description: string | null;
  events: string[];
  school_ids: string[] | null;
  secret: string;
  /** The secret before the last rotation, which also signs deliveries until previous_secret_until (migration 0039). */
  previous_secret: string | null;
  previous_secret_until: Timestamp | null;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  disabled_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Timestamp | null;
}

/** The webhook outbox (migration 0030): one row per event that had a subscriber. */
export interface WebhookEventsTable {
  school_id: string;
  id: Generated<string>;
  seq: ColumnType<string, never, never>;
  type: string;
  object_id: string;
  data: ColumnType<unknown, string, never>;
  occurred_at: CreatedAt;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One event to one endpoint, retried until a 2xx or 3 days (migration 0030). */
export interface WebhookDeliveriesTable {
  school_id: string;
  id: Generated<string>;
  event_id: string;
  event_seq: ColumnType<string, string | number, never>;
  endpoint_id: string;
  object_id: string;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  lease_until: Timestamp | null;
  first_attempt_at: Timestamp | null;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  delivered_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** Every delivery attempt (migration 0030). */
export interface WebhookAttemptsTable {
  school_id: string;
  id: Generated<string>;
  delivery_id: string;
  attempt: number;
  webhook_id: string;
  request_body: string;
  response_code: number | null;
  latency_ms: number;
  error: string | null;
  attempted_at: Timestamp;
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
  demo_students: DemoStudentsTable;
  demo_bills: DemoBillsTable;
  families: FamiliesTable;
  family_counters: FamilyCountersTable;
  guardians: GuardiansTable;
  fee_plans: FeePlansTable;
  fee_plan_items: FeePlanItemsTable;
  enrolments: EnrolmentsTable;
  enrolment_payers: EnrolmentPayersTable;
  discount_rules: DiscountRulesTable;
  awards: AwardsTable;
  bill_runs: BillRunsTable;
  invoice_lines: InvoiceLinesTable;
  family_payments: FamilyPaymentsTable;
  credit_applications: CreditApplicationsTable;
  invoice_adjustments: InvoiceAdjustmentsTable;
  receipt_counters: ReceiptCountersTable;
  statement_mappings: StatementMappingsTable;
  bank_imports: BankImportsTable;
  bank_lines: BankLinesTable;
  receipts: ReceiptsTable;
  school_accounts: SchoolAccountsTable;
  credit_note_counters: CreditNoteCountersTable;
  late_fee_policies: LateFeePoliciesTable;
  collection_runs: CollectionRunsTable;
  reminder_policies: ReminderPoliciesTable;
  messages: MessagesTable;
  guardian_invitations: GuardianInvitationsTable;
  checkout_sessions: CheckoutSessionsTable;
  gateway_payments: GatewayPaymentsTable;
  gateway_sim_sessions: GatewaySimSessionsTable;
  gateway_sim_events: GatewaySimEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}
