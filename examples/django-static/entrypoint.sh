#!/bin/sh
set -e
exec /home/worker/main/main "$@"
