-- 016_derived_rows_without_fk — a package's derived rows (tags, extras,
-- resources, memberships) without foreign-key checks on every insert
-- (issue 8: benchmarks, seventh pass). These rows are not history: they are
-- the current state drawn from the head's state, written only by this
-- schema's functions, always after the package row they belong to and in
-- the same transaction, and rebuilt by refresh_current. Yet every insert ran
-- PostgreSQL's referential-integrity check (a query locking the package row,
-- and the tag row for a package tag): with some twenty derived rows per
-- revision, perf put those checks at 9 to 12 % of a mirror's backend, a cost
-- PostgreSQL's own logical replication does not pay (its apply worker runs
-- as a replica and skips them). Measured without them: the consumer alone
-- used 3 % less CPU in all (10,000 revisions, three rounds side by side).
--
-- What the constraints gave besides the check is kept: deleting a package
-- row (directly, or by the cascade from its object when it is purged) still
-- deletes its derived rows, by the trigger below instead of ON DELETE
-- CASCADE; itest_store's test_delete_purge checks it. Tags are never deleted.
-- History keeps its constraints (object_revision -> revision, object.head ->
-- object_revision, outbox -> object_revision, package -> object).
ALTER TABLE ckansync.package_tag DROP CONSTRAINT package_tag_package_id_fkey;
ALTER TABLE ckansync.package_tag DROP CONSTRAINT package_tag_tag_id_fkey;
ALTER TABLE ckansync.package_extra DROP CONSTRAINT package_extra_package_id_fkey;
ALTER TABLE ckansync.resource DROP CONSTRAINT resource_package_id_fkey;
ALTER TABLE ckansync.member DROP CONSTRAINT member_table_id_fkey;

CREATE FUNCTION ckansync.package_gone() RETURNS trigger
LANGUAGE plpgsql SET search_path = ckansync, pg_catalog AS $$
BEGIN
	DELETE FROM package_tag x USING gone g WHERE x.package_id = g.id;
	DELETE FROM package_extra x USING gone g WHERE x.package_id = g.id;
	DELETE FROM resource x USING gone g WHERE x.package_id = g.id;
	DELETE FROM member x USING gone g WHERE x.table_id = g.id;
	RETURN NULL;
END;
$$;

CREATE TRIGGER package_gone AFTER DELETE ON ckansync.package
	REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION ckansync.package_gone();
