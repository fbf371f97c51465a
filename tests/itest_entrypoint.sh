#!/usr/bin/env bash
# Integration: the container entrypoint (deploy/entrypoint.sh) on the host:
# it initialises the database named by CKANSYNC_DB as CKANSYNC_INIT_INSTANCE
# (idempotent), refuses a database of another instance, and gives the
# daemons --db from CKANSYNC_DB unless the command names one.
. "$(dirname "$0")/lib.sh"
t_require_services
EP="$CKS_SOURCE_DIR/deploy/entrypoint.sh"
DB=$(t_new_db ep) || exit 1
export PATH="$CKS_BUILD_DIR:$PATH"

env CKANSYNC_DB="$DB" CKANSYNC_INIT_INSTANCE=A "$EP" ckansync status --db "$DB" >"$T_TMP/st" 2>&1
check_eq "init on first start, then runs the command" 0 "$?"
check "... which saw instance A" grep -q "instance A" "$T_TMP/st"
check "second start: init again is harmless" \
	env CKANSYNC_DB="$DB" CKANSYNC_INIT_INSTANCE=A "$EP" ckansync digest --db "$DB"
env CKANSYNC_DB="$DB" CKANSYNC_INIT_INSTANCE=B CKANSYNC_INIT_TRIES=1 "$EP" true >"$T_TMP/o" 2>&1
check_eq "another instance id: refused" 1 "$?"
check "... saying why" grep -q "belongs to instance 'A'" "$T_TMP/o"

# The daemons get --db from the environment (a stub shows the arguments).
mkdir -p "$T_TMP/bin"
printf '#!/bin/sh\nprintf "%%s|" "$@"\n' >"$T_TMP/bin/ckansync-consumer"
chmod +x "$T_TMP/bin/ckansync-consumer"
got=$(PATH="$T_TMP/bin:$PATH" CKANSYNC_DB="host=x dbname=y" "$EP" ckansync-consumer --config /c.conf)
check_eq "daemon gets --db from CKANSYNC_DB" "--config|/c.conf|--db|host=x dbname=y|" "$got"
got=$(PATH="$T_TMP/bin:$PATH" CKANSYNC_DB="host=x" "$EP" ckansync-consumer --db=mine)
check_eq "an explicit --db wins" "--db=mine|" "$got"
t_summary
