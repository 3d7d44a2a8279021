package storm

import (
	"context"
	"fmt"
	"net/url"
	"sync"

	"github.com/camvault/camvault/internal/sim/camera"
)

// ledger records every acknowledgement the cameras get, to compare with
// what the server lists at the end.
type ledger struct {
	mu      sync.Mutex
	devices map[string]*deviceAcks
	strays  int64 // acks for devices storm did not pair (never expected)
}

// deviceAcks are one camera's acknowledgements.
type deviceAcks struct {
	acked     map[uint64]string // the camera's event (by seq) -> the server's ID
	conflicts []string          // further server IDs an event was acknowledged under
}

func newLedger(deviceIDs []string) *ledger {
	l := &ledger{devices: make(map[string]*deviceAcks, len(deviceIDs))}
	for _, d := range deviceIDs {
		l.devices[d] = &deviceAcks{acked: map[uint64]string{}}
	}
	return l
}

// onAck is the fleet's acknowledgement hook.
func (l *ledger) onAck(a camera.Ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.devices[a.DeviceID]
	if d == nil {
		l.strays++
		return
	}
	if prev, ok := d.acked[a.Seq]; ok {
		if prev != a.ServerID {
			d.conflicts = append(d.conflicts, a.ServerID)
		}
		return
	}
	d.acked[a.Seq] = a.ServerID
}

// ackedCount is how many distinct events of the device were acknowledged.
func (l *ledger) ackedCount(device string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.devices[device]; d != nil {
		return int64(len(d.acked))
	}
	return 0
}

// tally is the comparison of the ledger with the server's listing.
type tally struct {
	Generated int64 // events the cameras made
	Acked     int64 // distinct events acknowledged
	Stored    int64 // distinct events the owners' listings show, of storm's cameras
	Lost      int64 // generated but never acknowledged, or acknowledged but not listed
	Dups      int64 // listed beyond the distinct acknowledged events, or one event acknowledged under two IDs
}

// compare checks the ledger against listed (device -> the server IDs the
// owner's listing showed for it, repeats kept). generated gives each
// camera's count of events made.
func (l *ledger) compare(generated map[string]int64, listed map[string][]string) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t tally
	for dev, d := range l.devices {
		gen := generated[dev]
		t.Generated += gen
		t.Acked += int64(len(d.acked))
		// Never acknowledged (dropped from a full queue, or still queued).
		for seq := uint64(1); seq <= uint64(gen); seq++ {
			if _, ok := d.acked[seq]; !ok {
				t.Lost++
			}
		}
		seen := map[string]int{}
		for _, id := range listed[dev] {
			seen[id]++
		}
		t.Stored += int64(len(seen))
		claimed := map[string]bool{}
		for _, id := range d.acked {
			switch {
			case claimed[id]:
				// Two of the camera's events acknowledged as one stored
				// event: one of them is not stored.
				t.Lost++
			case seen[id] == 0:
				t.Lost++ // acknowledged, then not there
			}
			claimed[id] = true
		}
		// An event acknowledged under a second ID is a duplicate once,
		// whether or not the second one is listed.
		for _, id := range d.conflicts {
			if !claimed[id] {
				claimed[id] = true
				t.Dups++
			}
		}
		// Listed beyond the acknowledged events: repeats, and events the
		// camera never had acknowledged.
		for id, n := range seen {
			if claimed[id] {
				n--
			}
			t.Dups += int64(n)
		}
	}
	return t
}

// listedEvent is an event as the Events timeline lists it.
type listedEvent struct {
	ID       string  `json:"id"`
	HomeID   string  `json:"home_id"`
	DeviceID string  `json:"device_id"`
	ClipURL  *string `json:"clip_url"`
}

type eventPage struct {
	Events []listedEvent `json:"events"`
	Next   string        `json:"next"`
}

// listAll lists every event the account's owner can see, following next.
// Events that are not of the account's home and cameras count as foreign.
func listAll(ctx context.Context, a api, ac *account, into map[string][]string) (foreign int64, err error) {
	before := ""
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			return foreign, fmt.Errorf("list events of account %d: more than a million pages", ac.index)
		}
		path := "/api/v1/events?limit=200"
		if before != "" {
			path += "&before=" + url.QueryEscape(before)
		}
		var page eventPage
		if err := retry(ctx, 10, func() error { return a.do(ctx, "GET", path, ac.token, nil, &page, 200) }); err != nil {
			return foreign, fmt.Errorf("list events of account %d: %w", ac.index, err)
		}
		for _, e := range page.Events {
			if e.HomeID != ac.home || !ac.devices[e.DeviceID] {
				foreign++
				continue
			}
			into[e.DeviceID] = append(into[e.DeviceID], e.ID)
		}
		if page.Next == "" || len(page.Events) == 0 {
			return foreign, nil
		}
		before = page.Next
	}
}
