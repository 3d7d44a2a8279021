package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadFrame(t *testing.T) {
	frames := []string{
		"+OK\r\n", "-ERR wrong\r\n", ":42\r\n", "$5\r\nhello\r\n", "$-1\r\n", "$0\r\n\r\n",
		"*-1\r\n", "*2\r\n$3\r\nGET\r\n$1\r\na\r\n", "_\r\n", ",3.14\r\n", "#t\r\n", "(123\r\n",
		"%1\r\n+key\r\n*1\r\n:1\r\n", "~2\r\n:1\r\n:2\r\n", ">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n",
		"|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n", "=7\r\ntxt:abc\r\n", "!3\r\nerr\r\n",
		"$4\r\n\r\n\r\n\r\n", // a bulk string made of CRLFs
	}
	stream := strings.Join(frames, "")
	r := bufio.NewReaderSize(strings.NewReader(stream), 16)
	for _, want := range frames {
		got, err := readFrame(r, nil)
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readFrame(r, nil); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
	for _, bad := range []string{"?x\r\n", "$5\r\nhi\r\n", "$-2\r\n", "*x\r\n", "+OK\n", "\r\n", "$2\r\nhiXX", strings.Repeat("*1\r\n", 40) + ":1\r\n"} {
		if _, err := readFrame(bufio.NewReader(strings.NewReader(bad)), nil); err == nil {
			t.Errorf("%q reads", bad)
		}
	}
}

func TestReadRequest(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("*2\r\n$3\r\nget\r\n$1\r\na\r\nPING\r\n*1\r\n$5\r\nHELLO\r\n"))
	for _, want := range []string{"GET", "PING", "HELLO"} {
		if _, name, err := readRequest(r); err != nil || name != want {
			t.Fatalf("name %q, %v; want %q", name, err, want)
		}
	}
}

// FuzzReadFrame: the reader never panics or over-allocates, and a frame it
// accepts reads back as itself.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$1\r\na\r\n"))
	f.Add([]byte("%1\r\n+key\r\n*1\r\n:1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readFrame(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, got) {
			t.Fatalf("frame %q is not a prefix of the input %q", got, in)
		}
		again, err := readFrame(bufio.NewReader(bytes.NewReader(got)), nil)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("frame %q reads back as %q, %v", got, again, err)
		}
		_ = commandName(got)
	})
}

// fakeRedis answers GET k with k itself, and everything else with +OK.
func fakeRedis(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					raw, name, err := readRequest(r)
					if err != nil {
						return
					}
					reply := "+OK\r\n"
					if name == "GET" {
						k := raw[bytes.LastIndex(raw[:len(raw)-2], []byte("\r\n"))+2 : len(raw)-2]
						reply = "$" + strconv.Itoa(len(k)) + "\r\n" + string(k) + "\r\n"
					}
					if _, err := io.WriteString(c, reply); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func dialRESP(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	var d net.Dialer
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func send(t *testing.T, c net.Conn, args ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	f, err := readFrame(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(f)
}

// TestProxyCrossesReplies: two connections' GET replies trade places;
// set-up commands are never crossed; at rate 0 nothing is.
func TestProxyCrossesReplies(t *testing.T) {
	upstream := fakeRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := ListenCrossReply(ctx, "127.0.0.1:0", upstream, ProxyOptions{Rate: 1, Wait: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, ar := dialRESP(t, p.Addr())
	b, br := dialRESP(t, p.Addr())
	send(t, a, "HELLO", "3")
	if got := recv(t, ar); got != "+OK\r\n" {
		t.Fatalf("set-up reply %q", got)
	}
	send(t, a, "GET", "key-of-a")
	send(t, b, "GET", "key-of-b")
	if got := recv(t, ar); got != "$8\r\nkey-of-b\r\n" {
		t.Fatalf("a got %q, want b's reply", got)
	}
	if got := recv(t, br); got != "$8\r\nkey-of-a\r\n" {
		t.Fatalf("b got %q, want a's reply", got)
	}
	if p.Crossed() != 2 {
		t.Fatalf("crossed %d", p.Crossed())
	}
	// A lone reply with no partner goes home after the wait.
	short, err := ListenCrossReply(ctx, "127.0.0.1:0", upstream, ProxyOptions{Rate: 1, Wait: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	l, lr := dialRESP(t, short.Addr())
	send(t, l, "GET", "alone")
	if got := recv(t, lr); got != "$5\r\nalone\r\n" {
		t.Fatalf("lone reply %q", got)
	}

	straight, err := ListenCrossReply(ctx, "127.0.0.1:0", upstream, ProxyOptions{Rate: 0, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer straight.Close()
	c, cr := dialRESP(t, straight.Addr())
	for i := range 50 {
		k := "k" + strconv.Itoa(i)
		send(t, c, "GET", k)
		if got := recv(t, cr); got != "$"+strconv.Itoa(len(k))+"\r\n"+k+"\r\n" {
			t.Fatalf("rate 0: %q for %q", got, k)
		}
	}
	if straight.Crossed() != 0 {
		t.Fatal("rate 0 crossed replies")
	}
}
