#!/usr/bin/env bash
# docker-entrypoint.sh: initialises a new datadir for MySQL 8.x or MariaDB 10.11+/11.x, then execs the
# server. It runs as Lifeguard's child (Lifeguard is PID 1), and its last exec makes the server the
# process Lifeguard supervises, signals, probes and stops before the kernel OOM killer would.
#
# The official images' contract: MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD,
# MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ONETIME_PASSWORD, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD,
# MYSQL_ROOT_HOST, MYSQL_INITDB_SKIP_TZINFO (the flags: any non-empty value is on), _FILE variants for
# the secrets, /docker-entrypoint-initdb.d, arguments starting with "-" go to mysqld, --help and
# --version skip initialisation, any other command runs as given.
set -Eeo pipefail
shopt -s nullglob

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*"; }
warn() { log "Warning: $*" >&2; }
fail() {
    log "ERROR: $*" >&2
    exit 1
}

# file_env VAR [DEFAULT]: VAR from $VAR, or from the file $VAR_FILE names (Docker secrets); both is an error.
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        fail "both $var and $file_var are set: use one"
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || fail "$file_var names ${!file_var}, which cannot be read"
        value=$(<"${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

is_server() {
    case "${1##*/}" in mysqld | mariadbd) return 0 ;; *) return 1 ;; esac
}

wants_help() {
    local arg
    for arg; do
        case "$arg" in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
    done
    return 1
}

# Escapes for SQL string literals ('...') and identifiers (`...`).
sql_string() {
    local value=${1//\\/\\\\}
    printf '%s' "${value//\'/\\\'}"
}
sql_identifier() { printf '%s' "${1//\`/\`\`}"; }

# server_settings "$@": the flavour, the effective datadir and socket, from one run of the server's own
# view of its options (about 50 ms: it is the entrypoint's largest cost, and every in-place restart
# pays it). The step down from root passes them on rather than asking the server again.
server_settings() {
    if [ -n "${_ENTRYPOINT_DATADIR:-}" ]; then
        FLAVOR=$_ENTRYPOINT_FLAVOR DATADIR=$_ENTRYPOINT_DATADIR SOCKET=$_ENTRYPOINT_SOCKET STEPPED_DOWN=yes
        unset _ENTRYPOINT_FLAVOR _ENTRYPOINT_DATADIR _ENTRYPOINT_SOCKET
    else
        local help
        help=$("$@" --verbose --help 2>/dev/null) || fail "the server refused its configuration: $("$@" --verbose --help 2>&1 >/dev/null | tail -n 3)"
        FLAVOR=mysql
        case "${help%%$'\n'*}" in *[Mm]aria[Dd][Bb]*) FLAVOR=mariadb ;; esac
        DATADIR=$(awk '$1 == "datadir" && /^[^ \t]/ { print $2; exit }' <<<"$help")
        SOCKET=$(awk '$1 == "socket" && /^[^ \t]/ { print $2; exit }' <<<"$help")
        DATADIR=${DATADIR%/}
    fi
    if [ -z "$DATADIR" ] || [ -z "$SOCKET" ]; then
        fail "cannot read datadir and socket from $1 --verbose --help"
    fi
}

find_tools() {
    if [ "$FLAVOR" = mariadb ]; then
        CLIENT=$(command -v mariadb || command -v mysql)
        TZINFO_TO_SQL=$(command -v mariadb-tzinfo-to-sql || command -v mysql_tzinfo_to_sql || true)
    else
        CLIENT=$(command -v mysql)
        TZINFO_TO_SQL=$(command -v mysql_tzinfo_to_sql || true)
    fi
    [ -n "$CLIENT" ] || fail "no $FLAVOR client in the image"
}

# Server settings sized from the memory offer, for every key the user has not set.
render_config() {
    local rendered=${LIFEGUARD_SERVER_CONFIG:-/run/lifeguard/mysqld.cnf} defaults
    mkdir -p "$(dirname "$rendered")" 2>/dev/null || true
    rm -f "$rendered"
    defaults=$(my_print_defaults mysqld server mariadb mariadbd client-server galera 2>/dev/null || true)
    lifeguard render-config --output "$rendered" --defaults <(printf '%s\n' "$defaults") -- "${@:2}" \
        || warn "could not render the server settings; the server's defaults apply"
}

# Everything the user may get wrong is checked before anything is touched.
check_environment() {
    file_env MYSQL_ROOT_PASSWORD
    file_env MYSQL_ROOT_HOST '%'
    file_env MYSQL_DATABASE
    file_env MYSQL_USER
    file_env MYSQL_PASSWORD
    if [ "${MYSQL_USER:-}" = root ]; then
        fail "MYSQL_USER=root is not allowed: root is created by MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD)"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -z "${MYSQL_PASSWORD:-}" ]; then
        warn "MYSQL_USER is set without MYSQL_PASSWORD: the user is not created"
    elif [ -z "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
        warn "MYSQL_PASSWORD is set without MYSQL_USER: it is ignored"
    fi
}

check_new_datadir_environment() {
    if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
        fail "the datadir $DATADIR is new and no root password is set: give one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD"
    fi
}

# The names the official image's sourced initdb.d scripts use.
docker_process_sql() { run_sql "$@"; }
mysql_note() { log "$@"; }
mysql_warn() { warn "$@"; }
mysql_error() { fail "$@"; }

# The root password as a client option file (never on a command line, where ps would show it).
client_password_file() {
    local password=${MYSQL_ROOT_PASSWORD//\\/\\\\}
    printf '[client]\npassword="%s"\n' "${password//\"/\\\"}"
}

# run_sql [CLIENT OPTIONS]: SQL on stdin, to the temporary server, as root. (The process substitution
# must be in the client's own command: it is closed when the command that made it ends.)
run_sql() {
    if [ -n "${ROOT_PASSWORD_SET:-}" ]; then
        "$CLIENT" --defaults-extra-file=<(client_password_file) --protocol=socket -uroot -hlocalhost \
            --socket="$SOCKET" --comments "$@"
    else
        "$CLIENT" --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
    fi
}

initialize_datadir() {
    log "initialising $FLAVOR in $DATADIR"
    mkdir -p "$DATADIR"
    if [ "$FLAVOR" = mariadb ]; then
        local install
        install=$(command -v mariadb-install-db || command -v mysql_install_db) || fail "no mariadb-install-db in the image"
        "$install" --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal --skip-test-db \
            --default-time-zone=SYSTEM --skip-log-bin --loose-innodb-buffer-pool-load-at-startup=0 \
            --loose-innodb-buffer-pool-dump-at-shutdown=0 "${@:2}" >/dev/null
    else
        "$@" --initialize-insecure --default-time-zone=SYSTEM
    fi
}

# The temporary server: no network, and no NOTIFY_SOCKET (it must never make the container ready;
# Lifeguard also ignores notifications that do not come from its main child).
start_temporary_server() {
    local extra=(--innodb-buffer-pool-load-at-startup=0)
    [ "$FLAVOR" = mysql ] && extra+=(--mysqlx=OFF)
    env -u NOTIFY_SOCKET "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" "${extra[@]}" &
    TEMPORARY_PID=$!
    local attempt
    for attempt in $(seq 600); do
        if run_sql --database=mysql -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
        kill -0 "$TEMPORARY_PID" 2>/dev/null || fail "the temporary server exited during initialisation"
        sleep 0.1
    done
    fail "the temporary server did not accept connections within $((attempt / 10)) s"
}

stop_temporary_server() {
    kill -TERM "$TEMPORARY_PID"
    wait "$TEMPORARY_PID" || fail "the temporary server did not shut down cleanly"
}

set_up_accounts() {
    if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ] && [ -n "$TZINFO_TO_SQL" ]; then
        "$TZINFO_TO_SQL" /usr/share/zoneinfo 2>/dev/null \
            | sed 's/Local time zone must be set--see zic manual page/FCTY/' | run_sql --database=mysql
    fi
    if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
        MYSQL_ROOT_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
        log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    local password host sql="" account
    password=$(sql_string "${MYSQL_ROOT_PASSWORD:-}")
    host=$(sql_string "$MYSQL_ROOT_HOST")
    # Only root@localhost stays of what the installer made (mariadb-install-db also adds
    # root@<hostname> and anonymous users); root@MYSQL_ROOT_HOST is created below.
    while read -r account; do
        [ -n "$account" ] && sql+="DROP USER $account;"
    done < <(run_sql --database=mysql -N -B -e \
        "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE (User = 'root' AND Host <> 'localhost') OR User = ''")
    if [ -n "${MYSQL_ROOT_PASSWORD:-}" ]; then
        sql+="ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';"
    fi
    if [ "$MYSQL_ROOT_HOST" != localhost ]; then
        sql+="CREATE USER 'root'@'$host' IDENTIFIED BY '$password';"
        sql+="GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
        sql+="GRANT PROXY ON ''@'' TO 'root'@'$host' WITH GRANT OPTION;"
    fi
    run_sql --database=mysql <<<"SET autocommit = 1; SET @@SESSION.SQL_LOG_BIN = 0; $sql DROP DATABASE IF EXISTS test;"
    ROOT_PASSWORD_SET=${MYSQL_ROOT_PASSWORD:+yes}

    if [ -n "${MYSQL_DATABASE:-}" ]; then
        log "creating database $MYSQL_DATABASE"
        run_sql <<<"CREATE DATABASE IF NOT EXISTS \`$(sql_identifier "$MYSQL_DATABASE")\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
        log "creating user $MYSQL_USER"
        local user
        user=$(sql_string "$MYSQL_USER")
        sql="CREATE USER '$user'@'%' IDENTIFIED BY '$(sql_string "$MYSQL_PASSWORD")';"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
            sql+="GRANT ALL ON \`$(sql_identifier "$MYSQL_DATABASE")\`.* TO '$user'@'%';"
        fi
        run_sql <<<"SET @@SESSION.SQL_LOG_BIN = 0; $sql"
    fi
}

# /docker-entrypoint-initdb.d, in name order: *.sh (run if executable, sourced if not), *.sql and
# compressed *.sql.gz, .bz2, .xz, .zst (into MYSQL_DATABASE when set); anything else is skipped.
run_init_files() {
    local file database=()
    [ -n "${MYSQL_DATABASE:-}" ] && database=(--database="$MYSQL_DATABASE")
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
            *.sh)
                if [ -x "$file" ]; then
                    log "running $file"
                    "$file"
                else
                    log "sourcing $file"
                    # shellcheck disable=SC1090
                    . "$file"
                fi
                ;;
            *.sql) log "loading $file" && run_sql "${database[@]}" <"$file" ;;
            *.sql.gz) log "loading $file" && gunzip -c "$file" | run_sql "${database[@]}" ;;
            *.sql.bz2) log "loading $file" && bunzip2 -c "$file" | run_sql "${database[@]}" ;;
            *.sql.xz) log "loading $file" && xzcat "$file" | run_sql "${database[@]}" ;;
            *.sql.zst) log "loading $file" && zstd -dc "$file" | run_sql "${database[@]}" ;;
            *) log "skipping $file" ;;
        esac
    done
}

main() {
    if [ "${1:0:1}" = '-' ]; then
        set -- mysqld "$@"
    fi
    # MariaDB 11 images may ship mariadbd without the mysqld name the image's CMD uses.
    if [ "$1" = mysqld ] && ! command -v mysqld >/dev/null && command -v mariadbd >/dev/null; then
        set -- mariadbd "${@:2}"
    fi
    if ! is_server "$1" || wants_help "$@"; then
        exec "$@"
    fi
    check_environment
    server_settings "$@"
    find_tools

    # Rendered before stepping down: /run/lifeguard belongs to the user Lifeguard runs as, which is
    # the only one that can write there when /run is a fresh tmpfs (--read-only --tmpfs /run).
    [ -n "${STEPPED_DOWN:-}" ] || render_config "$@"

    # As root: make the directories the server needs, then run again as mysql (the same process, so
    # Lifeguard's main child stays the server).
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
        chown mysql:mysql "$DATADIR" "$(dirname "$SOCKET")"
        _ENTRYPOINT_FLAVOR=$FLAVOR _ENTRYPOINT_DATADIR=$DATADIR _ENTRYPOINT_SOCKET=$SOCKET \
            exec lifeguard run-as mysql "$0" "$@"
    fi

    if [ -d "$DATADIR/mysql" ]; then
        log "$DATADIR holds a database: skipping initialisation"
    else
        check_new_datadir_environment
        initialize_datadir "$@"
        start_temporary_server "$@"
        set_up_accounts
        run_init_files
        if [ -n "${MYSQL_ONETIME_PASSWORD:-}" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
            run_sql <<<"ALTER USER 'root'@'$(sql_string "$MYSQL_ROOT_HOST")' PASSWORD EXPIRE;"
        fi
        stop_temporary_server
        log "initialisation done: starting $FLAVOR"
    fi
    exec "$@"
}

main "$@"
