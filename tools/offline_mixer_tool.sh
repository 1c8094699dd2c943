#!/usr/bin/env bash
# Offline mixer of multiple stream recordings (WCS OfflineMP4Mixer):
#   offline_mixer_tool.sh FILE.mp4 [CREATION_MODIFICATION_TIME DURATION_IN_MS RECORDER_URI]
#       -> FILE_mixed.mp4 beside it, settings from $WCS_HOME/conf/offline_mixer.json
#   offline_mixer_tool.sh --show-tracks-info FILE.mp4
#   offline_mixer_tool.sh --help
# Exit codes: 64 file to mix not found, 65 mixer config not found, 66 not
# enough disk space, 69 callback failed, 1 mixing failed, 2 bad arguments.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WCS_HOME="${WCS_HOME:-$here}"
if [ ! -f "$here/dist/tools/offline-mixer.js" ]; then
  echo "offline_mixer: not built yet; run 'npm run setup' first" >&2
  exit 1
fi
exec node "$here/dist/tools/offline-mixer.js" "$@"
