#!/usr/bin/env bash
# Runs after each record is finished, as in WCS:
#   $1 = stream name
#   $2 = absolute path of the record file
# Copy or move the record elsewhere here if you need to. This example only
# logs, like WCS's own: "<stream>:<file>" into $WCS_HOME/logs/record.log.
STREAM_NAME=$1
FILE_NAME=$2
WCS_HOME=${WCS_HOME:-"$(cd "$(dirname "$0")/.." && pwd)"}
mkdir -p "$WCS_HOME/logs"
# one line per record, whatever the names hold: control characters become "?"
# (the server already refuses names with them and escapes its arguments)
LINE="$STREAM_NAME:$FILE_NAME"
LINE=${LINE//[[:cntrl:]]/?}
printf '%s\n' "$LINE" >> "$WCS_HOME/logs/record.log"
