package storm

import (
	"testing"

	"github.com/camvault/camvault/internal/sim/camera"
)

func TestLedgerCompare(t *testing.T) {
	ack := func(l *ledger, dev string, seq uint64, id string) {
		l.onAck(camera.Ack{DeviceID: dev, Seq: seq, ServerID: id, EventID: "e"})
	}
	for _, c := range []struct {
		name      string
		generated int64
		acks      [][2]string // seq as a string of one digit, server ID
		listed    []string
		want      tally
	}{
		{"all stored once", 3, [][2]string{{"1", "a"}, {"2", "b"}, {"3", "c"}}, []string{"c", "b", "a"},
			tally{Generated: 3, Acked: 3, Stored: 3}},
		{"retry acknowledged again with the same ID", 2, [][2]string{{"1", "a"}, {"1", "a"}, {"2", "b"}}, []string{"a", "b"},
			tally{Generated: 2, Acked: 2, Stored: 2}},
		{"never acknowledged", 3, [][2]string{{"1", "a"}, {"3", "c"}}, []string{"a", "c"},
			tally{Generated: 3, Acked: 2, Stored: 2, Lost: 1}},
		{"acknowledged, not listed", 2, [][2]string{{"1", "a"}, {"2", "b"}}, []string{"a"},
			tally{Generated: 2, Acked: 2, Stored: 1, Lost: 1}},
		{"listed twice", 2, [][2]string{{"1", "a"}, {"2", "b"}}, []string{"a", "b", "b"},
			tally{Generated: 2, Acked: 2, Stored: 2, Dups: 1}},
		{"stored but never acknowledged", 1, [][2]string{{"1", "a"}}, []string{"a", "z"},
			tally{Generated: 1, Acked: 1, Stored: 2, Dups: 1}},
		{"one event under two IDs", 1, [][2]string{{"1", "a"}, {"1", "b"}}, []string{"a", "b"},
			tally{Generated: 1, Acked: 1, Stored: 2, Dups: 1}},
		{"one event under two IDs, the second not listed", 1, [][2]string{{"1", "a"}, {"1", "b"}}, []string{"a"},
			tally{Generated: 1, Acked: 1, Stored: 1, Dups: 1}},
		{"two events acknowledged as one", 2, [][2]string{{"1", "a"}, {"2", "a"}}, []string{"a"},
			tally{Generated: 2, Acked: 2, Stored: 1, Lost: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLedger([]string{"dev1", "dev2"})
			for _, a := range c.acks {
				ack(l, "dev1", uint64(a[0][0]-'0'), a[1])
			}
			got := l.compare(map[string]int64{"dev1": c.generated}, map[string][]string{"dev1": c.listed})
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestLedgerCounts(t *testing.T) {
	l := newLedger([]string{"dev1"})
	l.onAck(camera.Ack{DeviceID: "dev1", Seq: 1, ServerID: "a"})
	l.onAck(camera.Ack{DeviceID: "dev1", Seq: 1, ServerID: "a"})
	l.onAck(camera.Ack{DeviceID: "dev1", Seq: 2, ServerID: "b"})
	l.onAck(camera.Ack{DeviceID: "other", Seq: 1, ServerID: "c"})
	if got := l.ackedCount("dev1"); got != 2 {
		t.Errorf("acked %d, want 2", got)
	}
	if l.ackedCount("other") != 0 || l.strays != 1 {
		t.Errorf("an unknown device's ack: count %d, strays %d", l.ackedCount("other"), l.strays)
	}
}
