package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// sseMessage is one Server-Sent Events message.
type sseMessage struct {
	event, id string
	data      map[string]any
}

// sseStream reads an open event stream in the background.
type sseStream struct {
	t    *testing.T
	res  *http.Response
	msgs chan sseMessage
}

// stream opens GET /api/v1/events/stream with query as tok and wants 200.
func (e *env) stream(t *testing.T, tok, query string) *sseStream {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", e.public.URL+"/api/v1/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		res.Body.Close()
		t.Fatalf("open stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sseStream{t: t, res: res, msgs: make(chan sseMessage, 256)}
	t.Cleanup(func() { res.Body.Close() })
	go func() {
		defer close(s.msgs)
		sc := bufio.NewScanner(res.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.event != "" {
					s.msgs <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, "event: "):
				m.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				m.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m.data); err != nil {
					t.Errorf("stream data %q: %v", line, err)
				}
			}
		}
	}()
	return s
}

// next returns the next message of the given kind, skipping others, or
// fails the test when none comes within the wait (generous: nothing is
// timed here, a lost message just never comes).
func (s *sseStream) next(kind string) sseMessage {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				s.t.Fatalf("the stream ended while waiting for a %q message", kind)
			}
			if m.event == kind {
				return m
			}
		case <-deadline:
			s.t.Fatalf("no %q message", kind)
		}
	}
}

// drain returns the messages that arrived so far.
func (s *sseStream) drain() []sseMessage {
	var out []sseMessage
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return out
			}
			out = append(out, m)
		default:
			return out
		}
	}
}

// TestEventStreamOffersEachViewerOnlyTheirs: a new event reaches the open
// streams of the people who may see it, and no other household's stream,
// nor a viewer limited to another camera, nor a stream filtered to another
// kind or camera.
func TestEventStreamOffersEachViewerOnlyTheirs(t *testing.T) {
	e := newEnv(t)
	owner, limited, stranger := e.signup("owner"), e.signup("limited"), e.signup("stranger")
	home := e.home(owner, "Home")
	front, back := e.pairCamera(owner, home), e.pairCamera(owner, home)
	e.share(owner, home, limited, "viewer", back.id)
	otherHome := e.home(stranger, "Elsewhere")
	otherCam := e.pairCamera(stranger, otherHome)

	ownerAll := e.stream(t, owner.token, "")
	ownerBack := e.stream(t, owner.token, "?device="+back.id)
	ownerPerson := e.stream(t, owner.token, "?kind=person")
	limitedAll := e.stream(t, limited.token, "")
	strangerAll := e.stream(t, stranger.token, "")

	up := e.upload(front, "front-1", time.Now(), 0)
	got := ownerAll.next("event")
	if got.id != up.id || got.data["id"] != up.id || got.data["device_id"] != front.id || got.data["home_id"] != home ||
		got.data["thumbnail_url"] != "/api/v1/events/"+up.id+"/thumbnail" {
		t.Fatalf("owner's stream: %+v, want event %s", got, up.id)
	}
	// The stranger's own camera: the stranger hears it, and only it.
	own := e.upload(otherCam, "other-1", time.Now(), 0)
	if m := strangerAll.next("event"); m.id != own.id {
		t.Fatalf("stranger's stream offered %s, want only %s", m.id, own.id)
	}
	// The back camera: the limited viewer's first event is this one, not
	// the front camera's before it.
	b := e.upload(back, "back-1", time.Now(), 0)
	if m := limitedAll.next("event"); m.id != b.id {
		t.Fatalf("limited viewer's stream offered %s first, want %s (front camera's %s must not come)", m.id, b.id, up.id)
	}
	if m := ownerBack.next("event"); m.id != b.id {
		t.Fatalf("owner's stream of the back camera offered %s, want %s", m.id, b.id)
	}
	if m := ownerAll.next("event"); m.id != b.id {
		t.Fatalf("owner's stream: %s, want %s", m.id, b.id)
	}
	// Only a person event reaches the stream filtered to persons.
	parts := []upPart{meta("front-2", time.Now(), "person"), thumbPart(testJPEG(t, ""))}
	r := e.uploadParts(front.token, parts...)
	if r.status != 201 {
		t.Fatalf("upload person event: %d %s", r.status, r.raw)
	}
	if m := ownerPerson.next("event"); m.id != r.str("id") || m.data["kind"] != "person" {
		t.Fatalf("person stream: %+v, want %s", m, r.str("id"))
	}
	// Nothing else arrived anywhere: by now every notice of the four
	// uploads was fanned out (the last one reached its stream, and one
	// goroutine fans out in order).
	for name, s := range map[string]*sseStream{"stranger": strangerAll, "limited": limitedAll, "owner's back camera": ownerBack} {
		for _, m := range s.drain() {
			if m.event == "event" {
				t.Errorf("%s's stream offered event %s it must not", name, m.id)
			}
		}
	}
}

// TestEventStreamEndsWhenAccessEnds: removing a member, and logging out,
// end their open streams at once with the reason.
func TestEventStreamEndsWhenAccessEnds(t *testing.T) {
	e := newEnv(t)
	owner, member := e.signup("owner"), e.signup("member")
	home := e.home(owner, "Home")
	e.pairCamera(owner, home)
	e.share(owner, home, member, "viewer")

	s := e.stream(t, member.token, "?home="+home)
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+member.id, owner.token, nil)
	if m := s.next("end"); m.data["reason"] != "revoked" {
		t.Fatalf("end = %+v, want reason revoked", m)
	}
	// A new stream of that home is refused like a home that does not exist.
	if r := e.call("GET", "/api/v1/events/stream?home="+home, member.token, nil); r.status != 404 || r.errCode() != "not_found" {
		t.Fatalf("stream of a home no longer shared: %d %s", r.status, r.raw)
	}

	s = e.stream(t, owner.token, "")
	e.must(204, "DELETE", "/api/v1/sessions/current", owner.token, nil)
	if m := s.next("end"); m.data["reason"] != "logged_out" {
		t.Fatalf("end after logout = %+v, want logged_out", m)
	}
}

// TestEventStreamJoiningAHomeAsksToReconnect: an unfiltered stream covers
// the homes of its viewer when opened; joining another ends it with
// homes_changed, so the client reconnects and covers that one too.
func TestEventStreamJoiningAHomeAsksToReconnect(t *testing.T) {
	e := newEnv(t)
	owner, joiner := e.signup("owner"), e.signup("joiner")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	s := e.stream(t, joiner.token, "")
	e.share(owner, home, joiner, "viewer")
	if m := s.next("end"); m.data["reason"] != "homes_changed" {
		t.Fatalf("end = %+v, want homes_changed", m)
	}
	s = e.stream(t, joiner.token, "")
	up := e.upload(cam, "after-joining", time.Now(), 0)
	if m := s.next("event"); m.id != up.id {
		t.Fatalf("stream after reconnecting: %s, want %s", m.id, up.id)
	}
}

// TestEventStreamTellsCamerasOnlineAndOffline: a camera connecting and
// leaving is told to the streams of people who may see it.
func TestEventStreamTellsCamerasOnlineAndOffline(t *testing.T) {
	e := newEnv(t)
	owner, stranger := e.signup("owner"), e.signup("stranger")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	e.home(stranger, "Elsewhere")
	s := e.stream(t, owner.token, "")
	other := e.stream(t, stranger.token, "")

	c, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	if m := s.next("device"); m.data["id"] != cam.id || m.data["online"] != true {
		t.Fatalf("device message = %+v, want %s online", m, cam.id)
	}
	c.ws.CloseNow()
	if m := s.next("device"); m.data["id"] != cam.id || m.data["online"] != false {
		t.Fatalf("device message = %+v, want %s offline", m, cam.id)
	}
	for _, m := range other.drain() {
		t.Errorf("a stranger's stream got %+v", m)
	}
}

// TestEventStreamLimits: bad filters are refused clearly; a person holds
// at most Feed.PerAccount streams at once.
func TestEventStreamLimits(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Feed.PerAccount = 2 })
	p := e.signup("p")
	home := e.home(p, "Home")
	if r := e.call("GET", "/api/v1/events/stream?kind=unicorn", p.token, nil); r.status != 400 {
		t.Fatalf("unknown kind: %d %s", r.status, r.raw)
	}
	if r := e.call("GET", "/api/v1/events/stream?device=not-an-id", p.token, nil); r.status != 404 {
		t.Fatalf("malformed device: %d %s", r.status, r.raw)
	}
	if r := e.call("GET", "/api/v1/events/stream", "", nil); r.status != 401 {
		t.Fatalf("no credential: %d %s", r.status, r.raw)
	}
	e.stream(t, p.token, "")
	e.stream(t, p.token, "?home="+home)
	if r := e.call("GET", "/api/v1/events/stream", p.token, nil); r.status != 429 || r.errCode() != "too_many" {
		t.Fatalf("third stream: %d %s", r.status, r.raw)
	}
}

// TestPostgresNATSEventStreamAcrossNodes: an event uploaded to one node
// and a camera connecting to it reach a stream open on another node of
// the same PostgreSQL and NATS; a stranger's stream there gets neither.
func TestPostgresNATSEventStreamAcrossNodes(t *testing.T) {
	natsURL := os.Getenv("CAMVAULT_TEST_NATS")
	if natsURL == "" || os.Getenv(pgtest.Env) == "" {
		t.Skipf("%s or CAMVAULT_TEST_NATS not set: skipping the two-node stream test (.ci/services starts both)", pgtest.Env)
	}
	storeURL := pgtest.Database(t)
	data, dataB := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "blobs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(data, "blobs"), filepath.Join(dataB, "blobs")); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Store: storeURL, Bus: natsURL, MasterKey: newMasterKey(t)}
	c := newClock()
	a, b := newBackendEnv(t, data, c, cfg), newBackendEnv(t, dataB, c, cfg)
	owner, stranger := a.signup("owner"), a.signup("stranger")
	home := a.home(owner, "Home")
	cam := a.pairCamera(owner, home)
	a.home(stranger, "Elsewhere")

	s := b.stream(t, owner.token, "")
	other := b.stream(t, stranger.token, "")
	if _, _, err := a.connect(t, cam); err != nil {
		t.Fatal(err)
	}
	if m := s.next("device"); m.data["id"] != cam.id || m.data["online"] != true {
		t.Fatalf("device message on the other node = %+v", m)
	}
	up := a.upload(cam, "across", time.Now(), 0)
	if m := s.next("event"); m.id != up.id {
		t.Fatalf("event on the other node = %s, want %s", m.id, up.id)
	}
	for _, m := range other.drain() {
		t.Errorf("a stranger's stream on the other node got %+v", m)
	}
}
