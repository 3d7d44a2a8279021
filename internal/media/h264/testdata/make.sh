#!/bin/sh
# make.sh makes small.h264, the stream the h264 package's tests read: 6
# pictures of ffmpeg's test pattern at 176x100 (so the SPS crops: 100 is not
# a whole number of macroblocks), constrained baseline, an IDR every 3
# pictures, two slices per picture, an access unit delimiter before each
# picture, and x264's own SEI (its settings) left in. About 9 KiB. It needs
# ffmpeg (Debian package ffmpeg, libx264) and is run only to change the
# file:
#
#	sh internal/media/h264/testdata/make.sh
set -eu
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=176x100:rate=15:duration=0.4" \
	-c:v libx264 -threads 1 -preset medium -profile:v baseline -pix_fmt yuv420p \
	-g 3 -keyint_min 3 -sc_threshold 0 -bf 0 -qp 30 \
	-x264-params slices=2:aud=1:open-gop=0 \
	-f h264 small.h264.tmp
mv small.h264.tmp small.h264
ls -l small.h264
