package server_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// blobContents reads every blob file of the embedded blob directory, by
// key.
func (e *env) blobContents() map[string][]byte {
	e.t.Helper()
	out := map[string][]byte{}
	blobs := filepath.Join(e.data, "blobs")
	err := filepath.WalkDir(filepath.Join(blobs, "objects"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, ok := disk.KeyOf(blobs, p)
		if !ok {
			return nil
		}
		out[key], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// nothingOpens fails the test if any blob in sealed opens under any home
// data key the store still holds, unwrapped with the keyring, whatever
// home the key is tried for: after a deletion nothing left can open what
// was copied before it.
func nothingOpens(t *testing.T, st store.Store, kr *keys.Keyring, sealed map[string][]byte) {
	t.Helper()
	left, err := st.SealedValues(t.Context(), store.HomeDataKeys, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for key, ct := range sealed {
		l, _, err := media.ReadLabel(bytes.NewReader(ct))
		if err != nil {
			t.Fatalf("blob %s copied before the deletion has no label: %v", key, err)
		}
		for _, w := range left {
			for _, as := range []string{w.ID, l.Home} {
				dk, err := kr.UnwrapDataKey(w.Value, as)
				if err != nil {
					continue
				}
				if _, err := media.Open(bytes.NewReader(ct), int64(len(ct)), func(string) (keys.DataKey, error) { return dk, nil }); err == nil {
					t.Errorf("blob %s of the deleted home opens with the key of home %s", key, w.ID)
				}
			}
		}
		if _, err := st.HomeByID(t.Context(), l.Home); err == nil {
			t.Errorf("the deleted home %s is still in the store", l.Home)
		}
	}
}

// dumpHolds reports which of the needles appear in any file under dir.
func dumpHolds(t *testing.T, dir string, needles map[string][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, n := range needles {
			if bytes.Contains(b, n) {
				found = append(found, name+" in "+filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// middle is a 256-byte window from the middle of b: found only where b's
// plaintext is.
func middle(b []byte) []byte {
	m := len(b) / 2
	return b[m-128 : m+128]
}

// TestDeleteAccountShredsItsHomes: deleting an account that owns a home
// alone destroys the home's wrapped data key at once, then removes its
// blobs; a dump of the data directory afterwards (database, WAL, blob
// directory) holds none of its media in the clear, no blob of it, and a
// ciphertext copied before the deletion opens with nothing the store and
// the key file still hold. The account's sessions, the home's camera and
// its invitations end; its email can sign up again. A home it owns with
// other members refuses the deletion until it hands the home over.
func TestDeleteAccountShredsItsHomes(t *testing.T) {
	e := newEnv(t)
	ann, bob, cat := e.signup("ann"), e.signup("bob"), e.signup("cat")
	home := e.home(ann, "Ann's flat")
	cam := e.pairCamera(ann, home)
	ups := []uploaded{e.upload(cam, "ev-1", e.clock.Now(), 200<<10), e.upload(cam, "ev-2", e.clock.Now().Add(time.Second), 0)}
	// A home Ann owns with Cat in it, and Bob's home Ann is a viewer of.
	shared := e.home(ann, "Ann and Cat's studio")
	e.share(ann, shared, cat, "viewer")
	bobs := e.home(bob, "Bob's house")
	e.share(bob, bobs, ann, "admin")
	// Pending invitations from Ann (to someone without an account) and to Ann.
	e.must(202, "POST", "/api/v1/homes/"+bobs+"/members", ann.token, map[string]string{"email": "dora@example.com", "role": "viewer"})
	other := e.home(cat, "Cat's barn")
	e.must(202, "POST", "/api/v1/homes/"+other+"/members", cat.token, map[string]string{"email": ann.email, "role": "viewer"})
	// View the thumbnail, so the node holds the home's key and the opened
	// thumbnail in memory.
	e.must(200, "GET", "/api/v1/events/"+ups[0].id+"/thumbnail", ann.token, nil)
	if e.app.CachedDataKeys(home) == 0 {
		t.Fatal("viewing a thumbnail left no unwrapped key of its home in memory: the test would prove nothing")
	}
	before := e.blobContents()
	if len(before) != 3 {
		t.Fatalf("blobs before the deletion: %d, want 3", len(before))
	}

	// Refused while a home Ann owns has another member; the owner hands
	// it over only to an admin.
	if r := e.call("DELETE", "/api/v1/me", ann.token, map[string]string{"password": ann.password}); r.status != 409 || r.errCode() != "owns_shared_home" ||
		!strings.Contains(string(r.raw), shared) {
		t.Fatalf("deleting an account owning a shared home: %d %s", r.status, r.raw)
	}
	if r := e.call("POST", "/api/v1/homes/"+shared+"/owner", ann.token, map[string]string{"account": cat.id}); r.status != 400 {
		t.Fatalf("handing a home to a viewer: %d %s", r.status, r.raw)
	}
	e.must(200, "PATCH", "/api/v1/homes/"+shared+"/members/"+cat.id, ann.token, map[string]any{"role": "admin"})
	if r := e.call("POST", "/api/v1/homes/"+shared+"/owner", cat.token, map[string]string{"account": cat.id}); r.status != 403 {
		t.Fatalf("an admin handing the home over: %d %s", r.status, r.raw)
	}
	if r := e.call("POST", "/api/v1/homes/"+shared+"/owner", bob.token, map[string]string{"account": bob.id}); r.status != 404 {
		t.Fatalf("a stranger handing the home over: %d %s", r.status, r.raw)
	}
	e.must(204, "POST", "/api/v1/homes/"+shared+"/owner", ann.token, map[string]string{"account": cat.id})
	var roles map[string]string
	for _, m := range e.must(200, "GET", "/api/v1/homes/"+shared+"/members", cat.token, nil).body["members"].([]any) {
		mm := m.(map[string]any)
		if roles == nil {
			roles = map[string]string{}
		}
		roles[mm["account_id"].(string)] = mm["role"].(string)
	}
	if roles[cat.id] != "owner" || roles[ann.id] != "admin" {
		t.Fatalf("roles after the hand-over: %v", roles)
	}

	// A wrong password changes nothing.
	if r := e.call("DELETE", "/api/v1/me", ann.token, map[string]string{"password": "not it"}); r.status != 401 {
		t.Fatalf("deleting with a wrong password: %d %s", r.status, r.raw)
	}
	if r := e.call("DELETE", "/api/v1/me", ann.token, map[string]any{"password": ann.password, "extra": 1}); r.status != 400 {
		t.Fatalf("deleting with a malformed body: %d %s", r.status, r.raw)
	}
	e.must(200, "GET", "/api/v1/me", ann.token, nil)

	other2 := e.login(ann.email, ann.password)
	e.must(204, "DELETE", "/api/v1/me", ann.token, map[string]any{"password": ann.password, "otp": "123456"})

	// At once: the sessions end, the camera stops, the key is gone from
	// memory, the home answers as missing to everyone.
	for _, tok := range []string{ann.token, other2} {
		if r := e.call("GET", "/api/v1/me", tok, nil); r.status != 401 {
			t.Fatalf("a session of the deleted account: %d", r.status)
		}
	}
	if r := e.call("GET", "/api/v1/device", cam.token, nil); r.status != 401 {
		t.Fatalf("the camera of a deleted home: %d %s", r.status, r.raw)
	}
	if n := e.app.CachedDataKeys(home); n != 0 {
		t.Fatalf("the deleted home's unwrapped key is still in memory (%d)", n)
	}
	if r := e.call("GET", "/api/v1/events/"+ups[0].id+"/thumbnail", bob.token, nil); r.status != 404 {
		t.Fatalf("a thumbnail of the deleted home: %d", r.status)
	}
	// Ann left Bob's home and the home she handed over; her invitations went.
	for _, h := range []string{bobs, shared} {
		raw := string(e.must(200, "GET", "/api/v1/homes/"+h+"/members", map[string]string{bobs: bob.token, shared: cat.token}[h], nil).raw)
		if strings.Contains(raw, ann.id) {
			t.Fatalf("the deleted account is still a member of %s: %s", h, raw)
		}
	}
	if raw := string(e.must(200, "GET", "/api/v1/homes/"+bobs+"/invitations", bob.token, nil).raw); strings.Contains(raw, "dora@") {
		t.Fatalf("an invitation made by the deleted account is pending: %s", raw)
	}
	if raw := string(e.must(200, "GET", "/api/v1/homes/"+other+"/invitations", cat.token, nil).raw); strings.Contains(raw, ann.email) {
		t.Fatalf("an invitation to the deleted account is pending: %s", raw)
	}

	// In the background, the blobs go.
	if _, err := e.app.DrainRemovals(t.Context()); err != nil {
		t.Fatal(err)
	}
	if left := e.blobFiles(); len(left) != 0 {
		t.Fatalf("blobs of the deleted home left: %v", left)
	}

	// The email is free again.
	again := e.signupAs(ann.email, "another horse battery staple")
	if again.id == ann.id {
		t.Fatal("the new account has the deleted one's ID")
	}

	// The dump: nothing of the home in the clear, nothing left opens the
	// ciphertexts copied before.
	e.app.Close() // the WAL into the database file
	needles := map[string][]byte{}
	for i, u := range ups {
		needles["thumbnail "+u.id] = middle(u.thumb)
		if u.clip != nil {
			needles["clip "+u.id] = middle(u.clip)
		}
		_ = i
	}
	for k, ct := range before {
		needles["ciphertext "+k] = middle(ct)
	}
	if found := dumpHolds(t, e.data, needles); len(found) > 0 {
		t.Fatalf("the data directory still holds: %v", found)
	}
	kr, err := keys.LoadFile(filepath.Join(e.data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(e.data, "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	nothingOpens(t, st, kr, before)
}

// readExport polls an export until it is ready and downloads its zip.
func (e *env) readExport(tok, exportID string) *zip.Reader {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.must(200, "GET", "/api/v1/me/exports/"+exportID, tok, nil)
		switch r.str("status") {
		case "ready":
			if r.str("download_url") != "/api/v1/me/exports/"+exportID+"/download" {
				e.t.Fatalf("download_url %q", r.str("download_url"))
			}
			d := e.req("GET", r.str("download_url"), tok, nil, nil)
			if d.status != 200 || d.header.Get("Content-Type") != "application/zip" {
				e.t.Fatalf("download: %d %s", d.status, d.header.Get("Content-Type"))
			}
			z, err := zip.NewReader(bytes.NewReader(d.raw), int64(len(d.raw)))
			if err != nil {
				e.t.Fatalf("the export is not a zip: %v", err)
			}
			return z
		case "failed":
			e.t.Fatalf("export failed")
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("export not ready: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func zipFile(t *testing.T, z *zip.Reader, name string) []byte {
	t.Helper()
	f, err := z.Open(name)
	if err != nil {
		t.Fatalf("zip has no %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type exportManifest struct {
	Account struct{ ID, Email string }
	Homes   []struct {
		ID, Name, Role string
		Cameras        []struct{ ID, Name string }
		EventsFile     string `json:"events_file"`
	}
}

// checkExport checks a zip holds exactly the account and the homes given,
// with exactly their events and media, byte for byte.
func checkExport(t *testing.T, z *zip.Reader, p person, homes map[string][]uploaded) {
	t.Helper()
	var m exportManifest
	if err := json.Unmarshal(zipFile(t, z, "manifest.json"), &m); err != nil {
		t.Fatal(err)
	}
	if m.Account.ID != p.id || m.Account.Email != p.email {
		t.Fatalf("manifest account = %+v, want %s %s", m.Account, p.id, p.email)
	}
	var got []string
	for _, h := range m.Homes {
		got = append(got, h.ID)
	}
	var want []string
	for h := range homes {
		want = append(want, h)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("homes exported = %v, want %v", got, want)
	}
	wantFiles := map[string]bool{"manifest.json": true}
	for _, h := range m.Homes {
		wantFiles[h.EventsFile] = true
		sc := bufio.NewScanner(bytes.NewReader(zipFile(t, z, h.EventsFile)))
		var ids []string
		for sc.Scan() {
			var ev struct{ ID, Thumbnail, Clip string }
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
			for _, u := range homes[h.ID] {
				if u.id != ev.ID {
					continue
				}
				wantFiles[ev.Thumbnail] = true
				if !bytes.Equal(zipFile(t, z, ev.Thumbnail), u.thumb) {
					t.Errorf("thumbnail of %s differs", u.id)
				}
				if u.clip != nil {
					wantFiles[ev.Clip] = true
					if !bytes.Equal(zipFile(t, z, ev.Clip), u.clip) {
						t.Errorf("clip of %s differs", u.id)
					}
				}
			}
		}
		var wantIDs []string
		for _, u := range homes[h.ID] {
			wantIDs = append(wantIDs, u.id)
		}
		slices.Sort(ids)
		slices.Sort(wantIDs)
		if !slices.Equal(ids, wantIDs) {
			t.Fatalf("events of home %s = %v, want %v", h.ID, ids, wantIDs)
		}
	}
	for _, f := range z.File {
		if !wantFiles[f.Name] {
			t.Errorf("the export holds %s, which is none of the person's data", f.Name)
		}
	}
}

// TestExportHoldsExactlyThePersonsData: an export covers every home the
// person owns, with their events and media opened byte for byte, and
// nothing of a home they only view or administer; one home they
// administer can be exported by name, one they only view cannot; nobody
// else sees or downloads it; the export is in each home's audit log.
func TestExportHoldsExactlyThePersonsData(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Export.Poll = 20 * time.Millisecond })
	ann, bob, cat := e.signup("ann"), e.signup("bob"), e.signup("cat")
	annHome := e.home(ann, "Ann's flat")
	annCam := e.pairCamera(ann, annHome)
	annUps := []uploaded{e.upload(annCam, "a-1", e.clock.Now(), 150<<10), e.upload(annCam, "a-2", e.clock.Now().Add(time.Second), 0)}
	bobHome := e.home(bob, "Bob's house") // Ann views it
	bobCam := e.pairCamera(bob, bobHome)
	bobUps := []uploaded{e.upload(bobCam, "b-1", e.clock.Now(), 0)}
	e.share(bob, bobHome, ann, "viewer")
	catHome := e.home(cat, "Cat's barn") // Ann administers it
	catCam := e.pairCamera(cat, catHome)
	catUps := []uploaded{e.upload(catCam, "c-1", e.clock.Now(), 70<<10)}
	e.share(cat, catHome, ann, "admin")

	x := e.must(202, "POST", "/api/v1/me/exports", ann.token, nil).str("id")
	z := e.readExport(ann.token, x)
	checkExport(t, z, ann, map[string][]uploaded{annHome: annUps})
	// At rest the export is sealed like the media it holds.
	if found := dumpHolds(t, e.data, map[string][]byte{"thumbnail": middle(annUps[0].thumb), "clip": middle(annUps[0].clip),
		"manifest": []byte(ann.email)}); len(found) > 0 {
		t.Fatalf("the data directory holds the export in the clear: %v", found)
	}
	for _, path := range []string{"/api/v1/me/exports/" + x, "/api/v1/me/exports/" + x + "/download"} {
		if r := e.call("GET", path, bob.token, nil); r.status != 404 {
			t.Fatalf("someone else's export at %s: %d", path, r.status)
		}
	}
	if raw := string(e.must(200, "GET", "/api/v1/homes/"+annHome+"/audit", ann.token, nil).raw); !strings.Contains(raw, "home.export") {
		t.Fatalf("the export is not in the home's audit log: %s", raw)
	}

	// One home Ann administers, by name.
	y := e.must(202, "POST", "/api/v1/me/exports", ann.token, map[string]string{"home": catHome}).str("id")
	checkExport(t, e.readExport(ann.token, y), ann, map[string][]uploaded{catHome: catUps})
	// A home Ann only views, and one she is not in, answer as missing.
	for _, h := range []string{bobHome, "aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if r := e.call("POST", "/api/v1/me/exports", ann.token, map[string]string{"home": h}); r.status != 404 {
			t.Fatalf("exporting home %s: %d %s", h, r.status, r.raw)
		}
	}
	if r := e.call("POST", "/api/v1/me/exports", ann.token, map[string]any{"home": 3}); r.status != 400 {
		t.Fatalf("a malformed export request: %d %s", r.status, r.raw)
	}
	// Bob's export of his own home holds nothing of Ann's.
	checkExport(t, e.readExport(bob.token, e.must(202, "POST", "/api/v1/me/exports", bob.token, nil).str("id")), bob,
		map[string][]uploaded{bobHome: bobUps})
}

// TestDeleteAccountThrottlesWrongPasswords: a session cannot be used to
// guess its account's password through the deletion's check.
func TestDeleteAccountThrottlesWrongPasswords(t *testing.T) {
	e := newEnv(t)
	dan := e.signup("dan")
	throttled := false
	for i := 0; i < 50 && !throttled; i++ {
		r := e.call("DELETE", "/api/v1/me", dan.token, map[string]string{"password": "guess"})
		switch r.status {
		case 401:
		case 429:
			throttled = true
		default:
			t.Fatalf("a wrong password: %d %s", r.status, r.raw)
		}
	}
	if !throttled {
		t.Fatal("50 wrong passwords in a row were never throttled")
	}
	e.must(200, "GET", "/api/v1/me", dan.token, nil)
}
