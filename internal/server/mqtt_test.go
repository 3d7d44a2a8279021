package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/server"
)

// mqttCapture subscribes to everything under some topics of a real broker
// and keeps what arrives.
type mqttCapture struct {
	t  *testing.T
	mu sync.Mutex
	m  map[string][][]byte
}

func captureMQTT(t *testing.T, broker string, filters ...string) *mqttCapture {
	t.Helper()
	c := &mqttCapture{t: t, m: map[string][][]byte{}}
	opts := mqtt.NewClientOptions().AddBroker(strings.Replace(broker, "mqtt://", "tcp://", 1)).SetClientID("camvault-test-" + id.New()).
		SetCleanSession(true)
	client := mqtt.NewClient(opts)
	if tok := client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", broker, tok.Error())
	}
	t.Cleanup(func() { client.Disconnect(100) })
	for _, f := range filters {
		tok := client.Subscribe(f, 1, func(_ mqtt.Client, msg mqtt.Message) {
			c.mu.Lock()
			c.m[msg.Topic()] = append(c.m[msg.Topic()], append([]byte(nil), msg.Payload()...))
			c.mu.Unlock()
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	return c
}

// wait returns the messages of topic once there are at least n.
func (c *mqttCapture) wait(topic string, n int) [][]byte {
	c.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		c.mu.Lock()
		got := c.m[topic]
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			var topics []string
			for k := range c.m {
				topics = append(topics, k)
			}
			c.mu.Unlock()
			c.t.Fatalf("no %d messages on %s; topics seen: %q", n, topic, topics)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *mqttCapture) all() map[string][][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][][]byte{}
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// TestMQTTPublishesToTheHomesOwnBroker, against a real broker
// (CAMVAULT_TEST_MQTT, mosquitto from .ci/services): Home Assistant
// discovery for each camera, availability, events, a kind's binary sensor
// and the latest picture arrive under the home's prefix; the picture's
// look is on the home's audit record; another home's broker prefix gets
// nothing of this home; viewers and strangers cannot set a broker, and a
// broker without TLS or on a private address is refused by default.
func TestMQTTPublishesToTheHomesOwnBroker(t *testing.T) {
	broker := os.Getenv("CAMVAULT_TEST_MQTT")
	if broker == "" {
		t.Skip("CAMVAULT_TEST_MQTT not set: skipping the MQTT test (.ci/services starts mosquitto)")
	}
	e := newEnv(t, func(o *server.Options) { o.MQTT.AllowPrivateTargets = true })
	owner, viewer, stranger := e.signup("owner"), e.signup("viewer"), e.signup("stranger")
	home := e.home(owner, "Casa Numbat")
	cam := e.pairCamera(owner, home)
	e.share(owner, home, viewer, "viewer")
	other := e.home(stranger, "Villa Dingo")
	otherCam := e.pairCamera(stranger, other)
	prefix, otherPrefix := "cvtest-"+id.New()[:8], "cvtest-"+id.New()[:8]
	capture := captureMQTT(t, broker, prefix+"/#", otherPrefix+"/#", "homeassistant/camera/camvault/#", "homeassistant/binary_sensor/camvault/#")

	settings := map[string]any{"url": broker, "topic_prefix": prefix, "username": "camvault", "password": "broker-secret-pw"}
	if r := e.call("PUT", "/api/v1/homes/"+home+"/mqtt", viewer.token, settings); r.status != 403 {
		t.Fatalf("a viewer sets the broker: %d %s", r.status, r.raw)
	}
	if r := e.call("PUT", "/api/v1/homes/"+home+"/mqtt", stranger.token, settings); r.status != 404 {
		t.Fatalf("a stranger sets the broker: %d %s", r.status, r.raw)
	}
	for _, bad := range []map[string]any{{"url": "http://example.com"}, {"url": broker, "topic_prefix": "a/#"},
		{"url": broker, "topic_prefix": "homeassistant"}, {"url": "mqtt://u:p@127.0.0.1:1883"}} {
		if r := e.call("PUT", "/api/v1/homes/"+home+"/mqtt", owner.token, bad); r.status != 400 {
			t.Errorf("settings %v: %d %s", bad, r.status, r.raw)
		}
	}
	e.must(204, "PUT", "/api/v1/homes/"+home+"/mqtt", owner.token, settings)
	e.must(204, "PUT", "/api/v1/homes/"+other+"/mqtt", stranger.token, map[string]any{"url": broker, "topic_prefix": otherPrefix})
	e.remember("broker-secret-pw")

	// Discovery, as Home Assistant's MQTT discovery documents it.
	camCfg := capture.wait("homeassistant/camera/camvault/"+cam.id+"/config", 1)[0]
	var cc map[string]any
	if err := json.Unmarshal(camCfg, &cc); err != nil {
		t.Fatal(err)
	}
	dev, _ := cc["device"].(map[string]any)
	if cc["topic"] != prefix+"/"+home+"/"+cam.id+"/thumbnail" || cc["unique_id"] == nil || cc["availability_topic"] != prefix+"/"+home+"/"+cam.id+"/availability" ||
		dev == nil || len(dev["identifiers"].([]any)) != 1 || dev["manufacturer"] != "camvault" {
		t.Fatalf("camera discovery: %s", camCfg)
	}
	classes := map[string]bool{"motion": true, "occupancy": true, "moving": true, "sound": true, "presence": true}
	for _, kind := range []string{"motion", "person", "vehicle", "animal", "package", "sound", "doorbell"} {
		raw := capture.wait("homeassistant/binary_sensor/camvault/"+cam.id+"_"+kind+"/config", 1)[0]
		var bc map[string]any
		if err := json.Unmarshal(raw, &bc); err != nil {
			t.Fatal(err)
		}
		if bc["state_topic"] != prefix+"/"+home+"/"+cam.id+"/"+kind || bc["payload_on"] != "ON" || bc["unique_id"] == nil || bc["device"] == nil {
			t.Fatalf("%s sensor discovery: %s", kind, raw)
		}
		if c, ok := bc["device_class"]; ok && !classes[c.(string)] {
			t.Fatalf("%s sensor: device_class %v is not one of Home Assistant's", kind, c)
		}
	}

	if _, _, err := e.connect(t, cam); err != nil {
		t.Fatal(err)
	}
	up := e.upload(cam, "mqtt-1", time.Now(), 0)
	capture.wait(prefix+"/"+home+"/"+cam.id+"/motion", 1)
	ev := capture.wait(prefix+"/"+home+"/"+cam.id+"/event", 1)
	if !bytes.Contains(ev[len(ev)-1], []byte(up.id)) {
		t.Fatalf("event message %s, want %s", ev[len(ev)-1], up.id)
	}
	if pic := capture.wait(prefix+"/"+home+"/"+cam.id+"/thumbnail", 1); !bytes.Equal(pic[len(pic)-1], up.thumb) {
		t.Fatalf("the picture published is not the event's (%d bytes, want %d)", len(pic[len(pic)-1]), len(up.thumb))
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		avail := capture.wait(prefix+"/"+home+"/"+cam.id+"/availability", 1)
		if string(avail[len(avail)-1]) == "online" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("availability %q", avail)
		}
		time.Sleep(20 * time.Millisecond)
	}
	audit := e.must(200, "GET", "/api/v1/homes/"+home+"/audit", owner.token, nil)
	if !strings.Contains(string(audit.raw), "MQTT broker") || !strings.Contains(string(audit.raw), up.id) {
		t.Fatalf("the picture sent to the broker is not on the audit record: %s", audit.raw)
	}
	// The stranger's own event goes to the stranger's prefix; nothing of
	// either home under the other's.
	e.upload(otherCam, "mqtt-other", time.Now(), 0)
	capture.wait(otherPrefix+"/"+other+"/"+otherCam.id+"/event", 1)
	for topic, msgs := range capture.all() {
		for _, m := range msgs {
			if strings.HasPrefix(topic, otherPrefix) && (strings.Contains(topic, home) || bytes.Contains(m, []byte(home)) || bytes.Contains(m, []byte(cam.id))) ||
				strings.HasPrefix(topic, prefix+"/") && (strings.Contains(topic, other) || bytes.Contains(m, []byte(otherCam.id))) {
				t.Errorf("a message of one home under the other's prefix: %s", topic)
			}
		}
	}

	v := e.must(200, "GET", "/api/v1/homes/"+home+"/mqtt", owner.token, nil)
	if strings.Contains(string(v.raw), "broker-secret-pw") || v.str("topic_prefix") != prefix || v.body["last_connected"] == nil {
		t.Fatalf("broker view: %s", v.raw)
	}
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/mqtt", owner.token, nil)
	if r := e.call("GET", "/api/v1/homes/"+home+"/mqtt", owner.token, nil); r.status != 404 {
		t.Fatalf("after removing the broker: %d", r.status)
	}
	e.scanAtRest()
}

// TestMQTTBrokerTargetsRefused: without --allow-private-targets a broker
// must use TLS and may not be on a private address.
func TestMQTTBrokerTargetsRefused(t *testing.T) {
	e := newEnv(t)
	owner := e.signup("owner")
	home := e.home(owner, "Casa Bilby")
	for _, u := range []string{"mqtt://93.184.215.14:1883", "mqtts://127.0.0.1:8883", "mqtts://localhost", "mqtts://[::1]", "mqtts://10.0.0.2",
		"mqtts://93.184.215.14/topic", "ws://93.184.215.14", ""} {
		if r := e.call("PUT", "/api/v1/homes/"+home+"/mqtt", owner.token, map[string]any{"url": u}); r.status != 400 {
			t.Errorf("broker %q: %d %s", u, r.status, r.raw)
		}
	}
	e.must(204, "PUT", "/api/v1/homes/"+home+"/mqtt", owner.token, map[string]any{"url": "mqtts://93.184.215.14:8883"})
}
