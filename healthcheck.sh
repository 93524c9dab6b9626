#!/usr/bin/env bash
# healthcheck.sh: the health check of MariaDB's official image, with its options, so compose files and
# probes written for `mariadb` images keep working here. (This image's own HEALTHCHECK is
# `lifeguard probe --ready`, which reads Lifeguard's status file and never connects to the server.)
#
#   healthcheck.sh [OPTION | TEST]...      tests run in the order given; the first to fail exits 1
#
# Tests: --connect (the server accepts a TCP connection; refusing the account is still up),
# --innodb_initialized, --innodb_buffer_pool_loaded, --galera_online, --mariadbupgrade (no
# mariadb-upgrade holds the datadir), --replication (with the settings given before it:
# --replication_io, --replication_sql, --replication_seconds_behind_master=N,
# --replication_sql_remaining_delay=N, --replication_all, --replication_name=NAME).
# Options: --su-mysql, --su=USER (run as that user; before the tests), --datadir=DIR,
# --no-defaults, --defaults-file=F, --defaults-extra-file=F, --defaults-group-suffix=S. Without a
# defaults option the client reads DATADIR/.my-healthcheck.cnf, which the entrypoint writes for the
# healthcheck@localhost accounts. `_` and `-` are the same in names.
set -uo pipefail

datadir=/var/lib/mysql
no_defaults=
declare -A defaults=() replication=()

client() {
    local options=()
    if [ -n "$no_defaults" ]; then
        options+=(--no-defaults)
    else
        [ -z "${defaults[file]:-}" ] || options+=(--defaults-file="${defaults[file]}")
        if [ -n "${defaults[extra_file]:-}" ]; then
            options+=(--defaults-extra-file="${defaults[extra_file]}")
        elif [ -z "${defaults[file]:-}" ] && [ -f "$datadir/.my-healthcheck.cnf" ]; then
            options+=(--defaults-extra-file="$datadir/.my-healthcheck.cnf")
        fi
        [ -z "${defaults[group_suffix]:-}" ] || options+=(--defaults-group-suffix="${defaults[group_suffix]}")
    fi
    "$(command -v mariadb || command -v mysql)" "${options[@]}" "$@"
}

# One value from the server; empty when it cannot be read.
query() { client --batch --skip-column-names -e "$1" 2>/dev/null; }

test_connect() {
    local output
    output=$(client -h localhost --protocol=tcp -e 'SELECT 1' 2>&1)
    [[ $output != *"Can't connect"* ]]
}

test_innodb_initialized() {
    [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE = 'InnoDB' AND SUPPORT IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ]
}

test_innodb_buffer_pool_loaded() {
    [[ $(query "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'Innodb_buffer_pool_load_status'") == *"load completed"* ]]
}

test_galera_online() {
    [ "$(query "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE'")" = 4 ]
}

test_mariadbupgrade() {
    [ -r "$datadir/mysql_upgrade_info" ] || return 0
    flock --exclusive --nonblock 9 9<"$datadir/mysql_upgrade_info"
}

# Every replication source asked about must be running and current; none at all is a failure.
test_replication() {
    local statement="SHOW REPLICA STATUS"
    if [ -n "${replication[all]:-}" ]; then
        statement="SHOW ALL REPLICAS STATUS"
    elif [ -n "${replication[name]:-}" ]; then
        statement="SHOW REPLICA '${replication[name]//\'/\'\'}' STATUS"
    fi
    local status name value sources=0
    status=$(client --batch -e "$statement\\G" 2>&1) || return 1
    while IFS= read -r line; do
        case "$line" in *'. row '*) sources=$((sources + 1)); continue ;; esac
        name=${line%%:*} value=${line#*: }
        name=${name//[[:space:]]/}
        case "$name" in
            Slave_IO_Running) [ -z "${replication[io]:-}" ] || [ "$value" = Yes ] || return 1 ;;
            Slave_SQL_Running) [ -z "${replication[sql]:-}" ] || [ "$value" = Yes ] || return 1 ;;
            Seconds_Behind_Master)
                [ -z "${replication[seconds_behind_master]:-}" ] \
                    || { [ "$value" != NULL ] && ((value <= replication[seconds_behind_master])); } || return 1 ;;
            SQL_Remaining_Delay)
                [ -z "${replication[sql_remaining_delay]:-}" ] || [ "$value" = NULL ] \
                    || ((value <= replication[sql_remaining_delay])) || return 1 ;;
        esac
    done <<<"$status"
    [ "$sources" -gt 0 ]
}

if [ $# -eq 0 ]; then
    echo "healthcheck.sh: give at least one test (--connect, --innodb_initialized, …)" >&2
    exit 1
fi
while [ $# -gt 0 ]; do
    option=${1%%=*}
    option=${option//-/_}
    value=
    [[ $1 == *=* ]] && value=${1#*=}
    case "$option" in
        __su_mysql) shift && exec lifeguard run-as mysql "$0" "$@" ;;
        __su)
            if [ -z "$value" ]; then value=${2:?--su needs a user}; shift; fi
            shift && exec lifeguard run-as "$value" "$0" "$@"
            ;;
        __datadir)
            if [[ $1 != *=* ]]; then value=${2:?--datadir needs a directory}; shift; fi
            datadir=$value
            ;;
        __no_defaults) no_defaults=1 ;;
        __defaults_file | __defaults_extra_file | __defaults_group_suffix)
            if [[ $1 != *=* ]] && [ "${2:0:2}" != -- ]; then value=${2:-}; shift; fi
            defaults[${option#__defaults_}]=$value
            no_defaults=
            ;;
        __replication_*)
            if [[ $1 != *=* ]]; then
                value=1
                if [ $# -gt 1 ] && [ "${2:0:2}" != -- ]; then value=$2; shift; fi
            fi
            name=${option#__replication_}
            replication[${name,,}]=$value
            # A delay can only be measured while the IO thread runs.
            case "${name,,}" in seconds_behind_master | sql_remaining_delay) : "${replication[io]:=1}" ;; esac
            ;;
        __connect | __innodb_initialized | __innodb_buffer_pool_loaded | __galera_online | __mariadbupgrade | __replication)
            if ! "test_${option#__}"; then
                echo "healthcheck ${option#__} failed" >&2
                exit 1
            fi
            ;;
        *)
            echo "healthcheck.sh: unknown option or test $1" >&2
            exit 1
            ;;
    esac
    shift
done
