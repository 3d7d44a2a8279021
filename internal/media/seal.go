// Package media seals and opens media blobs (thumbnails, clips, keyframes)
// and guards the last step before their bytes leave the server.
//
// A sealed blob is a header naming whose it is, then segments:
//
//	"CVMB" | version 1 | label length (4 bytes) | label
//	segment 0 | segment 1 | ... | segment n-1
//
// The label is keys.Encode(home, device, event, kind). Each segment seals
// up to SegmentSize bytes with the home's data key, and its associated data
// is keys.AD("media", home, device, event, kind, index, last-or-more). So a
// blob opens only in the context it was sealed for (invariant 1),
// segments cannot be reordered, and a blob cut at a segment boundary does
// not open, since its new last segment was sealed as "more". A Range read
// decrypts only the segments it covers.
package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/camvault/camvault/internal/keys"
)

// SegmentSize is the plaintext size of every segment but the last.
const SegmentSize = 64 << 10

const (
	magic      = "CVMB"
	version    = 1
	sealedSize = SegmentSize + keys.Overhead
	maxLabel   = 1024
)

// Label says whose a blob is: the context it was sealed for.
type Label struct {
	Home, Device, Event string
	Kind                Kind
}

func (l Label) encode() []byte {
	return keys.Encode([]byte(l.Home), []byte(l.Device), []byte(l.Event), []byte(l.Kind))
}

func (l Label) segmentAD(i int64, last bool) []byte {
	flag := "more"
	if last {
		flag = "last"
	}
	return keys.AD("media", l.Home, l.Device, l.Event, string(l.Kind), strconv.FormatInt(i, 10), flag)
}

// ErrCorrupt is returned for a blob that is not a sealed media blob, was
// altered, or does not open with the key of the home it names.
var ErrCorrupt = errors.New("media blob does not open")

// Seal returns a reader of the sealed form of plaintext, for streaming into
// a blob store without holding the plaintext whole.
func Seal(dk keys.DataKey, l Label, plaintext io.Reader) io.Reader {
	return &sealer{dk: dk, label: l, src: bufio.NewReaderSize(plaintext, SegmentSize), out: header(l, 0), buf: make([]byte, SegmentSize)}
}

// SealBytes is Seal of a plaintext already in memory (a thumbnail): the
// same format, made in one pass into one slice, without Seal's buffers.
func SealBytes(dk keys.DataKey, l Label, plaintext []byte) []byte {
	// Every segment is full but the last, which may be empty; a plaintext
	// of whole segments ends with a full one, as Seal makes it.
	nseg := max(1, (len(plaintext)+SegmentSize-1)/SegmentSize)
	out := header(l, len(plaintext)+nseg*keys.Overhead)
	for i := range nseg {
		seg := plaintext[i*SegmentSize : min((i+1)*SegmentSize, len(plaintext))]
		out = append(out, dk.Seal(seg, l.segmentAD(int64(i), i == nseg-1))...)
	}
	return out
}

// header is a sealed blob's header, in a slice with room for more bytes.
func header(l Label, more int) []byte {
	label := l.encode()
	hdr := make([]byte, 0, 9+len(label)+more)
	hdr = append(hdr, magic...)
	hdr = append(hdr, version)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(label)))
	return append(hdr, label...)
}

type sealer struct {
	dk    keys.DataKey
	label Label
	src   *bufio.Reader
	buf   []byte
	out   []byte // sealed bytes not yet read
	index int64
	done  bool
	err   error
}

func (s *sealer) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		s.next()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// next seals the next segment into out.
func (s *sealer) next() {
	n, err := io.ReadFull(s.src, s.buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		s.err = err
		return
	}
	last := n < SegmentSize
	if !last {
		// A full segment is last only if nothing follows it.
		if _, perr := s.src.Peek(1); perr != nil {
			if !errors.Is(perr, io.EOF) {
				s.err = perr
				return
			}
			last = true
		}
	}
	s.out = s.dk.Seal(s.buf[:n], s.label.segmentAD(s.index, last))
	s.index++
	s.done = last
}

// Blob is an opened sealed blob: its label, and its plaintext by random
// access.
type Blob struct {
	Label   Label
	src     io.ReaderAt
	body    int64 // offset of segment 0
	size    int64 // plaintext size
	nseg    int64
	dk      keys.DataKey
	mu      sync.Mutex
	segIdx  int64
	segData []byte
	// whole, when not nil, is the whole plaintext, opened and
	// authenticated by Whole: the blob then reads from it, without a lock.
	whole []byte
}

// Whole opens every segment of b once and returns a blob holding the
// whole plaintext in memory, with b's label (authenticated by every
// segment it was opened from). It never changes, so one such blob may
// answer many requests at once; it is for small blobs (thumbnails) that
// are viewed again and again.
func (b *Blob) Whole() (*Blob, error) {
	if b.whole != nil {
		return b, nil
	}
	pt := make([]byte, b.size)
	if n, err := b.ReadAt(pt, 0); n != len(pt) {
		return nil, fmt.Errorf("open blob whole: %w", err)
	}
	return &Blob{Label: b.Label, size: b.size, whole: pt}, nil
}

// ReadLabel reads the label of a sealed blob without opening it, to find
// which home's key opens it.
func ReadLabel(src io.ReaderAt) (Label, int64, error) {
	var hdr [9]byte
	if _, err := src.ReadAt(hdr[:], 0); err != nil {
		return Label{}, 0, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if string(hdr[:4]) != magic || hdr[4] != version {
		return Label{}, 0, fmt.Errorf("%w: not a sealed media blob", ErrCorrupt)
	}
	n := binary.BigEndian.Uint32(hdr[5:9])
	if n > maxLabel {
		return Label{}, 0, fmt.Errorf("%w: label too long", ErrCorrupt)
	}
	raw := make([]byte, n)
	if _, err := src.ReadAt(raw, 9); err != nil {
		return Label{}, 0, fmt.Errorf("%w: label: %v", ErrCorrupt, err)
	}
	parts, ok := decodeLabel(raw)
	if !ok {
		return Label{}, 0, fmt.Errorf("%w: label", ErrCorrupt)
	}
	return Label{Home: parts[0], Device: parts[1], Event: parts[2], Kind: Kind(parts[3])}, 9 + int64(n), nil
}

func decodeLabel(b []byte) ([]string, bool) {
	parts, ok := keys.Decode(b)
	if !ok || len(parts) != 4 {
		return nil, false
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out, true
}

// Open opens a sealed blob of size bytes with the data key of the home its
// label names (keyFor is asked for it). The label is authenticated by every
// segment; Open checks the first and last segment so a blob that does not
// open, or was cut short, fails here rather than halfway through a response.
func Open(src io.ReaderAt, size int64, keyFor func(homeID string) (keys.DataKey, error)) (*Blob, error) {
	l, body, err := ReadLabel(src)
	if err != nil {
		return nil, err
	}
	dk, err := keyFor(l.Home)
	if err != nil {
		return nil, fmt.Errorf("key of home named by blob: %w", err)
	}
	rest := size - body
	if rest < keys.Overhead {
		return nil, fmt.Errorf("%w: no segments", ErrCorrupt)
	}
	nseg := (rest + sealedSize - 1) / sealedSize
	lastSealed := rest - (nseg-1)*sealedSize
	if lastSealed < keys.Overhead {
		return nil, fmt.Errorf("%w: short last segment", ErrCorrupt)
	}
	b := &Blob{Label: l, src: src, body: body, nseg: nseg, dk: dk, segIdx: -1,
		size: (nseg-1)*SegmentSize + lastSealed - keys.Overhead}
	if _, err := b.segment(nseg - 1); err != nil {
		return nil, err
	}
	if _, err := b.segment(0); err != nil {
		return nil, err
	}
	return b, nil
}

// Size is the plaintext size.
func (b *Blob) Size() int64 { return b.size }

// segment returns the plaintext of segment i, keeping the last one read.
func (b *Blob) segment(i int64) ([]byte, error) {
	if i == b.segIdx {
		return b.segData, nil
	}
	off := b.body + i*sealedSize
	n := int64(sealedSize)
	if i == b.nseg-1 {
		n = b.size - i*SegmentSize + keys.Overhead
	}
	sealed := make([]byte, n)
	if m, err := b.src.ReadAt(sealed, off); m < len(sealed) {
		return nil, fmt.Errorf("read segment %d: %w", i, err)
	}
	pt, err := b.dk.Open(sealed, b.Label.segmentAD(i, i == b.nseg-1))
	if err != nil {
		return nil, fmt.Errorf("%w: segment %d", ErrCorrupt, i)
	}
	b.segIdx, b.segData = i, pt
	return pt, nil
}

// ReadAt reads plaintext, decrypting only the segments the range covers.
func (b *Blob) ReadAt(p []byte, off int64) (int, error) {
	if b.whole != nil {
		if off < 0 {
			return 0, errors.New("negative offset")
		}
		if off >= b.size {
			return 0, io.EOF
		}
		n := copy(p, b.whole[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= b.size {
			return n, io.EOF
		}
		seg, err := b.segment(pos / SegmentSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], seg[pos%SegmentSize:])
	}
	return n, nil
}
