#!/usr/bin/env bash
# Runs when a multiple stream recording is finished, as in WCS:
#   $1 = absolute path of the file
#   $2 = its creation/modification time (MP4 mvhd: seconds since 1904-01-01)
#   $3 = its duration in ms
#   $4 = the recorder URI (multi-recorder://...)
# Mixes the file with the offline mixer (FILE_mixed.mp4 beside it); the
# mixer POSTs to callbackUrl of conf/offline_mixer.json when it is set.
FILE_NAME=$1
CREATION_MODIFICATION_TIME=$2
DURATION_IN_MS=$3
RECORDER_URI=$4
WCS_HOME=${WCS_HOME:-"$(cd "$(dirname "$0")/.." && pwd)"}
export WCS_HOME
mkdir -p "$WCS_HOME/logs"
LOG_FILE=$WCS_HOME/logs/multi-record.log
# the file name as shown in the log: one line whatever it holds (control characters become "?")
LOG_NAME=${FILE_NAME//[[:cntrl:]]/?}
# The mixer of this WCS_HOME, else the one of the wcs-recorder that runs us
MIXER_TOOL=$WCS_HOME/tools/offline_mixer_tool.sh
if [ ! -f "$MIXER_TOOL" ] && [ -n "${WCS_RECORDER_DIR:-}" ]; then
  MIXER_TOOL=$WCS_RECORDER_DIR/tools/offline_mixer_tool.sh
fi
# Set LOGGER_ENABLED to true to enable mixing debug logging
LOGGER_ENABLED=${LOGGER_ENABLED:-false}

echo "[$(date '+%Y-%m-%d %H:%M:%S')] Start mixing multiple recording file $LOG_NAME" >> "$LOG_FILE"

if $LOGGER_ENABLED; then
  bash "$MIXER_TOOL" "$FILE_NAME" "$CREATION_MODIFICATION_TIME" "$DURATION_IN_MS" "$RECORDER_URI" >> "$LOG_FILE" 2>&1
else
  bash "$MIXER_TOOL" "$FILE_NAME" "$CREATION_MODIFICATION_TIME" "$DURATION_IN_MS" "$RECORDER_URI" > /dev/null 2>&1
fi

CODE=$?
if [ "$CODE" -ne "0" ]; then
  if [ "$CODE" -eq "64" ]; then
    echo "ERROR: File to mix not found" >> "$LOG_FILE"
  elif [ "$CODE" -eq "65" ]; then
    echo "ERROR: Offline mixer config not found" >> "$LOG_FILE"
  else
    echo "ERROR: Offline mixer tool error code: $CODE" >> "$LOG_FILE"
  fi
  exit $CODE
fi

echo "[$(date '+%Y-%m-%d %H:%M:%S')] Multiple recording file $LOG_NAME is mixed successfully" >> "$LOG_FILE"
exit 0
