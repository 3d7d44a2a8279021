#!/bin/sh
# Makes snapshot.jpg and clip.mp4, the picture and clip docs/quickstart.md
# uploads: a simulated camera's picture and 3 s of its H.264 video.
set -eu
cd "$(dirname "$0")/../.."
CAMVAULT_WRITE_SAMPLES=1 go test -count=1 -run TestQuickstartSamples ./internal/sim/camera/
ls -l docs/samples/snapshot.jpg docs/samples/clip.mp4
