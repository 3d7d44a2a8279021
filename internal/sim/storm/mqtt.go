package storm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/camvault/camvault/internal/sim/camera"
)

// mqttReceiver is the storm's Home Assistant: every household gives the
// server the same broker (--mqtt) under a topic prefix of its own, and the
// receiver reads everything the server publishes there, as a second
// household on a shared broker would. A message under one household's
// prefix about another's home or camera, a picture whose watermark is not
// of that household's camera, or a discovery entry of one household's
// camera pointing at another's topics is foreign (alerts_foreign).
// Publishing is best effort, so nothing counts as missing.
type mqttReceiver struct {
	client mqtt.Client
	broker string
	prefix string // cvstorm/RUN: household i publishes under prefix/hI
	accts  []*account
	owner  map[string]int // camera ID to its household's index
	key    atomic.Value   // []byte: the cameras' watermark key, once made

	messages atomic.Int64 // under the households' prefixes, and their discovery
	pictures atomic.Int64 // pictures whose watermark was checked
	foreign  atomic.Int64
}

// newMQTTReceiver connects to broker (mqtt://host:port) and subscribes to
// the storm's topics and Home Assistant's discovery.
func newMQTTReceiver(broker string, accts []*account) (*mqttReceiver, error) {
	run, err := randomToken(5)
	if err != nil {
		return nil, err
	}
	m := &mqttReceiver{broker: broker, prefix: "cvstorm/" + run, accts: accts, owner: map[string]int{}}
	for i, ac := range accts {
		for dev := range ac.devices {
			m.owner[dev] = i
		}
	}
	opts := mqtt.NewClientOptions().AddBroker(strings.Replace(broker, "mqtt://", "tcp://", 1)).
		SetClientID("camvault-storm-" + run).SetCleanSession(true).SetOrderMatters(false).
		SetConnectTimeout(10 * time.Second).SetAutoReconnect(true)
	m.client = mqtt.NewClient(opts)
	if tok := m.client.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("mqtt receiver: connect to %s: %v", broker, tok.Error())
	}
	for _, f := range []string{m.prefix + "/#", "homeassistant/+/camvault/#"} {
		if tok := m.client.Subscribe(f, 1, m.receive); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			m.client.Disconnect(0)
			return nil, fmt.Errorf("mqtt receiver: subscribe %s: %v", f, tok.Error())
		}
	}
	return m, nil
}

func (m *mqttReceiver) close() { m.client.Disconnect(250) }

// register gives each household's home the broker, under its own prefix.
func (m *mqttReceiver) register(ctx context.Context, api api) error {
	return parallel(ctx, len(m.accts), 4, func(ctx context.Context, i int) error {
		ac := m.accts[i]
		body := map[string]any{"url": m.broker, "topic_prefix": fmt.Sprintf("%s/h%d", m.prefix, i)}
		if err := retry(ctx, 5, func() error {
			return api.do(ctx, "PUT", "/api/v1/homes/"+ac.home+"/mqtt", ac.token, body, nil, 204)
		}); err != nil {
			return fmt.Errorf("account %d: set MQTT broker: %w", i, err)
		}
		return nil
	})
}

// receive checks one message; it runs on the client's goroutines.
func (m *mqttReceiver) receive(_ mqtt.Client, msg mqtt.Message) {
	topic, payload := msg.Topic(), msg.Payload()
	if len(payload) == 0 {
		return // a retained message cleared
	}
	if rest, ok := strings.CutPrefix(topic, "homeassistant/"); ok {
		m.discovery(rest, payload)
		return
	}
	// prefix/hI/HOME/CAMERA/LEAF
	parts := strings.Split(strings.TrimPrefix(topic, m.prefix+"/"), "/")
	m.messages.Add(1)
	i, err := strconv.Atoi(strings.TrimPrefix(parts[0], "h"))
	if len(parts) != 4 || err != nil || i < 0 || i >= len(m.accts) {
		m.foreign.Add(1) // nothing else is published under the prefix
		return
	}
	ac := m.accts[i]
	if parts[1] != ac.home || !ac.devices[parts[2]] {
		m.foreign.Add(1)
		return
	}
	if parts[3] == "thumbnail" {
		key, _ := m.key.Load().([]byte)
		if key == nil {
			return // pictures from before the watermark key was made
		}
		m.pictures.Add(1)
		if info, err := camera.VerifyWatermark(key, payload); err != nil || info.HomeID != ac.home || info.DeviceID != parts[2] {
			m.foreign.Add(1)
		}
	}
}

// discovery checks a Home Assistant discovery entry of one of the storm's
// cameras: every topic it names must be that camera's, under its
// household's prefix. Entries of cameras of other runs are not the storm's.
func (m *mqttReceiver) discovery(rest string, payload []byte) {
	// COMPONENT/camvault/OBJECT/config, OBJECT the camera's ID or ID_KIND
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return
	}
	dev, _, _ := strings.Cut(parts[2], "_")
	i, ok := m.owner[dev]
	if !ok {
		return
	}
	m.messages.Add(1)
	var cfg map[string]any
	if json.Unmarshal(payload, &cfg) != nil {
		m.foreign.Add(1)
		return
	}
	want := fmt.Sprintf("%s/h%d/%s/%s/", m.prefix, i, m.accts[i].home, dev)
	for k, v := range cfg {
		if s, isString := v.(string); isString && strings.HasSuffix(k, "topic") && !strings.HasPrefix(s, want) {
			m.foreign.Add(1)
			return
		}
	}
}
