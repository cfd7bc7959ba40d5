#!/bin/bash
# coturn-log-metrics: turns coturn's session log into metrics. journalctl follows coturn.service's journal from this
# boot's first line (so a restart of this unit rebuilds the same figures) and mtail reads it with the program in
# /etc/coturn/mtail, serving the figures on loopback only (127.0.0.1:3903): coturn-metrics-collect hands them to
# node-exporter, the one endpoint anything reads. journald, not this, is where the lines are kept and capped.
set -euo pipefail
# journalctl exits when mtail does, and the other way round: then the unit restarts both (Restart=always).
journalctl --follow --boot --unit=coturn.service --output=short-unix --no-pager --quiet \
  | mtail --progs /etc/coturn/mtail --logs /dev/stdin --address 127.0.0.1 --port 3903 --emit_prog_label=false --logtostderr
