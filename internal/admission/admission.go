// Package admission keeps device traffic within what the server can take
// (invariant 8): past the limits a request is refused at once
// with 503 and a jittered Retry-After, so overload slows cameras down and
// never piles work up inside the server.
package admission

import (
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
	UploadsInFlight   int // event uploads being received at once
}

// DefaultConfig suits one node on a small machine.
func DefaultConfig() Config {
	return Config{ConnectsPerSecond: 5000, ConnectBurst: 1000, UploadsPerSecond: 1000, UploadBurst: 200, UploadsInFlight: 64}
}

// Controller admits or refuses device work.
type Controller struct {
	connects *rate.Limiter
	uploads  *rate.Limiter
	inFlight chan struct{}
	refused  func(kind string) // counts refusals by kind
}

// New returns a controller; refused is called for each refusal.
func New(cfg Config, refused func(kind string)) *Controller {
	return &Controller{
		connects: rate.NewLimiter(rate.Limit(cfg.ConnectsPerSecond), max(1, cfg.ConnectBurst)),
		uploads:  rate.NewLimiter(rate.Limit(cfg.UploadsPerSecond), max(1, cfg.UploadBurst)),
		inFlight: make(chan struct{}, max(1, cfg.UploadsInFlight)),
		refused:  refused,
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

// Upload admits one event upload; call the returned release when the
// upload is finished.
func (c *Controller) Upload() (release func(), err error) {
	if !c.uploads.Allow() {
		return nil, c.shed("upload_rate", "uploads")
	}
	select {
	case c.inFlight <- struct{}{}:
		return func() { <-c.inFlight }, nil
	default:
		return nil, c.shed("upload_in_flight", "uploads")
	}
}
