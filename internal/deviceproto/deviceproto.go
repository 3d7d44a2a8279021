// Package deviceproto is the camera-to-server protocol (docs/device-protocol.md):
// the WebSocket subprotocol, the messages both sides send, the commands and
// their settings, and the close codes. The gateway and the simulated camera
// both use it, so a change on one side that the other does not follow fails
// to compile.
package deviceproto

import (
	"bytes"
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
