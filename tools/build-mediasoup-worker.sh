#!/usr/bin/env bash
# Builds the mediasoup worker of the installed mediasoup version, offline, into a cache outside the checkout,
# and prints the worker's path on stdout (everything else goes to stderr).
#
#   tools/build-mediasoup-worker.sh            build (or reuse) the worker; exit 1 on failure
#   tools/build-mediasoup-worker.sh --soft     same, but a failure is a message and exit 0 (setup uses this:
#                                              the daemon then falls back to werift)
#   tools/build-mediasoup-worker.sh --find     only print a worker that is already there (prebuilt or cached)
#   tools/build-mediasoup-worker.sh --setup [--test]
#                                              what tools/setup.sh runs: installs the mediasoup package when
#                                              npm ci dropped it (its postinstall fails offline), then builds:
#                                              --test: always, in the foreground (the suite runs both engines);
#                                              else by webrtc_engine (conf/server.properties, WCS_WEBRTC_ENGINE):
#                                              mediasoup: in the foreground; auto: in the background at low
#                                              priority (werift until a later start finds the worker); werift: no.
#                                              Never fails setup.
#
# Where the worker comes from, first found wins:
#   1. MEDIASOUP_WORKER_BIN, when it names an executable file;
#   2. the prebuilt worker mediasoup's postinstall downloaded (machines with internet):
#      node_modules/mediasoup/worker/out/Release/mediasoup-worker;
#   3. the cache: $MEDIASOUP_WORKER_CACHE (default /var/cache/wcs-recorder/mediasoup-worker, or
#      ~/.cache/wcs-recorder/mediasoup-worker when that is not writable) / <mediasoup version>-<hash of the
#      build inputs>/mediasoup-worker;
#   4. a build into that cache: the worker's C++ source from mediasoup's npm tarball, Debian's libuv, libsrtp2,
#      abseil, usrsctp and flatbuffers, and OpenSSL built from Debian's source tarball and linked statically
#      (Debian's shared libssl makes the worker crash at the first DTLS ClientHello: see docs/webrtc.md).
#      About 20 minutes on 2 cores (OpenSSL ~4, worker ~13-17). Needs root + apt for the Debian packages
#      (or them installed already), and meson from pip (Debian's is too old).
#
# The node side finds the same cache (src/ingest/webrtc/mediasoup-worker-bin.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECIPE="$ROOT/tools/mediasoup-worker"
JOBS="${MEDIASOUP_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Bump when the build steps change in a way that makes a new worker (the cache key hashes this and the
# files under tools/mediasoup-worker/, not the whole script, so that editing comments does not rebuild).
RECIPE_REV=1

mode=build
for_tests=0
for arg in "$@"; do
  case "$arg" in
    --soft) mode=soft ;;
    --find) mode=find ;;
    --setup) mode=setup ;;
    --test) for_tests=1 ;;
    *) echo "usage: $0 [--soft|--find|--setup [--test]]" >&2; exit 2 ;;
  esac
done

say() { printf 'mediasoup-worker: %s\n' "$*" >&2; }
fail() {
  say "FAILED: $*"
  say "the WebRTC ingest uses werift instead (webrtc_engine=auto); webrtc_engine=mediasoup will not start."
  if [ "$mode" = soft ]; then exit 0; fi
  exit 1
}

runs() { # the worker file exists, is executable and its shared libraries are all there
  [ -x "$1" ] && ! ldd "$1" 2>/dev/null | grep -q 'not found'
}

if [ "$mode" = setup ]; then
  # mediasoup is an optional dependency whose postinstall downloads a prebuilt worker, else compiles one with
  # downloaded sources: offline both fail and npm ci leaves mediasoup out. With MEDIASOUP_WORKER_BIN set its
  # postinstall does nothing, so the package installs; the worker is then ours (found at run time).
  if [ ! -f "$ROOT/node_modules/mediasoup/package.json" ]; then
    want="$(node -p 'const l=require(process.argv[1]); (l.packages && l.packages["node_modules/mediasoup"] || {}).version || ""' "$ROOT/package-lock.json")"
    if [ -z "$want" ]; then
      say "mediasoup is not in package-lock.json: nothing to do"; exit 0
    elif [ -L "$ROOT/node_modules" ]; then
      say "node_modules is a symbolic link (shared): not installing mediasoup into it"
    else
      say "npm ci left mediasoup out (its postinstall needs internet): installing mediasoup@$want without its worker download"
      (cd "$ROOT" && MEDIASOUP_WORKER_BIN=/nonexistent/built-by-tools-build-mediasoup-worker \
        npm install --no-save --no-audit --no-fund --loglevel=error "mediasoup@$want" >&2) \
        || say "installing mediasoup failed: the WebRTC ingest uses werift"
    fi
  fi
  engine="${WCS_WEBRTC_ENGINE:-$(sed -n 's/^[[:space:]]*webrtc_engine[[:space:]]*[=:][[:space:]]*//p' "${WCS_HOME:-$ROOT}/conf/server.properties" 2>/dev/null | tail -1 | tr -d '[:space:]')}"
  engine="${engine:-auto}"
  self="$ROOT/tools/build-mediasoup-worker.sh"
  if [ "$for_tests" = 1 ] || [ "$engine" = mediasoup ]; then
    "$self" --soft >/dev/null; exit 0
  elif [ "$engine" = auto ]; then
    if "$self" --find >/dev/null 2>&1; then exit 0; fi
    mkdir -p "${MEDIASOUP_WORKER_CACHE:-/var/cache/wcs-recorder/mediasoup-worker}" 2>/dev/null || true
    logdir="${MEDIASOUP_WORKER_CACHE:-/var/cache/wcs-recorder/mediasoup-worker}"
    [ -w "$logdir" ] || logdir="${XDG_CACHE_HOME:-$HOME/.cache}/wcs-recorder/mediasoup-worker"
    mkdir -p "$logdir"
    say "webrtc_engine=auto and no mediasoup worker yet: building one in the background (log: $logdir/build.log);"
    say "werift serves WebRTC until a later start finds the worker"
    nohup nice -n 19 "$self" --soft >/dev/null 2>"$logdir/build.log" </dev/null &
    exit 0
  fi
  exit 0
fi

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ] && runs "$MEDIASOUP_WORKER_BIN"; then
  say "using MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN"; echo "$MEDIASOUP_WORKER_BIN"; exit 0
fi

# --- which mediasoup ------------------------------------------------------------------------------------------
ms_dir="$ROOT/node_modules/mediasoup"
if [ -f "$ms_dir/package.json" ]; then
  version="$(node -p 'require(process.argv[1]).version' "$ms_dir/package.json")"
else
  version="$(node -p 'const l=require(process.argv[1]); (l.packages && l.packages["node_modules/mediasoup"] || {}).version || ""' "$ROOT/package-lock.json")"
fi
[ -n "$version" ] || fail "mediasoup is neither installed nor in package-lock.json"

prebuilt="$ms_dir/worker/out/Release/mediasoup-worker"
if runs "$prebuilt"; then say "using mediasoup's prebuilt worker $prebuilt"; echo "$prebuilt"; exit 0; fi

# --- the cache ------------------------------------------------------------------------------------------------
cache="${MEDIASOUP_WORKER_CACHE:-/var/cache/wcs-recorder/mediasoup-worker}"
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/wcs-recorder/mediasoup-worker"
  mkdir -p "$cache" || fail "cannot create a cache folder ($cache)"
fi

deb_packages=(libuv1-dev libsrtp2-dev libabsl-dev libusrsctp-dev flatbuffers-compiler libflatbuffers-dev
              pkg-config ninja-build g++ make perl)
pkg_version() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }

# the key: mediasoup's version, this script and its recipe files, the Debian libraries and the compiler
key_of() {
  {
    echo "mediasoup $version recipe $RECIPE_REV"
    find "$RECIPE" -type f | LC_ALL=C sort | xargs cat
    for p in libuv1-dev libsrtp2-dev libabsl-dev libusrsctp-dev libflatbuffers-dev; do echo "$p $(pkg_version "$p")"; done
    g++ --version 2>/dev/null | head -1
  } | sha256sum | cut -c1-12
}

find_cached() { # newest cached worker of this mediasoup version that runs (the key may be unknown yet)
  local f
  for f in $(ls -1dt "$cache/$version"-*/mediasoup-worker 2>/dev/null); do
    if runs "$f"; then echo "$f"; return 0; fi
  done
  return 1
}

if [ "$mode" = find ]; then
  if f="$(find_cached)"; then echo "$f"; exit 0; fi
  exit 1
fi

# --- Debian packages ------------------------------------------------------------------------------------------
missing=()
for p in "${deb_packages[@]}"; do [ -n "$(pkg_version "$p")" ] || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
  else
    fail "missing Debian packages (${missing[*]}): install them as root (apt-get install ${missing[*]})"
  fi
fi

key="$(key_of)"
dest="$cache/$version-$key"
if runs "$dest/mediasoup-worker"; then say "using the cached worker $dest/mediasoup-worker"; echo "$dest/mediasoup-worker"; exit 0; fi

# one build at a time per cache (a second setup waits for the first, then reuses its result)
exec 9>"$cache/.lock"
if ! flock -n 9; then say "another build is running (lock $cache/.lock): waiting for it"; flock 9; fi
if runs "$dest/mediasoup-worker"; then say "using the cached worker $dest/mediasoup-worker"; echo "$dest/mediasoup-worker"; exit 0; fi

work="$cache/.build-$version-$key"
rm -rf "$work"; mkdir -p "$work"
started=$SECONDS
say "building mediasoup $version's worker into $dest (about 20 minutes on 2 cores; work folder $work)"

# --- meson (Debian's 1.0 is too old for mediasoup's meson.build) -------------------------------------------------
pytools="$cache/pytools"
if ! PYTHONPATH="$pytools" python3 -c 'import mesonbuild' 2>/dev/null; then
  say "installing meson from pip into $pytools"
  python3 -m pip install -q --no-user --target "$pytools" meson >&2 || fail "pip install meson failed"
fi
meson() { PYTHONPATH="$pytools" python3 -m mesonbuild.mesonmain "$@"; }

# --- OpenSSL from Debian's source tarball, static -------------------------------------------------------------
ensure_deb_src() {
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then return 0; fi
  [ "$(id -u)" = 0 ] || fail "no deb-src entry in apt's sources, and not root to add one"
  local f=/etc/apt/sources.list.d/wcs-recorder-deb-src.sources
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # the main archive's suites only: the security mirror serves no sources
    awk -v RS= -v ORS='\n\n' '!/security/' /etc/apt/sources.list.d/debian.sources | sed -E 's/^Types:.*/Types: deb-src/' > "$f"
  elif grep -qs '^deb ' /etc/apt/sources.list; then
    f=/etc/apt/sources.list.d/wcs-recorder-deb-src.list
    grep -v security /etc/apt/sources.list | sed -n 's/^deb /deb-src /p' > "$f"
  else
    fail "no Debian apt source found to derive a deb-src entry from"
  fi
  say "added $f (deb-src, for apt-get source openssl)"
  apt-get update -qq || fail "apt-get update (deb-src) failed"
}

if ! ls "$cache"/openssl-*-static/lib/libssl.a >/dev/null 2>&1; then
  ensure_deb_src
  mkdir -p "$work/openssl-src"
  say "downloading Debian's OpenSSL source (apt-get source --download-only openssl)"
  # newest first; a version whose files the mirror lacks is skipped
  got=0
  for v in "" $(apt-cache showsrc openssl 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | uniq); do
    if (cd "$work/openssl-src" && apt-get source -qq --download-only "openssl${v:+=$v}" >&2 2>"$work/apt-source.log"); then got=1; break; fi
    say "apt-get source openssl${v:+=$v} failed ($(grep -m1 '^E:' "$work/apt-source.log" || true)); trying an older version"
  done
  [ "$got" = 1 ] || fail "apt-get source openssl failed for every version apt knows"
  orig="$(ls "$work"/openssl-src/openssl_*.orig.tar.gz | head -1)"
  [ -f "$orig" ] || fail "no openssl orig tarball downloaded"
  ossl_ver="$(basename "$orig" | sed -E 's/^openssl_(.*)\.orig\.tar\.gz$/\1/')"
  tar xzf "$orig" -C "$work/openssl-src"
  src="$work/openssl-src/openssl-$ossl_ver"
  say "building OpenSSL $ossl_ver (static, no-shared; about 4 minutes)"
  # no-ktls: OpenSSL's default, said out loud: Debian's patch that turns kernel TLS on is what makes the worker
  # crash at the first DTLS ClientHello with Debian's libssl (docs/webrtc.md)
  (cd "$src" && ./config no-shared no-tests no-ktls -fPIC >"$work/openssl-config.log" 2>&1) || fail "OpenSSL Configure failed (see $work/openssl-config.log)"
  (cd "$src" && nice -n 10 make -j"$JOBS" build_libs >"$work/openssl-make.log" 2>&1) || fail "OpenSSL build failed (see $work/openssl-make.log)"
  ossl="$cache/openssl-$ossl_ver-static"
  rm -rf "$ossl.tmp"; mkdir -p "$ossl.tmp/lib"
  cp "$src/libssl.a" "$src/libcrypto.a" "$ossl.tmp/lib/"
  cp -r "$src/include" "$ossl.tmp/include"
  rm -rf "$ossl"; mv "$ossl.tmp" "$ossl"
  say "OpenSSL $ossl_ver built in $((SECONDS - started)) s"
fi
ossl="$(ls -1dt "$cache"/openssl-*-static | head -1)"
ossl_ver="$(basename "$ossl" | sed -E 's/^openssl-(.*)-static$/\1/')"

# --- the worker's source ----------------------------------------------------------------------------------------
if [ -f "$ms_dir/worker/meson.build" ]; then
  cp -r "$ms_dir/worker" "$work/wsrc"
else
  say "mediasoup is not installed: taking its source from the npm tarball (npm pack mediasoup@$version)"
  (cd "$work" && npm pack -q "mediasoup@$version" >/dev/null && tar xzf "mediasoup-$version.tgz") || fail "npm pack mediasoup@$version failed"
  mv "$work/package/worker" "$work/wsrc"
fi
rm -rf "$work/wsrc/out" "$work/wsrc/subprojects/"*.wrap
cp -r "$RECIPE/subprojects/." "$work/wsrc/subprojects/"
# the openssl subproject: our static OpenSSL (the variables mediasoup's meson.build reads)
mkdir -p "$work/wsrc/subprojects/openssl"
: > "$work/wsrc/subprojects/openssl/empty.c"
cat > "$work/wsrc/subprojects/openssl/meson.build" <<EOF
project('openssl', 'c')
# OpenSSL $ossl_ver built from Debian's source tarball, linked statically (tools/build-mediasoup-worker.sh)
openssl_dep = declare_dependency(compile_args: ['-I$ossl/include'],
  link_args: ['$ossl/lib/libssl.a', '$ossl/lib/libcrypto.a', '-ldl', '-pthread'])
libcrypto_dep = openssl_dep
libssl_dep = openssl_dep
libcrypto_lib = static_library('dummy_crypto', 'empty.c')
libssl_lib = static_library('dummy_ssl', 'empty.c')
EOF
python3 "$RECIPE/patch-libsrtp2.py" "$work/wsrc" >&2 || fail "adapting the worker's sources to Debian's libsrtp2 failed"

# --- build ------------------------------------------------------------------------------------------------------
say "configuring (meson)"
meson setup --wrap-mode=nodownload --buildtype release -Db_ndebug=true -Dms_disable_liburing=true \
  "$work/build" "$work/wsrc" >"$work/meson-setup.log" 2>&1 || fail "meson setup failed (see $work/meson-setup.log)"
meson compile -C "$work/build" flatbuffers-generator >"$work/flatbuffers.log" 2>&1 || fail "flatbuffers generation failed (see $work/flatbuffers.log)"
say "compiling the worker (ninja -j$JOBS; about 200 steps, the [n/N] lines show progress)"
nice -n 10 ninja -C "$work/build" -j"$JOBS" mediasoup-worker >&2 || fail "the worker's build failed (output above)"

bin="$work/build/mediasoup-worker"
ldd "$bin" | grep -q 'libssl' && fail "the worker links a shared libssl: the static OpenSSL was not used"
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
cp "$bin" "$dest.tmp/mediasoup-worker"
{
  echo "mediasoup $version"
  echo "openssl $ossl_ver (static, from Debian's source tarball)"
  echo "built $(date -u +%FT%TZ) in $((SECONDS - started)) s with -j$JOBS on $(nproc) cores"
  echo "key $key"
} > "$dest.tmp/BUILDINFO"
rm -rf "$dest"; mv "$dest.tmp" "$dest"
rm -rf "$work"
say "built $dest/mediasoup-worker in $((SECONDS - started)) s"
echo "$dest/mediasoup-worker"
