#!/bin/sh
# make.sh makes the clip and picture fixtures of internal/media's tests
# and of the web app's browser test. Run it from anywhere with ffmpeg
# (Debian package ffmpeg, with libx264 and libx265) installed:
#
#	sh internal/media/testdata/clips/make.sh
#
# It is needed only to change the fixtures; the tests do not run ffmpeg.
#
# Clips: 2 s of ffmpeg's moving test pattern (testsrc2), 320x180 at 15 fps,
# no audio, in the four shapes cameras upload:
#
#	h264.mp4        H.264 (avc1), progressive: ftyp, moov, mdat
#	h264-frag.mp4   H.264 (avc1), fragmented: ftyp, moov (mvex), moof+mdat...
#	h265.mp4        H.265 (hvc1), progressive
#	h265-frag.mp4   H.265 (hvc1), fragmented
#	h264-3s-frag.mp4  H.264, 3 s, 640x360, fragmented every keyframe (1 s)
#	mjpeg.mp4       Motion JPEG, 64x36, 1 s: a video track the server refuses
#
# Pictures, baseline JPEGs of the thumbnail limits (under 1 MiB each):
#
#	4k.jpg          3840x2160
#	8k.jpg          7680x4320
set -eu
cd "$(dirname "$0")"
src() {
	echo "testsrc2=size=$1:rate=15:duration=$2"
}
common="-hide_banner -loglevel error -y -threads 1"
ffmpeg $common -f lavfi -i "$(src 320x180 2)" -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 15 \
	-movflags +faststart h264.mp4
ffmpeg $common -f lavfi -i "$(src 320x180 2)" -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 15 \
	-movflags frag_keyframe+empty_moov+default_base_moof h264-frag.mp4
ffmpeg $common -f lavfi -i "$(src 640x360 3)" -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 15 -crf 35 \
	-movflags frag_keyframe+empty_moov+default_base_moof h264-3s-frag.mp4
ffmpeg $common -f lavfi -i "$(src 320x180 2)" -c:v libx265 -preset veryfast -pix_fmt yuv420p \
	-x265-params "log-level=error:keyint=15:pools=1:frame-threads=1" -tag:v hvc1 \
	-movflags +faststart h265.mp4
ffmpeg $common -f lavfi -i "$(src 320x180 2)" -c:v libx265 -preset veryfast -pix_fmt yuv420p \
	-x265-params "log-level=error:keyint=15:pools=1:frame-threads=1" -tag:v hvc1 \
	-movflags frag_keyframe+empty_moov+default_base_moof h265-frag.mp4
ffmpeg $common -f lavfi -i "$(src 64x36 1)" -c:v mjpeg -q:v 10 mjpeg.mp4
ffmpeg $common -f lavfi -i "testsrc2=size=3840x2160" -frames:v 1 -c:v mjpeg -pix_fmt yuvj420p -q:v 12 4k.jpg
ffmpeg $common -f lavfi -i "testsrc2=size=7680x4320" -frames:v 1 -c:v mjpeg -pix_fmt yuvj420p -q:v 24 8k.jpg
