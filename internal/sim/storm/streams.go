package storm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// watch keeps the viewer's event stream open until ctx ends, as the web
// app's open timeline does, and checks every event it is offered: one not
// of the viewer's home and cameras is foreign. A stream cut by an outage,
// or ended by the server, is opened again after a second.
func (v *viewer) watch(ctx context.Context, client *http.Client) {
	for ctx.Err() == nil {
		if err := v.stream(ctx, client); err != nil && ctx.Err() == nil {
			v.c.streamBreaks.Add(1)
			v.log.Debug("viewer: event stream", "viewer", v.index, "err", err)
		}
		if sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// streamEvent is what the checks read of an event message.
type streamEvent struct {
	ID       string `json:"id"`
	HomeID   string `json:"home_id"`
	DeviceID string `json:"device_id"`
}

// stream reads one event stream until it ends.
func (v *viewer) stream(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, "GET", v.base+"/api/v1/events/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+v.token)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("open the event stream: status %d", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	kind := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			kind = ""
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case kind == "event" && strings.HasPrefix(line, "data: "):
			var e streamEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				v.c.foreignStream.Add(1) // unreadable: not provably the viewer's
				continue
			}
			v.c.streamEvents.Add(1)
			if e.HomeID != v.ac.home || !v.ac.devices[e.DeviceID] {
				v.c.foreignStream.Add(1)
				v.log.Error("viewer: the event stream offered another household's event", "viewer", v.index, "event", e.ID)
			}
		}
	}
	return sc.Err()
}
