#!/usr/bin/env bash
# Brings a checkout to a runnable state, doing only what is missing:
#   1. ffmpeg + ffprobe (Debian's `ffmpeg` package through apt when we are root)
#   2. npm packages (npm ci, when package-lock.json changed since the last install)
#   3. the TypeScript build (when a source changed since the last build)
# A second run with nothing to do takes about a second.
#
#   tools/setup.sh --test   also installs what the test suite drives for real
#                           (when root with apt): Debian's chromium for the
#                           WebRTC browser tests and GStreamer's RTSP server
#                           (Python GI) as the stand-in IP camera.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

want_test_tools=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test_tools=1 ;;
    *) say "unknown option: $arg (known: --test)"; exit 2 ;;
  esac
done

can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_ffmpeg() {
  if [ -n "${FFMPEG_PATH:-}" ] && [ -x "${FFMPEG_PATH}" ]; then return 0; fi
  command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1
}

if ! have_ffmpeg; then
  if can_apt; then
    say "ffmpeg not found: installing Debian's ffmpeg package"
    apt_install ffmpeg
  else
    say "ffmpeg and ffprobe are required but not found."
    say "Install them (Debian/Ubuntu: sudo apt-get install ffmpeg), or set FFMPEG_PATH / ffmpeg_path in conf/server.properties."
    exit 1
  fi
fi

# the offline mixer labels pictures with DejaVu Sans (Debian: fonts-dejavu-core)
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && can_apt; then
  say "installing fonts-dejavu-core for the offline mixer's labels"
  apt_install fonts-dejavu-core || say "fonts-dejavu-core not installed: labels use fontconfig's Sans"
fi

if [ "$want_test_tools" = 1 ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # the stand-in RTSP camera: GStreamer's RTSP server through Python GI
  # (Debian's /usr/bin/python3, which is where python3-gi lives)
  if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' >/dev/null 2>&1 \
     || ! command -v gst-inspect-1.0 >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1; then
    missing+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
              gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    if can_apt; then
      say "installing test tools: ${missing[*]}"
      apt_install "${missing[@]}"
    else
      say "test tools missing (${missing[*]}): their tests are skipped with a message"
    fi
  fi
  tools/setup-postgres.sh  # issue 19: PostgreSQL server for the shared-catalog tests
fi

# better-sqlite3 (the record catalog) builds from source where npm has no prebuilt
# binary for this machine: node-gyp needs python3, make and a C++ compiler
if ! command -v make >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
  if can_apt; then
    say "installing the native-module build tools (python3, make, g++) for better-sqlite3"
    apt_install python3 make g++
  else
    say "python3, make and g++ are needed to build better-sqlite3; install them (Debian: apt-get install python3 make g++)"
  fi
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

# mediasoup (issue 17): the package npm ci leaves out offline, and its worker, built or reused (docs/webrtc.md)
bash tools/build-mediasoup-worker.sh --setup $([ "$want_test_tools" = 1 ] && echo --test) || say "mediasoup set-up failed: the WebRTC ingest uses werift"
