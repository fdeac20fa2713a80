-- 0026_audit_read: GET /audit (SPEC §9) reads the audit log newest first by id (uuid_v7,
-- so in the order the entries were written), of some schools or of one entity: a range
-- scan of one of these, never a sort of the whole log.
create index audit_log_school_id_idx on audit_log (school_id, id desc) where school_id is not null;
create index audit_log_entity_id_idx on audit_log (entity_type, entity_id, id desc);
