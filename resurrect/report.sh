#!/usr/bin/env bash
# Sourced by resurrect: the steps' timings, the JSON report ($DATADIR/.lifeguard-resurrect.json, and a
# copy beside the status file for `lifeguard status`), the human summary, and the two ways a run ends
# early (could not, interrupted).
# The parts of resurrect share their variables (SC2034: set here, used in another part; SC2153: set in
# another part).
# shellcheck disable=SC2034,SC2153

readonly EXIT_NOTHING=0 EXIT_RESURRECTED=10 EXIT_LOSSES=11 EXIT_COULD_NOT=1 EXIT_INTERRUPTED=143

# A JSON string: the option-file escapes (backslash, quote, line breaks, tab) are JSON's; any other
# control character is dropped.
json_string() { option_value "$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')"; }

report_begin() {
    [ -s "$WORK/started_at" ] || date -u '+%Y-%m-%dT%H:%M:%SZ' >"$WORK/started_at"
    touch "$WORK/steps.jsonl"
}

# step_begin NAME FORCE_RECOVERY
step_begin() {
    STEP_NAME=$1 STEP_LEVEL=$2 STEP_START=$EPOCHREALTIME
    mysql_note "resurrect: $STEP_NAME${STEP_LEVEL:+ (innodb_force_recovery=$STEP_LEVEL)}"
}

# step_end RESULT [DETAIL]: one line of steps.jsonl (kept across an interrupted run and its resumption).
step_end() {
    local seconds
    seconds=$(awk -v a="$STEP_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
    printf '{"step": %s, "force_recovery": %s, "result": %s, "seconds": %s, "detail": %s}\n' \
        "$(json_string "$STEP_NAME")" "${STEP_LEVEL:-null}" "$(json_string "$1")" "$seconds" "$(json_string "${2:-}")" \
        >>"$WORK/steps.jsonl"
    mysql_note "resurrect: $STEP_NAME $1 in ${seconds} s${2:+: $2}"
}

# The dump the report describes: the complete one, else the one under way.
report_dump() {
    if [ -d "$WORK/dump" ]; then echo "$WORK/dump"; elif [ -d "$WORK/dump.partial" ]; then echo "$WORK/dump.partial"; fi
}

# report_json OUTCOME CODE [REASON]
report_json() {
    local dump counts='{}' lost='[]' repaired='[]' rows=0 tables=0 level=null
    dump=$(report_dump)
    if [ -n "$dump" ]; then
        [ -s "$dump/counts.tsv" ] && counts=$(awk -F'\t' '{ printf "%s\"%s\": %s", (NR > 1 ? ", " : "{"), $1, $2 } END { print (NR ? "}" : "{}") }' "$dump/counts.tsv")
        rows=$(awk -F'\t' '{ sum += $4 } END { print sum + 0 }' "$dump/tables.tsv" 2>/dev/null || echo 0)
        tables=$(wc -l <"$dump/tables.tsv" 2>/dev/null || echo 0)
        [ -s "$dump/level" ] && level=$(cat "$dump/level")
        local database table engine estimate error entries=()
        while IFS=$'\t' read -r database table engine estimate error; do
            entries+=("{\"database\": $(json_string "$database"), \"table\": $(json_string "$table"), \"engine\": $(json_string "$engine"), \"estimated_rows\": ${estimate:-0}, \"error\": $(json_string "$error")}")
        done <"$dump/lost.tsv"
        [ ${#entries[@]} -eq 0 ] || lost="[$(IFS=,; echo "${entries[*]}")]"
    fi
    if [ -s "$WORK/repaired" ]; then
        repaired="[$(while IFS= read -r table; do printf '%s,' "$(json_string "$table")"; done <"$WORK/repaired" | sed 's/,$//')]"
    fi
    local kept=null
    [ -n "${KEPT:-}" ] && kept=$(json_string "$KEPT")
    printf '{\n  "outcome": %s,\n  "exit_code": %s,\n  "reason": %s,\n  "datadir": %s,\n  "kept": %s,\n  "keep_days": %s,\n' \
        "$(json_string "$1")" "$2" "$([ -n "${3:-}" ] && json_string "$3" || echo null)" "$(json_string "$DATADIR")" "$kept" "$KEEP_DAYS"
    printf '  "started_at": %s,\n  "finished_at": %s,\n  "force_recovery": %s,\n' \
        "$(json_string "$(cat "$WORK/started_at" 2>/dev/null)")" "$(json_string "$(date -u '+%Y-%m-%dT%H:%M:%SZ')")" "$level"
    printf '  "tables_dumped": %s,\n  "rows_dumped": %s,\n  "counts": %s,\n  "repaired": %s,\n  "lost": %s,\n  "steps": [\n' \
        "$tables" "$rows" "$counts" "$repaired" "$lost"
    sed -e 's/^/    /' -e '$!s/$/,/' "$WORK/steps.jsonl" 2>/dev/null || true
    printf '  ]\n}\n'
}

# A file written whole or not at all.
write_whole() {
    { cat >"$1.new" && mv -f "$1.new" "$1"; } 2>/dev/null || { rm -f "$1.new"; return 1; }
}

# report_finish OUTCOME CODE [REASON]: the report in the datadir and beside the status file, and the
# summary on stdout.
report_finish() {
    local report
    report=$(report_json "$@")
    write_whole "$DATADIR/$RESURRECT_REPORT" <<<"$report" || mysql_warn "could not write $DATADIR/$RESURRECT_REPORT"
    # Beside the status file: whole when its directory lets this user rename, else in place (the file
    # made ours before the step down; Lifeguard reads it again when it changes).
    if [ -n "${LIFEGUARD_STATUS_FILE:-}" ]; then
        local status=${LIFEGUARD_STATUS_FILE%/*}/$RESURRECT_STATUS
        write_whole "$status" <<<"$report" || { printf '%s\n' "$report" >"$status"; } 2>/dev/null || true
    fi
    local dump
    dump=$(report_dump)
    printf 'resurrect: %s (exit %s)%s\n' "${1//_/ }" "$2" "${3:+: $3}"
    printf '  datadir   %s%s\n' "$DATADIR" "${KEPT:+ (the original is kept in $KEPT for $KEEP_DAYS days)}"
    if [ -n "$dump" ] && [ -s "$dump/counts.tsv" ]; then
        printf '  restored  %s tables, %s rows; %s\n' "$(wc -l <"$dump/tables.tsv")" \
            "$(awk -F'\t' '{ sum += $4 } END { print sum + 0 }' "$dump/tables.tsv")" "$(awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }' "$dump/counts.tsv")"
    fi
    [ -s "$WORK/repaired" ] && printf '  repaired  %s\n' "$(paste -sd ' ' "$WORK/repaired")"
    if [ -n "$dump" ] && [ -s "$dump/lost.tsv" ]; then
        awk -F'\t' '{ what = ($3 == "system") ? "the grant and system tables" : ($2 == "*") ? "the database is not there" \
            : $3 ", about " $4 " rows; the table is there, empty"; printf "  lost      %s.%s (%s): %s\n", $1, $2, what, $5 }' "$dump/lost.tsv"
    fi
    printf '  report    %s\n' "$DATADIR/$RESURRECT_REPORT"
}

# could_not REASON: the original is as it was; the large partial work is removed, a complete dump is
# kept (the next run imports it again; remove $WORK to start over).
could_not() {
    trap - ERR
    mysql_log ERROR "resurrect: $1" >&2
    stop_fenced_server || true
    report_finish could_not "$EXIT_COULD_NOT" "$1"
    rm -rf "$WORK/copy" "$WORK/copy.partial" "$WORK/new.partial" "$WORK/dump.partial"
    exit "$EXIT_COULD_NOT"
}

interrupted() {
    trap - TERM INT ERR
    mysql_warn "resurrect: interrupted; the original is intact until the switch: run resurrect again to resume"
    stop_fenced_server || true
    report_finish interrupted "$EXIT_INTERRUPTED" "interrupted during ${STEP_NAME:-the start}"
    exit "$EXIT_INTERRUPTED"
}
