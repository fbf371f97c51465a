-- 002_dead_letter — operations bookkeeping for `ckansync status`: every
-- message the consumer dead-lettered (written in the same transaction that
-- moves the offset past it), and an index for "conflicts in the last hour".
-- See docs/troubleshooting.md.

CREATE TABLE ckansync.dead_letter (
	topic text NOT NULL,                 -- source topic
	partition integer NOT NULL,
	"offset" bigint NOT NULL,
	error_class text NOT NULL,           -- permanent, unknown-schema, ...
	error text NOT NULL,                 -- the reason (also a header on <prefix>.deadletter)
	recorded timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX dead_letter_recorded_idx ON ckansync.dead_letter (recorded);

CREATE INDEX conflict_detected_idx ON ckansync.conflict (detected);
