-- 0029_journal_indexes: the accounting journal (src/modules/accounting) reads each of a
-- school's ledger sources by its own timestamp over a range of days. Without these, every
-- journal request scanned the whole of invoice_lines, family_payments, credit_applications
-- and invoice_adjustments (every school's rows) and every invoice for cancellations.
create index invoice_lines_school_created_idx on invoice_lines (school_id, created_at);
create index invoices_school_cancelled_idx on invoices (school_id, cancelled_at) where cancelled_at is not null;
create index family_payments_school_paid_idx on family_payments (school_id, paid_at);
create index credit_applications_school_created_idx on credit_applications (school_id, created_at);
create index invoice_adjustments_school_created_idx on invoice_adjustments (school_id, created_at);
