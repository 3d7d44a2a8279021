package storm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// FaultsHelp documents the --net-faults SPEC.
const FaultsHelp = `SPEC is a comma-separated list of KEY=VALUE; every client connection (cameras and viewers) then goes through an in-process fault-injecting TCP proxy (toxiproxy):
  latency=DUR      add DUR to every chunk of data, in each direction (e.g. 50ms)
  jitter=DUR       vary that latency uniformly by +-DUR
  bandwidth=KBPS   limit each direction of each connection to KBPS kilobytes per second
  reset=P          reset (TCP RST) a fraction P (0..1) of connections when the server's first bytes come back, so requests are often done but unanswered
  reset_after=DUR  wait DUR after those first bytes before the reset (default 0)
  slice=P          cut the data of a fraction P of connections into small pieces
  slice_size=N     average piece size in bytes (default 64)
  slice_delay=DUR  pause between pieces (default 0)
Example: latency=50ms,jitter=20ms,bandwidth=1000,reset=0.01,slice=1`

// Faults are network faults between the clients and the server.
type Faults struct {
	Latency     time.Duration
	Jitter      time.Duration
	Bandwidth   int64   // KB/s per direction per connection; 0: unlimited
	Reset       float64 // fraction of connections reset
	ResetAfter  time.Duration
	Slice       float64 // fraction of connections sliced
	SliceSize   int
	SliceDelay  time.Duration
	specPresent bool
}

// Enabled reports whether any fault is configured.
func (f Faults) Enabled() bool { return f.specPresent }

// String is the canonical SPEC of f.
func (f Faults) String() string {
	if !f.specPresent {
		return ""
	}
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	if f.Latency > 0 {
		add("latency", f.Latency.String())
	}
	if f.Jitter > 0 {
		add("jitter", f.Jitter.String())
	}
	if f.Bandwidth > 0 {
		add("bandwidth", strconv.FormatInt(f.Bandwidth, 10))
	}
	if f.Reset > 0 {
		add("reset", strconv.FormatFloat(f.Reset, 'g', -1, 64))
		if f.ResetAfter > 0 {
			add("reset_after", f.ResetAfter.String())
		}
	}
	if f.Slice > 0 {
		add("slice", strconv.FormatFloat(f.Slice, 'g', -1, 64))
		add("slice_size", strconv.Itoa(f.SliceSize))
		if f.SliceDelay > 0 {
			add("slice_delay", f.SliceDelay.String())
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ParseFaults reads a --net-faults SPEC (see FaultsHelp). An empty SPEC
// means no faults and no proxy; "none" means a proxy without faults.
func ParseFaults(spec string) (Faults, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Faults{}, nil
	}
	f := Faults{specPresent: true, SliceSize: 64}
	if spec == "none" {
		return f, nil
	}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(spec, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Faults{}, fmt.Errorf("net faults: %q is not KEY=VALUE", item)
		}
		if seen[key] {
			return Faults{}, fmt.Errorf("net faults: %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "latency":
			f.Latency, err = parseMillis(val)
		case "jitter":
			f.Jitter, err = parseMillis(val)
		case "reset_after":
			f.ResetAfter, err = parseMillis(val)
		case "slice_delay":
			f.SliceDelay, err = parseDuration(val)
		case "bandwidth":
			f.Bandwidth, err = strconv.ParseInt(val, 10, 64)
			if err == nil && f.Bandwidth < 1 {
				err = errors.New("must be at least 1 (KB/s)")
			}
		case "slice_size":
			f.SliceSize, err = strconv.Atoi(val)
			if err == nil && (f.SliceSize < 1 || f.SliceSize > 1<<20) {
				err = errors.New("must be 1 to 1048576 bytes")
			}
		case "reset":
			f.Reset, err = parseFraction(val)
		case "slice":
			f.Slice, err = parseFraction(val)
		default:
			return Faults{}, fmt.Errorf("net faults: unknown key %q (keys: latency, jitter, bandwidth, reset, reset_after, slice, slice_size, slice_delay)", key)
		}
		if err != nil {
			return Faults{}, fmt.Errorf("net faults: %s=%s: %w", key, val, err)
		}
	}
	if f.Jitter > 0 && f.Jitter > f.Latency {
		return Faults{}, fmt.Errorf("net faults: jitter %v is larger than latency %v", f.Jitter, f.Latency)
	}
	if seen["reset_after"] && f.Reset == 0 {
		return Faults{}, errors.New("net faults: reset_after without reset")
	}
	if (seen["slice_size"] || seen["slice_delay"]) && f.Slice == 0 {
		return Faults{}, errors.New("net faults: slice_size or slice_delay without slice")
	}
	return f, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration: %w", err)
	}
	if d < 0 || d > time.Hour {
		return 0, errors.New("must be 0 to 1h")
	}
	return d, nil
}

// parseMillis reads a duration that the proxy takes in whole milliseconds.
func parseMillis(v string) (time.Duration, error) {
	d, err := parseDuration(v)
	if err != nil {
		return 0, err
	}
	if d%time.Millisecond != 0 {
		return 0, errors.New("must be whole milliseconds")
	}
	return d, nil
}

func parseFraction(v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(p) || p < 0 || p > 1 {
		return 0, errors.New("must be a fraction from 0 to 1")
	}
	return p, nil
}

// toxic is a toxic as toxiproxy reads it.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// toxics are the proxy's toxics for f, in chain order.
func (f Faults) toxics() []toxic {
	var out []toxic
	for _, dir := range []string{"upstream", "downstream"} {
		if f.Latency > 0 || f.Jitter > 0 {
			out = append(out, toxic{Name: "latency_" + dir, Type: "latency", Stream: dir, Toxicity: 1,
				Attributes: map[string]any{"latency": f.Latency.Milliseconds(), "jitter": f.Jitter.Milliseconds()}})
		}
		if f.Bandwidth > 0 {
			out = append(out, toxic{Name: "bandwidth_" + dir, Type: "bandwidth", Stream: dir, Toxicity: 1,
				Attributes: map[string]any{"rate": f.Bandwidth}})
		}
		if f.Slice > 0 {
			out = append(out, toxic{Name: "slicer_" + dir, Type: "slicer", Stream: dir, Toxicity: f.Slice,
				Attributes: map[string]any{"average_size": f.SliceSize, "size_variation": f.SliceSize / 2,
					"delay": f.SliceDelay.Microseconds()}})
		}
	}
	if f.Reset > 0 {
		out = append(out, toxic{Name: "reset_downstream", Type: "reset_peer", Stream: "downstream", Toxicity: f.Reset,
			Attributes: map[string]any{"timeout": f.ResetAfter.Milliseconds()}})
	}
	return out
}

// faultProxy is a running toxiproxy proxy in this process.
type faultProxy struct {
	proxy *toxiproxy.Proxy
	addr  string
}

// startProxy starts a proxy on a free loopback port to upstream
// (HOST:PORT) with f's toxics.
func startProxy(f Faults, upstream string) (*faultProxy, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "camvault", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start the fault proxy: %w", err)
	}
	for _, t := range f.toxics() {
		raw, err := json.Marshal(t)
		if err != nil {
			p.Stop()
			return nil, fmt.Errorf("fault proxy: encode toxic %s: %w", t.Name, err)
		}
		if _, err := p.Toxics.AddToxicJson(bytes.NewReader(raw)); err != nil {
			p.Stop()
			return nil, fmt.Errorf("fault proxy: add toxic %s: %w", t.Name, err)
		}
	}
	p.Lock()
	addr := p.Listen
	p.Unlock()
	return &faultProxy{proxy: p, addr: addr}, nil
}

// Close stops the proxy and closes its connections.
func (p *faultProxy) Close() { p.proxy.Stop() }
