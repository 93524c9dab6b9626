# A MySQL image with Lifeguard as PID 1. The final stage is the same text whatever the base and
# wherever the binary comes from:
#   docker build .                                                      (mysql:8.4, binary built here)
#   docker build --build-arg BINARY_SOURCE=prebuilt .                   (.build/static/lifeguard)
#   docker build --build-arg BASE_IMAGE=mariadb-or-debian-with-mariadb …
#   docker build --build-arg SWIFT_IMAGE=lifeguard/swift-builder:local …  (no registry: a builder made by
#                                                                          scripts/build-swift-builder-image)
# With DOCKER_BUILDKIT=1 the builder stage is skipped when BINARY_SOURCE=prebuilt. Swift 6.2 or later.
ARG BASE_IMAGE=mysql:8.4
ARG SWIFT_IMAGE=swift:6.2
ARG BINARY_SOURCE=builder

FROM ${SWIFT_IMAGE} AS builder
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY scripts/build-static ./scripts/
COPY scripts/hot-code/lifeguard.order ./scripts/hot-code/
# The same script as outside Docker: lld with the hot-code order file, then strip.
RUN scripts/build-static && mkdir -p /out && cp .build/static/lifeguard /out/

FROM scratch AS binary-builder
COPY --from=builder /out/lifeguard /lifeguard

FROM scratch AS binary-prebuilt
COPY .build/static/lifeguard /lifeguard

# hadolint ignore=DL3006
FROM binary-${BINARY_SOURCE} AS binary

# hadolint ignore=DL3006
FROM ${BASE_IMAGE}
COPY --from=binary /lifeguard /usr/local/bin/lifeguard
COPY docker-entrypoint.sh healthcheck.sh /usr/local/bin/
# `docker run --rm -v data:/var/lib/mysql IMAGE resurrect`: the entrypoint runs any command that is
# not the server, and this one is on the PATH.
COPY resurrect/ /usr/local/lib/lifeguard/resurrect/
# `replica serve` and `replica clone`: a read farm's clones (examples/kubernetes/replicated.yaml).
COPY replica/ /usr/local/lib/lifeguard/replica/
COPY my.cnf.template /etc/lifeguard/my.cnf.template
# Directories any user id can write (`docker run --user 1000:1000`), as the official image does; the
# rendered server settings live in /run (writable under --read-only with a tmpfs on /run) and are
# included from conf.d; a server packaged for Debian reads mariadb.conf.d after conf.d, so the
# container's listen address goes there when it exists, with the official images' options (no DNS
# lookup of clients, no host cache: a container's clients come from addresses, not names). The OS user
# lifeguard is who Lifeguard's own connection to the server authenticates as (no password).
RUN set -eu; \
    rm -rf /var/lib/mysql; \
    mkdir -p /var/lib/mysql /var/run/mysqld /run/lifeguard /docker-entrypoint-initdb.d /etc/mysql/conf.d; \
    chmod 1777 /var/lib/mysql /var/run/mysqld /run/lifeguard; \
    getent passwd lifeguard >/dev/null || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lifeguard; \
    ln -sf /run/lifeguard/mysqld.cnf /etc/mysql/conf.d/zz-lifeguard.cnf; \
    conf=/etc/mysql/conf.d; [ -d /etc/mysql/mariadb.conf.d ] && conf=/etc/mysql/mariadb.conf.d; \
    printf '[mysqld]\nbind-address = 0.0.0.0\nskip-name-resolve\nhost-cache-size = 0\n' > "$conf/zz-docker.cnf"; \
    ln -sf /usr/local/lib/lifeguard/resurrect/resurrect /usr/local/bin/resurrect; \
    ln -sf /usr/local/lib/lifeguard/replica/replica /usr/local/bin/replica; \
    chmod 0755 /usr/local/bin/lifeguard /usr/local/bin/docker-entrypoint.sh /usr/local/bin/healthcheck.sh \
        /usr/local/lib/lifeguard/resurrect/resurrect /usr/local/lib/lifeguard/replica/replica
# A mysqld that crashes (SIGSEGV, SIGABRT, the kernel OOM killer) is started again in place, with
# backoff and a cap, as MariaDB's own systemd unit does (Restart=on-abort).
ENV LIFEGUARD_STATUS_FILE=/run/lifeguard/status.json LIFEGUARD_ON_CRASH=restart
VOLUME /var/lib/mysql
EXPOSE 3306 33060
STOPSIGNAL SIGTERM
HEALTHCHECK --start-period=300s --interval=10s --timeout=5s --retries=3 CMD ["/usr/local/bin/lifeguard", "probe", "--ready"]
ENTRYPOINT ["/usr/local/bin/lifeguard", "--", "docker-entrypoint.sh"]
CMD ["mysqld"]
