package storm

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob/s3"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// scaleOut gives a test the shared backends of a scale-out deployment:
// a fresh PostgreSQL schema, a fresh prefix in the S3 bucket, NATS and,
// when given, Redis. It skips when their addresses are not set (CI sets
// them all) and fails when one is set but cannot be used.
func scaleOut(t *testing.T) (store, blobs, bus, cache string) {
	t.Helper()
	for _, env := range []string{pgtest.Env, "CAMVAULT_TEST_S3", "CAMVAULT_TEST_NATS"} {
		if os.Getenv(env) == "" {
			t.Skipf("%s is not set: a storm on several nodes needs PostgreSQL, S3 and NATS (.ci/services starts them)", env)
		}
	}
	store = pgtest.Database(t)
	cfg, err := s3.ParseURL(os.Getenv("CAMVAULT_TEST_S3"))
	if err != nil {
		t.Fatalf("CAMVAULT_TEST_S3: %v", err)
	}
	s, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	blobs = os.Getenv("CAMVAULT_TEST_S3") + "&prefix=storm-" + id.New() + "/"
	return store, blobs, os.Getenv("CAMVAULT_TEST_NATS"), os.Getenv("CAMVAULT_TEST_REDIS")
}

// TestStormNodesKillOne runs a small storm on three nodes sharing
// PostgreSQL, S3, NATS (and Redis when given) behind the balancer, and
// kills one node after the warm-up: its cameras must come back to the
// other two, and nothing may be lost, doubled or shown to another
// household.
func TestStormNodesKillOne(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes a while")
	}
	store, blobs, bus, cache := scaleOut(t)
	dir := t.TempDir()
	res, err := Run(t.Context(), Config{
		Binary:        camvaultBinary,
		Dir:           filepath.Join(dir, "run"),
		Nodes:         3,
		KillNode:      true,
		Store:         store,
		Blobs:         blobs,
		Bus:           bus,
		Cache:         cache,
		Accounts:      3,
		Cameras:       30,
		Viewers:       3,
		Warmup:        3 * time.Second,
		Timeout:       60 * time.Second,
		EventInterval: 500 * time.Millisecond,
		ViewerEvery:   200 * time.Millisecond,
		BackoffCap:    2 * time.Second,
		JSONPath:      filepath.Join(dir, "storm.json"),
		Log:           slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("storm on three nodes failed: %v", res.Failures)
	}
	if res.Nodes != 3 || len(res.NodeRSSPeakBytes) != 3 {
		t.Errorf("nodes %d, node RSS peaks %v: want 3 of each", res.Nodes, res.NodeRSSPeakBytes)
	}
	// Round-robin puts about a third of the cameras on the killed node;
	// none at all would mean the kill tested nothing.
	if res.CamerasMoved == 0 || res.CamerasMoved == res.Cameras {
		t.Errorf("cameras moved off the killed node: %d of %d", res.CamerasMoved, res.Cameras)
	}
	if res.EventsStored == 0 || res.MediaResponses == 0 {
		t.Errorf("nothing happened: %d events stored, %d media responses", res.EventsStored, res.MediaResponses)
	}
	if res.CamerasNotBack != 0 {
		t.Errorf("%d cameras of the killed node did not come back", res.CamerasNotBack)
	}
}

// TestConfigNodes: several nodes need shared backends, and killing a
// node needs another to take over.
func TestConfigNodes(t *testing.T) {
	base := Config{Binary: "camvault"}
	for name, c := range map[string]Config{
		"no shared store":        {Nodes: 2, Blobs: "s3://b", Bus: "nats://x"},
		"no shared blobs":        {Nodes: 2, Store: "postgres://x", Bus: "nats://x"},
		"no shared bus":          {Nodes: 2, Store: "postgres://x", Blobs: "s3://b"},
		"kill the only node":     {KillNode: true},
		"nodes against a target": {Nodes: 2, Store: "postgres://x", Blobs: "s3://b", Bus: "nats://x", Target: "http://127.0.0.1:1"},
		"negative nodes":         {Nodes: -1},
	} {
		c.Binary = base.Binary
		if err := c.setDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := Config{Binary: "camvault", Nodes: 3, KillNode: true, Store: "postgres://x", Blobs: "s3://b", Bus: "nats://x"}
	if err := ok.setDefaults(); err != nil {
		t.Errorf("three nodes on shared backends: %v", err)
	}
	env := ok.serverEnv()
	if len(env) != 3 {
		t.Errorf("server environment %v: want the store, blobs and bus", env)
	}
	for _, a := range ok.serverArgs("d", "a", "b") {
		if a == "postgres://x" || a == "s3://b" {
			t.Errorf("a backend URL is in the arguments (anyone can list them): %v", ok.serverArgs("d", "a", "b"))
		}
	}
}
