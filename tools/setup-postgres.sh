#!/usr/bin/env bash
# Installs the PostgreSQL server the catalog tests run against (issue 19):
# Debian's `postgresql` package when we are root with apt and initdb/pg_ctl
# are missing. The tests make a throw-away cluster of their own in a temp
# folder (test/helpers/postgres.ts); nothing here starts a server.
set -euo pipefail

say() { printf 'setup-postgres: %s\n' "$*" >&2; }

have_pg() {
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

if have_pg; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Debian's postgresql package (server for the catalog tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # the package starts a system cluster: the tests do not use it
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _; do pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true; done
  fi
else
  say "PostgreSQL (initdb, pg_ctl) not found: the PostgreSQL catalog tests are skipped with a message"
  say "install it (Debian/Ubuntu: sudo apt-get install postgresql)"
fi
