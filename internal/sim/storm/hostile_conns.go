package storm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceproto"
)

// stall opens one upload as camera 0 and, once the server has admitted
// it (100 Continue), sends a little of the body and then nothing (even
// connections) or a byte every 200 ms (odd ones, far below the minimum
// body rate), until the server cuts it off. An upload refused at once
// (the camera's slots are taken) waits a little and is tried again.
func (h *hostile) stall(ctx context.Context, i int) {
	h.c.stalled.Add(1)
	body := h.stallBody
	u, err := url.Parse(h.targets[i%len(h.targets)])
	if err != nil {
		h.c.unexpected.Add(1)
		return
	}
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: hostileAddr(i)}}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		h.answered(ctx, 0, err)
		_ = sleep(ctx, refusedWait)
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fmt.Fprintf(conn, "POST /api/v1/device/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		u.Host, h.cams[0].Token, h.stallType, len(body))
	rd := bufio.NewReader(conn)
	res, err := http.ReadResponse(rd, nil)
	if !h.answered(ctx, 0, err) {
		return
	}
	res.Body.Close()
	if res.StatusCode != http.StatusContinue {
		if res.StatusCode == http.StatusServiceUnavailable {
			h.c.stalledRefused.Add(1)
		} else {
			h.unexpectedAnswer("stall", res.StatusCode)
		}
		_ = sleep(ctx, stallWait)
		return
	}
	admitted := time.Now()
	if _, err := conn.Write(body[:2048]); err != nil {
		h.answered(ctx, 0, err)
		return
	}
	trickle := i%2 == 1
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = conn.SetReadDeadline(admitted.Add(stallGiveUp))
		res, err := http.ReadResponse(rd, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
		}
	}()
	sent := 2048
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			hold := time.Since(admitted)
			if ctx.Err() != nil {
				if hold > boundStalledHoldMs*time.Millisecond {
					h.c.stalledUncut.Add(1)
					h.log.Error("hostile: a stalled upload was not cut off", "held", hold)
				}
				return
			}
			if hold >= stallGiveUp {
				h.c.stalledUncut.Add(1)
				h.log.Error("hostile: a stalled upload was not cut off", "held", hold)
				return
			}
			h.c.stalledCut.Add(1)
			h.c.stalledHold.Add(float64(hold) / float64(time.Millisecond))
			return
		case <-tick.C:
			if trickle && sent < len(body) {
				if _, err := conn.Write(body[sent : sent+1]); err == nil {
					sent++
				}
			}
		}
	}
}

// commandResults keeps camera 1's device connection open and sends
// command results as large as a message may be, as fast as resultEvery
// allows, never answering anything. It returns when the connection ends;
// the caller dials again a second later.
func (h *hostile) commandResults(ctx context.Context, _ int) {
	base := h.targets[0]
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/device/connect", &websocket.DialOptions{
		HTTPClient: h.ws, HTTPHeader: http.Header{"Authorization": {"Bearer " + h.cams[1].Token}}, Subprotocols: []string{deviceproto.Subprotocol},
	})
	cancel()
	if err != nil {
		h.answered(ctx, 0, err)
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(deviceproto.MaxMessage)
	// Hello and commands are read and dropped; the reader ends the
	// connection's context when the connection ends.
	rctx, cancelRead := context.WithCancel(ctx)
	var reader sync.WaitGroup
	reader.Go(func() {
		defer cancelRead()
		for {
			if _, _, err := conn.Read(rctx); err != nil {
				return
			}
		}
	})
	defer func() {
		conn.CloseNow()
		reader.Wait()
	}()
	filler := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(rand.IntN(26))
		}
		return string(b)
	}
	f := false
	for rctx.Err() == nil {
		start := time.Now()
		msg, err := json.Marshal(deviceproto.Message{Type: deviceproto.TypeCommandResult, ID: filler(4 << 10), OK: &f,
			Error: filler(8 << 10), EventID: filler(3 << 10)})
		if err != nil {
			h.c.unexpected.Add(1)
			return
		}
		wctx, cancel := context.WithTimeout(rctx, 10*time.Second)
		err = conn.Write(wctx, websocket.MessageText, msg)
		cancel()
		if err != nil {
			h.answered(ctx, 0, fmt.Errorf("command result: %w", err))
			return
		}
		h.c.requests.Add(1)
		h.c.results.Add(1)
		h.c.resultBytes.Add(int64(len(msg)))
		if sleep(rctx, resultEvery-time.Since(start)) != nil {
			return
		}
	}
}
