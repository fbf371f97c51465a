-- 018_apply_window_by_key — apply_window plans every statement to reach its
-- rows by key (issue 8: benchmarks, seventh pass). PL/pgSQL keeps a
-- statement's plan for the session; a consumer that starts on an empty
-- mirror (a first sync, a new replica) plans apply_window's statements
-- while the tables are empty, and the plans kept are sequential scans and
-- hash joins over whole tables (auto_explain: the window's row lock,
-- object.id = ANY (...), a sequential scan taking 2 ms at the start and
-- 9 ms at 8,000 objects) until autovacuum happens to analyse the tables and
-- the plans are made again. In bulk the cost is spread over 128 revisions
-- a window; in a steady stream a window holds one or two, and it was most
-- of it: at 200 revisions/s, apply_window took 3.8 ms per call, 2.3 ms with
-- this (the same 4,000 revisions; 30,000 in bulk took the same time either
-- way). Every statement of apply_window (and of apply_plain and apply_fast,
-- which it calls and which run under its settings) reaches rows by key, so
-- an index is the right path whatever the statistics say; enable_seqscan =
-- off only makes a sequential scan the last resort, it does not forbid one.
ALTER FUNCTION ckansync.apply_window(bigint, uuid[], uuid[], text[], text[], jsonb[], uuid[],
				     text[], bigint[], text[], text[], uuid[], jsonb[], jsonb[],
				     boolean[], text)
	SET enable_seqscan = off;
