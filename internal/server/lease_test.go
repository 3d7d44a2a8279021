package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// leaseClock is the wall clock plus an offset a test moves, for a node's
// lease: its waits are real, and a test can jump past the lease's term.
type leaseClock struct{ off atomic.Int64 }

func (c *leaseClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *leaseClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// holdsLease reports what the node's metrics say of its lease.
func (e *env) holdsLease() bool {
	e.t.Helper()
	for l := range strings.Lines(e.adminGet("/metrics")) {
		switch strings.TrimSpace(l) {
		case "camvault_lease_held 1":
			return true
		case "camvault_lease_held 0":
			return false
		}
	}
	e.t.Fatal("the metrics do not say whether the node holds its lease")
	return false
}

// revocationsSeenAtOnce views a thumbnail on viewer, makes each change of
// grants, sessions and events on changer, and checks that the very next
// request on viewer is refused. Every view before a change is made twice,
// so what viewer keeps in memory (session, event, grant, opened
// thumbnail) is warm when the change is made.
func revocationsSeenAtOnce(t *testing.T, changer, viewer *env) {
	t.Helper()
	ann := changer.signup("ann")
	home := changer.home(ann, "Home")
	cam := changer.pairCamera(ann, home)
	up := changer.upload(cam, "lease-1", recent(3), 0)
	other := changer.upload(cam, "lease-2", recent(2), 0)
	thumb := "/api/v1/events/" + up.id + "/thumbnail"
	bob := changer.signup("bob")
	bobOnViewer := viewer.login(bob.email, bob.password)
	warm := func(tok, path string) {
		t.Helper()
		viewer.must(200, "GET", path, tok, nil)
		viewer.must(200, "GET", path, tok, nil)
	}

	// A member removed.
	changer.share(ann, home, bob, "viewer")
	warm(bobOnViewer, thumb)
	if !viewer.holdsLease() {
		t.Fatal("the viewing node holds no lease: nothing was answered from memory")
	}
	changer.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+bob.id, ann.token, nil)
	viewer.must(404, "GET", thumb, bobOnViewer, nil)
	viewer.must(404, "GET", "/api/v1/events/"+up.id, bobOnViewer, nil)

	// A viewer narrowed to another camera.
	cam2 := changer.pairCamera(ann, home)
	member := "/api/v1/homes/" + home + "/members/" + bob.id
	changer.share(ann, home, bob, "viewer")
	warm(bobOnViewer, thumb)
	changer.must(200, "PATCH", member, ann.token, map[string]any{"role": "viewer", "devices": []string{cam2.id}})
	viewer.must(404, "GET", thumb, bobOnViewer, nil)

	// A camera unpaired: its events go with it.
	cam3 := changer.pairCamera(ann, home)
	third := "/api/v1/events/" + changer.upload(cam3, "lease-3", recent(1), 0).id + "/thumbnail"
	changer.must(200, "PATCH", member, ann.token, map[string]any{"role": "viewer", "devices": []string{cam.id, cam3.id}})
	warm(bobOnViewer, thumb)
	warm(bobOnViewer, third)
	changer.must(204, "DELETE", "/api/v1/devices/"+cam3.id, ann.token, nil)
	viewer.must(404, "GET", third, bobOnViewer, nil)
	viewer.must(200, "GET", thumb, bobOnViewer, nil)

	// A session ended on the changing node.
	bobOnChanger := changer.login(bob.email, bob.password)
	warm(bobOnChanger, thumb)
	changer.must(204, "DELETE", "/api/v1/sessions/current", bobOnChanger, nil)
	viewer.must(401, "GET", thumb, bobOnChanger, nil)
	viewer.must(200, "GET", thumb, bobOnViewer, nil) // another session of the same account

	// Every session ended.
	changer.must(204, "DELETE", "/api/v1/sessions", bob.token, nil)
	viewer.must(401, "GET", thumb, bobOnViewer, nil)

	// An event deleted.
	annOnViewer := viewer.login(ann.email, ann.password)
	warm(annOnViewer, "/api/v1/events/"+other.id+"/thumbnail")
	changer.must(204, "DELETE", "/api/v1/events/"+other.id, ann.token, nil)
	viewer.must(404, "GET", "/api/v1/events/"+other.id+"/thumbnail", annOnViewer, nil)
	viewer.must(404, "GET", "/api/v1/events/"+other.id, annOnViewer, nil)
	viewer.must(200, "GET", thumb, annOnViewer, nil)
}

// TestRevocationSeenByTheNextRequest: on one node, with grants, sessions
// and events answered from memory, every revocation is refused at the
// very next request.
func TestRevocationSeenByTheNextRequest(t *testing.T) {
	e := newEnv(t)
	revocationsSeenAtOnce(t, e, e)
}

// lapse sets up a node whose lease is never renewed after its start, on
// a clock the test moves past the lease's term.
func lapse(c *leaseClock) func(*server.Options) {
	return func(o *server.Options) {
		o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
		o.Lease = lease.Config{Renew: time.Hour, Now: c.Now}
	}
}

// lapsedLeaseReadsTheStore: a change made in the database behind every
// node's back (no camvault code does that: it is how a lost change would
// look) is not seen while the viewing node's lease holds, and is seen at
// the first request after the lease lapsed, which is answered from the
// store.
func lapsedLeaseReadsTheStore(t *testing.T, e *env, c *leaseClock, raw store.Store) {
	t.Helper()
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	up := e.upload(cam, "lapse-1", recent(3), 0)
	thumb := "/api/v1/events/" + up.id + "/thumbnail"
	bob := e.signup("bob")
	e.share(ann, home, bob, "viewer")
	e.must(200, "GET", thumb, bob.token, nil)
	if !e.holdsLease() {
		t.Fatal("the node holds no lease after its start")
	}
	if err := raw.DeleteMember(t.Context(), home, bob.id); err != nil {
		t.Fatal(err)
	}
	e.must(200, "GET", thumb, bob.token, nil) // from memory: the lease holds
	c.Advance(time.Minute)
	if e.holdsLease() {
		t.Fatal("the lease holds past its term without a renewal")
	}
	e.must(404, "GET", thumb, bob.token, nil)
}

// TestLapsedLeaseReadsTheStore is lapsedLeaseReadsTheStore on one node.
func TestLapsedLeaseReadsTheStore(t *testing.T) {
	c := &leaseClock{}
	e := newEnv(t, lapse(c))
	off, err := server.OpenOffline(t.Context(), server.Config{DataDir: e.data})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	lapsedLeaseReadsTheStore(t, e, c, off.Store)
}

// TestPostgresNATSRevocationOnEveryNode runs two nodes on one PostgreSQL
// database and one NATS, both answering from memory: every revocation
// made through one is refused by the other at the very next request. A
// third node whose lease lapses reads the store.
func TestPostgresNATSRevocationOnEveryNode(t *testing.T) {
	natsURL := os.Getenv("CAMVAULT_TEST_NATS")
	if natsURL == "" || os.Getenv(pgtest.Env) == "" {
		t.Skipf("%s or CAMVAULT_TEST_NATS not set: skipping the two-node revocation test (.ci/services starts both)", pgtest.Env)
	}
	storeURL := pgtest.Database(t)
	data, dataB, dataC := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "blobs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dataB, dataC} {
		if err := os.Symlink(filepath.Join(data, "blobs"), filepath.Join(d, "blobs")); err != nil {
			t.Fatal(err)
		}
	}
	key := newMasterKey(t)
	c := newClock()
	cfg := server.Config{Store: storeURL, Bus: natsURL, MasterKey: key}
	a := newBackendEnv(t, data, c, cfg)
	b := newBackendEnv(t, dataB, c, cfg)
	revocationsSeenAtOnce(t, a, b)
	revocationsSeenAtOnce(t, b, a)

	lc := &leaseClock{}
	n := newBackendEnv(t, dataC, c, cfg, lapse(lc))
	raw, err := postgres.Open(t.Context(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	lapsedLeaseReadsTheStore(t, n, lc, raw)
}
