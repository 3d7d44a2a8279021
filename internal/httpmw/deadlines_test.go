package httpmw_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/httpmw"
)

// tight deadlines, so the tests wait little: 200 ms to start, then at
// least 2 KB/s.
var tight = httpmw.Deadlines{BodyGrace: 200 * time.Millisecond, MinBodyRate: 2000, MaxBody: 5 * time.Second, WriteIdle: 300 * time.Millisecond}

// bodyServer answers with how much of the body it read and how reading
// ended, after holding the request for hold once the body is read.
func bodyServer(t *testing.T, hold time.Duration) (addr string, results <-chan string) {
	t.Helper()
	out := make(chan string, 4)
	srv := httptest.NewServer(tight.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err == nil {
			time.Sleep(hold)
		}
		res := fmt.Sprintf("read %d, err %v, ctx %v", n, err != nil, r.Context().Err() != nil)
		out <- res
		fmt.Fprint(w, res)
	})))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), out
}

// send writes a request with a body of size bytes, chunk bytes every
// every, on a raw connection.
func send(t *testing.T, addr string, size, chunk int, every time.Duration) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	go func() {
		for sent := 0; sent < size; sent += chunk {
			if _, err := c.Write([]byte(strings.Repeat("x", min(chunk, size-sent)))); err != nil {
				return
			}
			time.Sleep(every)
		}
	}()
	return c
}

// TestStalledBodyIsCutOff: a body that stops arriving, or trickles below
// the minimum rate, ends in a read error for the handler (and so frees
// whatever the request holds); one at a decent pace is read whole.
func TestStalledBodyIsCutOff(t *testing.T) {
	addr, results := bodyServer(t, 0)
	send(t, addr, 100_000, 100, time.Hour) // 100 bytes, then nothing
	if got := <-results; !strings.Contains(got, "err true") {
		t.Errorf("a stalled body: %s; want a read error", got)
	}
	send(t, addr, 100_000, 20, 100*time.Millisecond) // 200 B/s, under 2 KB/s
	if got := <-results; !strings.Contains(got, "err true") {
		t.Errorf("a body under the minimum rate: %s; want a read error", got)
	}
	send(t, addr, 20_000, 2000, 100*time.Millisecond) // 20 KB/s
	if got := <-results; got != "read 20000, err false, ctx false" {
		t.Errorf("a body at a good pace: %s; want it read whole", got)
	}
}

// TestDeadlineOutlivesBody: once the body is read, the handler may take
// longer than the body's deadlines without its request being cancelled
// (net/http's own read of the idle connection must not time out).
func TestDeadlineOutlivesBody(t *testing.T) {
	addr, results := bodyServer(t, time.Second)
	c := send(t, addr, 1000, 1000, 0)
	if got := <-results; got != "read 1000, err false, ctx false" {
		t.Fatalf("a slow handler after the body: %s", got)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("answer: %v %v", res, err)
	}
}

// TestAnswerNotTakenIsCutOff: a client that stops reading the answer
// makes the handler's writes fail instead of blocking it for ever.
func TestAnswerNotTakenIsCutOff(t *testing.T) {
	done := make(chan error, 1)
	srv := httptest.NewServer(tight.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("y", 64<<10))
		for range 4096 { // 256 MiB: far more than socket buffers hold
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- errors.New("the whole answer was written to a client that reads nothing")
	})))
	defer srv.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	if err := <-done; err == nil || strings.Contains(err.Error(), "whole answer") {
		t.Fatalf("writing to a client that reads nothing: %v; want a write error", err)
	}
}
