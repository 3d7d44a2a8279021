package server_test

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// TestMigrateToPostgresAndS3 moves a one-machine installation onto a new
// PostgreSQL schema and S3 prefix with admin migrate, then serves it from
// a node on those backends with the same master key: the accounts log in
// (sessions and all), every event is there with its media byte for byte,
// a deleted event stays deleted, the member keeps her access, and the
// audit chains verify. A running server, a second migration into the now
// full target, and targets of the wrong kind are refused.
func TestMigrateToPostgresAndS3(t *testing.T) {
	pg := pgtest.Database(t)
	s3URL, bucket := s3Target(t)
	fast := func(o *server.Options) { o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} }
	e := newEnv(t, fast)
	ann, bob := e.signup("ann"), e.signup("bob")
	home := e.home(ann, "Ann's house")
	e.share(ann, home, bob, "viewer")
	// Bob's authenticator app moves too: its sealed secret opens there.
	bobTOTP := e.turnOnTOTP(bob)
	cam := e.pairCamera(ann, home)
	// An invitation still waiting, limited to the camera, moves too.
	e.must(202, "POST", "/api/v1/homes/"+home+"/members", ann.token, map[string]any{"email": "later@example.com", "role": "viewer", "devices": []string{cam.id}})
	// A linked partner moves too: its tokens keep working.
	partnerTok := e.link(e.registerPartner("Display"), ann, []string{cam.id}, false)
	var ups []uploaded
	for i := range 7 {
		ups = append(ups, e.upload(cam, "mig-"+string(rune('a'+i)), recent(10-i), (i%3)*40<<10))
	}
	e.must(204, "DELETE", "/api/v1/events/"+ups[0].id, ann.token, nil)
	ctx := t.Context()
	target := server.MigrateTarget{Store: pg, Blobs: s3URL, Sample: 3}

	if _, err := server.Migrate(ctx, server.Config{DataDir: e.data}, target, io.Discard); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("migrate beside a running server: %v", err)
	}
	for _, bad := range []server.MigrateTarget{
		{Store: "mysql://x@y/z", Blobs: s3URL},
		{Store: pg, Blobs: "file:///tmp/x"},
		{Store: "", Blobs: s3URL},
	} {
		if _, err := server.Migrate(ctx, server.Config{DataDir: e.data}, bad, io.Discard); err == nil {
			t.Errorf("migrate to %+v was accepted", bad)
		}
	}
	e.public.Close()
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	rep, err := server.Migrate(ctx, server.Config{DataDir: e.data}, target, &out)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if rep.Rows["events"] != 7 || rep.Rows["accounts"] != 2 || rep.Rows["audit"] == 0 || rep.Rows["invitations"] != 1 || rep.Rows["invitation_devices"] != 1 ||
		rep.Rows["partners"] != 1 || rep.Rows["partner_links"] != 1 || rep.Rows["partner_link_devices"] != 1 || rep.Rows["partner_tokens"] == 0 ||
		rep.Rows["totp"] != 1 || rep.Rows["recovery_codes"] != 10 ||
		rep.Sampled < 3 || rep.Blobs != 6+4 { // six thumbnails, four clips
		t.Errorf("report %+v\n%s", rep, out.String())
	}
	if _, err := server.Migrate(ctx, server.Config{DataDir: e.data}, target, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second migration into the same target: %v", err)
	}

	n := newBackendEnv(t, t.TempDir(), newClock(), server.Config{Store: pg, Blobs: s3URL, KeyFile: filepath.Join(e.data, "master.key")}, fast)
	n.must(200, "GET", "/api/v1/homes", ann.token, nil) // a session made before the move
	tok := n.login(ann.email, ann.password)
	if r := n.call("POST", "/api/v1/sessions", "", map[string]string{"email": bob.email, "password": bob.password}); r.errCode() != "otp_required" {
		t.Fatalf("bob's login without a code after the move: %d %s", r.status, r.raw)
	}
	n.clock.Advance(2 * time.Minute) // past the step bob confirmed with
	r := n.must(201, "POST", "/api/v1/sessions", "", map[string]string{"email": bob.email, "password": bob.password,
		"otp": totpCode(t, bobTOTP.secret, n.clock.Now())})
	bobTok := r.str("token")
	for _, u := range ups[1:] {
		for _, who := range []string{tok, bobTok} {
			th := n.req("GET", "/api/v1/events/"+u.id+"/thumbnail", who, nil, nil)
			if th.status != 200 || !bytes.Equal(th.raw, u.thumb) {
				t.Errorf("event %s: thumbnail %d, %d bytes", u.id, th.status, len(th.raw))
			}
			if u.clip != nil {
				clip := n.req("GET", "/api/v1/events/"+u.id+"/clip", who, nil, nil)
				if clip.status != 200 || !bytes.Equal(clip.raw, u.clip) {
					t.Errorf("event %s: clip %d, %d bytes", u.id, clip.status, len(clip.raw))
				}
			}
		}
	}
	if got := partnerDeviceIDs(t, n, partnerTok.AccessToken); len(got) != 1 || got[0] != cam.id {
		t.Errorf("the partner after the move sees %v, want [%s]", got, cam.id)
	}
	if st := n.call("GET", "/api/v1/events/"+ups[0].id, tok, nil).status; st != 404 {
		t.Errorf("the deleted event: %d", st)
	}
	objects := bucketObjects(t, bucket)
	if len(objects) != rep.Blobs {
		t.Errorf("bucket holds %d objects, the report says %d", len(objects), rep.Blobs)
	}
	o, err := server.OpenOffline(ctx, server.Config{DataDir: t.TempDir(), Store: pg, KeyFile: filepath.Join(e.data, "master.key")})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.VerifyAudit(ctx, io.Discard, ""); err != nil {
		t.Errorf("audit after the move: %v", err)
	}
}
