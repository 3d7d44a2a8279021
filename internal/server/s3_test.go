package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	blobs3 "github.com/camvault/camvault/internal/blob/s3"
	"github.com/camvault/camvault/internal/server"
)

// newS3Env is newEnv with the blobs in the S3 bucket CAMVAULT_TEST_S3
// names, under a prefix of the test's own. It also returns a store on that
// prefix, to look at what the server wrote.
func newS3Env(t *testing.T) (*env, *blobs3.Store) {
	t.Helper()
	u, bucket := s3Target(t)
	return newBackendEnv(t, t.TempDir(), newClock(), server.Config{Blobs: u}), bucket
}

// s3Target is the URL of a prefix of the test's own in the bucket
// CAMVAULT_TEST_S3 names, and a store on it; t is skipped without one.
// Whatever the test leaves there is removed when it ends.
func s3Target(t *testing.T) (string, *blobs3.Store) {
	t.Helper()
	raw := os.Getenv("CAMVAULT_TEST_S3")
	if raw == "" {
		t.Skip("CAMVAULT_TEST_S3 is not set (s3://BUCKET?endpoint=URL&region=REGION, credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); skipping the server over S3")
	}
	bc, err := blobs3.ParseURL(raw)
	if err != nil {
		t.Fatalf("CAMVAULT_TEST_S3: %v", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	bc.Prefix += "camvault-server-test/" + hex.EncodeToString(rnd[:]) + "/"
	bucket, err := blobs3.New(t.Context(), bc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the server has closed: nothing
	// of this test stays in the bucket.
	t.Cleanup(func() {
		ctx := context.Background()
		_ = bucket.List(ctx, "", func(key string, _ time.Time) error { return bucket.Delete(ctx, key) })
		_, _ = bucket.AbortStaleUploads(ctx, 0)
	})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", bc.Prefix)
	u.RawQuery = q.Encode()

	return u.String(), bucket
}

// bucketObjects reads every object under the store's prefix.
func bucketObjects(t *testing.T, s *blobs3.Store) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := s.List(t.Context(), "", func(key string, _ time.Time) error {
		o, err := s.Open(t.Context(), key)
		if err != nil {
			return err
		}
		defer o.Close()
		b, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
		out[key] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServerOverS3: the real server with its blobs in S3, through upload,
// list, media, ranges and delete; what reaches the bucket is sealed.
func TestServerOverS3(t *testing.T) {
	e, bucket := newS3Env(t)
	ann := e.signup("ann")
	home := e.home(ann, "Ann's house")
	cam := e.pairCamera(ann, home)

	const thumbMarker = "zqxjkvbwpys3thumbmarker"
	const clipMarker = "zqxjkvbwpys3clipmarker"
	thumb := testJPEG(t, thumbMarker)
	// Over 8 MiB sealed: the clip goes up as a multipart upload.
	clip := testMP4(10<<20, clipMarker)
	r := e.uploadParts(cam.token, meta("s3-1", recent(4), "motion"), thumbPart(thumb), clipPart(clip))
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	eid := r.str("id")
	if r := e.uploadParts(cam.token, meta("s3-1", recent(4), "motion"), thumbPart(thumb), clipPart(clip)); r.status != 200 || r.str("id") != eid {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}

	if list, _ := e.events(ann.token, ""); len(list) != 1 || list[0]["id"] != eid {
		t.Fatalf("list = %v", eventIDs(list))
	}
	if r := e.req("GET", "/api/v1/events/"+eid+"/thumbnail", ann.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, thumb) {
		t.Fatalf("thumbnail: %d, %d bytes (want %d)", r.status, len(r.raw), len(thumb))
	}
	if r := e.req("GET", "/api/v1/events/"+eid+"/clip", ann.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, clip) {
		t.Fatalf("clip: %d, %d bytes (want %d)", r.status, len(r.raw), len(clip))
	}
	start, end := 7<<20+12345, 7<<20+12345+200<<10
	rg := e.req("GET", "/api/v1/events/"+eid+"/clip", ann.token, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", start, end)}, nil)
	if want := fmt.Sprintf("bytes %d-%d/%d", start, end, len(clip)); rg.status != 206 || rg.header.Get("Content-Range") != want || !bytes.Equal(rg.raw, clip[start:end+1]) {
		t.Fatalf("range: %d %q (want %q), %d bytes", rg.status, rg.header.Get("Content-Range"), want, len(rg.raw))
	}

	// In the bucket: the event's thumbnail and clip, sealed.
	objects := bucketObjects(t, bucket)
	if len(objects) != 2 {
		t.Fatalf("bucket holds %d objects, want 2", len(objects))
	}
	for key, b := range objects {
		if !strings.HasPrefix(key, "h/") || !strings.Contains(key, eid) {
			t.Errorf("object %s is not under the event's key", key)
		}
		for what, run := range map[string][]byte{
			"thumbnail marker": []byte(thumbMarker), "clip marker": []byte(clipMarker), "marker stem": []byte("zqxjkvbwpy"),
			"JPEG header": thumb[:48], "JPEG body": thumb[len(thumb)/2 : len(thumb)/2+48],
			"ftyp": clip[:32], "mdat": clip[len(clip)/2 : len(clip)/2+48], "clip end": clip[len(clip)-48:],
		} {
			if bytes.Contains(b, run) {
				t.Errorf("object %s holds the %s in the clear", key, what)
			}
		}
	}

	e.must(204, "DELETE", "/api/v1/events/"+eid, ann.token, nil)
	if r := e.call("GET", "/api/v1/events/"+eid+"/clip", ann.token, nil); r.status != 404 {
		t.Fatalf("clip after delete: %d", r.status)
	}
	if objects := bucketObjects(t, bucket); len(objects) != 0 {
		t.Fatalf("bucket after delete holds %d objects", len(objects))
	}
}
