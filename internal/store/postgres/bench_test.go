package postgres_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// BenchmarkStore measures the writes a reconnect storm and an upload burst
// make, on PostgreSQL and, for comparison, on the embedded SQLite:
//
//	CAMVAULT_TEST_POSTGRES=postgres://... go test -run - -bench Store ./internal/store/postgres/
func BenchmarkStore(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "camvault.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) store.Store {
			s, err := postgres.Open(b.Context(), pgtest.Database(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, be := range backends {
		b.Run(be.name+"/CreateEvent", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			h, d := fixture(b, s)
			b.SetParallelism(8) // many requests at once, as a burst brings
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := s.CreateEvent(b.Context(), event(h, d, id.New())); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(be.name+"/CreateEventRetry", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			h, d := fixture(b, s)
			if _, _, err := s.CreateEvent(b.Context(), event(h, d, "retried")); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8) // many requests at once, as a burst brings
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, created, err := s.CreateEvent(b.Context(), event(h, d, "retried")); err != nil || created {
						b.Errorf("retry: created %v, %v", created, err)
						return
					}
				}
			})
		})
		b.Run(be.name+"/AppendAuditOneHome", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			h, _ := fixture(b, s)
			b.SetParallelism(8) // many requests at once, as a burst brings
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := s.AppendAudit(b.Context(), h, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
						e := domain.AuditEntry{HomeID: h, Seq: tip.Seq() + 1, At: time.Now(), ActorKind: "person", ActorID: "a",
							Action: "view_thumbnail", Result: "ok", PrevHash: tip.Hash(), Hash: []byte(id.New()), KeyGen: 1}
						return e, &domain.AuditHead{HomeID: h, Seq: e.Seq, Hash: e.Hash, KeyGen: 1, MAC: []byte(id.New())}
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(be.name+"/SetPresence1000", func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			h, _ := fixture(b, s)
			var devices []string
			for range 1000 {
				devices = append(devices, pair(b, s, h))
			}
			var round atomic.Int64
			b.ResetTimer()
			for b.Loop() {
				online := round.Add(1)%2 == 0
				updates := make([]domain.Presence, len(devices))
				for i, d := range devices {
					updates[i] = domain.Presence{DeviceID: d, Online: online, LastSeen: time.Now()}
				}
				if err := s.SetPresence(b.Context(), updates); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(devices))/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// fixture makes an account, a home and a camera.
func fixture(b *testing.B, s store.Store) (homeID, deviceID string) {
	b.Helper()
	a := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("e"), PasswordHash: "h"}
	h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30}
	if err := s.CreateAccount(b.Context(), a); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateHome(b.Context(), h, domain.Member{AccountID: a.ID, Role: domain.RoleOwner}); err != nil {
		b.Fatal(err)
	}
	return h.ID, pair(b, s, h.ID)
}

func pair(b *testing.B, s store.Store, homeID string) string {
	b.Helper()
	code := []byte(id.New())
	now := time.Now()
	if err := s.CreatePairingCode(b.Context(), domain.PairingCode{CodeHash: code, HomeID: homeID, CreatedBy: "a", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	d, err := s.PairDevice(b.Context(), code, now, domain.Device{ID: id.New(), Model: "m", Firmware: "f", TokenHash: []byte(id.New()), CreatedAt: now})
	if err != nil {
		b.Fatal(fmt.Errorf("pair: %w", err))
	}
	return d.ID
}

func event(homeID, deviceID, deviceEventID string) domain.Event {
	now := time.Now()
	return domain.Event{ID: id.New(), HomeID: homeID, DeviceID: deviceID, DeviceEventID: deviceEventID, Kind: "motion",
		StartedAt: now, CreatedAt: now, ThumbKey: "t", ThumbSize: 1}
}
