package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/breaker"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
)

// BenchmarkThumbnail is GET /api/v1/events/{id}/thumbnail over loopback
// HTTP on the embedded backends: session, authorization, opening the sealed
// thumbnail, the last-step check and one audit entry per view. "cached"
// has the grant and the sealed thumbnail in the in-process cache;
// "uncached" has the breaker open, so both come from the store and the
// blob directory, as with the cache off.
func BenchmarkThumbnail(b *testing.B) {
	for _, mode := range []string{"uncached", "cached"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, func(o *server.Options) {
				o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
				o.Breaker.Poll = 10 * time.Millisecond
			})
			ann := e.signup("ann")
			home := e.home(ann, "Home")
			cam := e.pairCamera(ann, home)
			up := e.upload(cam, "bench-1", recent(5), 0)
			if mode == "uncached" {
				o, err := server.OpenOffline(b.Context(), server.Config{DataDir: e.data})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := o.Store.SetBreaker(b.Context(), breaker.Name, true, "benchmark without the cache", time.Now()); err != nil {
					b.Fatal(err)
				}
				o.Close()
				for !strings.Contains(e.adminGet("/metrics"), "camvault_cache_breaker_open 1") {
					time.Sleep(10 * time.Millisecond)
				}
			}
			url := e.public.URL + "/api/v1/events/" + up.id + "/thumbnail"
			client := e.public.Client()
			get := func() {
				req, _ := http.NewRequestWithContext(b.Context(), "GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+ann.token)
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || !bytes.Equal(body, up.thumb) {
					b.Fatalf("thumbnail: %d %v", res.StatusCode, err)
				}
			}
			get() // warm
			lat := make([]time.Duration, 0, 1<<14)
			b.SetBytes(int64(len(up.thumb)))
			for b.Loop() {
				t0 := time.Now()
				get()
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkThumbnailViews is many views at once, as the thumbnail
// benchmark (internal/sim/bench/thumbnails.sh) makes them: 16 clients over
// loopback HTTP cycling over 50 events' thumbnails, each view
// authenticated, decided, on the audit record and answered. Run it with
// -cpuprofile to see where a view's time goes; the client shares the
// process, so its CPU is in the profile too (net/http.(*Client) and
// below).
func BenchmarkThumbnailViews(b *testing.B) {
	e := newEnv(b, func(o *server.Options) {
		o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	})
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	var urls []string
	var thumbs [][]byte
	for i := range 50 {
		up := e.upload(cam, fmt.Sprintf("bench-%d", i), recent(5), 0)
		urls = append(urls, e.public.URL+"/api/v1/events/"+up.id+"/thumbnail")
		thumbs = append(thumbs, up.thumb)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) % len(urls)
			req, _ := http.NewRequestWithContext(b.Context(), "GET", urls[i], nil)
			req.Header.Set("Authorization", "Bearer "+ann.token)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 || !bytes.Equal(body, thumbs[i]) {
				b.Errorf("thumbnail: %d %v", res.StatusCode, err)
				return
			}
		}
	})
}
