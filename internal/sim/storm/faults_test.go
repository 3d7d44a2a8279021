package storm

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	f, err := ParseFaults("latency=50ms,jitter=20ms,bandwidth=1000,reset=0.01,slice=1")
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{Latency: 50 * time.Millisecond, Jitter: 20 * time.Millisecond, Bandwidth: 1000, Reset: 0.01, Slice: 1, SliceSize: 64, specPresent: true}
	if f != want {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	if !f.Enabled() {
		t.Error("faults not enabled")
	}
	// The canonical form parses back to the same faults.
	again, err := ParseFaults(f.String())
	if err != nil || again != f {
		t.Errorf("round trip of %q: %+v, %v", f.String(), again, err)
	}

	for spec, want := range map[string]Faults{
		"":                          {},
		"none":                      {specPresent: true, SliceSize: 64},
		" latency = 10ms ":          {specPresent: true, SliceSize: 64, Latency: 10 * time.Millisecond},
		"reset=1,reset_after=250ms": {specPresent: true, SliceSize: 64, Reset: 1, ResetAfter: 250 * time.Millisecond},
		"slice=0.5,slice_size=8,slice_delay=10us": {specPresent: true, SliceSize: 8, Slice: 0.5, SliceDelay: 10 * time.Microsecond},
	} {
		got, err := ParseFaults(spec)
		if err != nil || got != want {
			t.Errorf("ParseFaults(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	if f, _ := ParseFaults(""); f.Enabled() {
		t.Error("an empty SPEC enables faults")
	}
}

func TestParseFaultsRejects(t *testing.T) {
	for spec, msg := range map[string]string{
		"latency":                  "not KEY=VALUE",
		"latency=":                 "not KEY=VALUE",
		"=5ms":                     "not KEY=VALUE",
		"latency=fast":             "not a duration",
		"latency=-5ms":             "0 to 1h",
		"latency=1500us":           "whole milliseconds",
		"latency=5ms,latency=6ms":  "given twice",
		"jitter=20ms":              "larger than latency",
		"latency=10ms,jitter=20ms": "larger than latency",
		"bandwidth=0":              "at least 1",
		"bandwidth=1.5":            "invalid syntax",
		"reset=1.5":                "fraction",
		"reset=-0.1":               "fraction",
		"reset=NaN":                "fraction",
		"slice=yes":                "fraction",
		"slice_size=8":             "without slice",
		"slice=1,slice_size=0":     "1 to 1048576",
		"reset_after=1s":           "without reset",
		"loss=0.1":                 "unknown key",
	} {
		_, err := ParseFaults(spec)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseFaults(%q) = %v; want an error about %q", spec, err, msg)
		}
	}
}

func TestFaultsToxics(t *testing.T) {
	f, err := ParseFaults("latency=50ms,jitter=20ms,bandwidth=1000,reset=0.01,reset_after=2s,slice=1,slice_size=32,slice_delay=100us")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tx := range f.toxics() {
		names = append(names, tx.Name)
		switch tx.Type {
		case "latency":
			if tx.Attributes["latency"] != int64(50) || tx.Attributes["jitter"] != int64(20) || tx.Toxicity != 1 {
				t.Errorf("latency toxic %+v", tx)
			}
		case "bandwidth":
			if tx.Attributes["rate"] != int64(1000) {
				t.Errorf("bandwidth toxic %+v", tx)
			}
		case "slicer":
			if tx.Attributes["average_size"] != 32 || tx.Attributes["size_variation"] != 16 || tx.Attributes["delay"] != int64(100) || tx.Toxicity != 1 {
				t.Errorf("slicer toxic %+v", tx)
			}
		case "reset_peer":
			if tx.Stream != "downstream" || tx.Toxicity != 0.01 || tx.Attributes["timeout"] != int64(2000) {
				t.Errorf("reset toxic %+v", tx)
			}
		}
	}
	want := "latency_upstream bandwidth_upstream slicer_upstream latency_downstream bandwidth_downstream slicer_downstream reset_downstream"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("toxics %s, want %s", got, want)
	}
}

// TestProxy sends a request through the proxy with latency and slicing.
func TestProxy(t *testing.T) {
	body := strings.Repeat("camvault ", 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	defer srv.Close()
	f, err := ParseFaults("latency=30ms,slice=1,slice_size=100")
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProxy(f, srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := net.SplitHostPort(p.addr); err != nil || strings.HasSuffix(p.addr, ":0") {
		t.Fatalf("proxy address %q", p.addr)
	}
	start := time.Now()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	res, err := client.Get("http://" + p.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(got) != body {
		t.Fatalf("through the proxy: %d bytes, %v", len(got), err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("a round trip through 30 ms of latency each way took %v", d)
	}
}
