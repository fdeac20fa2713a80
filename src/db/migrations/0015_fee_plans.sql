-- 0015_fee_plans: the lookups of fee plans and enrolments into invoice lines (SPEC §7).
--
-- Which instalments of a plan are billed (PATCH /fee-plans/:id may not change them) and
-- which invoices an enrolment billed after a day (a withdrawal cancels the unpaid ones)
-- both start from an enrolment's lines; 0014 indexes lines only by invoice and by
-- billing key. Keyed by school_id first, like every tenant index (docs/scale-out.md).
create index invoice_lines_enrolment_idx on invoice_lines (school_id, enrolment_id, item_code, due_date)
  where enrolment_id is not null;
