#!/usr/bin/env bash
# The Debian packages `make test` needs (browser, PDF libraries, broker, database, faketime).
# Quiet and quick when everything is there; installs what is missing when run as root on Debian;
# otherwise says in one line what to run. The virtualenv is `make venv`'s job, not this script's.
set -euo pipefail

# chromium (+ its Spanish locale): browser tests; pango/harfbuzz/fonts: weasyprint's PDFs;
# curl: scripts/ensure_services.sh; faketime: tests of processes started on another day;
# python3-venv: `make venv` on a system Python.
PACKAGES=(chromium chromium-l10n fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
  libharfbuzz-subset0 curl faketime python3-venv)

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }
port_open() { timeout 3 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

if ! command -v dpkg-query >/dev/null; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v faketime >/dev/null || missing+=(faketime)
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "not a Debian system: install ${missing[*]}, pango/harfbuzz and fonts yourself (see README)." >&2
  exit 2
fi

need=()
for pkg in "${PACKAGES[@]}"; do installed "$pkg" || need+=("$pkg"); done
# the broker and the database may run elsewhere (docker compose): install them only when absent
fresh_postgres=no
if ! port_open 5672 && ! command -v rabbitmq-server >/dev/null; then need+=(rabbitmq-server); fi
if ! port_open 5432 && ! command -v pg_ctlcluster >/dev/null; then
  need+=(postgresql)
  fresh_postgres=yes
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing system packages; run: sudo apt-get install -y ${need[*]}" >&2
  exit 2
fi

echo "installing ${need[*]}…"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -y -qq "$@"; }
apt_get update >/dev/null
apt_get install "${need[@]}" >/dev/null

if [ "$fresh_postgres" = yes ]; then
  # A cluster installed just now for the tests: the suite connects as postgres from 127.0.0.1
  # without a password (TEST_PG_ADMIN_URL overrides that for a database of your own).
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    version=$(basename "$(dirname "$(dirname "$hba")")")
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
  done
fi
