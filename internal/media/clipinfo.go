package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	mp4 "github.com/abema/go-mp4"
)

// ClipInfo is what the server reads of a clip's video track while the
// clip streams in: its codec, how long it plays and its picture size.
type ClipInfo struct {
	Codec      string // CodecH264 or CodecH265
	DurationMS int64
	Width      int
	Height     int
}

// The codecs a clip may have.
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

// ErrClipCodec refuses a clip without an H.264 or H.265 video track.
var ErrClipCodec = errors.New("clip must be H.264 or H.265 video")

// The bounds of reading a clip's info (invariant 13). Only the movie box
// (moov) and each movie fragment box (moof) are held, each whole and
// each at most its cap; media data (mdat) streams through unread. The
// tracks a movie may declare, the samples its fragments may list, and the
// duration it may claim are bounded too. A camera's movie box is a few
// KiB (a progressive one grows with its sample tables, about 20 bytes a
// frame: 4 MiB is over an hour at 60 fps); a fragment's is a few hundred
// bytes.
const (
	MaxMoovBox      = 4 << 20
	MaxMoofBox      = 1 << 20
	maxClipTracks   = 16
	maxClipSamples  = 1 << 20
	maxClipDuration = 24 * 60 * 60 * 1000 // ms
	maxClipSide     = 16384
)

// clipReader gathers a clip's info from its moov and moof boxes, each
// given whole.
type clipReader struct {
	sawMoov bool
	tracks  int
	other   string // a video track's sample entry of another codec, for the error

	// The video track: the first with an H.264 or H.265 sample entry.
	track     uint32
	codec     string
	width     int
	height    int
	timescale uint32 // of the track (mdhd)
	ticks     uint64 // in timescale: the track's (mdhd), then its fragments'
	samples   uint64 // in the fragments

	// From mvex: the fragment duration (mehd, in the movie's timescale)
	// and each track's default sample duration (trex).
	movieScale  uint32
	mehd        uint64
	trexDefault map[uint32]uint32
}

// trackInfo is one trak of the moov as it is read.
type trackInfo struct {
	id        uint32
	handler   string
	entry     string // the first sample entry's type
	width     int    // from the sample entry, else tkhd
	height    int
	tkW, tkH  int
	timescale uint32
	duration  uint64
}

// trafInfo is one traf of a moof as it is read.
type trafInfo struct {
	track       uint32
	haveTfhd    bool
	defDuration uint32
	hasDefault  bool
}

func videoCodec(entry string) string {
	switch entry {
	case "avc1", "avc3":
		return CodecH264
	case "hvc1", "hev1":
		return CodecH265
	}
	return ""
}

// boxPath is a handle's path as "moov/trak/tkhd".
func boxPath(h *mp4.ReadHandle) string {
	var b []byte
	for i, t := range h.Path {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, t[:]...)
	}
	return string(b)
}

// sane refuses a box whose size is smaller than its own header: the
// parser would otherwise read its payload size as a huge number.
func sane(h *mp4.ReadHandle) error {
	if h.BoxInfo.Size < h.BoxInfo.HeaderSize {
		return fmt.Errorf("box %s at %d has size %d", h.BoxInfo.Type, h.BoxInfo.Offset, h.BoxInfo.Size)
	}
	return nil
}

// headBytes keeps the first len(buf) bytes written to it and counts the
// rest.
type headBytes struct {
	buf []byte
	n   int
}

func (w *headBytes) Write(p []byte) (int, error) {
	if w.n < len(w.buf) {
		copy(w.buf[w.n:], p)
	}
	w.n += len(p)
	return len(p), nil
}

// moov reads the movie box b (header included).
func (c *clipReader) moov(b []byte) error {
	if c.sawMoov {
		return errors.New("more than one moov box")
	}
	c.sawMoov = true
	_, err := mp4.ReadBoxStructure(bytes.NewReader(b), func(h *mp4.ReadHandle) (any, error) {
		if err := sane(h); err != nil {
			return nil, err
		}
		var t *trackInfo
		if len(h.Params) > 0 {
			t, _ = h.Params[0].(*trackInfo)
		}
		switch p := boxPath(h); p {
		case "moov", "moov/mvex":
			return h.Expand()
		case "moov/mvhd":
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("mvhd: %w", err)
			}
			c.movieScale = box.(*mp4.Mvhd).Timescale
		case "moov/mvex/mehd":
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("mehd: %w", err)
			}
			c.mehd = box.(*mp4.Mehd).GetFragmentDuration()
		case "moov/mvex/trex":
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("trex: %w", err)
			}
			trex := box.(*mp4.Trex)
			if c.trexDefault == nil {
				c.trexDefault = map[uint32]uint32{}
			}
			if len(c.trexDefault) < maxClipTracks {
				c.trexDefault[trex.TrackID] = trex.DefaultSampleDuration
			}
		case "moov/trak":
			if c.tracks++; c.tracks > maxClipTracks {
				return nil, fmt.Errorf("more than %d tracks", maxClipTracks)
			}
			ti := &trackInfo{}
			if _, err := h.Expand(ti); err != nil {
				return nil, err
			}
			c.adopt(ti)
		case "moov/trak/mdia", "moov/trak/mdia/minf", "moov/trak/mdia/minf/stbl", "moov/trak/mdia/minf/stbl/stsd":
			return h.Expand(t)
		case "moov/trak/tkhd":
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("tkhd: %w", err)
			}
			tkhd := box.(*mp4.Tkhd)
			t.id, t.tkW, t.tkH = tkhd.TrackID, int(tkhd.Width>>16), int(tkhd.Height>>16)
		case "moov/trak/mdia/mdhd":
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("mdhd: %w", err)
			}
			mdhd := box.(*mp4.Mdhd)
			t.timescale = mdhd.Timescale
			t.duration = mdhd.GetDuration()
		case "moov/trak/mdia/hdlr":
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("hdlr: %w", err)
			}
			t.handler = string(box.(*mp4.Hdlr).HandlerType[:])
		default:
			// A sample entry: a visual one starts with 6 reserved bytes,
			// the data reference index, 16 bytes of pre-defined and
			// reserved fields, then the width and height.
			if len(h.Path) == 7 && strings.HasPrefix(p, "moov/trak/mdia/minf/stbl/stsd/") && t.entry == "" {
				t.entry = h.BoxInfo.Type.String()
				head := headBytes{buf: make([]byte, 28)}
				if _, err := h.ReadData(&head); err != nil {
					return nil, fmt.Errorf("sample entry: %w", err)
				}
				if head.n >= 28 {
					t.width = int(binary.BigEndian.Uint16(head.buf[24:]))
					t.height = int(binary.BigEndian.Uint16(head.buf[26:]))
				}
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("moov: %w", err)
	}
	return nil
}

// adopt takes t as the clip's video track if it is the first H.264 or
// H.265 one.
func (c *clipReader) adopt(t *trackInfo) {
	if t.handler != "vide" {
		return
	}
	codec := videoCodec(t.entry)
	if codec == "" {
		if c.other == "" && t.entry != "" {
			c.other = t.entry
		}
		return
	}
	if c.codec != "" {
		return
	}
	c.track, c.codec, c.timescale, c.ticks = t.id, codec, t.timescale, t.duration
	c.width, c.height = t.width, t.height
	if c.width == 0 || c.height == 0 {
		c.width, c.height = t.tkW, t.tkH
	}
}

// moof reads a movie fragment box b (header included), adding the
// durations of the video track's samples.
func (c *clipReader) moof(b []byte) error {
	if !c.sawMoov {
		return errors.New("a moof box comes before the moov box")
	}
	_, err := mp4.ReadBoxStructure(bytes.NewReader(b), func(h *mp4.ReadHandle) (any, error) {
		if err := sane(h); err != nil {
			return nil, err
		}
		switch boxPath(h) {
		case "moof":
			return h.Expand()
		case "moof/traf":
			return h.Expand(&trafInfo{})
		case "moof/traf/tfhd":
			t := h.Params[0].(*trafInfo)
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, fmt.Errorf("tfhd: %w", err)
			}
			tfhd := box.(*mp4.Tfhd)
			t.track, t.haveTfhd = tfhd.TrackID, true
			if tfhd.GetFlags()&mp4.TfhdDefaultSampleDurationPresent != 0 {
				t.defDuration, t.hasDefault = tfhd.DefaultSampleDuration, true
			}
		case "moof/traf/trun":
			t := h.Params[0].(*trafInfo)
			if !t.haveTfhd {
				return nil, errors.New("trun before tfhd")
			}
			if t.track != c.track {
				return nil, nil
			}
			def := t.defDuration
			if !t.hasDefault {
				def = c.trexDefault[t.track]
			}
			var buf bytes.Buffer
			if _, err := h.ReadData(&buf); err != nil {
				return nil, fmt.Errorf("trun: %w", err)
			}
			if err := c.trun(buf.Bytes(), def); err != nil {
				return nil, fmt.Errorf("trun: %w", err)
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("moof: %w", err)
	}
	return nil
}

// The trun flags of what each sample's entry holds.
const (
	trunDataOffset       = 0x000001
	trunFirstSampleFlags = 0x000004
	trunDuration         = 0x000100
	trunSize             = 0x000200
	trunFlags            = 0x000400
	trunCompositionTime  = 0x000800
)

// trun adds a track run's sample durations: each sample's own, or def.
// The run's sample count is checked against what the box holds and what
// a clip may list before anything is summed.
func (c *clipReader) trun(p []byte, def uint32) error {
	if len(p) < 8 {
		return errors.New("box is cut short")
	}
	flags := binary.BigEndian.Uint32(p) & 0xFFFFFF
	count := uint64(binary.BigEndian.Uint32(p[4:]))
	off := 8
	if flags&trunDataOffset != 0 {
		off += 4
	}
	if flags&trunFirstSampleFlags != 0 {
		off += 4
	}
	per := 4 * bits.OnesCount32(flags&(trunDuration|trunSize|trunFlags|trunCompositionTime))
	if off > len(p) || (per > 0 && count > uint64((len(p)-off)/per)) {
		return errors.New("its sample table runs past the box")
	}
	if c.samples += count; c.samples > maxClipSamples {
		return fmt.Errorf("more than %d samples in the fragments", maxClipSamples)
	}
	if flags&trunDuration == 0 {
		c.ticks += count * uint64(def) // count ≤ 2^20, def < 2^32
		return nil
	}
	for i := range count {
		c.ticks += uint64(binary.BigEndian.Uint32(p[off+int(i)*per:]))
	}
	return nil
}

// info is the clip's info once every box was read.
func (c *clipReader) info() (ClipInfo, error) {
	if !c.sawMoov {
		return ClipInfo{}, errors.New("not an MP4: no moov box")
	}
	if c.codec == "" {
		if c.other != "" {
			return ClipInfo{}, fmt.Errorf("%w (its video is %q)", ErrClipCodec, c.other)
		}
		return ClipInfo{}, ErrClipCodec
	}
	ticks, scale := c.ticks, c.timescale
	if ticks == 0 && c.mehd > 0 {
		ticks, scale = c.mehd, c.movieScale
	}
	if scale == 0 {
		return ClipInfo{}, errors.New("the video track has no timescale")
	}
	secs := ticks / uint64(scale)
	if secs > maxClipDuration/1000 {
		return ClipInfo{}, fmt.Errorf("the video lasts more than %d hours", maxClipDuration/3600000)
	}
	ms := secs*1000 + ticks%uint64(scale)*1000/uint64(scale)
	if c.width <= 0 || c.height <= 0 || c.width > maxClipSide || c.height > maxClipSide {
		return ClipInfo{}, fmt.Errorf("the video's picture is %dx%d; at most %d a side", c.width, c.height, maxClipSide)
	}
	return ClipInfo{Codec: c.codec, DurationMS: int64(ms), Width: c.width, Height: c.height}, nil
}

// ReadClipInfo reads a whole clip's info: what MP4Checker reads as the
// clip streams, for a clip already in memory.
func ReadClipInfo(r io.Reader) (ClipInfo, error) {
	var c MP4Checker
	if _, err := io.Copy(&c, r); err != nil {
		return ClipInfo{}, err
	}
	if err := c.Close(); err != nil {
		return ClipInfo{}, err
	}
	return c.Info(), nil
}
