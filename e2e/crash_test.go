package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	endian "encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/servicetest"
)

// crashUpload is one event a camera sent (or was sending) and what came of it.
type crashUpload struct {
	cam       int // index into the paired cameras
	eventID   string
	startedAt time.Time
	thumb     []byte
	clip      []byte // nil: an event without a clip

	// Filled in when the server acknowledged it (201 or 200).
	acked bool
	id    string
}

type crashCamera struct {
	id, token string
}

// TestCrashDuringUploads checks invariant 6 against the real
// binary: cameras upload continuously, the server is killed with SIGKILL
// while uploads are in flight, and after a restart on the same data every
// acknowledged event is there byte for byte, nothing half-written or unsent
// is listed, nothing is listed twice, retries of every upload are answered
// without storing twice, and no temp file or orphan blob is left.
func TestCrashDuringUploads(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	p := serve(t, data)

	must := func(p *proc, want int, method, path, tok string, body any) map[string]any {
		t.Helper()
		status, out := p.api(t, method, path, tok, body)
		if status != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, status, out, want)
		}
		return out
	}
	must(p, 201, "POST", "/api/v1/accounts", "", map[string]string{"email": "crash@example.com", "password": "a long passphrase"})
	tok := must(p, 201, "POST", "/api/v1/sessions", "", map[string]string{"email": "crash@example.com", "password": "a long passphrase"})["token"].(string)
	home := must(p, 201, "POST", "/api/v1/homes", tok, map[string]string{"name": "Home"})["id"].(string)
	var cams []crashCamera
	for range 3 {
		code := must(p, 201, "POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil)["code"].(string)
		dev := must(p, 201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1.0"})
		cams = append(cams, crashCamera{id: dev["device_id"].(string), token: dev["device_token"].(string)})
	}

	// Phase 1: four workers upload continuously until the kill.
	var (
		mu       sync.Mutex
		uploads  []*crashUpload
		thumbs   = map[[32]byte]bool{}
		acked    atomic.Int64
		inFlight atomic.Int64
		killed   atomic.Bool
		wg       sync.WaitGroup
	)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	newUpload := func(worker, n int) *crashUpload {
		u := &crashUpload{cam: worker % len(cams), eventID: fmt.Sprintf("crash-w%d-%04d", worker, n)}
		if n%5 != 4 { // every fifth event has no clip
			u.clip = crashMP4(200<<10 + crashRandInt(200<<10))
		}
		mu.Lock()
		defer mu.Unlock()
		for { // thumbnails identify events in the listing: keep them distinct
			u.thumb = crashJPEG(t)
			if h := sha256.Sum256(u.thumb); !thumbs[h] {
				thumbs[h] = true
				break
			}
		}
		u.startedAt = base.Add(time.Duration(len(uploads)) * time.Millisecond)
		uploads = append(uploads, u)
		return u
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !killed.Load(); n++ {
				u := newUpload(w, n)
				inFlight.Add(1)
				status, id, err := sendCrashUpload(client, p.addr, cams[u.cam].token, u, true)
				inFlight.Add(-1)
				switch {
				case err != nil && killed.Load():
					return // in flight at the kill: not acknowledged
				case err != nil:
					t.Errorf("upload %s before the kill: %v", u.eventID, err)
					return
				case status == http.StatusServiceUnavailable:
					continue // overload: not acknowledged, retried below
				case status != http.StatusCreated || id == "":
					t.Errorf("first upload of %s: %d %q, want 201 with an id", u.eventID, status, id)
					return
				}
				mu.Lock()
				u.acked, u.id = true, id
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	start := time.Now()
	for {
		n := acked.Load()
		if n >= 20 || (n > 0 && time.Since(start) > 1500*time.Millisecond) {
			break
		}
		if time.Since(start) > 15*time.Second {
			killed.Store(true)
			wg.Wait()
			t.Fatalf("no upload was acknowledged in 15 s:\n%s", p.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	killed.Store(true)
	flying := inFlight.Load()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		p.exited <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("camvault did not die on SIGKILL")
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("uploads did not end after the kill")
	}
	if t.Failed() {
		t.FailNow()
	}
	client.CloseIdleConnections()

	mu.Lock()
	all := uploads
	mu.Unlock()
	byThumb := map[[32]byte]*crashUpload{}
	var ackedList, unacked []*crashUpload
	for _, u := range all {
		byThumb[sha256.Sum256(u.thumb)] = u
		if u.acked {
			ackedList = append(ackedList, u)
		} else {
			unacked = append(unacked, u)
		}
	}
	t.Logf("killed with %d acknowledged, %d in flight (%d sent)", len(ackedList), flying, len(all))

	// Phase 2: restart on the same data and check what survived.
	blobs := filepath.Join(data, "blobs")
	tmpLeft, objLeft := countFiles(filepath.Join(blobs, "tmp")), countFiles(filepath.Join(blobs, "objects"))
	t.Logf("the kill left %d temp files and %d blob files", tmpLeft, objLeft)
	p = serve(t, data)
	committed := checkCrashListing(t, p, tok, cams, byThumb)
	for _, u := range ackedList {
		if got, ok := committed[u]; !ok {
			t.Errorf("acknowledged event %s (id %s) is missing after the crash", u.eventID, u.id)
		} else if got != u.id {
			t.Errorf("acknowledged event %s is listed as %s, acknowledged as %s", u.eventID, got, u.id)
		}
	}
	checkCrashBlobs(t, blobs, home, cams, committed)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("after the restart: %d events listed, %d of them in flight at the kill", len(committed), len(committed)-len(ackedList))

	// Phase 3: retries. Each unacknowledged upload, re-sent, is stored once:
	// 200 with the same id if it had committed before the kill, else 201.
	for _, u := range unacked {
		status, id, err := sendCrashUpload(client, p.addr, cams[u.cam].token, u, false)
		if err != nil {
			t.Fatalf("retry of %s: %v", u.eventID, err)
		}
		prev, wasThere := committed[u]
		switch {
		case wasThere && (status != http.StatusOK || id != prev):
			t.Errorf("retry of %s, stored before the kill as %s: %d %q, want 200 with that id", u.eventID, prev, status, id)
		case !wasThere && (status != http.StatusCreated || id == ""):
			t.Errorf("retry of %s, not stored before the kill: %d %q, want 201 with an id", u.eventID, status, id)
		}
		u.acked, u.id = true, id
	}
	for i, u := range ackedList {
		if i == 5 {
			break
		}
		status, id, err := sendCrashUpload(client, p.addr, cams[u.cam].token, u, false)
		if err != nil {
			t.Fatalf("retry of acknowledged %s: %v", u.eventID, err)
		}
		if status != http.StatusOK || id != u.id {
			t.Errorf("retry of acknowledged %s: %d %q, want 200 %q", u.eventID, status, id, u.id)
		}
	}
	final := checkCrashListing(t, p, tok, cams, byThumb)
	if len(final) != len(all) {
		t.Errorf("after the retries %d events are listed, want %d (one per upload)", len(final), len(all))
	}
	for _, u := range all {
		if got, ok := final[u]; !ok {
			t.Errorf("event %s is missing after its retry", u.eventID)
		} else if got != u.id {
			t.Errorf("event %s is listed as %s, acknowledged as %s", u.eventID, got, u.id)
		}
	}
	checkCrashBlobs(t, blobs, home, cams, final)
	p.stop(t)
}

// sendCrashUpload posts one event as its camera. When paced, the body is
// fed in small slices so that a kill finds uploads mid-stream.
func sendCrashUpload(c *http.Client, addr, token string, u *crashUpload, paced bool) (int, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	meta, _ := json.Marshal(map[string]string{"event_id": u.eventID, "started_at": u.startedAt.Format(time.RFC3339Nano), "kind": "motion"})
	parts := []struct {
		name, file, ctype string
		body              []byte
	}{{"meta", "", "application/json", meta}, {"thumbnail", "thumb.jpg", "image/jpeg", u.thumb}}
	if u.clip != nil {
		parts = append(parts, struct {
			name, file, ctype string
			body              []byte
		}{"clip", "clip.mp4", "video/mp4", u.clip})
	}
	for _, part := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name="%s"`, part.name)
		if part.file != "" {
			disp += fmt.Sprintf(`; filename="%s"`, part.file)
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", part.ctype)
		w, err := mw.CreatePart(h)
		if err != nil {
			return 0, "", err
		}
		w.Write(part.body)
	}
	mw.Close()
	var body io.Reader = bytes.NewReader(buf.Bytes())
	if paced {
		body = &pacedReader{r: body}
	}
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/device/events", body)
	if err != nil {
		return 0, "", err
	}
	req.ContentLength = int64(buf.Len())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out.ID, nil
}

// pacedReader hands out at most 16 KiB a read, pausing briefly between
// reads.
type pacedReader struct {
	r     io.Reader
	reads int
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.reads > 0 {
		time.Sleep(time.Millisecond)
	}
	p.reads++
	if len(b) > 16<<10 {
		b = b[:16<<10]
	}
	return p.r.Read(b)
}

// checkCrashListing pages through the timeline and checks that each listed
// event is one that was sent, with exactly the bytes sent, listed once. It
// returns the listed events by upload.
func checkCrashListing(t *testing.T, p *proc, tok string, cams []crashCamera, byThumb map[[32]byte]*crashUpload) map[*crashUpload]string {
	t.Helper()
	found := map[*crashUpload]string{}
	seen := map[string]bool{}
	before := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("the timeline does not end")
		}
		path := "/api/v1/events?limit=200"
		if before != "" {
			path += "&before=" + url.QueryEscape(before)
		}
		status, out := p.api(t, "GET", path, tok, nil)
		if status != 200 {
			t.Fatalf("GET %s: %d %v", path, status, out)
		}
		list, _ := out["events"].([]any)
		for _, item := range list {
			ev := item.(map[string]any)
			id, _ := ev["id"].(string)
			if seen[id] {
				t.Errorf("event %s is listed twice", id)
				continue
			}
			seen[id] = true
			thumb := crashGet(t, p, tok, "/api/v1/events/"+id+"/thumbnail")
			u, ok := byThumb[sha256.Sum256(thumb)]
			if !ok {
				t.Errorf("event %s is listed with a thumbnail of %d bytes that no camera sent", id, len(thumb))
				continue
			}
			if prev, dup := found[u]; dup {
				t.Errorf("upload %s is stored twice: events %s and %s", u.eventID, prev, id)
				continue
			}
			found[u] = id
			if ev["device_id"] != cams[u.cam].id {
				t.Errorf("event %s (%s) is listed for device %v, sent by %s", id, u.eventID, ev["device_id"], cams[u.cam].id)
			}
			if at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["started_at"])); !at.Equal(u.startedAt) {
				t.Errorf("event %s (%s) started_at %v, sent %v", id, u.eventID, ev["started_at"], u.startedAt)
			}
			clipURL, hasClip := ev["clip_url"].(string)
			switch {
			case u.clip == nil && hasClip:
				t.Errorf("event %s (%s) was sent without a clip but lists one", id, u.eventID)
			case u.clip != nil && !hasClip:
				t.Errorf("event %s (%s) was sent with a clip but lists none", id, u.eventID)
			case u.clip != nil:
				if clip := crashGet(t, p, tok, clipURL); !bytes.Equal(clip, u.clip) {
					t.Errorf("event %s (%s): clip of %d bytes differs from the %d bytes sent", id, u.eventID, len(clip), len(u.clip))
				}
			}
		}
		before, _ = out["next"].(string)
		if before == "" {
			return found
		}
	}
}

// crashGet reads a media URL as the person.
func crashGet(t *testing.T, p *proc, tok, path string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+p.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return b
}

// checkCrashBlobs checks that no temp file is left and that the blob
// directory holds exactly the listed events' blobs: a thumbnail for each,
// and a clip for each sent with one.
func checkCrashBlobs(t *testing.T, blobs, home string, cams []crashCamera, listed map[*crashUpload]string) {
	t.Helper()
	tmp, err := os.ReadDir(filepath.Join(blobs, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tmp {
		t.Errorf("temp file %s is left in blobs/tmp", e.Name())
	}
	want := map[string]bool{}
	for u, id := range listed {
		dir := "h/" + home + "/" + cams[u.cam].id + "/" + id + "/"
		want[dir+"thumbnail"] = true
		if u.clip != nil {
			want[dir+"clip"] = true
		}
	}
	got := map[string]bool{}
	err = filepath.WalkDir(filepath.Join(blobs, "objects"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, ok := disk.KeyOf(blobs, path)
		if !ok {
			t.Errorf("%s in the blobs directory is no blob's file", path)
		}
		got[key] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range got {
		if !want[k] {
			t.Errorf("blob %s belongs to no listed event (an orphan)", k)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("blob %s of a listed event is missing", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d blob files, want %d", len(got), len(want))
	}
}

// crashJPEG encodes a small image of random pixels, so each is distinct.
func crashJPEG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	px := make([]byte, 48*32*3)
	rand.Read(px)
	for i := range 48 * 32 {
		img.Set(i%48, i/48, color.RGBA{px[3*i], px[3*i+1], px[3*i+2], 255})
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Error(err)
	}
	return buf.Bytes()
}

// crashMP4 returns an MP4 file, ftyp, moov (one H.264 track,
// servicetest.MP4Moov) and mdat boxes, with an mdat of n random bytes.
func crashMP4(n int) []byte {
	box := func(typ string, payload []byte) []byte {
		b := endian.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
		return append(append(b, typ...), payload...)
	}
	mdat := make([]byte, n)
	rand.Read(mdat)
	var out []byte
	out = append(out, box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2"))...)
	out = append(out, servicetest.MP4Moov()...)
	return append(out, box("mdat", mdat)...)
}

func crashRandInt(n int) int {
	var b [8]byte
	rand.Read(b[:])
	return int(endian.BigEndian.Uint64(b[:]) % uint64(n))
}

// countFiles counts the files under dir.
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
