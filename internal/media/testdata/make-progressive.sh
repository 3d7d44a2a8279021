#!/bin/sh
# Makes progressive.jpg, the quickstart's sample picture re-encoded as a
# progressive JPEG with libjpeg's standard scan script (ten scans), for
# the JPEG check's tests. Needs jpegtran (Debian: libjpeg-turbo-progs).
set -eu
cd "$(dirname "$0")"
jpegtran -progressive -outfile progressive.jpg ../../../docs/samples/snapshot.jpg
ls -l progressive.jpg
