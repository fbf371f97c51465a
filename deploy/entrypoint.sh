#!/bin/sh
# ckansync container entrypoint (Dockerfile, compose.yaml).
#  * CKANSYNC_INIT_INSTANCE=ID: run `ckansync init --instance ID` first
#    (idempotent; waits for the database), so a fresh PostgreSQL needs no
#    separate step. It refuses a database that belongs to another instance.
#  * CKANSYNC_DB: the conninfo (keep the password in PGPASSWORD or a
#    ~/.pgpass, not here); given to the daemons as --db unless the command
#    names one, and read by `ckansync` itself.
#  * then runs the command (ckansync-producer, ckansync-consumer, ckansync).
set -eu
if [ -n "${CKANSYNC_INIT_INSTANCE:-}" ]; then
	: "${CKANSYNC_DB:?CKANSYNC_INIT_INSTANCE needs CKANSYNC_DB}"
	tries=0
	until ckansync init --db "$CKANSYNC_DB" --instance "$CKANSYNC_INIT_INSTANCE" >/dev/null; do
		tries=$((tries + 1))
		if [ "$tries" -ge "${CKANSYNC_INIT_TRIES:-30}" ]; then
			echo "entrypoint: ckansync init failed $tries times, giving up" >&2
			exit 1
		fi
		sleep 2
	done
	echo "entrypoint: instance $CKANSYNC_INIT_INSTANCE initialised" >&2
fi
case "${1:-}" in
ckansync-producer | ckansync-consumer)
	has_db=no
	for a in "$@"; do
		case "$a" in --db | --db=*) has_db=yes ;; esac
	done
	if [ "$has_db" = no ] && [ -n "${CKANSYNC_DB:-}" ]; then
		set -- "$@" --db "$CKANSYNC_DB"
	fi
	;;
esac
exec "$@"
