package demo

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestListenPortTaken: a port another program holds is either replaced by
// a free one (none was asked for) or refused with how to pick another.
func TestListenPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	var out bytes.Buffer
	ln, err := listen("", addr, "--addr", &out)
	if err != nil {
		t.Fatalf("default port taken: %v", err)
	}
	ln.Close()
	if ln.Addr().String() == addr || !strings.Contains(out.String(), addr+" is in use") || !strings.Contains(out.String(), ln.Addr().String()) {
		t.Errorf("default port taken: listened on %s, said %q", ln.Addr(), out.String())
	}

	out.Reset()
	if ln, err := listen(addr, defaultAddr, "--addr", &out); err == nil {
		ln.Close()
		t.Fatal("a port asked for and taken was not refused")
	} else if msg := err.Error(); !strings.Contains(msg, "in use") || !strings.Contains(msg, "--addr 127.0.0.1:PORT") {
		t.Errorf("a port asked for and taken: %q", msg)
	}
}
