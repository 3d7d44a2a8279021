package mqttpub

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/egress"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// worker holds one home's connection to its broker on this node, and
// publishes its news in order.
type worker struct {
	s      *Service
	homeID string
	in     chan message
	done   chan struct{}
	once   sync.Once
}

func newWorker(s *Service, homeID string) *worker {
	return &worker{s: s, homeID: homeID, in: make(chan message, s.cfg.Queue), done: make(chan struct{})}
}

// offer queues m without waiting; a full queue drops it.
func (w *worker) offer(m message) {
	select {
	case w.in <- m:
	default:
		w.s.log.Warn("mqtt: a home's queue is full; news dropped", "home", w.homeID)
	}
}

func (w *worker) stop() { w.once.Do(func() { close(w.done) }) }

// run connects, announces, publishes, reconnects with backoff, and ends
// when stopped, when ctx ends, or after Config.Idle without news.
func (w *worker) run(ctx context.Context) {
	s := w.s
	_, in, err := s.settings(ctx, w.homeID)
	if errors.Is(err, store.ErrNotFound) {
		s.mu.Lock()
		s.known[w.homeID] = knownHome{configured: false, until: s.cfg.Now().Add(s.cfg.ConfigTTL)}
		s.mu.Unlock()
		return
	}
	if err != nil {
		s.log.Warn("mqtt: read a home's broker", "home", w.homeID, "err", err)
		return
	}
	broker, err := s.check(ctx, &in)
	if err != nil {
		s.status(ctx, w.homeID, err)
		return
	}
	backoff := 5 * time.Second
	for {
		client, err := w.connect(broker, in)
		if err != nil {
			s.status(ctx, w.homeID, err)
			select {
			case <-ctx.Done():
				return
			case <-w.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = 5 * time.Second
		s.status(ctx, w.homeID, nil)
		if err := w.announce(ctx, client, in.TopicPrefix); err != nil {
			s.log.Warn("mqtt: announce a home's cameras", "home", w.homeID, "err", err)
		}
		if !w.serve(ctx, client, in.TopicPrefix) {
			client.Disconnect(250)
			return
		}
		client.Disconnect(250)
	}
}

// serve publishes news until the worker should end (false) or the
// connection broke (true: connect again).
func (w *worker) serve(ctx context.Context, client mqtt.Client, prefix string) bool {
	idle := time.NewTimer(w.s.cfg.Idle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-w.done:
			return false
		case <-idle.C:
			return false
		case m := <-w.in:
			idle.Reset(w.s.cfg.Idle)
			if err := w.publish(ctx, client, prefix, m); err != nil {
				if !client.IsConnectionOpen() {
					w.offer(m) // again, once connected
					return true
				}
				w.s.log.Warn("mqtt: publish", "home", w.homeID, "err", err)
			}
		}
	}
}

// connect opens a connection to the broker, refusing private addresses as
// it connects unless they are allowed.
func (w *worker) connect(broker string, in Settings) (mqtt.Client, error) {
	cfg := w.s.cfg
	opts := mqtt.NewClientOptions().AddBroker(broker).
		SetClientID("camvault-" + cfg.Node + "-" + w.homeID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(cfg.Timeout).SetWriteTimeout(cfg.Timeout).SetKeepAlive(60 * time.Second).
		SetDialer(&net.Dialer{Timeout: cfg.Timeout, Control: egress.Control(cfg.AllowPrivateTargets)}).
		SetOrderMatters(true)
	if in.Username != "" {
		opts.SetUsername(in.Username).SetPassword(in.Password)
	}
	if strings.HasPrefix(broker, "ssl://") {
		t := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLS != nil {
			t = cfg.TLS.Clone()
		}
		opts.SetTLSConfig(t)
	}
	client := mqtt.NewClient(opts)
	tok := client.Connect()
	if !tok.WaitTimeout(cfg.Timeout + time.Second) {
		client.Disconnect(0)
		return nil, errors.New("no answer from the broker within the timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return client, nil
}

// status records a connection's outcome for the home's admins.
func (s *Service) status(ctx context.Context, homeID string, err error) {
	msg, at := "", s.cfg.Now().UTC()
	if err != nil {
		msg, at = describe(err), time.Time{}
	}
	if serr := s.store.SetMQTTStatus(context.WithoutCancel(ctx), homeID, msg, at); serr != nil && !errors.Is(serr, store.ErrNotFound) {
		s.log.Warn("mqtt: record a broker's status", "home", homeID, "err", serr)
	}
}

// describe shortens an error to what may be shown to a home's admins.
func describe(err error) string {
	if errors.Is(err, egress.ErrPrivate) {
		return egress.ErrPrivate.Error()
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func (w *worker) pub(client mqtt.Client, topic string, retained bool, payload []byte) error {
	tok := client.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(w.s.cfg.Timeout) {
		return fmt.Errorf("publish %s: no acknowledgement within the timeout", topic)
	}
	return tok.Error()
}

// EventMessage is what {prefix}/{home}/{camera}/event carries.
type EventMessage struct {
	EventID   string    `json:"event_id"`
	Kind      string    `json:"kind"`
	StartedAt time.Time `json:"started_at"`
	HasClip   bool      `json:"has_clip"`
}

func base(prefix, homeID, deviceID string) string { return prefix + "/" + homeID + "/" + deviceID }

// publish sends one piece of news, built from the store's records of this
// home alone.
func (w *worker) publish(ctx context.Context, client mqtt.Client, prefix string, m message) error {
	switch {
	case m.presence != nil:
		if m.presence.HomeID != w.homeID {
			return nil
		}
		state := "offline"
		if m.presence.Online {
			state = "online"
		}
		return w.pub(client, base(prefix, w.homeID, m.presence.DeviceID)+"/availability", true, []byte(state))
	case m.eventID != "":
		e, err := w.s.store.EventByID(ctx, m.eventID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted since
		}
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		if e.HomeID != w.homeID {
			return nil // not this home's: never published here
		}
		b := base(prefix, w.homeID, e.DeviceID)
		body, err := json.Marshal(EventMessage{EventID: e.ID, Kind: string(e.Kind), StartedAt: e.StartedAt.UTC(), HasClip: e.ClipKey != ""})
		if err != nil {
			return err
		}
		if err := w.pub(client, b+"/event", false, body); err != nil {
			return err
		}
		if err := w.pub(client, b+"/"+string(e.Kind), false, []byte("ON")); err != nil {
			return err
		}
		jpeg, err := w.s.thumbs.ThumbnailForHome(ctx, w.homeID, e.ID, audit.IntegrationMQTT)
		if err != nil {
			return fmt.Errorf("open the event's picture: %w", err)
		}
		return w.pub(client, b+"/thumbnail", true, jpeg)
	}
	return nil
}

// haDevice is Home Assistant's device block of a discovery payload.
type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// deviceClasses are the Home Assistant binary sensor classes of the event
// kinds; a kind without one has none.
var deviceClasses = map[domain.EventKind]string{
	"motion": "motion", "person": "occupancy", "vehicle": "moving", "animal": "motion", "sound": "sound",
	"package": "presence",
}

// HAOffDelay is how long a kind's binary sensor stays on after an event.
const HAOffDelay = 30

// announce publishes Home Assistant discovery for each camera of the home
// (a camera entity showing its latest picture, a binary sensor per event
// kind) and each camera's availability, all retained.
func (w *worker) announce(ctx context.Context, client mqtt.Client, prefix string) error {
	devs, err := w.s.store.ListDevices(ctx, w.homeID)
	if err != nil {
		return fmt.Errorf("list cameras: %w", err)
	}
	dk, err := w.s.dataKey(ctx, w.homeID)
	if err != nil {
		return err
	}
	for _, d := range devs {
		if d.HomeID != w.homeID {
			continue
		}
		name := d.Model
		if raw, err := dk.Open(d.NameSealed, keys.AD("device-name", w.homeID, d.ID)); err == nil && len(raw) > 0 {
			name = string(raw)
		}
		b := base(prefix, w.homeID, d.ID)
		dev := haDevice{Identifiers: []string{"camvault_" + d.ID}, Name: name, Manufacturer: "camvault", Model: d.Model, SWVersion: d.Firmware}
		avail := b + "/availability"
		payloads := map[string]any{
			"homeassistant/camera/camvault/" + d.ID + "/config": map[string]any{
				"name": "Latest event", "unique_id": "camvault_" + d.ID + "_camera", "topic": b + "/thumbnail",
				"availability_topic": avail, "payload_available": "online", "payload_not_available": "offline", "device": dev,
			},
		}
		for _, k := range domain.EventKinds() {
			cfg := map[string]any{
				"name": strings.ToUpper(string(k)[:1]) + string(k)[1:], "unique_id": "camvault_" + d.ID + "_" + string(k),
				"state_topic": b + "/" + string(k), "payload_on": "ON", "payload_off": "OFF", "off_delay": HAOffDelay,
				"availability_topic": avail, "payload_available": "online", "payload_not_available": "offline", "device": dev,
			}
			if c, ok := deviceClasses[k]; ok {
				cfg["device_class"] = c
			}
			payloads["homeassistant/binary_sensor/camvault/"+d.ID+"_"+string(k)+"/config"] = cfg
		}
		for topic, p := range payloads {
			raw, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if err := w.pub(client, topic, true, raw); err != nil {
				return err
			}
		}
		state := "offline"
		if d.Online {
			state = "online"
		}
		if err := w.pub(client, avail, true, []byte(state)); err != nil {
			return err
		}
	}
	return nil
}
