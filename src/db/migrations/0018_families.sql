-- 0018_families: find a family by its payment reference (SPEC §7) without naming its
-- school. A bank statement line carries only the reference, and a finance analyst or
-- super_admin searches every school: `reference = $1` and `reference like 'COL-0001%'`
-- (GET /families?reference=, ?q=) use this index instead of scanning every family.
-- text_pattern_ops serves the prefix search whatever the database's collation. Not
-- unique (references are unique per school, migration 0014's families_reference_unique),
-- so it stays valid when the table is distributed by school_id (docs/scale-out.md).
create index families_reference_idx on families (reference text_pattern_ops) where deleted_at is null;
