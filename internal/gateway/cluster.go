package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/store"
)

// Bus is what the gateway needs of the message bus between nodes.
type Bus interface {
	Publish(ctx context.Context, s bus.Subject, data []byte) error
	Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error)
	Respond(ctx context.Context, s bus.Subject, r bus.Responder) (bus.Subscription, error)
	Request(ctx context.Context, s bus.Subject, data []byte, timeout time.Duration) ([]byte, error)
}

// Subjects of the gateway. Commands go to "command.<device>", which only
// the node holding that camera's connection subscribes to; the notices go
// to every node. Every message also names its device and home in its body,
// and the receiver checks them against the camera's credential or the
// store: the subject routes, it never vouches.
const (
	subjectCommand   = "command"
	subjectConnected = "connected"
	subjectRevoked   = "revoked"
)

// remoteCommand is a command travelling to the node that holds the camera.
type remoteCommand struct {
	DeviceID string          `json:"device_id"`
	HomeID   string          `json:"home_id"`
	ID       string          `json:"id"`
	Command  string          `json:"command,omitempty"`
	Settings json.RawMessage `json:"settings,omitempty"`
	// Probe asks only whether the node holds the camera's current
	// connection; nothing is sent to the camera.
	Probe bool `json:"probe,omitempty"`
	// Live asks for the camera's live stream (Gateway.WantLive).
	Live bool `json:"live,omitempty"`
	// KeepWarm sets whether the camera is kept warm (Gateway.SetWarm).
	KeepWarm *bool `json:"keep_warm,omitempty"`
}

// commandReply is that node's answer.
type commandReply struct {
	DeviceID string `json:"device_id"`
	ID       string `json:"id"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	// Live answers a Live request.
	Live *live.StreamState `json:"live,omitempty"`
}

// deviceNotice tells every node that a camera connected somewhere (so an
// older connection elsewhere is closed) or was unpaired.
type deviceNotice struct {
	DeviceID string `json:"device_id"`
	HomeID   string `json:"home_id,omitempty"`
	Node     string `json:"node"`
	Conn     string `json:"conn,omitempty"`
	// Since is when the connection began, by the announcing node's clock.
	// Notices from different nodes may arrive in any order; the newer
	// connection wins, so a late notice about an older one closes
	// nothing. (Node clocks are assumed to agree to well within the time
	// a camera takes to reconnect.)
	Since time.Time `json:"since,omitzero"`
}

// sendRemote asks the node holding the camera's connection to deliver a
// command, and waits for it to say it did. Nobody holding it is the same
// answer as a camera offline on this node.
func (g *Gateway) sendRemote(ctx context.Context, dev domain.Device, cmdID string, cmd Command) error {
	subj, err := bus.NewSubject(subjectCommand, dev.ID)
	if err != nil {
		return err
	}
	req, err := json.Marshal(remoteCommand{DeviceID: dev.ID, HomeID: dev.HomeID, ID: cmdID, Command: cmd.Command, Settings: cmd.Settings})
	if err != nil {
		return err
	}
	raw, err := g.bus.Request(ctx, subj, req, g.cfg.CommandTimeout)
	switch {
	case errors.Is(err, bus.ErrNoResponders):
		return apperr.New(apperr.Conflict, "the camera is offline")
	case errors.Is(err, bus.ErrTimeout):
		return apperr.Wrap(err, apperr.Conflict, "the camera did not take the command")
	case err != nil:
		return err
	}
	var rep commandReply
	if err := json.Unmarshal(raw, &rep); err != nil || rep.DeviceID != dev.ID || rep.ID != cmdID {
		// An answer about another camera or command is never taken for this
		// one's.
		g.log.Error("bus: a command reply does not match its request", "device", dev.ID, "command_id", cmdID)
		return apperr.New(apperr.Conflict, "the camera did not take the command")
	}
	if !rep.OK {
		return apperr.New(apperr.Conflict, "the camera did not take the command")
	}
	return nil
}

// respond delivers commands from other nodes to c while it is the device's
// current connection here.
func (g *Gateway) respond(c *conn) bus.Responder {
	return func(ctx context.Context, data []byte) ([]byte, bool) {
		if !g.isCurrent(c) {
			return nil, false // a newer connection, here or elsewhere, answers
		}
		var rc remoteCommand
		if err := json.Unmarshal(data, &rc); err != nil {
			g.log.Warn("bus: malformed command", "device", c.device.DeviceID)
			return nil, false
		}
		fail := func(msg string) ([]byte, bool) {
			b, _ := json.Marshal(commandReply{DeviceID: c.device.DeviceID, ID: rc.ID, Error: msg})
			return b, true
		}
		// The camera and home come from the camera's credential; a command
		// naming any other is refused, whatever subject it came on.
		if rc.DeviceID != c.device.DeviceID || rc.HomeID != c.device.HomeID || !id.Valid(rc.ID) {
			g.log.Error("bus: a command names another camera than the connection it reached",
				"device", c.device.DeviceID, "named_device", rc.DeviceID)
			return fail("not this camera")
		}
		if rc.Probe {
			b, _ := json.Marshal(commandReply{DeviceID: c.device.DeviceID, ID: rc.ID, OK: true})
			return b, true
		}
		if rc.Live {
			st, err := g.wantLocal(ctx, c)
			if err != nil {
				return fail("the camera did not start streaming")
			}
			b, _ := json.Marshal(commandReply{DeviceID: c.device.DeviceID, ID: rc.ID, OK: true, Live: &st})
			return b, true
		}
		if rc.KeepWarm != nil {
			if err := g.setWarmLocal(ctx, c, *rc.KeepWarm); err != nil {
				return fail("the camera did not start streaming")
			}
			b, _ := json.Marshal(commandReply{DeviceID: c.device.DeviceID, ID: rc.ID, OK: true})
			return b, true
		}
		cmd := Command{Command: rc.Command, Settings: rc.Settings}
		if err := cmd.check(); err != nil {
			return fail("invalid command")
		}
		if err := g.write(ctx, c, deviceproto.Message{Type: deviceproto.TypeCommand, ID: rc.ID, Command: cmd.Command, Settings: cmd.Settings}); err != nil {
			return fail("the camera did not take the command")
		}
		b, _ := json.Marshal(commandReply{DeviceID: c.device.DeviceID, ID: rc.ID, OK: true})
		return b, true
	}
}

// heldElsewhere reports whether another node holds a current connection of
// c's camera, asking over the bus once c no longer answers for it. A
// connection ending on this node must not mark the camera offline when it
// has already connected to another node (whose notice may still be on its
// way here). When the answer is unknown (no bus), it reports false and
// the camera is marked offline, as on one node.
func (g *Gateway) heldElsewhere(c *conn) bool {
	subj, err := bus.NewSubject(subjectCommand, c.device.DeviceID)
	if err != nil {
		return false
	}
	probeID := id.New()
	req, err := json.Marshal(remoteCommand{DeviceID: c.device.DeviceID, HomeID: c.device.HomeID, ID: probeID, Probe: true})
	if err != nil {
		return false
	}
	// Shutting down asks too (the camera may already be on another node),
	// until its deadline cuts the connections.
	ctx, cancel := context.WithTimeout(g.connCtx, g.cfg.WriteTimeout)
	defer cancel()
	raw, err := g.bus.Request(ctx, subj, req, probeTimeout)
	if err != nil {
		return false // ErrNoResponders: nobody holds it
	}
	var rep commandReply
	return json.Unmarshal(raw, &rep) == nil && rep.OK && rep.DeviceID == c.device.DeviceID && rep.ID == probeID
}

// probeTimeout bounds the question "does another node hold this camera?".
// A node holding it answers in a round trip; no answer is taken as no.
const probeTimeout = 2 * time.Second

func (g *Gateway) isCurrent(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[c.device.DeviceID] == c
}

// announce subscribes c to its device's commands and tells the other nodes
// the camera is connected here, so that they close any older connection
// of it without marking it offline.
func (g *Gateway) announce(ctx context.Context, c *conn) {
	subj, err := bus.NewSubject(subjectCommand, c.device.DeviceID)
	if err != nil {
		g.log.Error("bus: command subject", "device", c.device.DeviceID, "err", err)
		return
	}
	sub, err := g.bus.Respond(ctx, subj, g.respond(c))
	if err != nil {
		if ctx.Err() == nil { // else shutting down: the connection is closing anyway
			g.log.Warn("bus: commands from other nodes will not reach this camera", "device", c.device.DeviceID, "err", err)
		}
	} else {
		g.mu.Lock()
		c.commands = sub
		g.mu.Unlock()
		if !g.isCurrent(c) { // detached while subscribing
			g.unsubscribe(c)
		}
	}
	g.publish(ctx, subjectConnected, deviceNotice{DeviceID: c.device.DeviceID, HomeID: c.device.HomeID, Node: g.node, Conn: c.id, Since: c.since})
}

func (g *Gateway) unsubscribe(c *conn) {
	g.mu.Lock()
	sub := c.commands
	c.commands = nil
	g.mu.Unlock()
	if sub != nil {
		if err := sub.Unsubscribe(); err != nil {
			g.log.Warn("bus: unsubscribe", "device", c.device.DeviceID, "err", err)
		}
	}
}

func (g *Gateway) announceRevoked(ctx context.Context, deviceID string) {
	// The camera is already unpaired: a caller that gave up must not stop
	// the notice, nor wait long for it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.WriteTimeout)
	defer cancel()
	g.publish(ctx, subjectRevoked, deviceNotice{DeviceID: deviceID, Node: g.node})
}

func (g *Gateway) publish(ctx context.Context, name string, n deviceNotice) {
	subj, err := bus.NewSubject(name)
	if err == nil {
		var b []byte
		b, err = json.Marshal(n)
		if err == nil {
			err = g.bus.Publish(ctx, subj, b)
		}
	}
	if err != nil && ctx.Err() == nil {
		g.log.Warn("bus: publish", "subject", name, "device", n.DeviceID, "err", err)
	}
}

// listen hears the other nodes' notices until the returned function is
// called.
func (g *Gateway) listen(ctx context.Context) (stop func()) {
	var subs []bus.Subscription
	for name, h := range map[string]bus.Handler{subjectConnected: g.onConnected, subjectRevoked: g.onRevoked} {
		subj, err := bus.NewSubject(name)
		if err == nil {
			var sub bus.Subscription
			if sub, err = g.bus.Subscribe(ctx, subj, h); err == nil {
				subs = append(subs, sub)
				continue
			}
		}
		g.log.Error("bus: notices from other nodes will not be heard", "subject", name, "err", err)
	}
	return func() {
		for _, s := range subs {
			if err := s.Unsubscribe(); err != nil {
				g.log.Warn("bus: unsubscribe from notices", "err", err)
			}
		}
	}
}

func decodeNotice(data []byte) (deviceNotice, bool) {
	var n deviceNotice
	if json.Unmarshal(data, &n) != nil || !id.Valid(n.DeviceID) || !id.Valid(n.Node) {
		return deviceNotice{}, false
	}
	return n, true
}

// onConnected closes this node's connection of a camera that has connected
// to another node since: the newer connection wins, as on one node. The
// device is not marked offline, since it is online elsewhere.
func (g *Gateway) onConnected(_ context.Context, data []byte) {
	n, ok := decodeNotice(data)
	if !ok || n.Node == g.node {
		return
	}
	g.mu.Lock()
	c := g.conns[n.DeviceID]
	if c == nil || c.id == n.Conn || !c.since.Before(n.Since) {
		g.mu.Unlock()
		return
	}
	if c.device.HomeID != n.HomeID {
		// The notice names the camera in another home than its credential
		// says: not believed.
		g.mu.Unlock()
		g.log.Error("bus: a connection notice names another home than the camera's", "device", n.DeviceID)
		return
	}
	// Forgotten even while shutting down (which closes it then), so that
	// its end does not mark the camera offline.
	delete(g.conns, n.DeviceID)
	g.closeLater(c, deviceproto.CloseReplaced, "replaced by a newer connection of this camera")
	g.mu.Unlock()
	g.unsubscribe(c)
}

// onRevoked closes this node's connection of a camera unpaired through
// another node, once the store confirms the camera is gone: a notice alone
// never cuts a camera off.
func (g *Gateway) onRevoked(ctx context.Context, data []byte) {
	n, ok := decodeNotice(data)
	if !ok || n.Node == g.node {
		return
	}
	g.mu.Lock()
	c := g.conns[n.DeviceID]
	g.mu.Unlock()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.WriteTimeout)
	defer cancel()
	if _, err := g.store.DeviceByID(ctx, n.DeviceID); !errors.Is(err, store.ErrNotFound) {
		if err != nil {
			g.log.Warn("bus: checking an unpairing notice", "device", n.DeviceID, "err", err)
		}
		return
	}
	g.closeRevoked(n.DeviceID)
}
