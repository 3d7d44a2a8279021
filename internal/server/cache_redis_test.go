package server_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/server"
)

// newRedisEnv is newEnv with the cache on the Redis server named by
// CAMVAULT_TEST_REDIS, with the given faults; it skips without the
// variable. The breaker is kept out of the way.
func newRedisEnv(t *testing.T, spec string) *env {
	t.Helper()
	url := os.Getenv("CAMVAULT_TEST_REDIS")
	if url == "" {
		t.Skip("CAMVAULT_TEST_REDIS is not set; set it (e.g. redis://127.0.0.1:6379/0) to run the services on the Redis cache")
	}
	f, err := faults.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return newBackendEnv(t, t.TempDir(), newClock(), server.Config{Cache: url}, func(o *server.Options) {
		o.Cache.Faults = f
		o.Breaker.Threshold = 1 << 30
	})
}

// TestRedisCacheCrossedReplies runs the services on Redis through the
// proxy that hands replies to the wrong client connection (the client
// library mix-up of March 2023), with households reading at once so that
// replies do cross: every answer is still each household's own, and the
// crossed replies are counted as mismatches.
func TestRedisCacheCrossedReplies(t *testing.T) {
	for _, spec := range []string{"", "redis-crossreply=1.0"} {
		t.Run(spec, func(t *testing.T) {
			e := newRedisEnv(t, spec)
			var hs []*household
			for _, name := range []string{"ann", "bob", "cat", "dan"} {
				hs = append(hs, e.household(name))
			}
			var wrong, mine atomic.Int64
			var wg sync.WaitGroup
			for _, h := range hs {
				for range 4 {
					wg.Go(func() {
						for range 5 {
							for _, o := range hs {
								for evID, u := range o.events {
									status, body := get(e, h.owner.token, "/api/v1/events/"+evID+"/thumbnail")
									switch {
									case o == h && status == 200 && bytes.Equal(body, u.thumb):
										mine.Add(1)
									case o != h && status == 404:
									default:
										wrong.Add(1)
									}
								}
							}
						}
					})
				}
			}
			wg.Wait()
			if n := wrong.Load(); n != 0 {
				t.Fatalf("%d answers were not the household's own thumbnail or a 404", n)
			}
			if mine.Load() != 4*4*5*4 {
				t.Fatalf("%d own thumbnails served, want %d", mine.Load(), 4*4*5*4)
			}
			mismatches := metricValue(t, e.adminGet("/metrics"), "camvault_cache_mismatch_total")
			if spec != "" && mismatches == 0 {
				t.Fatal("no crossed reply was refused: the proxy crossed nothing")
			}
			if spec == "" && mismatches != 0 {
				t.Fatalf("%v mismatches without faults", mismatches)
			}
		})
	}
}

// get is a GET that reports instead of failing, for use off the test's
// goroutine.
func get(e *env, tok, path string) (int, []byte) {
	req, err := http.NewRequest("GET", e.public.URL+path, nil)
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.public.Client().Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}
