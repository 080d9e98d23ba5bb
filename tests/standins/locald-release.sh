#!/bin/sh
# Stand-in for a released locald binary (compiled binaries cannot be produced here). The
# install tests put it in release archives with @VERSION@ and @TARGET@ filled in; it answers
# --version like locald and records its argv to LOCALD_STANDIN_LOG when set.
if [ -n "${LOCALD_STANDIN_LOG:-}" ]; then printf 'locald %s\n' "$*" >>"$LOCALD_STANDIN_LOG"; fi
case ${1:-} in
  --version | version) echo "locald @VERSION@ (stand-in for @TARGET@)" ;;
  *) echo "locald stand-in: $*" ;;
esac
