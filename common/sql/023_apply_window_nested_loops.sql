-- 023_apply_window_nested_loops — apply_window joins by key, never by hashing
-- a whole table (issue 8: benchmarks, ninth pass). 018 made sequential
-- scans the last resort for its statements, whose plans PL/pgSQL keeps for
-- the session; the planner then hashed whole tables through an index
-- instead. The window's tag-id check (013: each tag of the window joined to
-- tag by name) was planned with the usual estimate of a window's tags (a
-- thousand) as a hash join over every row of tag, read through tag_name_key
-- for every window: 0.41 ms of a 2.9 ms window at 1,031 tags, in a steady
-- stream of 100 revisions a second (a window of one revision, a handful of
-- tags), and growing with the catalog. Without hash and merge joins it is
-- one look-up per tag of the window: 0.04 ms, the window 2.4 ms. Every
-- statement of apply_window reaches rows by key (018), a window holds at
-- most a few hundred revisions, so a nested loop over index look-ups is the
-- right plan for each of them whatever the statistics say; measured on the
-- bulk apply of 16,000 edits with merges, the same time either way.
ALTER FUNCTION ckansync.apply_window(bigint, uuid[], uuid[], text[], text[], jsonb[], uuid[],
				     text[], bigint[], text[], text[], uuid[], jsonb[], jsonb[],
				     boolean[], text)
	SET enable_hashjoin = off;
ALTER FUNCTION ckansync.apply_window(bigint, uuid[], uuid[], text[], text[], jsonb[], uuid[],
				     text[], bigint[], text[], text[], uuid[], jsonb[], jsonb[],
				     boolean[], text)
	SET enable_mergejoin = off;
