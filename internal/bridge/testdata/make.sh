#!/bin/sh
# make.sh makes the bridge's video fixtures: short Annex-B elementary
# streams that the tests' stand-in camera (an in-process RTSP server)
# loops. Run it from anywhere with ffmpeg (Debian package ffmpeg, with
# libx264 and libx265) installed:
#
#	sh internal/bridge/testdata/make.sh
#
# It is needed only to change the fixtures; neither the binary nor the
# tests run ffmpeg. The H.264 360p stream the tests also use is the
# simulated camera's (internal/sim/camera/fixtures/640x360.h264).
#
# Each is 4 s of ffmpeg's moving test pattern (testsrc2) at 15 fps, a
# closed GOP of 30 frames (an IDR every 2 s, none elsewhere), no B-frames,
# parameter sets repeated before every IDR, as an IP camera sends:
#
#	640x360.h265    H.265 main profile, about 500 kbit/s
#	1920x1080.h264  H.264 main profile, about 2 Mbit/s (the benchmark's
#	                1080p camera)
#	tone.aac        4 s of a 440 Hz tone, AAC-LC mono 16 kHz, ADTS: a
#	                camera's microphone
#
# One thread and fixed settings make the output the same on every run of
# the same ffmpeg, x264 and x265.
set -eu
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=640x360:rate=15:duration=4" \
	-c:v libx265 -preset medium -pix_fmt yuv420p \
	-x265-params "pools=1:frame-threads=1:keyint=30:min-keyint=30:scenecut=0:bframes=0:repeat-headers=1:open-gop=0:info=0:bitrate=500:vbv-maxrate=500:vbv-bufsize=500:log-level=error" \
	-f hevc 640x360.h265.tmp
mv 640x360.h265.tmp 640x360.h265
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=1920x1080:rate=15:duration=4" \
	-c:v libx264 -threads 1 -preset medium -tune zerolatency \
	-profile:v main -level 4.0 -pix_fmt yuv420p \
	-g 30 -keyint_min 30 -sc_threshold 0 -bf 0 \
	-b:v 2000k -maxrate 2000k -bufsize 2000k \
	-x264-params repeat-headers=1:open-gop=0:rc-lookahead=0 \
	-bsf:v filter_units=remove_types=6 \
	-f h264 1920x1080.h264.tmp
mv 1920x1080.h264.tmp 1920x1080.h264
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "sine=frequency=440:sample_rate=16000:duration=4" \
	-c:a aac -b:a 32k -ac 1 -f adts tone.aac.tmp
mv tone.aac.tmp tone.aac
ls -l ./*.h264 ./*.h265 ./*.aac
