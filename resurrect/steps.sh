#!/usr/bin/env bash
# Sourced by resurrect: the fenced server, the copy and the salvage (gentle start, force recovery,
# repair, then the dump of dump.sh).
# The parts of resurrect share their variables (SC2034: set here, used in another part; SC2153: set in
# another part).
# shellcheck disable=SC2034,SC2153

# Seconds a fenced server has to accept connections (crash recovery of a large redo log is slow).
: "${LIFEGUARD_RESURRECT_START_TIMEOUT:=900}"

find_resurrect_tools() {
    if [ "$FLAVOR" = mariadb ]; then
        DUMP=$(command -v mariadb-dump || command -v mysqldump) || mysql_error "no mariadb-dump in the image"
        CHECK=$(command -v mariadb-check || command -v mysqlcheck) || mysql_error "no mariadb-check in the image"
    else
        DUMP=$(command -v mysqldump) || mysql_error "no mysqldump in the image"
        CHECK=$(command -v mysqlcheck) || mysql_error "no mysqlcheck in the image"
    fi
}

# The options every client of a fenced server takes: no option files (the user's [client] settings
# are for the real server), its private socket, root (the grant tables are off).
fenced_client_options() {
    FENCED_OPTIONS=(--no-defaults --protocol=socket --socket="$WORK/server.sock" -uroot)
}

# fenced_sql [OPTIONS]: SQL on stdin or -e, tab-separated rows out.
fenced_sql() {
    "$CLIENT" "${FENCED_OPTIONS[@]}" --batch --skip-column-names --raw "$@"
}

fenced_server_alive() { [ -n "${FENCED_PID:-}" ] && kill -0 "$FENCED_PID" 2>/dev/null; }

# start_fenced_server DATADIR FORCE_RECOVERY LOG_NAME: a server on DATADIR that no client but this
# script can reach and that starts nothing on its own. Fails when the server exits or does not answer
# within LIFEGUARD_RESURRECT_START_TIMEOUT.
start_fenced_server() {
    local datadir=$1 level=$2 log=$WORK/logs/$3.err extra=()
    [ "$level" -gt 0 ] && extra+=(--innodb-force-recovery="$level")
    if [ "$FLAVOR" = mariadb ]; then
        extra+=(--wsrep-on=OFF --skip-slave-start)
    else
        extra+=(--mysqlx=OFF --skip-replica-start)
    fi
    fenced_client_options
    rm -f "$WORK/server.sock" "$WORK/server.pid"
    env -u NOTIFY_SOCKET "${SERVER[@]}" --datadir="$datadir" --socket="$WORK/server.sock" --pid-file="$WORK/server.pid" \
        --log-error="$log" --skip-networking --skip-grant-tables --event-scheduler=OFF --skip-log-bin \
        --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 "${extra[@]}" \
        </dev/null >>"$log" 2>&1 &
    FENCED_PID=$!
    local waited=0
    until fenced_sql -e 'SELECT 1' >/dev/null 2>&1; do
        fenced_server_alive || { FENCED_PID=; return 1; }
        if [ $((waited += 1)) -gt $((LIFEGUARD_RESURRECT_START_TIMEOUT * 5)) ]; then
            mysql_warn "the server on $datadir did not answer within $LIFEGUARD_RESURRECT_START_TIMEOUT s"
            stop_fenced_server
            return 1
        fi
        sleep 0.2
    done
}

# A clean shutdown (SIGTERM), SIGKILL after two minutes. True when the server shut down cleanly.
stop_fenced_server() {
    fenced_server_alive || { FENCED_PID=; return 0; }
    kill -TERM "$FENCED_PID" 2>/dev/null || true
    local waited=0 status=0
    while fenced_server_alive && [ $((waited += 1)) -le 1200 ]; do sleep 0.1; done
    fenced_server_alive && kill -KILL "$FENCED_PID" 2>/dev/null
    wait "$FENCED_PID" 2>/dev/null || status=$?
    FENCED_PID=
    return "$status"
}

# A server left by a run that was SIGKILLed (outside a container, which would have taken it along).
stop_stale_server() {
    local pid
    pid=$(cat "$WORK/server.pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--pid-file=$WORK/server.pid"; then
        mysql_warn "stopping the fenced server $pid left by an interrupted run"
        FENCED_PID=$pid
        kill -TERM "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
        FENCED_PID=
    fi
    rm -f "$WORK/server.pid"
}

# The datadir's entries that are the database's (not this script's, not a volume's lost+found).
original_entries() {
    local entry name
    for entry in "$DATADIR"/* "$DATADIR"/.[!.]* "$DATADIR"/..?*; do
        name=${entry##*/}
        case "$name" in "$RESURRECT_WORK" | "$KEPT_PREFIX"* | "$RESURRECT_REPORT" | lost+found) continue ;; esac
        printf '%s\0' "$entry"
    done
}

kib_free() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }

# Room for a copy and a dump of the same size at once (the copy goes before the new datadir is made,
# so that is the most the work ever holds), and 64 MiB more.
check_free_space() {
    local size free
    size=$(original_entries | du -sck --files0-from=- | awk 'END { print $1 }')
    free=$(kib_free "$DATADIR")
    if [ "$free" -lt $((2 * size + 65536)) ]; then
        mysql_error "not enough free space on $DATADIR's volume: resurrecting needs $(((2 * size + 65536) / 1024)) MiB (twice the datadir's $((size / 1024)) MiB, and 64 MiB), $((free / 1024)) MiB are free; nothing was touched"
    fi
}

# A fresh copy of the original, complete or absent (copy.partial is removed on any failure).
fresh_copy() {
    rm -rf "$WORK/copy" "$WORK/copy.partial"
    mkdir -p "$WORK/copy.partial"
    local failed=
    original_entries | xargs -0r cp -a --target-directory="$WORK/copy.partial" -- 2>"$WORK/logs/copy.err" || failed=yes
    if [ -n "$failed" ]; then
        rm -rf "$WORK/copy.partial"
        mysql_error "could not copy $DATADIR: $(tail -n 1 "$WORK/logs/copy.err") (the original is untouched)"
    fi
    rm -f "$WORK/copy.partial"/*.pid
    mv "$WORK/copy.partial" "$WORK/copy"
}

# mariadb-check over every database: true when it reported no error. The output is kept.
full_check() {
    local out=$WORK/logs/check-$1.out
    "$CHECK" "${FENCED_OPTIONS[@]}" --all-databases >"$out" 2>&1 || return 1
    ! grep -qE '^(error|Error)[[:space:]]*:' "$out"
}

# The tables a check output (mariadb-check's) names with an error, one per line.
failing_tables() {
    awk '/^[^ \t]+\.[^ \t]+/ { name = ($2 == "OK") ? "" : $1; next }
        /^(error|Error)[ \t]*:/ && name != "" { print name; name = "" }' "$1"
}

# table_checks_clean DATABASE.TABLE: CHECK TABLE's last word on it is OK.
table_checks_clean() {
    [ "$(fenced_sql -e "CHECK TABLE $1" 2>/dev/null | tail -n 1 | cut -f4)" = OK ]
}

# Aria and MyISAM tables the check found broken, repaired on the copy, each as far as it needs: REPAIR
# TABLE, then EXTENDED (row by row), then USE_FRM (the index rebuilt from the table's definition, for a
# damaged index header). Those that check clean after are reported; InnoDB cannot be repaired (its
# damage is what the force-recovery levels and the dump are for).
repair_tables() {
    local out=$WORK/logs/repair-$1.out name database table engine how quoted
    : >"$WORK/repaired"
    # The gentle start's check (level 0) has just read every table: its answer is used again.
    if [ "$1" != 0 ] || [ ! -s "$WORK/logs/check-0.out" ]; then
        "$CHECK" "${FENCED_OPTIONS[@]}" --all-databases >"$WORK/logs/check-$1.out" 2>&1 || true
    fi
    : >"$out"
    while IFS= read -r name; do
        database=${name%%.*} table=${name#*.}
        quoted=\`$(sql_identifier "$database")\`.\`$(sql_identifier "$table")\`
        engine=$(fenced_sql -e "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$(sql_string "$database")' AND TABLE_NAME = '$(sql_string "$table")'" 2>/dev/null || true)
        case "$engine" in MyISAM | Aria) ;; *) continue ;; esac
        for how in '' EXTENDED USE_FRM; do
            fenced_sql -e "REPAIR TABLE $quoted $how" >>"$out" 2>&1 || true
            if table_checks_clean "$quoted"; then
                printf '%s\n' "$name" >>"$WORK/repaired"
                break
            fi
        done
    done < <(failing_tables "$WORK/logs/check-$1.out")
}

# The salvage: the gentle start first, then force recovery, each on a fresh copy, until one server
# starts and survives the dump. Leaves the dump and the marker "dumped".
salvage() {
    rm -rf "$WORK/copy" "$WORK/copy.partial" "$WORK/dump.partial" "$WORK/new.partial"
    check_free_space
    local level
    for level in $(seq 0 "$MAX_FORCE"); do
        step_begin "copy" "$level"
        fresh_copy
        step_end ok "$(du -sh "$WORK/copy" | cut -f1)"
        step_begin "start" "$level"
        if ! start_fenced_server "$WORK/copy" "$level" "start-$level"; then
            step_end failed "the server did not start: $(last_server_error "$WORK/logs/start-$level.err")"
            continue
        fi
        step_end ok
        if [ "$level" = 0 ]; then
            step_begin check 0
            if full_check 0 && [ -z "$FORCE" ]; then
                step_end ok "every table checked clean"
                stop_fenced_server || true
                report_finish nothing_to_do "$EXIT_NOTHING"
                rm -rf "$WORK"
                mysql_note "nothing to resurrect: $DATADIR starts and checks clean"
                exit "$EXIT_NOTHING"
            fi
            step_end "$([ -n "$FORCE" ] && echo forced || echo errors)" "$(grep -cE '^(error|Error)[[:space:]]*:' "$WORK/logs/check-0.out" || true) errors"
        fi
        step_begin repair "$level"
        repair_tables "$level"
        step_end ok "$(wc -l <"$WORK/repaired") repaired"
        step_begin dump "$level"
        if dump_everything && stop_fenced_server; then
            step_end ok "$(wc -l <"$WORK/dump.partial/tables.tsv") tables, $(wc -l <"$WORK/dump.partial/lost.tsv") lost"
            printf '%s\n' "$level" >"$WORK/dump.partial/level"
            rm -rf "$WORK/dump"
            mv "$WORK/dump.partial" "$WORK/dump"
            rm -rf "$WORK/copy"
            : >"$WORK/dumped"
            return 0
        fi
        step_end failed "the server died during the dump: $(last_server_error "$WORK/logs/start-$level.err")"
        stop_fenced_server || true
    done
    rm -rf "$WORK/copy"
    could_not "no server started on a copy of $DATADIR and lived through the dump, up to innodb_force_recovery=$MAX_FORCE (see $WORK/logs; --max-force-recovery 4 to 6 go further and can lose more)"
}

last_server_error() { grep -E '\[ERROR\]' "$1" 2>/dev/null | tail -n 1 | cut -c1-300 || true; }
