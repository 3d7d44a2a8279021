package storm

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/camvault/camvault/internal/sim/camera"
)

// account is one household of the storm: an account, its one home, its
// owner session and its cameras. Filled in during setup, read-only after.
type account struct {
	index    int
	email    string
	password string
	id       string
	home     string
	token    string          // the owner's session
	devices  map[string]bool // the home's cameras
	creds    []camera.Credentials
	names    []string
}

// randomToken is n random bytes in lowercase base32, without padding.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines and
// returns the first error; after an error the remaining calls are skipped.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// householdAddr is the address household i signs up from: 127.1.0.0 and
// on, one each, which reach a server on loopback like 127.0.0.1.
func householdAddr(i int) net.IP {
	return net.IPv4(127, byte(1+i>>16), byte(i>>8), byte(i))
}

// setupAccounts creates the accounts and their homes and logs their
// owners in. Each signs up through signup(i): with a server of the
// storm's own, from an address of its own, as people sign up from their
// homes, so the server's limit of sign-ups per address stays on. Passwords
// are hashed with argon2 (tens of milliseconds and megabytes each), so
// only a few go at a time; none fails, so the login throttle never starts.
func setupAccounts(ctx context.Context, a api, signup func(i int) api, n int, done *atomic.Int64) ([]*account, error) {
	run, err := randomToken(5)
	if err != nil {
		return nil, err
	}
	accts := make([]*account, n)
	err = parallel(ctx, n, 4, func(ctx context.Context, i int) error {
		pw, err := randomToken(15)
		if err != nil {
			return err
		}
		ac := &account{index: i, email: fmt.Sprintf("storm-%s-%d@example.com", run, i), password: pw, devices: map[string]bool{}}
		var created struct {
			ID string `json:"id"`
		}
		su := signup(i)
		err = su.do(ctx, "POST", "/api/v1/accounts", "", map[string]string{"email": ac.email, "password": pw}, &created, 201)
		if su.client != a.client {
			su.client.CloseIdleConnections()
		}
		if err != nil {
			return fmt.Errorf("account %d: %w", i, err)
		}
		ac.id = created.ID
		if ac.token, err = login(ctx, a, ac); err != nil {
			return err
		}
		var home struct {
			ID string `json:"id"`
		}
		if err := retry(ctx, 5, func() error {
			return a.do(ctx, "POST", "/api/v1/homes", ac.token, map[string]string{"name": fmt.Sprintf("Storm home %d", i)}, &home, 201)
		}); err != nil {
			return fmt.Errorf("account %d: %w", i, err)
		}
		ac.home = home.ID
		accts[i] = ac
		done.Add(1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set up accounts: %w", err)
	}
	return accts, nil
}

// login opens a session for ac.
func login(ctx context.Context, a api, ac *account) (string, error) {
	var s struct {
		Token string `json:"token"`
	}
	if err := retry(ctx, 5, func() error {
		return a.do(ctx, "POST", "/api/v1/sessions", "", map[string]string{"email": ac.email, "password": ac.password}, &s, 201)
	}); err != nil {
		return "", fmt.Errorf("log in as account %d: %w", ac.index, err)
	}
	return s.Token, nil
}

// pairCameras pairs n cameras, camera i into account i mod len(accts):
// one pairing code per camera, made by the owner, used by the camera.
func pairCameras(ctx context.Context, a api, accts []*account, n int, done *atomic.Int64) error {
	type paired struct {
		creds camera.Credentials
		name  string
	}
	out := make([]paired, n)
	err := parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		ac := accts[i%len(accts)]
		var code struct {
			Code string `json:"code"`
		}
		if err := retry(ctx, 5, func() error {
			return a.do(ctx, "POST", "/api/v1/homes/"+ac.home+"/pairing-codes", ac.token, nil, &code, 201)
		}); err != nil {
			return fmt.Errorf("camera %d: %w", i, err)
		}
		creds, err := camera.Pair(ctx, a.client, a.base, code.Code, "CV-Storm", "1.0.0")
		if err != nil {
			return fmt.Errorf("camera %d: %w", i, err)
		}
		out[i] = paired{creds: creds, name: fmt.Sprintf("storm-%d", i)}
		done.Add(1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pair cameras: %w", err)
	}
	for i, p := range out {
		ac := accts[i%len(accts)]
		ac.devices[p.creds.DeviceID] = true
		ac.creds = append(ac.creds, p.creds)
		ac.names = append(ac.names, p.name)
	}
	return nil
}
