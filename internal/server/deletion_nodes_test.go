package server_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// TestDeletionOnEveryNodeOverS3 runs two nodes on one PostgreSQL
// database, one S3 bucket and one NATS. A home's media viewed on node b
// leaves its unwrapped key in b's memory; deleting the account on node a
// takes it out of b's memory before the deletion is answered, and b
// refuses the home's media and camera at once. Once the blobs are
// removed, the bucket holds nothing of the home, in the clear or not, and
// nothing left in the database opens a ciphertext copied before.
func TestDeletionOnEveryNodeOverS3(t *testing.T) {
	natsURL := os.Getenv("CAMVAULT_TEST_NATS")
	if natsURL == "" || os.Getenv(pgtest.Env) == "" {
		t.Skipf("%s or CAMVAULT_TEST_NATS not set: skipping the two-node deletion test (.ci/services starts both)", pgtest.Env)
	}
	storeURL := pgtest.Database(t)
	blobsURL, bucket := s3Target(t)
	key := newMasterKey(t)
	c := newClock()
	cfg := server.Config{Store: storeURL, Bus: natsURL, Blobs: blobsURL, MasterKey: key}
	a := newBackendEnv(t, t.TempDir(), c, cfg)
	b := newBackendEnv(t, t.TempDir(), c, cfg)

	ann, bob := a.signup("ann"), a.signup("bob")
	home := a.home(ann, "Ann's flat")
	cam := a.pairCamera(ann, home)
	u := a.upload(cam, "ev-1", c.Now(), 120<<10)
	bobs := a.home(bob, "Bob's house")
	bobCam := a.pairCamera(bob, bobs)
	bu := a.upload(bobCam, "ev-b", c.Now(), 0)
	annB := b.login(ann.email, ann.password)
	b.must(200, "GET", "/api/v1/events/"+u.id+"/thumbnail", annB, nil)
	b.must(200, "GET", "/api/v1/events/"+u.id+"/clip", annB, nil)
	b.must(200, "GET", "/api/v1/events/"+bu.id+"/thumbnail", bob.token, nil)
	if b.app.CachedDataKeys(home) == 0 {
		t.Fatal("node b holds no key of the home after serving its media: the test would prove nothing")
	}
	before := map[string][]byte{}
	for k, v := range bucketObjects(t, bucket) {
		if strings.HasPrefix(k, "h/"+home+"/") {
			before[k] = v
		}
	}
	if len(before) != 2 {
		t.Fatalf("objects of the home before the deletion: %d, want 2", len(before))
	}

	a.must(204, "DELETE", "/api/v1/me", ann.token, map[string]string{"password": ann.password})
	if n := b.app.CachedDataKeys(home); n != 0 {
		t.Fatalf("node b still holds the deleted home's key (%d) after the deletion was answered", n)
	}
	for _, path := range []string{"/api/v1/events/" + u.id + "/thumbnail", "/api/v1/events/" + u.id + "/clip", "/api/v1/me"} {
		if r := b.call("GET", path, annB, nil); r.status != 401 {
			t.Fatalf("node b, %s with the deleted account's session: %d", path, r.status)
		}
	}
	if r := b.call("GET", "/api/v1/device", cam.token, nil); r.status != 401 {
		t.Fatalf("node b, the deleted home's camera: %d", r.status)
	}
	// Bob's home, on the same nodes, is untouched.
	b.must(200, "GET", "/api/v1/events/"+bu.id+"/thumbnail", bob.token, nil)

	if _, err := b.app.DrainRemovals(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := bucketObjects(t, bucket)
	for k, v := range after {
		if strings.HasPrefix(k, "h/"+home+"/") {
			t.Errorf("the bucket still holds %s", k)
		}
		for name, n := range map[string][]byte{"thumbnail": middle(u.thumb), "clip": middle(u.clip)} {
			if bytes.Contains(v, n) {
				t.Errorf("object %s holds the deleted home's %s in the clear", k, name)
			}
		}
		for bk, ct := range before {
			if bytes.Contains(v, middle(ct)) {
				t.Errorf("object %s holds the ciphertext of %s", k, bk)
			}
		}
	}
	if len(after) == 0 {
		t.Fatal("the bucket is empty: Bob's blobs went too")
	}
	kr, err := keys.ParseKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(t.Context(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nothingOpens(t, st, kr, before)
}
