-- 0010_outstanding_covering_index: the outstanding queue's index carries the invoice
-- columns the queue and its export read.
--
-- A CSV export across every school reads every outstanding invoice in (due_date, id)
-- order. Through invoices_outstanding_idx alone that was a bitmap heap scan (heap
-- order) and then a sort of all the joined, formatted rows: a third of PostgreSQL's
-- time for the export. With the columns included, it is an index-only scan in the
-- export's own order; the hash joins that add the school and the student keep that
-- order, so the sort that guarantees it finds its input already sorted and costs one
-- pass. The same key and predicate as before, so the queue's keyset pages use it as
-- they did. cancelled_at is always null here (the predicate) but the status expression
-- names it, and a null costs nothing in an index tuple.
--
-- Index-only scans skip the heap only on pages the visibility map marks all-visible,
-- and every payment clears that mark on its invoice's page (paid_amount is in the
-- predicate, so those updates are never HOT). Vacuum invoices after 2 % of its rows
-- changed instead of the default 20 %, so that the map is mostly current; a page not
-- yet vacuumed is read from the heap, which is only as slow as before.
drop index invoices_outstanding_idx;
create index invoices_outstanding_idx on invoices (due_date, id)
  include (school_id, student_id, number, amount, paid_amount, cancelled_at)
  where cancelled_at is null and paid_amount < amount;

alter table invoices set (autovacuum_vacuum_scale_factor = 0.02);
