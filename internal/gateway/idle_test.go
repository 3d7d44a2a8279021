package gateway_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/gateway"
)

// TestIdleConnectionHoldsNoGoroutine connects cameras that then stay
// silent, over raw TCP connections nobody reads (a client that costs this
// process no goroutine), and counts the process's goroutines with them
// connected against none. On the poller an idle camera holds none; served
// std, each holds its reader, which shows the count can tell.
func TestIdleConnectionHoldsNoGoroutine(t *testing.T) {
	const cameras = 200
	for _, tc := range []struct {
		mode string
		idle func(extra int) bool // the extra goroutines are what is expected
	}{
		{gateway.CameraWSNetpoll, func(extra int) bool { return extra < cameras/10 }},
		{gateway.CameraWSStd, func(extra int) bool { return extra >= cameras-1 }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := gateway.DefaultConfig()
			cfg.CameraWS = tc.mode
			srv := serve(t, cfg, cameras, nil)
			gw, devs, addr := srv.gw, srv.devs, srv.addr

			// One camera first, so that what the first connection starts
			// once (the poller) is in the baseline.
			first := rawCamera(t, addr, devs[0].ID)
			defer first.Close()
			waitFor(t, func() bool { return gw.Connected() == 1 })
			before := settledGoroutines()

			for _, d := range devs[1:] {
				c := rawCamera(t, addr, d.ID)
				defer c.Close()
			}
			waitFor(t, func() bool { return gw.Connected() == cameras })
			var extra int
			waitFor(t, func() bool {
				extra = runtime.NumGoroutine() - before
				return tc.idle(extra)
			})
			t.Logf("%s: %d idle cameras, %d more goroutines than with one", tc.mode, cameras-1, extra)
		})
	}
}

// settledGoroutines is the goroutine count once it has stopped falling
// (requests and upgrades that ended have left).
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// waitFor polls ok until it holds, failing the test after patience.
func waitFor(t testing.TB, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawCamera opens a camera's WebSocket by hand and reads its hello; the
// connection is then left alone.
func rawCamera(t testing.TB, addr, deviceID string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(c, "GET /connect HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\nX-Device: %s\r\n\r\n",
		addr, base64.StdEncoding.EncodeToString(key), deviceproto.Subprotocol, deviceID)
	_ = c.SetReadDeadline(time.Now().Add(patience))
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", res.Status)
	}
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		t.Fatal("hello too long")
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(br, msg); err != nil {
		t.Fatal(err)
	}
	if h[0]&0x0f != 1 || !strings.Contains(string(msg), `"hello"`) {
		t.Fatalf("first message %x %q; want the hello", h[0], msg)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}
