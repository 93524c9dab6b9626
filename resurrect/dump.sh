#!/usr/bin/env bash
# Sourced by resurrect: the dump of a fenced server, in pieces, each one accepted or not on its own so
# that one unreadable table costs that table only. In $WORK/dump.partial:
#   plan.tsv    kind, database, file: what the import loads, in order
#   tables.tsv  database, table, engine, rows, CHECKSUM TABLE: every table dumped
#   lost.tsv    database, table, engine, estimated rows, error: every table that could not be
#   counts.tsv  what the new instance must hold: tables, views, routines, triggers, events, users
# The parts of resurrect share their variables (SC2034: set here, used in another part; SC2153: set in
# another part).
# shellcheck disable=SC2034,SC2153

# The grant tables and the other system tables an instance's users expect back (their names differ:
# MariaDB keeps accounts in global_priv, MySQL 8 in user). Routines come with their databases; so do
# MySQL's events, but MariaDB hides its events from a server without grant tables (no SHOW EVENTS, an
# empty information_schema.EVENTS), so their table comes whole.
system_tables() {
    if [ "$FLAVOR" = mariadb ]; then
        echo global_priv db tables_priv columns_priv procs_priv proxies_priv roles_mapping servers func plugin event \
            time_zone time_zone_name time_zone_transition time_zone_transition_type time_zone_leap_second
    else
        echo user db tables_priv columns_priv procs_priv proxies_priv default_roles role_edges global_grants \
            password_history servers func plugin time_zone time_zone_name time_zone_transition \
            time_zone_transition_type time_zone_leap_second
    fi
}
readonly SYSTEM_SCHEMAS="'mysql','information_schema','performance_schema','sys'"

dump_options() {
    DUMP_OPTIONS=(--hex-blob --skip-lock-tables --max-allowed-packet=1G --default-character-set=utf8mb4)
    [ "$FLAVOR" = mariadb ] || DUMP_OPTIONS+=(--set-gtid-purged=OFF --no-tablespaces)
}

# dump_piece KIND DATABASE [DUMP ARGUMENTS]: one accepted file in the plan, or DUMP_ERROR and false.
# Accepted means the tool exited 0, wrote nothing on stderr and ended with its completion trailer.
dump_piece() {
    local kind=$1 database=$2 status=0
    shift 2
    local file
    PIECES=$((PIECES + 1))
    file=$(printf '%04d-%s.sql' "$PIECES" "$kind")
    "$DUMP" "${FENCED_OPTIONS[@]}" "${DUMP_OPTIONS[@]}" "$@" >"$WORK/dump.partial/$file" 2>"$WORK/dump.partial/$file.err" || status=$?
    if [ "$status" = 0 ] && [ ! -s "$WORK/dump.partial/$file.err" ] \
        && [ "$(tail -n 1 "$WORK/dump.partial/$file" | cut -c1-17)" = "-- Dump completed" ]; then
        rm -f "$WORK/dump.partial/$file.err"
        printf '%s\t%s\t%s\n' "$kind" "$database" "$file" >>"$WORK/dump.partial/plan.tsv"
        return 0
    fi
    DUMP_ERROR=$(head -c 400 "$WORK/dump.partial/$file.err" | tr '\n\t' '  ')
    [ -n "$DUMP_ERROR" ] || DUMP_ERROR="$DUMP exited $status without its completion trailer"
    # A piece that could not be written is not a table that could not be read.
    if grep -qE 'errno 28|errno: 28|No space left' "$WORK/dump.partial/$file.err" || [ "$(kib_free "$WORK")" -lt 1024 ]; then
        could_not "the volume holding $DATADIR is full: the dump could not be written ($DUMP_ERROR); free space and run resurrect again"
    fi
    cat "$WORK/dump.partial/$file.err" >>"$WORK/logs/dump.err"
    rm -f "$WORK/dump.partial/$file" "$WORK/dump.partial/$file.err"
    return 1
}

# lost DATABASE TABLE ENGINE ESTIMATED_ROWS ERROR
lost() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/dump.partial/lost.tsv"
    mysql_warn "lost: $1.$2 ($3, about $4 rows): $5"
}

# estimated_rows DATABASE TABLE FALLBACK: what an unreadable table held. A table marked corrupted shows
# 0 rows in information_schema; InnoDB's persistent statistics still have its last count.
estimated_rows() {
    local rows
    rows=$(fenced_sql -e "SELECT n_rows FROM mysql.innodb_table_stats WHERE database_name = '$(sql_string "$1")' AND table_name = '$(sql_string "$2")'" 2>/dev/null || true)
    case "$rows" in '' | *[!0-9]*) echo "$3" ;; *) echo "$rows" ;; esac
}

# The server may die on a damaged page: then this attempt is over and the next level is tried.
server_answers() { fenced_sql -e 'SELECT 1' >/dev/null 2>&1; }

# dump_system: the grant and system tables, emptied first on import (the new instance's own
# accounts give way to the original's).
dump_system() {
    local present=() table
    for table in $(system_tables); do
        fenced_sql -e "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = '$table'" | grep -q 1 \
            && present+=("$table")
    done
    # --events: without it the dump tool leaves mysql.event's rows out, silently.
    if ! dump_piece system mysql --no-create-info --skip-triggers --events mysql "${present[@]}"; then
        lost mysql "${present[*]}" system 0 "$DUMP_ERROR"
        return
    fi
    local file
    file=$(tail -n 1 "$WORK/dump.partial/plan.tsv" | cut -f3)
    { for table in "${present[@]}"; do printf 'DELETE FROM mysql.%s;\n' "\`$table\`"; done; cat "$WORK/dump.partial/$file"; } \
        >"$WORK/dump.partial/$file.new"
    mv "$WORK/dump.partial/$file.new" "$WORK/dump.partial/$file"
}

# dump_database DATABASE: its schema (tables, views, routines, events), each table's rows, then its
# triggers (after the rows, so loading them fires none). False when the server died.
dump_database() {
    local database=$1 quoted table engine estimate rows checksum
    quoted=\`$(sql_identifier "$database")\`
    if ! dump_piece schema "$database" --no-data --skip-triggers --routines --events --databases "$database"; then
        lost "$database" '*' '' 0 "$DUMP_ERROR"
        printf ",'%s'" "$(sql_string "$database")" >>"$WORK/dump.partial/excluded"
        server_answers
        return
    fi
    while IFS=$'\t' read -r table engine estimate; do
        local name
        name=$quoted.\`$(sql_identifier "$table")\`
        if rows=$(fenced_sql -e "SELECT COUNT(*) FROM $name" 2>"$WORK/logs/count.err") \
            && dump_piece data "$database" --no-create-info --skip-triggers "$database" "$table" \
            && checksum=$(fenced_sql -e "CHECKSUM TABLE $name" 2>"$WORK/logs/count.err" | cut -f2); then
            printf '%s\t%s\t%s\t%s\t%s\n' "$database" "$table" "$engine" "$rows" "$checksum" >>"$WORK/dump.partial/tables.tsv"
        else
            [ -s "$WORK/logs/count.err" ] && DUMP_ERROR=$(head -c 400 "$WORK/logs/count.err" | tr '\n\t' '  ')
            lost "$database" "$table" "$engine" "$(estimated_rows "$database" "$table" "$estimate")" "$DUMP_ERROR"
            server_answers || return 1
        fi
        : >"$WORK/logs/count.err"
    done < <(fenced_sql -e "SELECT TABLE_NAME, ENGINE, IFNULL(TABLE_ROWS, 0) FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = '$(sql_string "$database")' AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")
    # A lost table is still created by the schema (empty), so its triggers come back with the others.
    if ! dump_piece triggers "$database" --no-create-info --no-data --triggers --skip-routines --skip-events "$database"; then
        lost "$database" '(triggers)' '' 0 "$DUMP_ERROR"
    fi
    server_answers
}

# instance_counts DUMP_DIRECTORY: what an instance holds besides its rows, "name<TAB>count" per line,
# in the databases the dump has (a database whose schema could not be dumped is left out).
instance_counts() {
    local users=user excluded events
    excluded=$SYSTEM_SCHEMAS$(cat "$1/excluded" 2>/dev/null || true)
    events="information_schema.EVENTS WHERE EVENT_SCHEMA NOT IN ($excluded)"
    [ "$FLAVOR" = mariadb ] && users=global_priv events="mysql.event WHERE db NOT IN ($excluded)"
    fenced_sql <<SQL
SELECT 'tables', COUNT(*) FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ($excluded);
SELECT 'views', COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA NOT IN ($excluded);
SELECT 'routines', COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA NOT IN ($excluded);
SELECT 'triggers', COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA NOT IN ($excluded);
SELECT 'events', COUNT(*) FROM $events;
SELECT 'users', COUNT(*) FROM mysql.$users;
SQL
}

user_databases() {
    fenced_sql -e "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ($SYSTEM_SCHEMAS) ORDER BY 1"
}

# dump_everything: into $WORK/dump.partial, from the fenced server. False when the server died.
dump_everything() {
    rm -rf "$WORK/dump.partial"
    mkdir "$WORK/dump.partial"
    : >"$WORK/dump.partial/plan.tsv"
    : >"$WORK/dump.partial/tables.tsv"
    : >"$WORK/dump.partial/lost.tsv"
    PIECES=0
    dump_options
    dump_system
    local database
    while IFS= read -r database; do
        dump_database "$database" || return 1
    done < <(user_databases)
    instance_counts "$WORK/dump.partial" >"$WORK/dump.partial/counts.tsv"
}
