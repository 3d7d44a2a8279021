package httpmw

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Deadlines bounds how long a client may take to send a request body and
// to take an answer, so a slow or stalled client holds a connection, an
// upload slot or a goroutine for a bounded time (invariant 13).
//
//   - A body must arrive at MinBodyRate on average after BodyGrace: the
//     read deadline before each read is start + BodyGrace + (bytes read so
//     far + 1) / MinBodyRate, never later than start + MaxBody. A stalled
//     body is cut off after BodyGrace; a camera uploading a 64 MiB clip at
//     the minimum rate still finishes within MaxBody.
//   - An answer must be taken: each write (and the headers) must go
//     through within WriteIdle of the last.
//
// WebSocket upgrades are left alone (the live stream and the device
// connection keep their own deadlines), after clearing any a previous
// request on the same connection left.
type Deadlines struct {
	BodyGrace   time.Duration
	MinBodyRate int64 // bytes per second
	MaxBody     time.Duration
	WriteIdle   time.Duration
	Now         func() time.Time // default time.Now
}

// DefaultDeadlines suit cameras on poor Wi-Fi and phones on mobile
// networks: 10 s to start, at least 16 KiB/s (a 64 MiB clip in about 70
// minutes would be too slow for any camera; MaxBody caps an upload at 10
// minutes, so the orphan sweep's hour is always longer), and 30 s for a
// client to take a piece of the answer.
func DefaultDeadlines() Deadlines {
	return Deadlines{BodyGrace: 10 * time.Second, MinBodyRate: 16 << 10, MaxBody: 10 * time.Minute, WriteIdle: 30 * time.Second}
}

// Wrap applies the deadlines to every request next serves; zero fields
// take DefaultDeadlines'.
func (d Deadlines) Wrap(next http.Handler) http.Handler {
	def := DefaultDeadlines()
	if d.BodyGrace <= 0 {
		d.BodyGrace = def.BodyGrace
	}
	if d.MinBodyRate <= 0 {
		d.MinBodyRate = def.MinBodyRate
	}
	if d.MaxBody <= 0 {
		d.MaxBody = def.MaxBody
	}
	if d.WriteIdle <= 0 {
		d.WriteIdle = def.WriteIdle
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if isUpgrade(r) {
			// Deadlines a previous request on this connection set would
			// otherwise outlive the hijack.
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			next.ServeHTTP(w, r)
			return
		}
		start := d.Now()
		dw := &deadlineWriter{ResponseWriter: w, rc: rc, idle: d.WriteIdle, now: d.Now}
		dw.extend()
		var body *rateBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &rateBody{ReadCloser: r.Body, rc: rc, d: d, start: start}
			r.Body = body
		}
		next.ServeHTTP(dw, r)
		if body != nil {
			body.leave()
		}
	})
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// rateBody sets the connection's read deadline before each read so that
// the body keeps up the minimum rate, and clears it once the body is done:
// net/http's own read of the idle connection after the body must not time
// out (that would cancel the request's context).
type rateBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	d     Deadlines
	start time.Time

	mu   sync.Mutex
	n    int64
	done bool
}

func (b *rateBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if !b.done {
		due := b.start.Add(b.d.BodyGrace + time.Duration(float64(b.n+1)/float64(b.d.MinBodyRate)*float64(time.Second)))
		if hard := b.start.Add(b.d.MaxBody); due.After(hard) {
			due = hard
		}
		_ = b.rc.SetReadDeadline(due)
	}
	b.mu.Unlock()
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		// The whole body: nothing more to pace.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		// Cut off (or broken): the deadline stays, so whatever else reads
		// the connection (net/http draining the rest) fails at once too.
		b.done = true
	}
	b.mu.Unlock()
	return n, err
}

func (b *rateBody) Close() error {
	b.leave()
	return b.ReadCloser.Close()
}

// leave is the handler done with a body it may not have read whole:
// net/http may still read the rest (to reuse the connection), at the same
// pace or not at all.
func (b *rateBody) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(b.d.Now().Add(b.d.BodyGrace))
	}
}

// deadlineWriter moves the write deadline WriteIdle ahead before the
// headers and each write.
type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	now  func() time.Time
}

func (w *deadlineWriter) extend() { _ = w.rc.SetWriteDeadline(w.now().Add(w.idle)) }

func (w *deadlineWriter) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

// Flush keeps streaming answers streaming.
func (w *deadlineWriter) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
