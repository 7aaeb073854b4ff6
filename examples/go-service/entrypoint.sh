#!/bin/sh
# The one container entry point of the seed's convention: /home/worker/main/entrypoint.sh
set -e
exec /home/worker/main/main "$@"
