package authz_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// BenchmarkDecision is the latency of one authorization decision (a viewer
// limited to two cameras, deciding on a camera and on the home) on the
// SQLite store, uncached, cached (in-process cache; a cached decision
// still reads the grant version from the store) and kept in memory under
// the node's lease (no store read while the lease holds), with p50 and
// p99. Each op is one decision.
func BenchmarkDecision(b *testing.B) {
	ctx := b.Context()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "camvault.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	acc := func() string {
		a := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("x"), PasswordHash: "h", CreatedAt: time.Now()}
		if err := st.CreateAccount(ctx, a); err != nil {
			b.Fatal(err)
		}
		return a.ID
	}
	owner, viewer := acc(), acc()
	h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: time.Now(), GrantsVersion: 1}
	if err := st.CreateHome(ctx, h, domain.Member{AccountID: owner, Role: domain.RoleOwner, AddedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	var devs []string
	for range 2 {
		code := []byte(id.New())
		if err := st.CreatePairingCode(ctx, domain.PairingCode{CodeHash: code, HomeID: h.ID, CreatedBy: owner, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		d, err := st.PairDevice(ctx, code, time.Now(), domain.Device{ID: id.New(), NameSealed: []byte("n"), Model: "m", Firmware: "f", TokenHash: []byte(id.New()), CreatedAt: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		devs = append(devs, d.ID)
	}
	if err := st.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer, Role: domain.RoleViewer, Devices: devs, AddedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	be, err := memory.New(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	c, err := cache.NewWithKey(be, make([]byte, 32), cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b2, err := natsbus.Embedded(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer b2.Close()
	node := lease.New(lease.Config{}, st, b2, slog.New(slog.DiscardHandler))
	if err := node.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer node.Close()
	p := authz.Principal{Kind: domain.PrincipalPerson, AccountID: viewer, SessionID: "s"}
	for _, d := range []struct {
		name string
		d    *authz.Decider
	}{
		{"uncached", authz.New(st)},
		{"cached", authz.NewCached(st, c, nil)},
		{"memory", authz.NewCached(st, c, nil).WithLease(node)},
	} {
		for _, what := range []string{"home", "device"} {
			b.Run(fmt.Sprintf("%s/%s", what, d.name), func(b *testing.B) {
				decide := func() error {
					if what == "home" {
						_, err := d.d.Home(ctx, p, h.ID, authz.ViewHome)
						return err
					}
					_, _, err := d.d.Device(ctx, p, devs[0], authz.ViewHome)
					return err
				}
				if err := decide(); err != nil { // warm
					b.Fatal(err)
				}
				lat := make([]time.Duration, 0, 1<<16)
				b.ReportAllocs()
				for b.Loop() {
					t0 := time.Now()
					if err := decide(); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			})
		}
	}
}
