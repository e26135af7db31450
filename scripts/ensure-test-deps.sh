#!/usr/bin/env bash
# Installs what the test suite needs when it is missing, or stops with the
# exact command to run. It never lets the Redis or interop tests be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need_root() {
  echo "error: $1 is missing and this user cannot install it." >&2
  echo "run: $2" >&2
  exit 1
}

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "redis-server missing: installing it from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # Debian's package starts a service on 6379; tests start their own servers.
  else
    need_root redis-server "sudo apt-get update && sudo apt-get install -y redis-server"
  fi
fi

# The video-enhancement tests (internal/video, interop) run Debian's
# ffmpeg and ffprobe on generated clips.
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ffmpeg missing: installing it from Debian's packages (video-enhancement tests)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    need_root ffmpeg "sudo apt-get update && sudo apt-get install -y ffmpeg"
  fi
fi

# The bench's cost mode (make bench-cost, and its smoke test in bench/) runs
# redis-server under valgrind's callgrind.
if ! command -v valgrind >/dev/null 2>&1 || ! command -v callgrind_control >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "valgrind missing: installing it from Debian's packages (bench cost mode)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    need_root valgrind "sudo apt-get install -y valgrind"
  fi
fi

# The application store's tests (internal/store, the database-backed job
# handlers, cmd/zyeute) create their own databases on a PostgreSQL server
# at 127.0.0.1:5432 (user postgres, trust auth; ZYEUTE_TEST_POSTGRES_URL
# overrides it). They fail, never skip, when it is missing.
pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
if [ -z "${ZYEUTE_TEST_POSTGRES_URL:-}" ] && ! pg_up; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
      echo "PostgreSQL missing: installing it from Debian's packages" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      # Test server only: user postgres from loopback without a password.
      for hba in /etc/postgresql/*/main/pg_hba.conf; do
        sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
      done
    fi
    echo "starting PostgreSQL" >&2
    service postgresql start >/dev/null
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    pg_up || { echo "error: PostgreSQL did not start; run: service postgresql start" >&2; exit 1; }
  else
    need_root PostgreSQL "sudo apt-get install -y postgresql && sudo service postgresql start"
  fi
fi

# The dashboard's browser test (cmd/zyeute) drives Debian's chromium
# through the DevTools protocol (chromedp); no chromedriver needed.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium missing: installing it from Debian's packages (dashboard browser test)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    need_root chromium "sudo apt-get install -y chromium"
  fi
fi

if [ -f interop/package-lock.json ]; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    need_root "node and npm" "sudo apt-get install -y nodejs npm"
  fi
  if [ ! -d interop/node_modules/bullmq ] || [ interop/package-lock.json -nt interop/node_modules/.package-lock.json ]; then
    echo "installing the interop peer's npm packages from its lock file" >&2
    (cd interop && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# The blockchain-sync tests (internal/jobs/chain) run anvil, a local
# Ethereum node, from the npm package @foundry-rs/anvil (its binary ships
# inside the package) pinned in tools/anvil.
if [ -f tools/anvil/package-lock.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    need_root "node and npm" "sudo apt-get install -y nodejs npm"
  fi
  if ! ls tools/anvil/node_modules/@foundry-rs/anvil-*/bin/anvil >/dev/null 2>&1 || [ tools/anvil/package-lock.json -nt tools/anvil/node_modules/.package-lock.json ]; then
    echo "installing anvil (npm package @foundry-rs/anvil) from tools/anvil's lock file" >&2
    (cd tools/anvil && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
