package store

import (
	"context"
	"slices"

	"github.com/camvault/camvault/internal/domain"
)

// A timeline query over several homes, cameras or kinds, run as one
// statement (scope OR scope ... ORDER BY started_at DESC LIMIT n), makes
// the database gather every matching row and sort them: its cost grows
// with the events stored, 10 million of them take seconds. Split into
// streams that one index each answers in order (a home, a home and a
// kind, one camera), every stream stops after Limit rows, and merging
// the streams costs Limit rows per stream whatever is stored.
const (
	// maxDeviceStreams: a viewer limited to at most this many cameras of a
	// home is read camera by camera; beyond it, the home's stream with the
	// cameras as a filter (many cameras match most of a home's rows).
	maxDeviceStreams = 8
	// maxStreams bounds the statements one page may cost; a query that
	// would need more runs as one statement.
	maxStreams = 64
)

// SplitEventQuery splits q into queries that each read one index in
// order: one per home (per home and kind when kinds are given), one per
// camera of a limited scope. Each keeps q's cursor and limit. Both stores
// have the indexes this assumes: events by home and time, by home, kind
// and time, and by camera and time.
func SplitEventQuery(q EventQuery) []EventQuery {
	var out []EventQuery
	stream := func(sc EventScope, kinds []domain.EventKind) {
		out = append(out, EventQuery{Scopes: []EventScope{sc}, Kinds: kinds, BeforeTime: q.BeforeTime, BeforeID: q.BeforeID,
			AfterTime: q.AfterTime, AfterID: q.AfterID, Limit: q.Limit})
	}
	for _, sc := range q.Scopes {
		switch {
		case sc.Devices == nil && len(q.Kinds) > 0:
			for _, k := range q.Kinds {
				stream(sc, []domain.EventKind{k})
			}
		case sc.Devices == nil, len(sc.Devices) > maxDeviceStreams:
			stream(sc, q.Kinds)
		default: // a limited scope; none when it lists no camera
			for _, d := range sc.Devices {
				stream(EventScope{HomeID: sc.HomeID, Devices: []string{d}}, q.Kinds)
			}
		}
	}
	if len(out) > maxStreams {
		return []EventQuery{q}
	}
	return out
}

// ListSplit answers q by running each of SplitEventQuery's queries with
// list and merging what they return, newest first (oldest first when q
// reads after an event), at most q.Limit.
func ListSplit(ctx context.Context, q EventQuery, list func(context.Context, EventQuery) ([]domain.Event, error)) ([]domain.Event, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	parts := SplitEventQuery(q)
	if len(parts) == 1 {
		return list(ctx, parts[0])
	}
	var all []domain.Event
	for _, p := range parts {
		got, err := list(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	if q.Ascending() {
		slices.SortFunc(all, func(a, b domain.Event) int { return newestFirst(b, a) })
	} else {
		slices.SortFunc(all, newestFirst)
	}
	// Streams do not overlap unless q named a home, camera or kind twice.
	all = slices.CompactFunc(all, func(a, b domain.Event) bool { return a.ID == b.ID })
	return all[:min(len(all), q.Limit)], nil
}

// newestFirst orders events by (started_at, id), descending: the
// timeline's order and its cursor's.
func newestFirst(a, b domain.Event) int {
	if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
		return c
	}
	switch {
	case a.ID > b.ID:
		return -1
	case a.ID < b.ID:
		return 1
	}
	return 0
}
