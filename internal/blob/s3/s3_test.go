package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/blobtest"
	"github.com/camvault/camvault/internal/blob/s3"
)

// testConfig is the server the tests run against, under a prefix of its
// own so runs (and subtests) never see each other's keys.
func testConfig(t *testing.T) s3.Config {
	t.Helper()
	raw := os.Getenv("CAMVAULT_TEST_S3")
	if raw == "" {
		t.Skip("CAMVAULT_TEST_S3 is not set (s3://BUCKET?endpoint=URL&region=REGION, credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); skipping the S3 backend tests")
	}
	cfg, err := s3.ParseURL(raw)
	if err != nil {
		t.Fatalf("CAMVAULT_TEST_S3: %v", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	cfg.Prefix += "camvault-test/" + hex.EncodeToString(rnd[:]) + "/"
	return cfg
}

func newStore(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { empty(t, s) })
	return s
}

// empty removes what a test left under its prefix, so repeated runs do not
// fill the server's disk.
func empty(t testing.TB, s *s3.Store) {
	ctx := context.Background() // t.Context has ended by cleanup time
	var keys []string
	if err := s.List(ctx, "", func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
	}
	if _, err := s.AbortStaleUploads(ctx, 0); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

func TestConformance(t *testing.T) {
	testConfig(t) // skip early, once
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return newStore(t, testConfig(t))
	})
}

// TestOpenURL: the backend URL as serve takes it, and a bucket that does
// not exist refused at Open rather than at the first upload.
func TestOpenURL(t *testing.T) {
	cfg := testConfig(t)
	newStore(t, cfg) // the bucket exists
	if _, err := s3.Open(t.Context(), os.Getenv("CAMVAULT_TEST_S3")); err != nil {
		t.Fatalf("open: %v", err)
	}
	raw := strings.Replace(os.Getenv("CAMVAULT_TEST_S3"), "s3://"+cfg.Bucket, "s3://no-such-bucket-camvault", 1)
	if _, err := s3.Open(t.Context(), raw); err == nil {
		t.Fatal("open of a missing bucket succeeded")
	}
}

// plainReader hides bytes.Reader's extra methods: Put sees a stream.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b)
	return b
}

// countingTransport counts response body bytes: what reads cost.
type countingTransport struct{ n, requests atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = countingBody{resp.Body, &c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestLargeBlob: a 64 MiB clip goes up as a multipart upload without being
// held whole in memory, a small range of it costs a small GET, and the
// whole reads back byte for byte.
func TestLargeBlob(t *testing.T) {
	cfg := testConfig(t)
	ct := &countingTransport{}
	cfg.HTTPClient = &http.Client{Transport: ct}
	cfg.PartSize = s3.MinPartSize
	s := newStore(t, cfg)
	ctx := t.Context()
	data := randomBytes(1, 64<<20)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := s.Put(ctx, "h/clip", plainReader{bytes.NewReader(data)})
	runtime.ReadMemStats(&after)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("put: %d %v", n, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("put of %d MiB allocated %.1f MiB", len(data)>>20, float64(alloc)/(1<<20))
	if alloc > uint64(len(data))/2 {
		t.Fatalf("put of %d bytes allocated %d: the body is being buffered", len(data), alloc)
	}

	o, err := s.Open(ctx, "h/clip")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != int64(len(data)) {
		t.Fatalf("size %d", o.Size())
	}
	start := ct.n.Load()
	buf := make([]byte, 100)
	if _, err := o.ReadAt(buf, 40<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[40<<20:40<<20+100]) {
		t.Fatal("range differs")
	}
	fetched := ct.n.Load() - start
	t.Logf("a 100-byte read downloaded %d bytes", fetched)
	if fetched > 2<<20 {
		t.Fatalf("reading 100 bytes downloaded %d bytes", fetched)
	}
	all, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("whole blob differs: %v", err)
	}
	if n, err := o.ReadAt(buf, o.Size()-10); n != 10 || !errors.Is(err, io.EOF) || !bytes.Equal(buf[:10], data[len(data)-10:]) {
		t.Fatalf("read across the end: %d %v", n, err)
	}

	// A second Put of the key, also multipart, changes nothing.
	if _, err := s.Put(ctx, "h/clip", plainReader{bytes.NewReader(randomBytes(2, 11<<20))}); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("second put: %v, want ErrExists", err)
	}
	o2, err := s.Open(ctx, "h/clip")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(o2, 0, o2.Size()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob changed by a refused put: %v", err)
	}
	if n, err := s.AbortStaleUploads(ctx, 0); err != nil || n != 0 {
		t.Fatalf("unfinished uploads left after a refused put: %d %v", n, err)
	}
}

// TestSmallBlobOneRequest: opening and reading a thumbnail-sized blob whole
// is one request.
func TestSmallBlobOneRequest(t *testing.T) {
	cfg := testConfig(t)
	ct := &countingTransport{}
	cfg.HTTPClient = &http.Client{Transport: ct}
	s := newStore(t, cfg)
	data := randomBytes(6, 20<<10)
	if _, err := s.Put(t.Context(), "thumb", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	before := ct.requests.Load()
	o, err := s.Open(t.Context(), "thumb")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob differs: %v", err)
	}
	o.Close()
	if n := ct.requests.Load() - before; n != 1 {
		t.Fatalf("open and read took %d requests, want 1", n)
	}
}

// TestRacingMultipartPuts: of concurrent large Puts of one key, one wins
// whole and the others change nothing.
func TestRacingMultipartPuts(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartSize = s3.MinPartSize
	s := newStore(t, cfg)
	bodies := make([][]byte, 3)
	errs := make([]error, len(bodies))
	var wg sync.WaitGroup
	for i := range bodies {
		bodies[i] = randomBytes(uint64(10+i), 11<<20)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(t.Context(), "race", plainReader{bytes.NewReader(bodies[i])})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("puts %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Fatalf("racing put: %v", err)
		}
	}
	if winner < 0 {
		t.Fatal("no put succeeded")
	}
	o, err := s.Open(t.Context(), "race")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil || !bytes.Equal(got, bodies[winner]) {
		t.Fatalf("blob is not the winner's: %v", err)
	}
	if n, err := s.AbortStaleUploads(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("unfinished uploads left: %d %v", n, err)
	}
}

type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection lost")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestFailedMultipartPut: a stream that breaks after a few parts leaves no
// blob and no unfinished upload.
func TestFailedMultipartPut(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartSize = s3.MinPartSize
	s := newStore(t, cfg)
	data := randomBytes(3, 16<<20)
	if _, err := s.Put(t.Context(), "broken", &failAfter{bytes.NewReader(data), 12 << 20}); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	if _, err := s.Open(t.Context(), "broken"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("after failed put: %v, want ErrNotFound", err)
	}
	if n, err := s.AbortStaleUploads(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("unfinished uploads left: %d %v", n, err)
	}
}

// TestListPages: List goes past the 1000 keys of one listing page.
func TestListPages(t *testing.T) {
	cfg := testConfig(t)
	s := newStore(t, cfg)
	const n = 1100
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := s.Put(t.Context(), "p/"+strings.Repeat("0", 4-len(itoa(i)))+itoa(i), bytes.NewReader([]byte{byte(i)}))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	if err := s.List(t.Context(), "p/", func(k string, _ time.Time) error { seen[k] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("listed %d keys, want %d", len(seen), n)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.List(t.Context(), "p/", func(string, time.Time) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("list did not stop at fn's error: %v after %d calls", err, calls)
	}
}

func itoa(i int) string {
	var b [8]byte
	p := len(b)
	for {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[p:])
		}
	}
}

func TestParseURL(t *testing.T) {
	cfg, err := s3.ParseURL("s3://media-1?endpoint=http://127.0.0.1:7070&region=eu-west-1&prefix=site/a")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bucket != "media-1" || cfg.Endpoint != "http://127.0.0.1:7070" || cfg.Region != "eu-west-1" || cfg.Prefix != "site/a/" {
		t.Fatalf("parsed %+v", cfg)
	}
	if cfg, err := s3.ParseURL("s3://media-1"); err != nil || cfg.Endpoint != "" || cfg.Prefix != "" {
		t.Fatalf("bare bucket: %+v %v", cfg, err)
	}
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYsecret"
	for _, raw := range []string{
		"s3://AKIAEXAMPLE:" + secret + "@bucket",
		"s3://bucket?endpoint=http://user:" + secret + "@127.0.0.1:7070",
		"s3://bucket?secret_key=" + secret,
		"s3://bucket?endpoint=ftp://" + secret,
		"s3://bucket?region=" + secret + "%20",
		"s3://bucket?prefix=../" + secret,
		"s3://bucket/" + secret,
		"s3://Bucket_" + secret,
		"s3://bucket?region=a&region=" + secret,
		"http://bucket?region=" + secret,
		"s3://bu",
		"s3://-bucket",
		"s3://bucket?%zz" + secret,
		"s3:" + secret,
		"::" + secret,
		"",
	} {
		_, err := s3.ParseURL(raw)
		if err == nil {
			t.Errorf("ParseURL accepted %q", raw)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error for %q shows the secret: %v", raw, err)
		}
	}
}

// TestNewRefusesBadConfig: bad settings fail before any request.
func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []s3.Config{
		{Bucket: "b", Region: "r"},
		{Bucket: "bucket", Region: "r", PartSize: 1 << 20},
		{Bucket: "bucket", Region: "r", Prefix: "no-slash"},
		{Bucket: "bucket", Region: "r", Prefix: "../x/"},
	} {
		if _, err := s3.New(t.Context(), cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// dropFirstAnswer lets the first request of a kind reach the server, then
// loses its answer, as a connection reset after the write would: the SDK
// sends the request again.
type dropFirstAnswer struct {
	match   func(*http.Request) bool
	dropped atomic.Int64
}

func (d *dropFirstAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !d.match(r) || !d.dropped.CompareAndSwap(0, 1) {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("read: connection reset by peer")
}

// TestLostAnswerIsNotErrExists: a write that landed but whose answer was
// lost is sent again by the SDK, and refused with 412 (a completed upload
// may instead be answered again); Put must still report success, for the
// blob is the caller's.
func TestLostAnswerIsNotErrExists(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		match func(*http.Request) bool
	}{
		{"PutObject", 1000, func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Get("uploadId") == "" }},
		{"CompleteMultipartUpload", 6 << 20, func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Query().Get("uploadId") != ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.PartSize = s3.MinPartSize
			d := &dropFirstAnswer{match: tc.match}
			cfg.HTTPClient = &http.Client{Transport: d}
			s := newStore(t, cfg)
			data := randomBytes(4, tc.size)
			if _, err := s.Put(t.Context(), "lost", plainReader{bytes.NewReader(data)}); err != nil {
				t.Fatalf("put: %v", err)
			}
			if d.dropped.Load() != 1 {
				t.Fatal("no answer was dropped")
			}
			o, err := s.Open(t.Context(), "lost")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("blob differs: %v", err)
			}
			// Another writer's Put is still refused.
			if _, err := s.Put(t.Context(), "lost", bytes.NewReader([]byte("other"))); !errors.Is(err, blob.ErrExists) {
				t.Fatalf("other put: %v, want ErrExists", err)
			}
		})
	}
}

// BenchmarkPutParallel: thumbnail-sized Puts from many goroutines, as
// ingest makes them.
func BenchmarkPutParallel(b *testing.B) {
	raw := os.Getenv("CAMVAULT_TEST_S3")
	if raw == "" {
		b.Skip("CAMVAULT_TEST_S3 is not set")
	}
	cfg, err := s3.ParseURL(raw)
	if err != nil {
		b.Fatal(err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	cfg.Prefix += "camvault-bench/" + hex.EncodeToString(rnd[:]) + "/"
	s, err := s3.New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateBucket(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { empty(b, s) })
	body := randomBytes(5, 16<<10)
	var seq atomic.Int64
	b.SetParallelism(8)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(b.Context(), "b/"+itoa(int(seq.Add(1))), bytes.NewReader(body)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// refuseAbort fails every AbortMultipartUpload, as a crash before it would.
type refuseAbort struct{}

func (refuseAbort) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodDelete && r.URL.Query().Get("uploadId") != "" {
		return nil, errors.New("process killed")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestAbortStaleUploads: the unfinished upload a killed Put leaves is
// invisible, kept while younger than the given age, then aborted.
func TestAbortStaleUploads(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartSize = s3.MinPartSize
	s := newStore(t, cfg)
	crashing := cfg
	crashing.HTTPClient = &http.Client{Transport: refuseAbort{}}
	cs, err := s3.New(t.Context(), crashing)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(7, 12<<20)
	if _, err := cs.Put(t.Context(), "killed", &failAfter{bytes.NewReader(data), 11 << 20}); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	if _, err := s.Open(t.Context(), "killed"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("unfinished upload visible: %v", err)
	}
	if keys := list(t, s); len(keys) != 0 {
		t.Fatalf("unfinished upload listed: %v", keys)
	}
	if n, err := s.AbortStaleUploads(t.Context(), time.Hour); err != nil || n != 0 {
		t.Fatalf("aborted %d uploads younger than an hour: %v", n, err)
	}
	if n, err := s.AbortStaleUploads(t.Context(), 0); err != nil || n != 1 {
		t.Fatalf("aborted %d stale uploads, want 1: %v", n, err)
	}
	if n, err := s.AbortStaleUploads(t.Context(), 0); err != nil || n != 0 {
		t.Fatalf("left %d uploads: %v", n, err)
	}
}

func list(t *testing.T, s *s3.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), "", func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}
