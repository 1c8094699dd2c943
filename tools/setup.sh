#!/usr/bin/env bash
# Brings a checkout to a runnable state, doing only what is missing:
#   1. ffmpeg + ffprobe (Debian's `ffmpeg` package through apt when we are root)
#   2. npm packages (npm ci, when package-lock.json changed since the last install)
#   3. the TypeScript build (when a source changed since the last build)
# A second run with nothing to do takes about a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

have_ffmpeg() {
  if [ -n "${FFMPEG_PATH:-}" ] && [ -x "${FFMPEG_PATH}" ]; then return 0; fi
  command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1
}

if ! have_ffmpeg; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "ffmpeg not found: installing Debian's ffmpeg package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  else
    say "ffmpeg and ffprobe are required but not found."
    say "Install them (Debian/Ubuntu: sudo apt-get install ffmpeg), or set FFMPEG_PATH / ffmpeg_path in conf/server.properties."
    exit 1
  fi
fi

# the offline mixer labels pictures with DejaVu Sans (Debian: fonts-dejavu-core)
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing fonts-dejavu-core for the offline mixer's labels"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null || say "fonts-dejavu-core not installed: labels use fontconfig's Sans"
fi

lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.wcs-setup-lock
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  # ffmpeg-static and mediasoup are optional: their binary downloads fail
  # without internet and npm ci carries on without them.
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

build_stamp=dist/.build-stamp
if [ ! -f "$build_stamp" ] || [ -n "$(find src tsconfig.json package-lock.json -newer "$build_stamp" -print -quit)" ]; then
  say "building (tsc)"
  rm -rf dist
  npx --no-install tsc -p tsconfig.json
  touch "$build_stamp"
fi
