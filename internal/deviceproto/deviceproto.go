// Package deviceproto is the camera-to-server protocol (docs/device-protocol.md):
// the WebSocket subprotocol, the messages both sides send, the commands and
// their settings, and the close codes. The gateway and the simulated camera
// both use it, so a change on one side that the other does not follow fails
// to compile.
package deviceproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of the device connection.
const Subprotocol = "camvault.v1"

// MaxMessage is the largest message either side accepts, in bytes.
const MaxMessage = 16 << 10

// Close codes of the protocol.
const (
	// CloseReplaced: a newer connection of the same camera took over.
	CloseReplaced websocket.StatusCode = 4000
	// CloseRevoked: the camera was unpaired; its credential is gone.
	CloseRevoked websocket.StatusCode = 4001
	// CloseProtocol: the camera sent something the protocol does not have.
	CloseProtocol websocket.StatusCode = 4002
	// CloseNoHeartbeat: nothing arrived for three heartbeat intervals.
	CloseNoHeartbeat websocket.StatusCode = 4003
	// CloseTooSlow: the camera did not read a message in time.
	CloseTooSlow websocket.StatusCode = 4004
)

// Message types.
const (
	TypeHello         = "hello"          // server to camera, first
	TypeHeartbeat     = "heartbeat"      // camera to server
	TypeCommand       = "command"        // server to camera
	TypeCommandResult = "command_result" // camera to server
)

// Commands a person may send a camera.
const (
	CommandSnapshot = "snapshot"
	CommandSettings = "settings"
)

// Message is any message of the connection, either way; each type uses
// some of the fields.
type Message struct {
	Type             string          `json:"type"`
	DeviceID         string          `json:"device_id,omitempty"`
	HomeID           string          `json:"home_id,omitempty"`
	HeartbeatSeconds int             `json:"heartbeat_seconds,omitempty"`
	ID               string          `json:"id,omitempty"`
	Command          string          `json:"command,omitempty"`
	Settings         json.RawMessage `json:"settings,omitempty"`
	OK               *bool           `json:"ok,omitempty"`
	Error            string          `json:"error,omitempty"`
	EventID          string          `json:"event_id,omitempty"`
	StreamEpoch      uint64          `json:"stream_epoch,omitempty"`
}

// Settings is the body of a settings command; nil leaves a setting as it is.
type Settings struct {
	EventIntervalSeconds *int `json:"event_interval_seconds,omitempty"`
	MotionSensitivity    *int `json:"motion_sensitivity,omitempty"`
}

// ErrSettings says what a settings body may hold.
var ErrSettings = errors.New("settings: event_interval_seconds 1 to 86400, motion_sensitivity 0 to 100")

// ParseSettings decodes and checks a settings body strictly: unknown
// fields and out-of-range values are refused with ErrSettings.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if len(raw) == 0 || dec.Decode(&s) != nil ||
		(s.EventIntervalSeconds != nil && (*s.EventIntervalSeconds < 1 || *s.EventIntervalSeconds > 86400)) ||
		(s.MotionSensitivity != nil && (*s.MotionSensitivity < 0 || *s.MotionSensitivity > 100)) {
		return Settings{}, ErrSettings
	}
	return s, nil
}

// Live video (docs/device-protocol.md, "Live video"): the server asks with
// live_start and live_stop, naming the stream epoch it chose; the camera
// answers live_start with binary frames, each a FrameHeader and one access
// unit.
const (
	TypeLiveStart = "live_start" // server to camera: stream, with this epoch
	TypeLiveStop  = "live_stop"  // server to camera: stop the stream of this epoch
)

// MaxFrame is the largest access unit a live frame may carry, in bytes.
const MaxFrame = 1 << 20

// FrameVersion is the version of the frame header this package writes.
const FrameVersion = 1

// FrameHeaderSize is the size of an encoded FrameHeader.
const FrameHeaderSize = 1 + 1 + 8 + 8 + 8

// MaxFrameMessage is the largest binary message of a connection: a header
// and the largest access unit. It is also the connection's read limit;
// text messages are still held to MaxMessage.
const MaxFrameMessage = FrameHeaderSize + MaxFrame

// Frame flags.
const (
	// FlagKeyframe: an IDR access unit with SPS and PPS before it.
	FlagKeyframe byte = 1 << 0
)

// FrameHeader starts every binary message: all big-endian.
type FrameHeader struct {
	Version byte
	Flags   byte
	Epoch   uint64 // the epoch of the live_start this frame answers
	Seq     uint64 // the frame's number in its stream, from 0
	PTS     int64  // presentation time in 90 kHz ticks since the stream began
}

// Keyframe reports whether the keyframe flag is set.
func (h FrameHeader) Keyframe() bool { return h.Flags&FlagKeyframe != 0 }

// Errors of DecodeFrame.
var (
	ErrFrameShort   = errors.New("live frame: shorter than its header")
	ErrFrameVersion = errors.New("live frame: unknown version")
	ErrFrameSize    = errors.New("live frame: access unit empty or larger than MaxFrame")
)

// EncodeFrame returns the binary message for h and an access unit.
func EncodeFrame(h FrameHeader, au []byte) []byte {
	b := make([]byte, FrameHeaderSize, FrameHeaderSize+len(au))
	b[0], b[1] = h.Version, h.Flags
	binary.BigEndian.PutUint64(b[2:], h.Epoch)
	binary.BigEndian.PutUint64(b[10:], h.Seq)
	binary.BigEndian.PutUint64(b[18:], uint64(h.PTS))
	return append(b, au...)
}

// DecodeFrame splits a binary message into its header and access unit
// (a view of b). Unknown flag bits are refused with the version: a frame
// this side cannot fully understand is not guessed at.
func DecodeFrame(b []byte) (FrameHeader, []byte, error) {
	if len(b) < FrameHeaderSize {
		return FrameHeader{}, nil, ErrFrameShort
	}
	h := FrameHeader{Version: b[0], Flags: b[1], Epoch: binary.BigEndian.Uint64(b[2:]),
		Seq: binary.BigEndian.Uint64(b[10:]), PTS: int64(binary.BigEndian.Uint64(b[18:]))}
	if h.Version != FrameVersion || h.Flags&^FlagKeyframe != 0 {
		return FrameHeader{}, nil, ErrFrameVersion
	}
	au := b[FrameHeaderSize:]
	if len(au) == 0 || len(au) > MaxFrame {
		return FrameHeader{}, nil, ErrFrameSize
	}
	return h, au, nil
}
