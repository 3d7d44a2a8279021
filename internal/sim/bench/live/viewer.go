package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/camera"
)

// frame is one access unit a viewer received, attributed by its watermark.
type frame struct {
	at       time.Time // when its fragment was read whole
	seq      uint64
	pts      int64 // capture time, 90 kHz ticks since the Unix epoch
	keyframe bool
}

// captured is when the frame was taken.
func (f frame) captured() time.Time {
	return time.Unix(f.pts/h264.Timescale, f.pts%h264.Timescale*int64(time.Second)/h264.Timescale)
}

// errForeign: a frame whose watermark does not verify, or names another
// camera than the one watched.
var errForeign = errors.New("a frame without the watched camera's watermark")

// stream is one viewer's WebSocket of fragmented MP4, camvault's
// (subprotocol camvault.live.v1, binary messages from the start) or
// go2rtc's (/api/ws, a {"type":"mse"} request first, then binary).
type stream struct {
	ws     *websocket.Conn
	key    []byte
	device string
	home   string
	buf    []byte // unparsed bytes of the fMP4 stream
	init   bool   // the init segment came
	read   bytes.Buffer
}

// dialCamvault opens a camvault MSE stream of device with a session token.
func dialCamvault(ctx context.Context, url, token string, hc *http.Client) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}, Subprotocols: []string{"camvault.live.v1"},
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(8 << 20)
	return ws, nil
}

// dialGo2rtc opens go2rtc's MSE stream of src.
func dialGo2rtc(ctx context.Context, base, src string, hc *http.Client) (*websocket.Conn, error) {
	url := "ws" + base[len("http"):] + "/api/ws?src=" + src
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(8 << 20)
	// The codecs a browser would list; go2rtc answers with its own text
	// message, then sends binary fMP4.
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"mse","value":"avc1.640029,avc1.64002A,avc1.4D401F,avc1.42E01E"}`)); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("ask go2rtc for MSE: %w", err)
	}
	return ws, nil
}

// next returns the stream's next frame. Text messages (go2rtc's answer)
// are skipped.
func (s *stream) next(ctx context.Context) (frame, error) {
	for {
		if f, ok, err := s.parse(); err != nil || ok {
			if ok {
				f.at = time.Now()
			}
			return f, err
		}
		typ, r, err := s.ws.Reader(ctx)
		if err != nil {
			return frame{}, err
		}
		s.read.Reset()
		if _, err := s.read.ReadFrom(r); err != nil {
			return frame{}, fmt.Errorf("read a message: %w", err)
		}
		if typ == websocket.MessageBinary {
			s.buf = append(s.buf, s.read.Bytes()...)
		}
	}
}

// parse takes whole top-level boxes off buf until a media data box gives
// a frame. Each fragment holds one sample, so an mdat's body is one access
// unit in AVCC form.
func (s *stream) parse() (frame, bool, error) {
	for {
		if len(s.buf) < 8 {
			return frame{}, false, nil
		}
		size := uint64(binary.BigEndian.Uint32(s.buf))
		typ := string(s.buf[4:8])
		hdr := uint64(8)
		if size == 1 {
			if len(s.buf) < 16 {
				return frame{}, false, nil
			}
			size, hdr = binary.BigEndian.Uint64(s.buf[8:]), 16
		}
		if size < hdr {
			return frame{}, false, fmt.Errorf("fmp4: box %q of size %d", typ, size)
		}
		if uint64(len(s.buf)) < size {
			return frame{}, false, nil
		}
		body := s.buf[hdr:size]
		rest := s.buf[size:]
		switch typ {
		case "moov":
			s.init = true
		case "mdat":
			if !s.init {
				return frame{}, false, errors.New("fmp4: media before the init segment")
			}
			f, err := s.frame(body)
			s.buf = s.shift(rest)
			return f, err == nil, err
		}
		s.buf = s.shift(rest)
	}
}

// shift keeps the unparsed rest at the start of the buffer.
func (s *stream) shift(rest []byte) []byte {
	n := copy(s.buf, rest)
	return s.buf[:n]
}

func (s *stream) frame(sample []byte) (frame, error) {
	nalus, err := h264.SplitAVCC(sample)
	if err != nil {
		return frame{}, fmt.Errorf("fmp4 sample: %w", err)
	}
	wm, err := camera.VerifyVideoWatermark(s.key, nalus)
	if err != nil {
		return frame{}, fmt.Errorf("%w: %w", errForeign, err)
	}
	if wm.DeviceID != s.device || wm.HomeID != s.home {
		return frame{}, fmt.Errorf("%w: device %s of home %s", errForeign, wm.DeviceID, wm.HomeID)
	}
	return frame{seq: wm.Seq, pts: wm.PTS, keyframe: h264.IsKeyframe(nalus)}, nil
}

// closeCode is the WebSocket close code err carries, -1 for none.
func closeCode(err error) int {
	return int(websocket.CloseStatus(err))
}
