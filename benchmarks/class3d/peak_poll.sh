#!/usr/bin/env bash
# Records the peak resident set of the processes named NAME while they run, once a second, so a report can
# give a program's peak memory up to the end of each of its iterations (/usr/bin/time gives only the
# whole run's). Appends "epoch-seconds KiB" lines to OUT: the largest VmHWM (the peak resident set so
# far) of any process named NAME; stops when PID (the run being watched) has ended.
# Usage: benchmarks/class3d/peak_poll.sh NAME PID OUT &
set -uo pipefail
name=$1 pid=$2 out=$3
: > "$out"
while kill -0 "$pid" 2>/dev/null; do
  peak=0
  for p in $(pgrep -x "$name"); do
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
  done
  [ "$peak" -gt 0 ] && echo "$(date +%s.%N) $peak" >> "$out"
  sleep 1
done
