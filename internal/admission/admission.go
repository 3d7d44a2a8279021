// Package admission keeps device traffic within what the server can take
// (invariant 8): past the limits a request is refused at once
// with 503 and a jittered Retry-After, so overload slows cameras down and
// never piles work up inside the server.
package admission

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/camvault/camvault/internal/apperr"
)

// Config sets the limits.
type Config struct {
	ConnectsPerSecond float64 // new device connections admitted per second
	ConnectBurst      int
	UploadsPerSecond  float64 // event uploads started per second
	UploadBurst       int
	UploadsInFlight   int // event uploads being received at once, node-wide
	// Ahead of the node-wide slots: one household's cameras, stalled or
	// hostile, can hold at most these many, so the others' uploads still
	// find slots (invariant 13).
	UploadsPerDevice int // a camera uploads one event at a time; a retry may overlap
	UploadsPerHome   int
}

// DefaultConfig suits one node on a small machine.
func DefaultConfig() Config {
	return Config{ConnectsPerSecond: 5000, ConnectBurst: 1000, UploadsPerSecond: 1000, UploadBurst: 200, UploadsInFlight: 64,
		UploadsPerDevice: 2, UploadsPerHome: 16}
}

// Controller admits or refuses device work.
type Controller struct {
	connects *rate.Limiter
	uploads  *rate.Limiter
	inFlight chan struct{}
	refused  func(kind string) // counts refusals by kind

	perDevice, perHome int
	mu                 sync.Mutex
	devices, homes     map[string]int // uploads in flight by device and by home
}

// New returns a controller; refused is called for each refusal.
func New(cfg Config, refused func(kind string)) *Controller {
	return &Controller{
		connects:  rate.NewLimiter(rate.Limit(cfg.ConnectsPerSecond), max(1, cfg.ConnectBurst)),
		uploads:   rate.NewLimiter(rate.Limit(cfg.UploadsPerSecond), max(1, cfg.UploadBurst)),
		inFlight:  make(chan struct{}, max(1, cfg.UploadsInFlight)),
		refused:   refused,
		perDevice: max(1, cfg.UploadsPerDevice),
		perHome:   max(1, cfg.UploadsPerHome),
		devices:   map[string]int{},
		homes:     map[string]int{},
	}
}

func (c *Controller) shed(kind, what string) error {
	c.refused(kind)
	e := apperr.New(apperr.Unavailable, "the server is busy with %s; retry after the time in Retry-After", what)
	e.RetryAfter = time.Second // the HTTP layer jitters it
	return e
}

// Connect admits one new device connection, or returns an Unavailable
// error to send as 503.
func (c *Controller) Connect() error {
	if !c.connects.Allow() {
		return c.shed("connect", "new connections")
	}
	return nil
}

// Upload admits one event upload of deviceID in homeID; call the
// returned release when the upload is finished. The camera's and its
// home's slots are taken before the node's, so a household that holds
// all of its own slots leaves the node's to the others.
func (c *Controller) Upload(deviceID, homeID string) (release func(), err error) {
	if !c.uploads.Allow() {
		return nil, c.shed("upload_rate", "uploads")
	}
	c.mu.Lock()
	switch {
	case c.devices[deviceID] >= c.perDevice:
		c.mu.Unlock()
		return nil, c.shed("upload_device", "this camera's uploads")
	case c.homes[homeID] >= c.perHome:
		c.mu.Unlock()
		return nil, c.shed("upload_home", "this home's uploads")
	}
	c.devices[deviceID]++
	c.homes[homeID]++
	c.mu.Unlock()
	free := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.devices[deviceID]--; c.devices[deviceID] <= 0 {
			delete(c.devices, deviceID)
		}
		if c.homes[homeID]--; c.homes[homeID] <= 0 {
			delete(c.homes, homeID)
		}
	}
	select {
	case c.inFlight <- struct{}{}:
		var once sync.Once
		return func() {
			once.Do(func() {
				<-c.inFlight
				free()
			})
		}, nil
	default:
		free()
		return nil, c.shed("upload_in_flight", "uploads")
	}
}
