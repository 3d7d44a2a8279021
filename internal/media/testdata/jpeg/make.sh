#!/bin/sh
# Makes the JPEGs the thumbnail check is tested with: the quickstart's
# sample picture, scaled to 1/4 and cut to 83x47 (not a whole number of
# MCUs either way), encoded by libjpeg in each way a camera or an image
# tool might: every chroma subsampling image/jpeg reads, grayscale, RGB,
# optimised Huffman tables, restart intervals, progressive, scans one
# component at a time; and in ways the check must refuse: arithmetic
# coding, a scan script that leaves coefficients unsent. Needs cjpeg,
# djpeg and jpegtran (Debian: libjpeg-turbo-progs) and python3.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
djpeg -pnm -scale 1/4 ../../../../docs/samples/snapshot.jpg >"$tmp/full.ppm"
python3 - "$tmp/full.ppm" "$tmp/in.ppm" 83 47 <<'PY'
import sys
src, dst, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, 'rb').read()
fields, i = [], 0
while len(fields) < 4:  # P6, width, height, maxval
    while data[i:i+1].isspace():
        i += 1
    j = i
    while not data[j:j+1].isspace():
        j += 1
    fields.append(data[i:j]); i = j
i += 1
sw = int(fields[1])
rows = [data[i + 3*sw*y: i + 3*sw*y + 3*w] for y in range(h)]
open(dst, 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + b''.join(rows))
PY
in="$tmp/in.ppm"
c() { out=$1; shift; cjpeg "$@" -outfile "$out" "$in"; }
c b420.jpg -quality 75 -sample 2x2
c b422.jpg -quality 75 -sample 2x1
c b440.jpg -quality 75 -sample 1x2
c b444.jpg -quality 90 -sample 1x1
c b411.jpg -quality 75 -sample 4x1
c b410.jpg -quality 75 -sample 4x2
c gray.jpg -quality 75 -grayscale
c rgb.jpg -quality 75 -rgb
c optimized.jpg -quality 50 -optimize
c restart-rows.jpg -quality 75 -restart 1
c restart-3.jpg -quality 75 -restart 3B
c restart-444.jpg -quality 75 -sample 1x1 -restart 5B
c p420.jpg -quality 75 -progressive
c p444.jpg -quality 95 -sample 1x1 -progressive
c pgray.jpg -quality 75 -grayscale -progressive
c p444-restart.jpg -quality 75 -sample 1x1 -progressive -restart 7B
c pgray-restart.jpg -quality 75 -grayscale -progressive -restart 1
printf '0;\n1;\n2;\n' >"$tmp/components.txt"
c components-444.jpg -quality 75 -sample 1x1 -scans "$tmp/components.txt"
c components-420.jpg -quality 75 -scans "$tmp/components.txt"
# image/jpeg cannot read a progressive picture with restart intervals
# whose first component has more than one block per MCU: it counts the
# intervals of a one-component scan in MCUs of the frame, not in blocks.
# The check, which follows image/jpeg, refuses it too.
c libjpeg-only-p420-restart.jpg -quality 75 -progressive -restart 2B
# Refused: arithmetic coding; a progressive script with no refinement of
# the last bits of the AC coefficients (a picture cut at a scan boundary
# looks like this).
c arithmetic.jpg -quality 75 -arithmetic
c arithmetic-progressive.jpg -quality 75 -arithmetic -progressive
printf '0,1,2: 0-0, 0, 0;\n0: 1-63, 0, 1;\n1: 1-63, 0, 1;\n2: 1-63, 0, 1;\n' >"$tmp/unfinished.txt"
c unfinished.jpg -quality 75 -sample 1x1 -scans "$tmp/unfinished.txt"
jpegtran -progressive -outfile transcoded-progressive.jpg b420.jpg
ls -l ./*.jpg
