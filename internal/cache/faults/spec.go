package faults

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Spec says which faults to inject and how often. Rates are probabilities
// per operation, from 0 to 1.
//
// The text form, for tests and `camvault storm --cache-faults`, is a comma
// separated list of name=value, e.g.
//
//	swap=1.0,stale=0.3,corrupt=0.1,drop=0.2,delay=5ms,redis-crossreply=0.5
//
// swap, stale, corrupt and drop are rates for the backend wrapper (Wrap);
// delay is the most a backend operation is delayed (uniformly from 0);
// redis-crossreply is the rate for the Redis proxy (ListenCrossReply);
// seed makes the choices reproducible (0: random); history is how many
// recent writes the wrapper keeps to swap and replay (default 1024).
type Spec struct {
	Swap       float64       // Get returns another key's stored value
	Stale      float64       // Get returns an older value written for the key
	Corrupt    float64       // Get returns altered bytes
	Drop       float64       // Set and Delete report success and do nothing
	Delay      time.Duration // each operation waits up to this long
	CrossReply float64       // the proxy hands a reply to another connection
	Seed       uint64
	History    int
}

// ParseSpec reads the text form. The empty string is no faults.
func ParseSpec(s string) (Spec, error) {
	var spec Spec
	if strings.TrimSpace(s) == "" {
		return spec, nil
	}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return Spec{}, fmt.Errorf("cache faults: %q is not name=value", item)
		}
		if seen[name] {
			return Spec{}, fmt.Errorf("cache faults: %s given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "swap":
			spec.Swap, err = parseRate(value)
		case "stale":
			spec.Stale, err = parseRate(value)
		case "corrupt":
			spec.Corrupt, err = parseRate(value)
		case "drop":
			spec.Drop, err = parseRate(value)
		case "redis-crossreply":
			spec.CrossReply, err = parseRate(value)
		case "delay":
			spec.Delay, err = time.ParseDuration(value)
			if err == nil && (spec.Delay < 0 || spec.Delay > time.Minute) {
				err = fmt.Errorf("%v is not between 0 and 1m", spec.Delay)
			}
		case "seed":
			spec.Seed, err = strconv.ParseUint(value, 10, 64)
		case "history":
			var n uint64
			n, err = strconv.ParseUint(value, 10, 31)
			if err == nil && (n == 0 || n > 1<<20) {
				err = fmt.Errorf("%d is not between 1 and %d", n, 1<<20)
			}
			spec.History = int(n)
		default:
			return Spec{}, fmt.Errorf("cache faults: unknown fault %q (want swap, stale, corrupt, drop, delay, redis-crossreply, seed, history)", name)
		}
		if err != nil {
			return Spec{}, fmt.Errorf("cache faults: %s: %w", name, err)
		}
	}
	return spec, nil
}

func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, strconv.ErrSyntax)
	}
	if math.IsNaN(r) || r < 0 || r > 1 {
		return 0, fmt.Errorf("rate %q is not between 0 and 1", s)
	}
	return r, nil
}

// String is the text form; ParseSpec(s.String()) == s.
func (s Spec) String() string {
	var items []string
	rate := func(name string, r float64) {
		if r != 0 {
			items = append(items, name+"="+strconv.FormatFloat(r, 'g', -1, 64))
		}
	}
	rate("swap", s.Swap)
	rate("stale", s.Stale)
	rate("corrupt", s.Corrupt)
	rate("drop", s.Drop)
	if s.Delay != 0 {
		items = append(items, "delay="+s.Delay.String())
	}
	rate("redis-crossreply", s.CrossReply)
	if s.Seed != 0 {
		items = append(items, "seed="+strconv.FormatUint(s.Seed, 10))
	}
	if s.History != 0 {
		items = append(items, "history="+strconv.Itoa(s.History))
	}
	return strings.Join(items, ",")
}
