#!/usr/bin/env bash
# docker-entrypoint.sh: initialises a new datadir for MySQL 8.x or MariaDB 10.11+/11.x, upgrades an old
# one when asked, then execs the server. It runs as Lifeguard's child (Lifeguard is PID 1), and its
# last exec makes the server the process Lifeguard supervises, signals, probes and stops before the
# kernel OOM killer would.
#
# The official images' contract: MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD,
# MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ONETIME_PASSWORD, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD,
# MYSQL_ROOT_HOST, MYSQL_INITDB_SKIP_TZINFO (flags: any non-empty value is on), each with its MARIADB_
# twin (MARIADB_ALLOW_EMPTY_ROOT_PASSWORD for the empty password), and MariaDB's own:
# MARIADB_ROOT_PASSWORD_HASH, MARIADB_PASSWORD_HASH, MARIADB_USER_HOST, MARIADB_MYSQL_LOCALHOST_USER and
# _GRANTS, MARIADB_HEALTHCHECK_GRANTS, MARIADB_REPLICATION_USER, _PASSWORD, _PASSWORD_HASH,
# MARIADB_MASTER_HOST, _PORT, MARIADB_AUTO_UPGRADE, MARIADB_DISABLE_UPGRADE_BACKUP. Every value may come
# from a file (VAR_FILE, for Docker secrets). /docker-entrypoint-initdb.d: *.sh run (or sourced when not
# executable, with docker_process_sql and mysql_note/_warn/_error at hand), *.sql and compressed *.sql.*
# loaded, *.tar.{gz,xz,zst} restored as a mariadb-backup. Arguments starting with "-" go to the server,
# --help and --version skip initialisation, any other command runs as given. Sourced, it only defines
# its functions.
set -Eeo pipefail
shopt -s nullglob

# The file that says an initialisation is under way: present from before the first file the
# installer writes until after the temporary server has stopped. It lists, NUL-separated, what the
# datadir held before (a volume's lost+found, say): what an interrupted initialisation leaves
# beside those is removed and the initialisation starts over. A dot file: MySQL's --initialize takes
# a datadir that holds only dot files and lost+found as empty.
readonly INIT_MARKER=.lifeguard-initialising
# What `resurrect` leaves in the datadir (a container's datadir is its volume's root: nothing beside it
# is on the volume): its work while it runs, the original it replaced, kept for
# LIFEGUARD_RESURRECT_KEEP_DAYS, its last report, and that report's copy beside the status file.
readonly RESURRECT_WORK=.lifeguard-resurrect KEPT_PREFIX=.lifeguard-kept- RESURRECT_REPORT=.lifeguard-resurrect.json
readonly RESURRECT_STATUS=resurrect.json

mysql_log() {
    local level=$1
    shift
    printf '%s [%s] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$level" "$*"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() {
    mysql_log ERROR "$@" >&2
    exit 1
}
# A warning about the environment: said by the first run only, not again after the step down from root.
environment_warning() { [ -n "${STEPPED_DOWN:-}" ] || mysql_warn "$@"; }

# True when this file is being sourced (by a script that wants its functions), not run.
_is_sourced() { [ "${BASH_SOURCE[1]:-}" != "$0" ]; }

# file_env VAR [DEFAULT]: VAR from $VAR, or from the file $VAR_FILE names (Docker secrets); both is an error.
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        mysql_error "both $var and $file_var are set: use one"
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || mysql_error "$file_var names ${!file_var}, which cannot be read"
        value=$(<"${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

# twin_env MYSQL_NAME MARIADB_NAME [DEFAULT]: one setting under its two names. MariaDB's name wins, as
# in MariaDB's own image (whose test suite sets both); two different values are said in one warning.
# Both names end up holding the value, so initdb scripts may read either.
twin_env() {
    local mysql=$1 maria=$2
    file_env "$mysql"
    file_env "$maria"
    if [ -n "${!mysql}" ] && [ -n "${!maria}" ] && [ "${!mysql}" != "${!maria}" ]; then
        environment_warning "$maria and $mysql are both set, to different values: $maria is used"
    fi
    local value=${!maria:-${!mysql:-${3:-}}}
    export "$mysql"="$value" "$maria"="$value"
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

# A string for a SQL literal ('...'): backslash, quote, and the line breaks a client would split on.
sql_string() {
    local value=${1//\\/\\\\}
    value=${value//\'/\\\'}
    value=${value//$'\n'/\\n}
    printf '%s' "${value//$'\r'/\\r}"
}
sql_identifier() { printf '%s' "${1//\`/\`\`}"; }
# A database name as a GRANT pattern: _ and % are wildcards there, so they are escaped.
sql_grant_database() {
    local name=${1//\\/\\\\}
    name=${name//_/\\_}
    sql_identifier "${name//%/\\%}"
}
# A value for an option file, double-quoted: the escapes the server's option parser reads back.
option_value() {
    local value=${1//\\/\\\\}
    value=${value//\"/\\\"}
    value=${value//$'\n'/\\n}
    value=${value//$'\r'/\\r}
    printf '"%s"' "${value//$'\t'/\\t}"
}

# random_password [EXCLUDED]: 32 characters with upper and lower case, digits and symbols (what the
# server's simple_password_check and cracklib plugins ask for), never ' \ " or `.
random_password() {
    local password
    while :; do
        password=$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9!#%&()*+,./:;<=>?@^_{|}~-' | tr -d "${1:-}")
        password=${password:0:32}
        if [ ${#password} -eq 32 ] && [[ $password =~ [A-Z] && $password =~ [a-z] && $password =~ [0-9] && $password =~ [^A-Za-z0-9] ]]; then
            printf '%s' "$password"
            return
        fi
    done
}

# server_settings "$@": the flavour, version, datadir, socket and port, from one run of the server's
# own view of its options (about 50 ms: the entrypoint's largest cost, paid by every in-place
# restart). The step down from root passes them on rather than asking the server again.
server_settings() {
    if [ -n "${_ENTRYPOINT_SETTINGS:-}" ]; then
        IFS=$'\t' read -r FLAVOR VERSION DATADIR SOCKET PORT <<<"$_ENTRYPOINT_SETTINGS"
        STEPPED_DOWN=yes
        unset _ENTRYPOINT_SETTINGS
    else
        local help
        help=$("$@" --verbose --help 2>/dev/null) || mysql_error "the server refused its configuration: $("$@" --verbose --help 2>&1 >/dev/null | tail -n 3)"
        FLAVOR=mysql
        case "${help%%$'\n'*}" in *[Mm]aria[Dd][Bb]*) FLAVOR=mariadb ;; esac
        VERSION=$(awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "Ver") { print $(i + 1); exit } }' <<<"$help")
        DATADIR=$(awk '$1 == "datadir" && /^[^ \t]/ { print $2; exit }' <<<"$help")
        SOCKET=$(awk '$1 == "socket" && /^[^ \t]/ { print $2; exit }' <<<"$help")
        PORT=$(awk '$1 == "port" && /^[^ \t]/ { print $2; exit }' <<<"$help")
        DATADIR=${DATADIR%/}
    fi
    if [ -z "$DATADIR" ] || [ -z "$SOCKET" ]; then
        mysql_error "cannot read datadir and socket from $1 --verbose --help"
    fi
    PORT=${PORT:-3306}
}

find_tools() {
    if [ "$FLAVOR" = mariadb ]; then
        CLIENT=$(command -v mariadb || command -v mysql)
        TZINFO_TO_SQL=$(command -v mariadb-tzinfo-to-sql || command -v mysql_tzinfo_to_sql || true)
    else
        CLIENT=$(command -v mysql)
        TZINFO_TO_SQL=$(command -v mysql_tzinfo_to_sql || true)
    fi
    [ -n "$CLIENT" ] || mysql_error "no $FLAVOR client in the image"
}

# Server settings sized from the memory offer, for every key the user has not set.
render_config() {
    local rendered=${LIFEGUARD_SERVER_CONFIG:-/run/lifeguard/mysqld.cnf} defaults
    mkdir -p "$(dirname "$rendered")" 2>/dev/null || true
    rm -f "$rendered"
    defaults=$(my_print_defaults mysqld server mariadb mariadbd client-server galera 2>/dev/null || true)
    lifeguard render-config --output "$rendered" --flavor "$FLAVOR" --defaults <(printf '%s\n' "$defaults") -- "${@:2}" \
        || mysql_warn "could not render the server settings; the server's defaults apply"
    # The image links the rendered file from conf.d: a volume over conf.d hides the link.
    local link
    for link in /etc/mysql/conf.d/zz-lifeguard.cnf /etc/mysql/mariadb.conf.d/zz-lifeguard.cnf; do
        [ -L "$link" ] && return
    done
    [ -n "${LIFEGUARD_SERVER_CONFIG:-}" ] \
        || mysql_warn "the memory-sized settings are not in effect: a volume over /etc/mysql/conf.d hides the link to $rendered (add !include $rendered to your own file)"
}

# Everything the user may get wrong is checked before anything is touched.
check_environment() {
    twin_env MYSQL_ROOT_PASSWORD MARIADB_ROOT_PASSWORD
    twin_env MYSQL_ROOT_HOST MARIADB_ROOT_HOST '%'
    twin_env MYSQL_DATABASE MARIADB_DATABASE
    twin_env MYSQL_USER MARIADB_USER
    twin_env MYSQL_PASSWORD MARIADB_PASSWORD
    twin_env MYSQL_ALLOW_EMPTY_PASSWORD MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
    twin_env MYSQL_RANDOM_ROOT_PASSWORD MARIADB_RANDOM_ROOT_PASSWORD
    twin_env MYSQL_INITDB_SKIP_TZINFO MARIADB_INITDB_SKIP_TZINFO
    local var
    for var in MARIADB_ROOT_PASSWORD_HASH MARIADB_PASSWORD_HASH MARIADB_REPLICATION_USER MARIADB_REPLICATION_PASSWORD \
        MARIADB_REPLICATION_PASSWORD_HASH MARIADB_MASTER_HOST MARIADB_MYSQL_LOCALHOST_GRANTS MARIADB_HEALTHCHECK_GRANTS; do
        file_env "$var"
    done
    file_env MARIADB_USER_HOST '%'
    file_env MARIADB_MASTER_PORT 3306
    if [ "${MYSQL_USER:-}" = root ]; then
        mysql_error "MYSQL_USER=root is not allowed: root is created by MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD)"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -z "${MYSQL_PASSWORD:-}" ] && [ -z "${MARIADB_PASSWORD_HASH:-}" ]; then
        environment_warning "MYSQL_USER is set without MYSQL_PASSWORD: the user is not created"
    elif [ -z "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}${MARIADB_PASSWORD_HASH:-}" ]; then
        environment_warning "MYSQL_PASSWORD is set without MYSQL_USER: it is ignored"
    fi
}

# What only a new datadir needs (an existing one keeps its accounts).
check_new_datadir_environment() {
    [ -n "$RESTORE_FROM_BACKUP" ] && return
    if [ -z "${MYSQL_ROOT_PASSWORD}${MARIADB_ROOT_PASSWORD_HASH}${MYSQL_ALLOW_EMPTY_PASSWORD}${MYSQL_RANDOM_ROOT_PASSWORD}" ]; then
        mysql_error "the datadir $DATADIR is new and no root password is set: give one of MYSQL_ROOT_PASSWORD (MARIADB_ROOT_PASSWORD), MARIADB_ROOT_PASSWORD_HASH, MYSQL_ALLOW_EMPTY_PASSWORD (MARIADB_ALLOW_EMPTY_ROOT_PASSWORD) or MYSQL_RANDOM_ROOT_PASSWORD"
    fi
    if [ -n "${MARIADB_ROOT_PASSWORD_HASH}" ] && [ -n "${MYSQL_ROOT_PASSWORD}${MYSQL_ALLOW_EMPTY_PASSWORD}${MYSQL_RANDOM_ROOT_PASSWORD}" ]; then
        mysql_error "MARIADB_ROOT_PASSWORD_HASH and another root password setting are both set: use one"
    fi
    if [ -n "${MYSQL_PASSWORD}" ] && [ -n "${MARIADB_PASSWORD_HASH}" ]; then
        mysql_error "MYSQL_PASSWORD (MARIADB_PASSWORD) and MARIADB_PASSWORD_HASH are both set: use one"
    fi
    if [ "$FLAVOR" = mysql ] && [ -n "${MARIADB_ROOT_PASSWORD_HASH}${MARIADB_PASSWORD_HASH}${MARIADB_REPLICATION_USER}${MARIADB_MASTER_HOST}" ]; then
        mysql_error "password hashes and MARIADB_REPLICATION_*/MARIADB_MASTER_* are MariaDB's: this server is MySQL"
    fi
    if [ -n "${MARIADB_MASTER_HOST}" ]; then
        if [ -z "${MARIADB_REPLICATION_USER}" ] || [ -z "${MARIADB_REPLICATION_PASSWORD}" ]; then
            mysql_error "a replica (MARIADB_MASTER_HOST) needs MARIADB_REPLICATION_USER and MARIADB_REPLICATION_PASSWORD"
        fi
        [ -z "${MARIADB_REPLICATION_PASSWORD_HASH}" ] || environment_warning "MARIADB_REPLICATION_PASSWORD_HASH is ignored on a replica"
    elif [ -n "${MARIADB_REPLICATION_USER}" ] && [ -z "${MARIADB_REPLICATION_PASSWORD}${MARIADB_REPLICATION_PASSWORD_HASH}" ]; then
        mysql_error "MARIADB_REPLICATION_USER needs MARIADB_REPLICATION_PASSWORD or MARIADB_REPLICATION_PASSWORD_HASH"
    fi
}

# The root password as a client option file (never on a command line, where ps would show it).
client_password_file() {
    printf '[client]\npassword=%s\n' "$(option_value "$MYSQL_ROOT_PASSWORD")"
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

# The official images' helper for initdb scripts: SQL on stdin as root, in MYSQL_DATABASE when one is
# set (a --database among the options wins); --dont-use-mysql-root-password first is accepted.
docker_process_sql() {
    [ "${1:-}" = --dont-use-mysql-root-password ] && shift
    if [ -n "${MYSQL_DATABASE:-}" ]; then
        set -- --database="$MYSQL_DATABASE" "$@"
    fi
    run_sql "$@"
}

# The datadir's state: new, initialised, or an initialisation that did not finish.
datadir_state() {
    if [ -e "$DATADIR/$INIT_MARKER" ]; then
        echo incomplete
    elif [ -d "$DATADIR/mysql" ]; then
        echo initialised
    else
        echo new
    fi
}

# Removes what an interrupted initialisation wrote, keeping what the datadir held before it began.
discard_incomplete_initialisation() {
    mysql_warn "the initialisation of $DATADIR did not finish (stopped or killed before its end): removing what it wrote and starting over"
    local -A kept=()
    local name entry
    while IFS= read -r -d '' name; do kept[$name]=1; done <"$DATADIR/$INIT_MARKER"
    for entry in "$DATADIR"/* "$DATADIR"/.[!.]* "$DATADIR"/..?*; do
        name=${entry##*/}
        [ "$name" = "$INIT_MARKER" ] || [ -n "${kept[$name]:-}" ] || rm -rf -- "$entry"
    done
    rm -f -- "$DATADIR/$INIT_MARKER"
}

begin_initialisation() {
    local entry
    mkdir -p "$DATADIR"
    for entry in "$DATADIR"/* "$DATADIR"/.[!.]* "$DATADIR"/..?*; do printf '%s\0' "${entry##*/}"; done >"$DATADIR/$INIT_MARKER.new"
    mv -f "$DATADIR/$INIT_MARKER.new" "$DATADIR/$INIT_MARKER"
    sync "$DATADIR/$INIT_MARKER" 2>/dev/null || true
}

# Only after everything (the temporary server has stopped): from here a start takes the datadir as
# initialised.
finish_initialisation() {
    sync -f "$DATADIR" 2>/dev/null || true
    rm -f "$DATADIR/$INIT_MARKER"
    sync -f "$DATADIR" 2>/dev/null || true
}

initialize_datadir() {
    mysql_note "initialising $FLAVOR in $DATADIR"
    if [ "$FLAVOR" = mariadb ]; then
        local install
        install=$(command -v mariadb-install-db || command -v mysql_install_db) || mysql_error "no mariadb-install-db in the image"
        "$install" --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal "${@:2}" --skip-test-db \
            --default-time-zone=SYSTEM --enforce-storage-engine= --skip-log-bin --expire-logs-days=0 \
            --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 >/dev/null
    else
        "$@" --initialize-insecure --default-time-zone=SYSTEM
    fi
}

# The temporary server: no network, no replication, and no NOTIFY_SOCKET (it must never make the
# container ready; Lifeguard also ignores notifications that do not come from its main child).
start_temporary_server() {
    local extra=(--loose-innodb-buffer-pool-load-at-startup=0)
    if [ "$FLAVOR" = mysql ]; then
        extra+=(--mysqlx=OFF)
    else
        extra+=(--wsrep-on=OFF --expire-logs-days=0)
    fi
    env -u NOTIFY_SOCKET "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" "${extra[@]}" &
    TEMPORARY_PID=$!
    # A stop (docker stop, a memory stop) during initialisation stops the temporary server cleanly.
    trap 'mysql_warn "stopped during initialisation: the next start begins it again"; stop_temporary_server; exit 143' TERM INT
    local attempt
    for attempt in $(seq 600); do
        if run_sql --database=mysql -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
        kill -0 "$TEMPORARY_PID" 2>/dev/null || mysql_error "the temporary server exited during initialisation"
        sleep 0.1
    done
    mysql_error "the temporary server did not accept connections within $((attempt / 10)) s"
}

stop_temporary_server() {
    trap - TERM INT
    kill -TERM "$TEMPORARY_PID" 2>/dev/null || true
    wait "$TEMPORARY_PID" || mysql_error "the temporary server did not shut down cleanly"
}

load_time_zones() {
    [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ] && [ -n "$TZINFO_TO_SQL" ] || return 0
    # Never into the binary log: a replica must not replay 4 MB of time zones.
    { echo 'SET @@SESSION.SQL_LOG_BIN = 0;'; "$TZINFO_TO_SQL" /usr/share/zoneinfo 2>/dev/null \
        | sed 's/Local time zone must be set--see zic manual page/FCTY/'; } | run_sql --database=mysql
}

# MariaDB's healthcheck accounts (healthcheck@127.0.0.1, ::1 and localhost, one random password,
# MARIADB_HEALTHCHECK_GRANTS or USAGE) as SQL, for healthcheck.sh; an existing account keeps its grants
# and gets the new password. write_healthcheck_file writes the client file that goes with it.
healthcheck_sql() {
    local password host
    password=$(sql_string "$1")
    for host in 127.0.0.1 ::1 localhost; do
        printf "CREATE USER IF NOT EXISTS healthcheck@'%s' IDENTIFIED BY '%s';\n" "$host" "$password"
        printf "ALTER USER healthcheck@'%s' IDENTIFIED BY '%s';\n" "$host" "$password"
        printf "GRANT %s ON *.* TO healthcheck@'%s';\n" "${MARIADB_HEALTHCHECK_GRANTS:-USAGE}" "$host"
    done
}
write_healthcheck_file() {
    (umask 077 && printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
        "$PORT" "$SOCKET" "$(option_value "$1")" >"$DATADIR/.my-healthcheck.cnf")
}

# Lifeguard's own account, lifeguard@localhost: no password, authenticated by the socket's peer (the
# OS user lifeguard, which Lifeguard takes on for the connect alone; MariaDB unix_socket, MySQL
# auth_socket), with what watching and shedding need: every connection's memory and state (PROCESS)
# and KILL on any of them, on the connection the server keeps for administrators (CONNECTION ADMIN),
# so it never takes one of the users' max_connections; and a replica's state (SLAVE MONITOR, MySQL
# REPLICATION CLIENT) for its readiness. Not root (a pod run as the server's user), Lifeguard connects
# as that user: the account takes its name. Only with LIFEGUARD_SERVER_ACCOUNT (off by default:
# MariaDB's image tests refuse accounts they do not list); an existing datadir gets it from the
# README's one statement.
lifeguard_account_sql() {
    local account=lifeguard
    # Stepped down from root: Lifeguard is root (it becomes lifeguard to connect).
    [ -n "${STEPPED_DOWN:-}" ] || [ "$(id -u)" = 0 ] || account=$(id -un 2>/dev/null) || account=lifeguard
    account="'$(sql_string "$account")'@localhost"
    if [ "$FLAVOR" = mariadb ]; then
        printf 'CREATE USER IF NOT EXISTS %s IDENTIFIED VIA unix_socket;' "$account"
        printf 'GRANT PROCESS, CONNECTION ADMIN, SLAVE MONITOR ON *.* TO %s;' "$account"
    else
        printf 'CREATE USER IF NOT EXISTS %s IDENTIFIED WITH auth_socket;' "$account"
        printf 'GRANT PROCESS, CONNECTION_ADMIN, REPLICATION CLIENT ON *.* TO %s;' "$account"
    fi
}

# root, the healthcheck and mysql@localhost accounts (never into the binary log), then the database,
# the user and replication (into it, so a replica built from the binary log has them too).
set_up_accounts() {
    load_time_zones
    if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
        MYSQL_ROOT_PASSWORD=$(random_password)
        export MYSQL_ROOT_PASSWORD MARIADB_ROOT_PASSWORD=$MYSQL_ROOT_PASSWORD
        mysql_note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    local identified host account
    identified="IDENTIFIED BY '$(sql_string "${MYSQL_ROOT_PASSWORD:-}")'"
    [ -n "${MARIADB_ROOT_PASSWORD_HASH:-}" ] && identified="IDENTIFIED BY PASSWORD '$(sql_string "$MARIADB_ROOT_PASSWORD_HASH")'"
    host=$(sql_string "$MYSQL_ROOT_HOST")
    local sql="SET @@SESSION.SQL_LOG_BIN = 0; SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
    # Of what the installer made only root@localhost stays (it may add root@<hostname>, root@127.0.0.1,
    # root@::1 and anonymous users); root@MYSQL_ROOT_HOST is made here.
    while read -r account; do
        [ -n "$account" ] && sql+="DROP USER $account;"
    done < <(run_sql --database=mysql -N -B -e \
        "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE (User = 'root' AND Host <> 'localhost') OR User = ''")
    # With a hash, root@localhost keeps no password until the initdb scripts have run.
    if [ -n "${MYSQL_ROOT_PASSWORD:-}" ]; then
        sql+="ALTER USER 'root'@'localhost' $identified;"
    fi
    if [ "$MYSQL_ROOT_HOST" != localhost ]; then
        sql+="CREATE USER 'root'@'$host' $identified; GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
        [ "$FLAVOR" = mariadb ] && sql+="GRANT PROXY ON ''@'%' TO 'root'@'$host' WITH GRANT OPTION;"
    fi
    if [ "$FLAVOR" = mariadb ]; then
        if [ -n "${MARIADB_MYSQL_LOCALHOST_USER:-}" ]; then
            sql+="CREATE USER mysql@localhost IDENTIFIED VIA unix_socket;"
            if [ -n "${MARIADB_MYSQL_LOCALHOST_GRANTS:-}" ]; then
                [ "$MARIADB_MYSQL_LOCALHOST_GRANTS" = USAGE ] \
                    || mysql_warn "mysql@localhost gets $MARIADB_MYSQL_LOCALHOST_GRANTS ON *.*: every local process of that user can use them"
                sql+="GRANT $MARIADB_MYSQL_LOCALHOST_GRANTS ON *.* TO mysql@localhost;"
            fi
        fi
        local healthcheck_password
        healthcheck_password=$(random_password '=#')
        sql+=$(healthcheck_sql "$healthcheck_password")
        write_healthcheck_file "$healthcheck_password"
    fi
    case "${LIFEGUARD_SERVER_ACCOUNT:-}" in
        1 | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn]) sql+=$(lifeguard_account_sql) ;;
    esac
    run_sql --database=mysql --binary-mode <<<"$sql"
    [ -n "${MYSQL_ROOT_PASSWORD:-}" ] && ROOT_PASSWORD_SET=yes

    sql="SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
        mysql_note "creating database $MYSQL_DATABASE"
        sql+="CREATE DATABASE IF NOT EXISTS \`$(sql_identifier "$MYSQL_DATABASE")\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}${MARIADB_PASSWORD_HASH:-}" ]; then
        mysql_note "creating user $MYSQL_USER"
        local user
        user="'$(sql_string "$MYSQL_USER")'@'$(sql_string "$MARIADB_USER_HOST")'"
        if [ -n "${MARIADB_PASSWORD_HASH:-}" ]; then
            sql+="CREATE USER $user IDENTIFIED BY PASSWORD '$(sql_string "$MARIADB_PASSWORD_HASH")';"
        else
            sql+="CREATE USER $user IDENTIFIED BY '$(sql_string "$MYSQL_PASSWORD")';"
        fi
        [ -z "${MYSQL_DATABASE:-}" ] || sql+="GRANT ALL ON \`$(sql_grant_database "$MYSQL_DATABASE")\`.* TO $user;"
    fi
    if [ -n "${MARIADB_REPLICATION_USER:-}" ]; then
        local replication
        replication="'$(sql_string "$MARIADB_REPLICATION_USER")'"
        if [ -n "${MARIADB_MASTER_HOST:-}" ]; then
            # shellcheck disable=SC2153 # MARIADB_MASTER_PORT: file_env sets it
            mysql_note "replicating from $MARIADB_MASTER_HOST:$MARIADB_MASTER_PORT"
            sql+="CHANGE MASTER TO MASTER_HOST='$(sql_string "$MARIADB_MASTER_HOST")', MASTER_USER=$replication,"
            sql+=" MASTER_PASSWORD='$(sql_string "$MARIADB_REPLICATION_PASSWORD")', MASTER_PORT=$((MARIADB_MASTER_PORT)), MASTER_CONNECT_RETRY=10;"
            sql+="START REPLICA;"
        else
            mysql_note "creating replication user $MARIADB_REPLICATION_USER"
            if [ -n "${MARIADB_REPLICATION_PASSWORD_HASH:-}" ]; then
                sql+="CREATE USER $replication@'%' IDENTIFIED BY PASSWORD '$(sql_string "$MARIADB_REPLICATION_PASSWORD_HASH")';"
            else
                sql+="CREATE USER $replication@'%' IDENTIFIED BY '$(sql_string "$MARIADB_REPLICATION_PASSWORD")';"
            fi
            sql+="GRANT REPLICATION REPLICA ON *.* TO $replication@'%';"
        fi
    fi
    run_sql --binary-mode <<<"$sql"
}

# /docker-entrypoint-initdb.d, in name order: *.sh (run if executable, sourced if not), *.sql and
# compressed *.sql.gz, .bz2, .xz, .zst (into MYSQL_DATABASE when set); backups were restored before;
# anything else is skipped.
run_init_files() {
    # The official images' array for sourced scripts: "${mysql[@]}" <<<'SQL'.
    # shellcheck disable=SC2034
    mysql=(docker_process_sql)
    local file decompress
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
            *.sh)
                if [ -x "$file" ]; then
                    mysql_note "running $file"
                    interruptible "$file"
                else
                    mysql_note "sourcing $file"
                    # shellcheck disable=SC1090
                    . "$file"
                fi
                continue
                ;;
            *.sql) decompress=none ;;
            *.sql.gz) decompress=gunzip ;;
            *.sql.bz2) decompress=bunzip2 ;;
            *.sql.xz) decompress=xzcat ;;
            *.sql.zst) decompress=zstd ;;
            *.tar.gz | *.tar.xz | *.tar.zst) continue ;;
            *)
                mysql_note "skipping $file"
                continue
                ;;
        esac
        mysql_note "loading $file"
        interruptible load_sql_file "$decompress" "$file"
    done
}
load_sql_file() {
    case "$1" in
        none) docker_process_sql <"$2" ;;
        *) "$1" -dc "$2" | docker_process_sql ;;
    esac
}
# Runs a command in the background and waits for it, so that a stop (the TERM trap set while the
# temporary server runs) is acted on at once, not when a long import ends. Its exit status is the
# command's.
interruptible() {
    "$@" &
    local pid=$!
    wait "$pid"
}

# What waits for the initdb scripts: root@localhost's hash (the scripts may use root without a
# password until then), and the one-time password's expiry.
after_init_files() {
    local sql="SET @@SESSION.SQL_LOG_BIN = 0;"
    [ -z "${MARIADB_ROOT_PASSWORD_HASH:-}" ] \
        || sql+="ALTER USER 'root'@'localhost' IDENTIFIED BY PASSWORD '$(sql_string "$MARIADB_ROOT_PASSWORD_HASH")';"
    if [ -n "${MYSQL_ONETIME_PASSWORD:-}" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
        sql+="ALTER USER 'root'@'$(sql_string "$MYSQL_ROOT_HOST")' PASSWORD EXPIRE;"
    fi
    run_sql <<<"$sql"
}

# *.tar.gz, .xz or .zst in /docker-entrypoint-initdb.d: a prepared mariadb-backup, restored as the datadir.
restore_backups() {
    local file
    for file in /docker-entrypoint-initdb.d/*.tar.gz /docker-entrypoint-initdb.d/*.tar.xz /docker-entrypoint-initdb.d/*.tar.zst; do
        mysql_note "restoring the backup $file"
        rm -rf "$DATADIR/.init" "$DATADIR/.restore"
        mkdir -p "$DATADIR/.init"
        tar --auto-compress --extract --file "$file" --directory="$DATADIR/.init"
        mariadb-backup --target-dir="$DATADIR/.init" --datadir="$DATADIR/.restore" --move-back
        local entry
        for entry in "$DATADIR"/.restore/* "$DATADIR"/.restore/.[!.]* "$DATADIR"/.restore/..?*; do
            mv -f -- "$entry" "$DATADIR/"
        done
        rm -rf "$DATADIR/.init" "$DATADIR/.restore"
    done
}

initialise() {
    begin_initialisation
    if [ -n "$RESTORE_FROM_BACKUP" ]; then
        restore_backups
    else
        initialize_datadir "$@"
        start_temporary_server "$@"
        set_up_accounts
        run_init_files
        after_init_files
        stop_temporary_server
    fi
    finish_initialisation
    mysql_note "initialisation done: starting $FLAVOR"
}

# MariaDB: true when the datadir was written by an older major.minor version than the server's, or
# does not say which.
version_upgrade_needed() {
    local info="$DATADIR/mysql_upgrade_info" new old
    if [ ! -f "$info" ]; then
        mysql_note "$DATADIR does not record the version that wrote it: an upgrade is assumed to be needed"
        return 0
    fi
    IFS='.-' read -r -a new <<<"$VERSION"
    IFS='.-' read -r -a old <"$info" || true
    [[ ${new[0]:-} =~ ^[0-9]+$ && ${new[1]:-} =~ ^[0-9]+$ && ${old[0]:-} =~ ^[0-9]+$ && ${old[1]:-} =~ ^[0-9]+$ ]] || return 0
    ((old[0] < new[0] || (old[0] == new[0] && old[1] < new[1])))
}

# mysql_upgrade_info's version, for the backup's name.
recorded_version() {
    local version=
    [ -r "$DATADIR/mysql_upgrade_info" ] && read -r -d '' version <"$DATADIR/mysql_upgrade_info"
    version=${version//[^A-Za-z0-9.+~_-]/}
    printf '%s' "${version:-unknown_version}"
}

# The system tables, dumped before mariadb-upgrade changes them (MARIADB_DISABLE_UPGRADE_BACKUP=1: not).
backup_system_tables() {
    if [ "${MARIADB_DISABLE_UPGRADE_BACKUP:-}" = 1 ]; then
        mysql_note "no backup of the system tables before the upgrade: MARIADB_DISABLE_UPGRADE_BACKUP=1"
        return
    fi
    local backup
    backup="system_mysql_backup_$(recorded_version).sql.zst"
    mysql_note "backing up the system tables to $DATADIR/$backup"
    mariadb-dump --protocol=socket --socket="$SOCKET" -uroot --skip-lock-tables --replace --databases mysql | zstd -q >"$DATADIR/$backup" \
        || mysql_error "could not back up the system tables before the upgrade from $(recorded_version)"
}

# An existing MariaDB datadir: older than the server, or without the healthcheck accounts. Done only
# with MARIADB_AUTO_UPGRADE (the system tables backed up first); otherwise said.
upgrade_datadir() {
    local needs_version=
    version_upgrade_needed && needs_version=yes
    if [ -z "$needs_version" ] && [ -f "$DATADIR/.my-healthcheck.cnf" ]; then
        mysql_note "MariaDB upgrade not required"
        return
    fi
    local what=${needs_version:+"an upgrade from $(recorded_version) to $VERSION (mariadb-upgrade)"}
    [ -f "$DATADIR/.my-healthcheck.cnf" ] || what+="${what:+ and }the healthcheck accounts"
    if [ -z "${MARIADB_AUTO_UPGRADE:-}" ] || [ "$MARIADB_AUTO_UPGRADE" = 0 ]; then
        mysql_warn "$DATADIR needs $what: set MARIADB_AUTO_UPGRADE=1 to have it done at start (the system tables are backed up first)"
        return
    fi
    mysql_note "$DATADIR needs $what"
    local temporary=("$@" --skip-grant-tables --loose-innodb-buffer-pool-dump-at-shutdown=0 --skip-slave-start)
    start_temporary_server "${temporary[@]}"
    backup_system_tables
    if [ ! -f "$DATADIR/.my-healthcheck.cnf" ]; then
        mysql_note "creating the healthcheck accounts"
        local password
        password=$(random_password '=#')
        run_sql --binary-mode <<<"SET @@SESSION.SQL_LOG_BIN = 0; FLUSH PRIVILEGES; $(healthcheck_sql "$password")"
        write_healthcheck_file "$password"
        # FLUSH PRIVILEGES turned the grant tables on: mariadb-upgrade wants them off again.
        stop_temporary_server
        [ -n "$needs_version" ] || return 0
        start_temporary_server "${temporary[@]}"
    fi
    mysql_note "Starting mariadb-upgrade"
    mariadb-upgrade --protocol=socket --socket="$SOCKET" -uroot --upgrade-system-tables
    mysql_note "Finished mariadb-upgrade"
    stop_temporary_server
}

# expire_kept_datadirs DATADIR DAYS: originals a resurrect replaced, removed once DAYS old (their
# directory's time is the switch's).
expire_kept_datadirs() {
    local kept
    for kept in "$1/$KEPT_PREFIX"*/; do
        kept=${kept%/}
        if [ -n "$(find "$kept" -maxdepth 0 -mmin +$(($2 * 1440)))" ] || [ "$2" = 0 ]; then
            mysql_note "removing $kept: kept $2 days after a resurrect (LIFEGUARD_RESURRECT_KEEP_DAYS)"
            rm -rf -- "$kept"
        fi
    done
}

# The datadir's last resurrect report, beside the status file, where Lifeguard puts it in the status
# (`lifeguard status` shows it host-side). Before the step down: a status directory bind-mounted from
# the host may be root's alone.
publish_resurrect_report() {
    [ -f "$DATADIR/$RESURRECT_REPORT" ] && [ -n "${LIFEGUARD_STATUS_FILE:-}" ] || return 0
    cp "$DATADIR/$RESURRECT_REPORT" "${LIFEGUARD_STATUS_FILE%/*}/$RESURRECT_STATUS" 2>/dev/null || true
}

# Before the server starts: a resurrect must not be half switched, an old original goes, and MariaDB
# is told that the resurrect's directories (and a volume's lost+found) are not databases.
resurrect_leftovers() {
    if [ -e "$DATADIR/$RESURRECT_WORK/switching" ]; then
        mysql_error "a resurrect was interrupted while it switched $DATADIR to the new datadir: run resurrect again to finish it (the original is in $DATADIR/$KEPT_PREFIX$(cat "$DATADIR/$RESURRECT_WORK/switching"))"
    fi
    [ -d "$DATADIR/$RESURRECT_WORK" ] && mysql_warn "$DATADIR/$RESURRECT_WORK holds an unfinished resurrect: run resurrect again to finish it, or remove it (the original was not touched)"
    expire_kept_datadirs "$DATADIR" "${LIFEGUARD_RESURRECT_KEEP_DAYS:-7}"
    IGNORED_DIRECTORIES=()
    [ "$FLAVOR" = mariadb ] || return 0
    local entry
    for entry in "$DATADIR"/.lifeguard-*/ "$DATADIR"/lost+found/; do
        entry=${entry%/}
        IGNORED_DIRECTORIES+=(--ignore-db-dirs="${entry##*/}")
    done
}

main() {
    if [ "${1:0:1}" = - ]; then
        set -- mysqld "$@"
    fi
    # MariaDB 11 images may ship mariadbd without the mysqld name the image's CMD uses.
    if [ "$1" = mysqld ] && ! command -v mysqld >/dev/null && command -v mariadbd >/dev/null; then
        set -- mariadbd "${@:2}"
    fi
    if ! is_server "$1" || wants_help "$@"; then
        exec "$@"
    fi
    server_settings "$@"
    check_environment
    find_tools

    # Rendered before stepping down: /run/lifeguard belongs to the user Lifeguard runs as, which is
    # the only one that can write there when /run is a fresh tmpfs (--read-only --tmpfs /run).
    [ -n "${STEPPED_DOWN:-}" ] || render_config "$@"

    RESTORE_FROM_BACKUP=
    local backup
    for backup in /docker-entrypoint-initdb.d/*.tar.gz /docker-entrypoint-initdb.d/*.tar.xz /docker-entrypoint-initdb.d/*.tar.zst; do
        [ "$FLAVOR" = mariadb ] || mysql_error "$backup: restoring a backup is for MariaDB (mariadb-backup)"
        RESTORE_FROM_BACKUP=yes
    done
    local state
    state=$(datadir_state)
    [ "$state" = initialised ] || check_new_datadir_environment

    # As root: the directories the server needs, every file in the datadir owned by the server's user,
    # then the same script again as that user (the same process, so Lifeguard's main child stays the
    # server).
    publish_resurrect_report
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
        find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
        find "$(dirname "$SOCKET")" -maxdepth 0 \! -user mysql -exec chown mysql:mysql '{}' +
        _ENTRYPOINT_SETTINGS="$FLAVOR"$'\t'"$VERSION"$'\t'"$DATADIR"$'\t'"$SOCKET"$'\t'"$PORT" \
            exec lifeguard run-as mysql "$0" "$@"
    fi

    resurrect_leftovers
    case "$state" in
        incomplete)
            discard_incomplete_initialisation
            initialise "$@"
            ;;
        new) initialise "$@" ;;
        *) mysql_note "$DATADIR holds a database: skipping initialisation" ;;
    esac
    set -- "$@" "${IGNORED_DIRECTORIES[@]}"
    if [ "$FLAVOR" = mariadb ] && { [ "$state" = initialised ] || [ -n "$RESTORE_FROM_BACKUP" ]; }; then
        upgrade_datadir "$@"
    fi
    exec "$@"
}

if ! _is_sourced; then
    main "$@"
fi
