-- 0016_bill_runs: the walk of a bill run (SPEC §7, issue 16 point 3).
--
-- Billing unit. A bill run walks a school's students by family (a student without a
-- family is a unit of one): coalesce(family_id, id). Siblings are then billed in the
-- same batch transaction, so their sibling numbers and the family credit applied to
-- their new invoices (oldest due first) are decided over the whole family at once.
-- This index gives that walk in key order (keyset, bounded memory) at any school size.
--
-- Which instalments are billed already is read by invoice_lines_enrolment_idx (0015).
create index students_billing_unit_idx on students (school_id, (coalesce(family_id, id)))
  where deleted_at is null;
