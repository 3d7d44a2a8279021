package storm

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"

	"github.com/camvault/camvault/internal/sim/camera"
)

// message is one MQTT message as the client hands it over.
type message struct {
	topic   string
	payload []byte
}

func (m message) Duplicate() bool   { return false }
func (m message) Qos() byte         { return 1 }
func (m message) Retained() bool    { return false }
func (m message) Topic() string     { return m.topic }
func (m message) MessageID() uint16 { return 0 }
func (m message) Payload() []byte   { return m.payload }
func (m message) Ack()              {}

// The MQTT reader must count as foreign whatever a household's broker
// gets of another household: a camera of another home under its prefix,
// a picture taken by another household's camera, a discovery entry that
// points one household's camera at another's topics.
func TestMQTTReceiverCountsOtherHouseholds(t *testing.T) {
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	accts := []*account{
		{index: 0, home: "homeA", devices: map[string]bool{"camA": true}},
		{index: 1, home: "homeB", devices: map[string]bool{"camB": true}},
	}
	m := &mqttReceiver{prefix: "cvstorm/run", accts: accts, owner: map[string]int{"camA": 0, "camB": 1}}
	m.key.Store(key)
	picture := func(dev, home string) []byte {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
			t.Fatal(err)
		}
		seg, err := camera.Watermark(key, dev, home, 1)
		if err != nil {
			t.Fatal(err)
		}
		out, err := camera.InsertWatermark(buf.Bytes(), seg)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	discovery := func(dev, topicBase string) []byte {
		return fmt.Appendf(nil, `{"unique_id":"camvault_%s","topic":"%s/thumbnail","availability_topic":"%s/availability"}`, dev, topicBase, topicBase)
	}
	for _, c := range []struct {
		name    string
		msg     message
		foreign bool
	}{
		{"own event", message{"cvstorm/run/h0/homeA/camA/event", []byte(`{"event_id":"e1"}`)}, false},
		{"own picture", message{"cvstorm/run/h0/homeA/camA/thumbnail", picture("camA", "homeA")}, false},
		{"own discovery", message{"homeassistant/camera/camvault/camA/config", discovery("camA", "cvstorm/run/h0/homeA/camA")}, false},
		{"another run's camera", message{"homeassistant/camera/camvault/camZ/config", discovery("camZ", "elsewhere")}, false},
		{"another home under its prefix", message{"cvstorm/run/h0/homeB/camB/event", []byte(`{}`)}, true},
		{"another home's camera under its home", message{"cvstorm/run/h0/homeA/camB/motion", []byte("ON")}, true},
		{"another household's picture", message{"cvstorm/run/h0/homeA/camA/thumbnail", picture("camB", "homeB")}, true},
		{"an unmarked picture", message{"cvstorm/run/h1/homeB/camB/thumbnail", []byte("not a jpeg")}, true},
		{"discovery pointing at another household", message{"homeassistant/binary_sensor/camvault/camA_motion/config", discovery("camA", "cvstorm/run/h1/homeB/camB")}, true},
		{"an unknown household", message{"cvstorm/run/h7/homeA/camA/event", []byte(`{}`)}, true},
	} {
		before := m.foreign.Load()
		m.receive(nil, c.msg)
		if got := m.foreign.Load() > before; got != c.foreign {
			t.Errorf("%s: counted foreign = %v, want %v", c.name, got, c.foreign)
		}
	}
	if m.pictures.Load() != 3 {
		t.Errorf("pictures checked = %d, want 3", m.pictures.Load())
	}
}
