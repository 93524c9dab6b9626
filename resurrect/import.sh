#!/usr/bin/env bash
# Sourced by resurrect: the new instance (initialised, the dump loaded under the fence, compared with
# what was dumped) and the switch that puts it in the original's place.
# The parts of resurrect share their variables (SC2034: set here, used in another part; SC2153: set in
# another part).
# shellcheck disable=SC2034,SC2153

# Files at the datadir's root that are not the server's data but belong with it: the healthcheck
# account's password (its account comes back with the grant tables) and the recorded version.
readonly ROOT_FILES=(.my-healthcheck.cnf mariadb_upgrade_info mysql_upgrade_info)

import_dump() {
    step_begin import "$(cat "$WORK/dump/level")"
    rm -rf "$WORK/new" "$WORK/new.partial"
    mkdir "$WORK/new.partial"
    DATADIR=$WORK/new.partial initialize_datadir "${SERVER[@]}" --datadir="$WORK/new.partial" >>"$WORK/logs/initialise.err" 2>&1 \
        || could_not "could not initialise a new datadir: $(tail -n 1 "$WORK/logs/initialise.err")"
    start_fenced_server "$WORK/new.partial" 0 import || could_not "the new instance did not start: $(last_server_error "$WORK/logs/import.err")"
    local kind database file options
    while IFS=$'\t' read -r kind database file; do
        options=()
        [ "$kind" = schema ] || options=(--database="$database")
        "$CLIENT" "${FENCED_OPTIONS[@]}" --binary-mode "${options[@]}" <"$WORK/dump/$file" 2>"$WORK/logs/import.out" \
            || could_not "loading $file ($kind of $database) into the new instance failed: $(tail -n 1 "$WORK/logs/import.out")"
    done <"$WORK/dump/plan.tsv"
    step_end ok "$(wc -l <"$WORK/dump/plan.tsv") pieces"
    step_begin verify "$(cat "$WORK/dump/level")"
    verify_import
    stop_fenced_server || could_not "the new instance did not shut down cleanly (see $WORK/logs/import.err)"
    local name
    for name in "${ROOT_FILES[@]}"; do
        [ -f "$DATADIR/$name" ] && cp -p "$DATADIR/$name" "$WORK/new.partial/"
    done
    sync -f "$WORK/new.partial" 2>/dev/null || true
    mv "$WORK/new.partial" "$WORK/new"
    : >"$WORK/imported"
}

# Every count and every table's rows and CHECKSUM TABLE, the new instance against the dump. The users
# are compared only when the grant tables were dumped (otherwise the new instance's own are there).
verify_import() {
    local differences=() name expected actual database table rows checksum counts
    counts=$(instance_counts "$WORK/dump")
    while IFS=$'\t' read -r name expected; do
        actual=$(awk -F'\t' -v name="$name" '$1 == name { print $2 }' <<<"$counts")
        [ "$name" = users ] && grep -q $'\tsystem\t' "$WORK/dump/lost.tsv" && continue
        [ "$actual" = "$expected" ] || differences+=("$name: $actual, dumped $expected")
    done <"$WORK/dump/counts.tsv"
    local compared=0
    local quoted
    while IFS=$'\t' read -r database table _ rows checksum; do
        quoted=\`$(sql_identifier "$database")\`.\`$(sql_identifier "$table")\`
        actual=$(fenced_sql -e "SELECT COUNT(*) FROM $quoted; CHECKSUM TABLE $quoted" 2>&1 | awk -F'\t' 'NR == 1 { rows = $1 } NR == 2 { print rows "\t" $2 }')
        [ "$actual" = "$rows"$'\t'"$checksum" ] || differences+=("$database.$table: rows and checksum $actual, dumped $rows $checksum")
        compared=$((compared + 1))
    done <"$WORK/dump/tables.tsv"
    if [ ${#differences[@]} -gt 0 ]; then
        printf '%s\n' "${differences[@]}" >"$WORK/logs/differences"
        could_not "the new instance differs from the dump (${#differences[@]} differences, first: ${differences[0]}; all in $WORK/logs/differences)"
    fi
    step_end ok "$compared tables: rows and checksums equal; $(tr '\t\n' ' ,' <"$WORK/dump/counts.tsv")"
}

# The switch: the original's entries move into $KEPT_PREFIX<UTC time> (phase one, marked by
# switched-out), then the new datadir's entries take their place. Renames within one volume; a run
# interrupted here finishes it the next time (the entrypoint refuses to start a server meanwhile).
switch_datadirs() {
    if [ ! -e "$WORK/switching" ]; then
        date -u '+%Y%m%dT%H%M%SZ' >"$WORK/switching.new"
        sync "$WORK/switching.new" 2>/dev/null || true
        mv "$WORK/switching.new" "$WORK/switching"
    fi
    KEPT=$DATADIR/$KEPT_PREFIX$(cat "$WORK/switching")
    step_begin switch "$(cat "$WORK/dump/level")"
    if [ ! -e "$WORK/switched-out" ]; then
        mkdir -p "$KEPT"
        original_entries | xargs -0r mv -t "$KEPT" --
        sync -f "$KEPT" 2>/dev/null || true
        : >"$WORK/switched-out"
    fi
    local entry
    for entry in "$WORK/new"/* "$WORK/new"/.[!.]* "$WORK/new"/..?*; do
        mv -- "$entry" "$DATADIR/"
    done
    sync -f "$DATADIR" 2>/dev/null || true
    step_end ok "the original is kept in $KEPT"
    local outcome=resurrected code=$EXIT_RESURRECTED
    if [ -s "$WORK/dump/lost.tsv" ]; then outcome=resurrected_with_losses code=$EXIT_LOSSES; fi
    report_finish "$outcome" "$code"
    mkdir -p "$KEPT/$RESURRECT_WORK"
    cp -a "$WORK/logs" "$WORK/steps.jsonl" "$WORK/dump/lost.tsv" "$WORK/dump/tables.tsv" "$KEPT/$RESURRECT_WORK/" 2>/dev/null || true
    cp -p "$DATADIR/$RESURRECT_REPORT" "$KEPT/$RESURRECT_WORK/report.json"
    rm -rf "$WORK"
    exit "$code"
}
