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
