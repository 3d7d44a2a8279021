package live

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
)

// mapCache is a fast-start cache in a map.
type mapCache map[string]struct {
	v       []byte
	version uint64
}

func (m mapCache) Get(_ context.Context, k cache.Key, _ string) ([]byte, uint64, bool, error) {
	e, ok := m[k.Encoded()]
	return e.v, e.version, ok, nil
}

func (m mapCache) Put(_ context.Context, k cache.Key, _ string, version uint64, v []byte) error {
	m[k.Encoded()] = struct {
		v       []byte
		version uint64
	}{v, version}
	return nil
}

func (m mapCache) Delete(_ context.Context, k cache.Key, _ string) error {
	delete(m, k.Encoded())
	return nil
}

// fillHub is a hub of one camera over a cache holding frames first to
// last of its stream (a keyframe every gop frames).
func fillHub(t *testing.T, first, last, gop uint64) (*hub, Label) {
	t.Helper()
	dk, err := keys.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	l := Label{Home: "01HOME", Device: "01DEVICE", Epoch: 7}
	c := mapCache{}
	for seq := first; seq <= last; seq++ {
		f := Frame{Label: l, Seq: seq, PTS: time.Duration(seq) * time.Second / 15, Keyframe: seq%gop == 0, AU: []byte{0, 0, 0, 1, 0x65, byte(seq)}}
		if err := c.Put(t.Context(), frameKey(l, seq), l.Home, l.Epoch, seal(dk, f)); err != nil {
			t.Fatal(err)
		}
	}
	s := &Service{cfg: DefaultConfig(), d: Deps{Cache: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	h := &hub{s: s, dev: domain.Device{ID: l.Device, HomeID: l.Home}, dk: dk, epoch: l.Epoch}
	return h, l
}

func gopSeqs(h *hub) []uint64 {
	var out []uint64
	for _, f := range h.gop {
		out = append(out, f.Seq)
	}
	return out
}

// TestFillOnDemandStart: a stream asked to start had no group when the
// camera's node answered, but the camera's first frames were relayed
// before the hub subscribed: the hub takes them from the cache, so its
// first viewer starts on the stream's first keyframe.
func TestFillOnDemandStart(t *testing.T) {
	h, l := fillHub(t, 0, 4, 30)
	h.fill(t.Context(), StreamState{Epoch: l.Epoch})
	if got := gopSeqs(h); len(got) != 5 || got[0] != 0 || got[4] != 4 {
		t.Fatalf("group %v, want frames 0 to 4", got)
	}
}

// TestFillReadsPastTheAnswer: frames relayed after the answer named the
// group are taken too, and a newer keyframe among them starts the group.
func TestFillReadsPastTheAnswer(t *testing.T) {
	h, l := fillHub(t, 30, 36, 30)
	h.fill(t.Context(), StreamState{Epoch: l.Epoch, First: 30, Last: 32, HasGOP: true})
	if got := gopSeqs(h); len(got) != 7 || got[0] != 30 || got[6] != 36 {
		t.Fatalf("group %v, want frames 30 to 36", got)
	}
	h, l = fillHub(t, 25, 33, 30)
	h.fill(t.Context(), StreamState{Epoch: l.Epoch, First: 25, Last: 27, HasGOP: true})
	if got := gopSeqs(h); len(got) != 0 {
		t.Fatalf("group %v from a group that does not start on a keyframe", got)
	}
	h, l = fillHub(t, 28, 33, 2)
	h.fill(t.Context(), StreamState{Epoch: l.Epoch, First: 28, Last: 28, HasGOP: true})
	if got := gopSeqs(h); len(got) != 2 || got[0] != 32 {
		t.Fatalf("group %v, want the newest group, 32 and 33", got)
	}
}

// TestFillOnDemandNothingYet: with nothing in the cache the hub waits for
// the live keyframe.
func TestFillOnDemandNothingYet(t *testing.T) {
	h, l := fillHub(t, 1, 3, 30) // frame 0 is gone: no keyframe to start on
	h.fill(t.Context(), StreamState{Epoch: l.Epoch})
	if h.gop != nil {
		t.Fatalf("group %v without a keyframe", gopSeqs(h))
	}
}

// TestLiveFramesDuringFillJoinTheGroup: frames that reach a new hub live
// while it fills its group from the cache (the camera's burst, relayed
// after the subscription) are held and appended to the filled group, not
// dropped: before, the first live frame found no group, the next one
// found a gap after the filled frames and threw the group away, and the
// first viewer waited for the next keyframe.
func TestLiveFramesDuringFillJoinTheGroup(t *testing.T) {
	h, l := fillHub(t, 0, 4, 30) // the cache has frames 0 to 4
	h.filling = true             // as start sets it before subscribing
	for seq := uint64(4); seq <= 7; seq++ {
		// 4 again (relayed to both), then 5 to 7, live during the fill.
		h.deliver(Frame{Label: l, Seq: seq, PTS: time.Duration(seq) * time.Second / 15, AU: []byte{0, 0, 0, 1, 0x41, byte(seq)}})
	}
	h.fill(t.Context(), StreamState{Epoch: l.Epoch})
	if got := gopSeqs(h); len(got) != 8 || got[0] != 0 || got[7] != 7 {
		t.Fatalf("group %v, want frames 0 to 7", got)
	}
	if h.filling || h.pending != nil {
		t.Fatal("the fill left frames held")
	}
	// From now on live frames go to the group directly.
	h.deliver(Frame{Label: l, Seq: 8, AU: []byte{0, 0, 0, 1, 0x41, 8}})
	if got := gopSeqs(h); len(got) != 9 {
		t.Fatalf("group after the fill %v, want frames 0 to 8", got)
	}
}
