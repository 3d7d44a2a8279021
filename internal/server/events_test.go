package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/servicetest"
)

// newEventEnv is newEnv for the events tests: run in parallel, with cheap
// password hashing (these tests are not about passwords).
func newEventEnv(t *testing.T) *env {
	t.Parallel()
	return newEnv(t, func(o *server.Options) { o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} })
}

// ---- media fixtures ----

// testJPEG is a real JPEG of random pixels. With a marker, a COM segment
// holding it comes right after the start-of-image marker, so the marker is
// findable in the file if the bytes are ever stored in the clear.
func testJPEG(t testing.TB, marker string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	noise := make([]byte, len(img.Pix))
	rand.Read(noise)
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = noise[i], noise[i+1], noise[i+2], 0xFF
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if marker == "" {
		return b
	}
	return withCOM(b, []byte(marker))
}

// withCOM inserts a COM segment with payload right after SOI.
func withCOM(j, payload []byte) []byte {
	seg := []byte{0xFF, 0xFE, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, j[:2]...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// bigJPEG is a valid JPEG larger than 1 MiB: padded with COM segments.
func bigJPEG(t testing.TB) []byte {
	j := testJPEG(t, "")
	pad := bytes.Repeat([]byte("p"), 60000)
	for len(j) <= 1<<20 {
		j = withCOM(j, pad)
	}
	return j
}

func box(typ string, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(b, uint32(8+len(payload)))
	copy(b[4:], typ)
	return append(b, payload...)
}

// testMP4 is an MP4 file: ftyp, a moov of one H.264 track
// (servicetest.MP4Moov), then an mdat of size random
// bytes, with marker (if any) written into it every 4 KiB.
func testMP4(size int, marker string) []byte {
	mdat := make([]byte, size)
	rand.Read(mdat)
	if marker != "" {
		for off := 100; off+len(marker) < size; off += 4096 {
			copy(mdat[off:], marker)
		}
	}
	out := box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2"))
	out = append(out, servicetest.MP4Moov()...)
	return append(out, box("mdat", mdat)...)
}

// ---- multipart uploads ----

type upPart struct {
	name, filename, ctype string
	data                  []byte
}

func metaPart(v any) upPart {
	b, _ := json.Marshal(v)
	return upPart{name: "meta", ctype: "application/json", data: b}
}

func meta(eventID string, started time.Time, kind string) upPart {
	return metaPart(map[string]string{"event_id": eventID, "started_at": started.UTC().Format(time.RFC3339Nano), "kind": kind})
}

func thumbPart(b []byte) upPart { return upPart{"thumbnail", "thumb.jpg", "image/jpeg", b} }
func clipPart(b []byte) upPart  { return upPart{"clip", "clip.mp4", "video/mp4", b} }

func multipartBody(parts ...upPart) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			cd += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, _ := mw.CreatePart(h)
		w.Write(p.data)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// rawRequest sends a request with any body and headers; safe to call from
// other goroutines (it never fails the test itself).
func (e *env) rawRequest(method, path, tok string, hdr map[string]string, body []byte) (resp, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.public.URL+path, rd)
	if err != nil {
		return resp{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := e.public.Client().Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return r, nil
}

func (e *env) req(method, path, tok string, hdr map[string]string, body []byte) resp {
	e.t.Helper()
	r, err := e.rawRequest(method, path, tok, hdr, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) uploadParts(tok string, parts ...upPart) resp {
	e.t.Helper()
	ct, body := multipartBody(parts...)
	return e.req("POST", "/api/v1/device/events", tok, map[string]string{"Content-Type": ct}, body)
}

type uploaded struct {
	id          string
	thumb, clip []byte
	started     time.Time
}

// upload sends an event with a fresh thumbnail and, if clipSize > 0, a
// clip, and wants 201.
func (e *env) upload(cam camera, eventID string, started time.Time, clipSize int) uploaded {
	e.t.Helper()
	u := uploaded{thumb: testJPEG(e.t, ""), started: started}
	parts := []upPart{meta(eventID, started, "motion"), thumbPart(u.thumb)}
	if clipSize > 0 {
		u.clip = testMP4(clipSize, "")
		parts = append(parts, clipPart(u.clip))
	}
	r := e.uploadParts(cam.token, parts...)
	if r.status != 201 || !id.Valid(r.str("id")) {
		e.t.Fatalf("upload %s: %d %s", eventID, r.status, r.raw)
	}
	u.id = r.str("id")
	return u
}

// events lists events with a query and returns them.
func (e *env) events(tok, query string) ([]map[string]any, string) {
	e.t.Helper()
	r := e.must(200, "GET", "/api/v1/events"+query, tok, nil)
	raw, _ := r.body["events"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, v := range raw {
		out = append(out, v.(map[string]any))
	}
	next, _ := r.body["next"].(string)
	return out, next
}

func eventIDs(list []map[string]any) []string {
	out := make([]string, 0, len(list))
	for _, ev := range list {
		out = append(out, ev["id"].(string))
	}
	return out
}

// blobFiles lists the keys of the files under <data>/blobs/objects; a
// file that is no key's fails the test.
func (e *env) blobFiles() []string {
	e.t.Helper()
	var out []string
	blobs := filepath.Join(e.data, "blobs")
	err := filepath.WalkDir(filepath.Join(blobs, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, ok := disk.KeyOf(blobs, p)
		if !ok {
			e.t.Errorf("%s in the blobs directory is no blob's file", p)
		}
		out = append(out, key)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// blobFile is the path of key's blob file under <data>/blobs.
func (e *env) blobFile(key string) string {
	e.t.Helper()
	p, err := disk.File(filepath.Join(e.data, "blobs"), key)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func recent(minutesAgo int) time.Time {
	return time.Now().UTC().Add(-time.Duration(minutesAgo) * time.Minute).Truncate(time.Second)
}

// mediaFixture reads one of internal/media's clip and picture fixtures
// (internal/media/testdata/clips/make.sh).
func mediaFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "media", "testdata", "clips", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- 1. upload, view, ranges, caching, delete ----

// TestEventUploadClipInfo uploads the clips cameras send, H.264 and
// H.265, progressive and fragmented, with pictures up to 8K: each is
// stored, and the event answers with what the server read of its clip.
// A clip of another codec is refused with a message that says so.
func TestEventUploadClipInfo(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	for i, c := range []struct {
		clip, thumb string
		want        map[string]any
	}{
		{"h265-frag.mp4", "8k.jpg", map[string]any{"codec": "h265", "duration_ms": 2000.0, "width": 320.0, "height": 180.0}},
		{"h265.mp4", "4k.jpg", map[string]any{"codec": "h265", "duration_ms": 2000.0, "width": 320.0, "height": 180.0}},
		{"h264-3s-frag.mp4", "4k.jpg", map[string]any{"codec": "h264", "duration_ms": 3000.0, "width": 640.0, "height": 360.0}},
		{"h264.mp4", "8k.jpg", map[string]any{"codec": "h264", "duration_ms": 2000.0, "width": 320.0, "height": 180.0}},
	} {
		clip, thumb := mediaFixture(t, c.clip), mediaFixture(t, c.thumb)
		r := e.uploadParts(cam.token, meta(fmt.Sprintf("clip-%d", i), recent(10-i), "person"), thumbPart(thumb), clipPart(clip))
		if r.status != 201 {
			t.Fatalf("%s: %d %s", c.clip, r.status, r.raw)
		}
		evID := r.str("id")
		ev := e.must(200, "GET", "/api/v1/events/"+evID, ann.token, nil)
		if !reflect.DeepEqual(ev.body["clip"], c.want) {
			t.Errorf("%s: clip %v, want %v", c.clip, ev.body["clip"], c.want)
		}
		if got := e.req("GET", "/api/v1/events/"+evID+"/clip", ann.token, nil, nil); got.status != 200 || !bytes.Equal(got.raw, clip) {
			t.Errorf("%s: the clip read back: %d, %d bytes of %d", c.clip, got.status, len(got.raw), len(clip))
		}
		if got := e.req("GET", "/api/v1/events/"+evID+"/thumbnail", ann.token, nil, nil); got.status != 200 || !bytes.Equal(got.raw, thumb) {
			t.Errorf("%s: the picture read back: %d, %d bytes of %d", c.thumb, got.status, len(got.raw), len(thumb))
		}
		list, _ := e.events(ann.token, "")
		if len(list) != i+1 || list[0]["id"] != evID || !reflect.DeepEqual(list[0]["clip"], c.want) {
			t.Errorf("%s: listed first %v", c.clip, list[0])
		}
	}
	r := e.uploadParts(cam.token, meta("clip-mjpeg", recent(1), "motion"), thumbPart(testJPEG(t, "")), clipPart(mediaFixture(t, "mjpeg.mp4")))
	if msg, _ := r.body["error"].(map[string]any)["message"].(string); r.status != 400 || !strings.Contains(msg, "H.264 or H.265") {
		t.Fatalf("Motion JPEG clip: %d %s", r.status, r.raw)
	}
}

func TestEventUploadViewAndDelete(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Ann's house")
	cam := e.pairCamera(ann, home)
	started := recent(5)
	up := e.upload(cam, "evt-0001", started, 300<<10)

	// The event, as read and as listed.
	ev := e.must(200, "GET", "/api/v1/events/"+up.id, ann.token, nil)
	if ev.str("id") != up.id || ev.str("home_id") != home || ev.str("device_id") != cam.id || ev.str("kind") != "motion" ||
		ev.str("thumbnail_url") != "/api/v1/events/"+up.id+"/thumbnail" || ev.str("clip_url") != "/api/v1/events/"+up.id+"/clip" {
		t.Fatalf("event = %s", ev.raw)
	}
	if got, err := time.Parse(time.RFC3339, ev.str("started_at")); err != nil || !got.Equal(started) {
		t.Fatalf("started_at %q, want %s", ev.str("started_at"), started)
	}
	wantClip := map[string]any{"codec": servicetest.MP4Codec, "duration_ms": float64(servicetest.MP4DurationMS),
		"width": float64(servicetest.MP4Width), "height": float64(servicetest.MP4Height)}
	if !reflect.DeepEqual(ev.body["clip"], wantClip) {
		t.Fatalf("clip = %v, want %v", ev.body["clip"], wantClip)
	}
	list, _ := e.events(ann.token, "")
	if ids := eventIDs(list); len(ids) != 1 || ids[0] != up.id {
		t.Fatalf("list = %v", ids)
	}
	if !reflect.DeepEqual(list[0]["clip"], wantClip) {
		t.Fatalf("listed clip = %v, want %v", list[0]["clip"], wantClip)
	}

	checkMediaHeaders := func(what string, r resp) {
		t.Helper()
		cc := r.header.Get("Cache-Control")
		if !strings.Contains(cc, "private") || strings.Contains(cc, "public") {
			t.Errorf("%s: Cache-Control %q", what, cc)
		}
		if r.header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", what)
		}
	}

	t.Run("thumbnail", func(t *testing.T) {
		r := e.req("GET", "/api/v1/events/"+up.id+"/thumbnail", ann.token, nil, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(r.raw, up.thumb) {
			t.Fatalf("thumbnail: %d %s, %d bytes (want %d)", r.status, r.header.Get("Content-Type"), len(r.raw), len(up.thumb))
		}
		checkMediaHeaders("thumbnail", r)
		nm := e.req("GET", "/api/v1/events/"+up.id+"/thumbnail", ann.token, map[string]string{"If-None-Match": r.header.Get("ETag")}, nil)
		if nm.status != 304 || len(nm.raw) != 0 {
			t.Errorf("If-None-Match: %d, %d bytes", nm.status, len(nm.raw))
		}
	})

	t.Run("clip", func(t *testing.T) {
		size := len(up.clip)
		r := e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, nil, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "video/mp4" || !bytes.Equal(r.raw, up.clip) {
			t.Fatalf("clip: %d %s, %d bytes (want %d)", r.status, r.header.Get("Content-Type"), len(r.raw), size)
		}
		checkMediaHeaders("clip", r)
		if r.header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("Accept-Ranges %q", r.header.Get("Accept-Ranges"))
		}
		etag := r.header.Get("ETag")
		nm := e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, map[string]string{"If-None-Match": etag}, nil)
		if nm.status != 304 || len(nm.raw) != 0 {
			t.Errorf("If-None-Match: %d, %d bytes", nm.status, len(nm.raw))
		}
		if etag == e.req("GET", "/api/v1/events/"+up.id+"/thumbnail", ann.token, nil, nil).header.Get("ETag") {
			t.Errorf("thumbnail and clip share the ETag %s", etag)
		}

		const seg = 64 << 10
		ranges := []struct {
			spec       string
			start, end int // inclusive
		}{
			{"bytes=0-99", 0, 99},
			{"bytes=0-0", 0, 0},
			{fmt.Sprintf("bytes=%d-%d", seg-10, seg+9), seg - 10, seg + 9},      // across the first segment boundary
			{fmt.Sprintf("bytes=%d-%d", seg, seg), seg, seg},                    // first byte of segment 1
			{fmt.Sprintf("bytes=%d-%d", seg-1, 3*seg+5), seg - 1, 3*seg + 5},    // spans four segments
			{fmt.Sprintf("bytes=%d-", 4*seg+17), 4*seg + 17, size - 1},          // open-ended into the last segment
			{"bytes=-100", size - 100, size - 1},                                // suffix
			{fmt.Sprintf("bytes=%d-%d", size-5, size+1000), size - 5, size - 1}, // end past the size
			{fmt.Sprintf("bytes=%d-%d", 2*seg-1, 2*seg), 2*seg - 1, 2 * seg},    // two bytes, two segments
		}
		for _, rg := range ranges {
			r := e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, map[string]string{"Range": rg.spec}, nil)
			want := fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end, size)
			if r.status != 206 || r.header.Get("Content-Range") != want || !bytes.Equal(r.raw, up.clip[rg.start:rg.end+1]) {
				t.Errorf("Range %s: %d, Content-Range %q (want %q), %d bytes, equal %v", rg.spec, r.status,
					r.header.Get("Content-Range"), want, len(r.raw), bytes.Equal(r.raw, up.clip[rg.start:rg.end+1]))
				continue
			}
			checkMediaHeaders("range "+rg.spec, r)
		}

		// Two ranges in one request: multipart/byteranges.
		r = e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, map[string]string{"Range": fmt.Sprintf("bytes=0-9,%d-%d", seg-3, seg+3)}, nil)
		mt, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
		if r.status != 206 || mt != "multipart/byteranges" {
			t.Fatalf("two ranges: %d %s", r.status, r.header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(r.raw), params["boundary"])
		for i, want := range [][]byte{up.clip[0:10], up.clip[seg-3 : seg+4]} {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("two ranges, part %d: %v", i, err)
			}
			got, _ := io.ReadAll(p)
			if !bytes.Equal(got, want) {
				t.Errorf("two ranges, part %d: wrong bytes", i)
			}
		}

		// Thousands of one-byte ranges would open a 64 KiB sealed segment
		// each for one byte each: past media.MaxRanges the Range header
		// is ignored and the whole clip is the answer, whose cost is
		// bounded by its size.
		many := make([]string, 2399)
		for i := range many {
			at := (i * 37) % size
			many[i] = fmt.Sprintf("%d-%d", at, at)
		}
		r = e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, map[string]string{"Range": "bytes=" + strings.Join(many, ",")}, nil)
		if r.status != 200 || !bytes.Equal(r.raw, up.clip) {
			t.Errorf("2,399 one-byte ranges: %d, %d bytes; want 200 and the whole clip", r.status, len(r.raw))
		}
		few := fmt.Sprintf("bytes=0-0,%d-%d,%d-%d", seg, seg, 2*seg, 2*seg)
		if r = e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, map[string]string{"Range": few}, nil); r.status != 206 {
			t.Errorf("three ranges: %d, want 206 in parts", r.status)
		}

		// Unsatisfiable.
		r = e.req("GET", "/api/v1/events/"+up.id+"/clip", ann.token, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size+10)}, nil)
		if r.status != 416 || bytes.Contains(r.raw, up.clip[:16]) {
			t.Errorf("unsatisfiable range: %d", r.status)
		}
	})

	t.Run("delete", func(t *testing.T) {
		missing := id.New()
		e.must(204, "DELETE", "/api/v1/events/"+up.id, ann.token, nil)
		for _, p := range []struct{ method, suffix string }{
			{"GET", ""}, {"GET", "/thumbnail"}, {"GET", "/clip"}, {"DELETE", ""},
		} {
			got := e.call(p.method, "/api/v1/events/"+up.id+p.suffix, ann.token, nil)
			want := e.call(p.method, "/api/v1/events/"+missing+p.suffix, ann.token, nil)
			if got.status != 404 || string(got.raw) != string(want.raw) {
				t.Errorf("%s %s after delete: %d %s; missing: %d %s", p.method, p.suffix, got.status, got.raw, want.status, want.raw)
			}
		}
		if list, _ := e.events(ann.token, ""); len(list) != 0 {
			t.Errorf("list after delete = %v", eventIDs(list))
		}
		if list, _ := e.events(ann.token, "?home="+home); len(list) != 0 {
			t.Errorf("home list after delete = %v", eventIDs(list))
		}
		if f := e.blobFiles(); len(f) != 0 {
			t.Errorf("blob files after delete: %v", f)
		}
	})
}

// ---- 2. idempotency ----

func TestEventUploadIdempotent(t *testing.T) {
	t.Parallel()
	// Ten copies of one upload at once, from one camera: past what a
	// camera may have in flight (2) unless allowed here, since what is
	// tested is the store's idempotency under the race.
	e := newEnv(t, func(o *server.Options) {
		o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
		o.Admission.UploadsPerDevice = 16
	})
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)

	t.Run("retry", func(t *testing.T) {
		first := e.upload(cam, "retry-1", recent(10), 100<<10)
		filesBefore := len(e.blobFiles())
		// The same event again, even with other bytes: 200, same id, nothing stored.
		for range 2 {
			r := e.uploadParts(cam.token, meta("retry-1", recent(10), "motion"), thumbPart(testJPEG(t, "")), clipPart(testMP4(1000, "")))
			if r.status != 200 || r.str("id") != first.id {
				t.Fatalf("retry: %d %s, want 200 with id %s", r.status, r.raw, first.id)
			}
		}
		if list, _ := e.events(ann.token, ""); len(list) != 1 || list[0]["id"] != first.id {
			t.Fatalf("list after retries = %v", eventIDs(list))
		}
		if n := len(e.blobFiles()); n != filesBefore {
			t.Fatalf("blob files: %d after retries, %d before", n, filesBefore)
		}
		// What is served is still the first upload.
		if r := e.req("GET", "/api/v1/events/"+first.id+"/thumbnail", ann.token, nil, nil); !bytes.Equal(r.raw, first.thumb) {
			t.Fatalf("thumbnail changed by a retry")
		}
		// Another camera may use the same event_id: a distinct event.
		other := e.pairCamera(ann, home)
		second := e.upload(other, "retry-1", recent(9), 0)
		if second.id == first.id {
			t.Fatalf("two cameras' events share id %s", first.id)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		cam := e.pairCamera(ann, home)
		before, _ := e.events(ann.token, "?limit=200")
		filesBefore := len(e.blobFiles())
		thumb, clip := testJPEG(t, ""), testMP4(300<<10, "")
		ct, body := multipartBody(meta("storm-42", recent(3), "person"), thumbPart(thumb), clipPart(clip))

		const n = 10
		var wg sync.WaitGroup
		results := make([]resp, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = e.rawRequest("POST", "/api/v1/device/events", cam.token, map[string]string{"Content-Type": ct}, body)
			}()
		}
		close(start)
		wg.Wait()
		created, ok, ids := 0, 0, map[string]bool{}
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("upload %d: %v", i, errs[i])
			}
			switch r.status {
			case 201:
				created++
			case 200:
				ok++
			default:
				t.Errorf("upload %d: %d %s", i, r.status, r.raw)
			}
			ids[r.str("id")] = true
		}
		if created != 1 || ok != n-1 || len(ids) != 1 {
			t.Fatalf("concurrent uploads: %d created, %d 200, ids %v", created, ok, ids)
		}
		after, _ := e.events(ann.token, "?limit=200")
		if len(after) != len(before)+1 {
			t.Fatalf("events listed: %d before, %d after", len(before), len(after))
		}
		mine, _ := e.events(ann.token, "?device="+cam.id)
		if len(mine) != 1 || !ids[mine[0]["id"].(string)] {
			t.Fatalf("camera's events = %v", eventIDs(mine))
		}
		// One event's blobs (thumbnail and clip), nothing left by the losers.
		if files := e.blobFiles(); len(files) != filesBefore+2 {
			t.Fatalf("blob files: %d before, %d after (want +2): %v", filesBefore, len(files), files)
		}
		tmp, err := os.ReadDir(filepath.Join(e.data, "blobs", "tmp"))
		if err != nil || len(tmp) != 0 {
			t.Fatalf("temp blobs left: %d (%v)", len(tmp), err)
		}
		eid := mine[0]["id"].(string)
		if r := e.req("GET", "/api/v1/events/"+eid+"/clip", ann.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, clip) {
			t.Fatalf("clip after the storm: %d, %d bytes", r.status, len(r.raw))
		}
	})
}

// ---- 3. other households ----

func TestEventsOtherHouseholdSees404(t *testing.T) {
	e := newEventEnv(t)
	ann, mallory := e.signup("ann"), e.signup("mallory")
	home := e.home(ann, "Ann's house")
	cam := e.pairCamera(ann, home)
	up := e.upload(cam, "ann-1", recent(2), 70<<10)
	e.home(mallory, "Mallory's house") // a member of something, still sees nothing of Ann's
	missing := id.New()

	probes := []struct{ method, path, missingPath string }{
		{"GET", "/api/v1/events/" + up.id, "/api/v1/events/" + missing},
		{"GET", "/api/v1/events/" + up.id + "/thumbnail", "/api/v1/events/" + missing + "/thumbnail"},
		{"GET", "/api/v1/events/" + up.id + "/clip", "/api/v1/events/" + missing + "/clip"},
		{"DELETE", "/api/v1/events/" + up.id, "/api/v1/events/" + missing},
		{"GET", "/api/v1/events/not-an-id", "/api/v1/events/" + missing},
		{"GET", "/api/v1/events?home=" + home, "/api/v1/events?home=" + missing},
		{"GET", "/api/v1/events?device=" + cam.id, "/api/v1/events?device=" + missing},
		{"GET", "/api/v1/events?home=" + home + "&device=" + cam.id, "/api/v1/events?home=" + missing + "&device=" + missing},
		{"GET", "/api/v1/homes/" + home + "/audit", "/api/v1/homes/" + missing + "/audit"},
	}
	for _, p := range probes {
		for _, hdr := range []map[string]string{nil, {"Range": "bytes=0-10"}} {
			got := e.req(p.method, p.path, mallory.token, hdr, nil)
			want := e.req(p.method, p.missingPath, mallory.token, hdr, nil)
			if got.status != 404 || want.status != 404 || string(got.raw) != string(want.raw) {
				t.Errorf("%s %s as a stranger: %d %s; missing: %d %s", p.method, p.path, got.status, got.raw, want.status, want.raw)
			}
			if bytes.Contains(got.raw, up.thumb[:8]) || bytes.Contains(got.raw, up.clip[:8]) {
				t.Errorf("%s %s: media bytes to a stranger", p.method, p.path)
			}
		}
	}
	if list, next := e.events(mallory.token, ""); len(list) != 0 || next != "" {
		t.Errorf("stranger lists %v", eventIDs(list))
	}
	// Nothing changed: Ann still has her event, whole.
	if r := e.req("GET", "/api/v1/events/"+up.id+"/thumbnail", ann.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, up.thumb) {
		t.Errorf("ann's thumbnail after the stranger: %d", r.status)
	}
}

// ---- 4. viewers limited to cameras ----

func TestEventsViewerLimitedToCamera(t *testing.T) {
	e := newEventEnv(t)
	ann, bob := e.signup("ann"), e.signup("bob")
	home := e.home(ann, "Shared")
	cam1, cam2 := e.pairCamera(ann, home), e.pairCamera(ann, home)
	ev1 := e.upload(cam1, "c1-a", recent(30), 10<<10)
	ev1b := e.upload(cam1, "c1-b", recent(20), 0)
	ev2 := e.upload(cam2, "c2-a", recent(25), 10<<10)
	e.share(ann, home, bob, "viewer", cam1.id)

	for _, q := range []string{"", "?home=" + home, "?device=" + cam1.id} {
		list, _ := e.events(bob.token, q)
		if ids := eventIDs(list); len(ids) != 2 || ids[0] != ev1b.id || ids[1] != ev1.id {
			t.Errorf("bob lists %v with %q, want [%s %s]", ids, q, ev1b.id, ev1.id)
		}
	}
	if all, _ := e.events(ann.token, ""); len(all) != 3 {
		t.Errorf("ann lists %d events", len(all))
	}
	missing := id.New()
	for _, p := range []struct{ path, missingPath string }{
		{"/api/v1/events/" + ev2.id, "/api/v1/events/" + missing},
		{"/api/v1/events/" + ev2.id + "/thumbnail", "/api/v1/events/" + missing + "/thumbnail"},
		{"/api/v1/events/" + ev2.id + "/clip", "/api/v1/events/" + missing + "/clip"},
		{"/api/v1/events?device=" + cam2.id, "/api/v1/events?device=" + missing},
		{"/api/v1/events?home=" + home + "&device=" + cam2.id, "/api/v1/events?home=" + home + "&device=" + missing},
	} {
		got, want := e.call("GET", p.path, bob.token, nil), e.call("GET", p.missingPath, bob.token, nil)
		if got.status != 404 || string(got.raw) != string(want.raw) {
			t.Errorf("bob GET %s: %d %s; missing: %d %s", p.path, got.status, got.raw, want.status, want.raw)
		}
	}
	// Hidden events answer DELETE like missing ones; visible ones 403.
	got, want := e.call("DELETE", "/api/v1/events/"+ev2.id, bob.token, nil), e.call("DELETE", "/api/v1/events/"+missing, bob.token, nil)
	if got.status != 404 || string(got.raw) != string(want.raw) {
		t.Errorf("bob DELETE hidden event: %d %s", got.status, got.raw)
	}
	e.must(403, "DELETE", "/api/v1/events/"+ev1.id, bob.token, nil)

	// What bob may see he sees whole.
	if r := e.req("GET", "/api/v1/events/"+ev1.id+"/thumbnail", bob.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, ev1.thumb) {
		t.Errorf("bob's thumbnail: %d", r.status)
	}
	if r := e.req("GET", "/api/v1/events/"+ev1.id+"/clip", bob.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, ev1.clip) {
		t.Errorf("bob's clip: %d", r.status)
	}
	// An event without a clip has no clip.
	if r := e.call("GET", "/api/v1/events/"+ev1b.id, bob.token, nil); r.body["clip_url"] != nil || r.body["clip"] != nil {
		t.Errorf("event without a clip has clip_url %v, clip %v", r.body["clip_url"], r.body["clip"])
	}
	e.must(404, "GET", "/api/v1/events/"+ev1b.id+"/clip", bob.token, nil)
	// Nothing of ann's was deleted.
	if all, _ := e.events(ann.token, ""); len(all) != 3 {
		t.Errorf("ann lists %d events after bob's attempts", len(all))
	}
	// Unsharing ends it at once.
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+bob.id, ann.token, nil)
	e.must(404, "GET", "/api/v1/events/"+ev1.id+"/thumbnail", bob.token, nil)
	if list, _ := e.events(bob.token, ""); len(list) != 0 {
		t.Errorf("bob lists %v after unsharing", eventIDs(list))
	}
}

// ---- 5. pagination ----

func TestEventsPagination(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam, cam2 := e.pairCamera(ann, home), e.pairCamera(ann, home)
	base := recent(600)
	var want []string // newest first
	var times []time.Time
	for i := range 7 {
		c := cam
		if i%3 == 2 {
			c = cam2
		}
		started := base.Add(time.Duration(i) * 7 * time.Minute)
		u := e.upload(c, "page-"+strconv.Itoa(i), started, 0)
		want = append([]string{u.id}, want...)
		times = append([]time.Time{started}, times...)
	}

	var got []string
	next := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatalf("pagination does not end")
		}
		q := "?limit=3"
		if next != "" {
			q += "&before=" + url.QueryEscape(next)
		}
		list, n := e.events(ann.token, q)
		if len(list) > 3 {
			t.Fatalf("page of %d with limit 3", len(list))
		}
		got = append(got, eventIDs(list)...)
		if n == "" || len(list) == 0 {
			break
		}
		next = n
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged ids\n got %v\nwant %v", got, want)
	}

	// before=<RFC 3339 time> jumps: strictly older than that time.
	list, _ := e.events(ann.token, "?before="+url.QueryEscape(times[2].Format(time.RFC3339)))
	if ids := eventIDs(list); strings.Join(ids, ",") != strings.Join(want[3:], ",") {
		t.Errorf("before %s: %v, want %v", times[2], ids, want[3:])
	}
	list, _ = e.events(ann.token, "?limit=2&before="+url.QueryEscape(times[4].Add(time.Second).Format(time.RFC3339)))
	if ids := eventIDs(list); strings.Join(ids, ",") != strings.Join(want[4:6], ",") {
		t.Errorf("before %s limit 2: %v, want %v", times[4].Add(time.Second), ids, want[4:6])
	}
	if list, _ = e.events(ann.token, "?before="+url.QueryEscape(base.Format(time.RFC3339))); len(list) != 0 {
		t.Errorf("before the first event: %v", eventIDs(list))
	}
	// Paging within one camera.
	list, _ = e.events(ann.token, "?device="+cam2.id+"&limit=1")
	if len(list) != 1 || list[0]["device_id"] != cam2.id {
		t.Errorf("cam2 first page: %v", list)
	}
	for _, bad := range []string{"?limit=0x", "?limit=-1", "?limit=201", "?before=yesterday", "?before=" + url.QueryEscape("2026-13-01T00:00:00Z"), "?kind=dog"} {
		if r := e.call("GET", "/api/v1/events"+bad, ann.token, nil); r.status != 400 {
			t.Errorf("GET /api/v1/events%s: %d %s, want 400", bad, r.status, r.raw)
		}
	}
}

// ---- 6. the device comes from the token ----

func TestEventUploadDeviceFromTokenOnly(t *testing.T) {
	e := newEventEnv(t)
	ann, mallory := e.signup("ann"), e.signup("mallory")
	home := e.home(ann, "Home")
	camA, camB := e.pairCamera(ann, home), e.pairCamera(ann, home)
	mhome := e.home(mallory, "Mallory's")
	mcam := e.pairCamera(mallory, mhome)

	thumb := testJPEG(t, "")
	now := recent(1).Format(time.RFC3339)
	for _, extra := range []map[string]string{
		{"device_id": camA.id},
		{"home_id": home},
		{"device": camA.id},
		{"account_id": ann.id},
	} {
		m := map[string]string{"event_id": "forged-1", "started_at": now, "kind": "motion"}
		for k, v := range extra {
			m[k] = v
		}
		r := e.uploadParts(mcam.token, metaPart(m), thumbPart(thumb))
		if r.status != 400 {
			t.Errorf("meta with %v: %d %s, want 400", extra, r.status, r.raw)
		}
	}
	if list, _ := e.events(ann.token, ""); len(list) != 0 {
		t.Fatalf("ann's list after forged uploads: %v", eventIDs(list))
	}
	if list, _ := e.events(mallory.token, ""); len(list) != 0 {
		t.Fatalf("mallory's list after forged uploads: %v", eventIDs(list))
	}
	if f := e.blobFiles(); len(f) != 0 {
		t.Fatalf("blob files after forged uploads: %v", f)
	}

	a := e.upload(camA, "same-id", recent(4), 0)
	b := e.upload(camB, "same-id", recent(3), 0)
	m := e.upload(mcam, "same-id", recent(2), 0)
	for _, c := range []struct {
		up        uploaded
		cam, home string
		tok       string
	}{{a, camA.id, home, ann.token}, {b, camB.id, home, ann.token}, {m, mcam.id, mhome, mallory.token}} {
		ev := e.must(200, "GET", "/api/v1/events/"+c.up.id, c.tok, nil)
		if ev.str("device_id") != c.cam || ev.str("home_id") != c.home {
			t.Errorf("event %s: device %s home %s, want %s %s", c.up.id, ev.str("device_id"), ev.str("home_id"), c.cam, c.home)
		}
	}
	list, _ := e.events(ann.token, "?device="+camB.id)
	if len(list) != 1 || list[0]["id"] != b.id || list[0]["device_id"] != camB.id {
		t.Errorf("camera B's events: %v", list)
	}
	if list, _ := e.events(ann.token, ""); len(list) != 2 {
		t.Errorf("ann lists %d events, want 2", len(list))
	}
	// The blobs are named for the uploading camera.
	for _, f := range e.blobFiles() {
		if !strings.HasPrefix(f, "h/"+home+"/"+camA.id+"/"+a.id+"/") && !strings.HasPrefix(f, "h/"+home+"/"+camB.id+"/"+b.id+"/") &&
			!strings.HasPrefix(f, "h/"+mhome+"/"+mcam.id+"/"+m.id+"/") {
			t.Errorf("unexpected blob %s", f)
		}
	}
	// A deleted camera's token uploads nothing.
	e.must(204, "DELETE", "/api/v1/devices/"+camB.id, ann.token, nil)
	if r := e.uploadParts(camB.token, meta("after-unpair", recent(1), "motion"), thumbPart(thumb)); r.status != 401 {
		t.Errorf("upload with an unpaired camera's token: %d %s", r.status, r.raw)
	}
}

// ---- 7. bad input changes nothing ----

func TestEventUploadBadInputChangesNothing(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	good := e.upload(cam, "good-1", recent(60), 130<<10)
	goodFiles := e.blobFiles()

	now := recent(1)
	thumb := testJPEG(t, "")
	clip := testMP4(130<<10, "")
	okMeta := func(id string) upPart { return meta(id, now, "motion") }
	noMovie := append(box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2")), box("mdat", make([]byte, 5000))...)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde")
	eoiless := thumb[:len(thumb)/2]
	bigThumb := bigJPEG(t)

	type tc struct {
		name   string
		parts  []upPart
		status int
	}
	cases := []tc{
		{"no parts", nil, 400},
		{"missing meta", []upPart{thumbPart(thumb)}, 400},
		{"meta not first", []upPart{thumbPart(thumb), okMeta("bad-1")}, 400},
		{"meta twice", []upPart{okMeta("bad-2"), okMeta("bad-2"), thumbPart(thumb)}, 400},
		{"event_id with space", []upPart{okMeta("a b"), thumbPart(thumb)}, 400},
		{"event_id 65 chars", []upPart{okMeta(strings.Repeat("e", 65)), thumbPart(thumb)}, 400},
		{"event_id empty", []upPart{okMeta(""), thumbPart(thumb)}, 400},
		{"event_id path", []upPart{okMeta("../x"), thumbPart(thumb)}, 400},
		{"bad kind", []upPart{meta("bad-3", now, "dog"), thumbPart(thumb)}, 400},
		{"no kind", []upPart{metaPart(map[string]string{"event_id": "bad-4", "started_at": now.Format(time.RFC3339)}), thumbPart(thumb)}, 400},
		{"no started_at", []upPart{metaPart(map[string]string{"event_id": "bad-5", "kind": "motion"}), thumbPart(thumb)}, 400},
		{"started_at garbage", []upPart{metaPart(map[string]string{"event_id": "bad-6", "kind": "motion", "started_at": "yesterday"}), thumbPart(thumb)}, 400},
		{"meta not JSON", []upPart{{name: "meta", data: []byte(`{"event_id": "bad-8",`)}, thumbPart(thumb)}, 400},
		{"meta array", []upPart{{name: "meta", data: []byte(`["bad-9"]`)}, thumbPart(thumb)}, 400},
		{"meta oversize", []upPart{{name: "meta", data: []byte(`{"event_id":"` + strings.Repeat("x", 8<<10) + `"}`)}, thumbPart(thumb)}, 413},
		{"no thumbnail", []upPart{okMeta("bad-10")}, 400},
		{"clip but no thumbnail", []upPart{okMeta("bad-11"), clipPart(clip)}, 400},
		{"non-JPEG thumbnail", []upPart{okMeta("bad-12"), thumbPart(png)}, 400},
		{"text thumbnail", []upPart{okMeta("bad-13"), thumbPart([]byte("hello, this is not an image"))}, 400},
		{"empty thumbnail", []upPart{okMeta("bad-14"), thumbPart(nil)}, 400},
		{"truncated JPEG", []upPart{okMeta("bad-15"), thumbPart(eoiless)}, 400},
		{"two thumbnails", []upPart{okMeta("bad-17"), thumbPart(thumb), thumbPart(thumb)}, 400},
		{"thumbnail over 1 MiB", []upPart{okMeta("bad-18"), thumbPart(bigThumb)}, 413},
		{"non-MP4 clip", []upPart{okMeta("bad-19"), thumbPart(thumb), clipPart(bytes.Repeat([]byte("not an mp4 "), 2000))}, 400},
		{"clip not starting with ftyp", []upPart{okMeta("bad-20"), thumbPart(thumb), clipPart(clip[len(box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2"))):])}, 400},
		{"clip cut mid-box", []upPart{okMeta("bad-21"), thumbPart(thumb), clipPart(clip[:len(clip)-1000])}, 400},
		{"clip cut mid-header", []upPart{okMeta("bad-22"), thumbPart(thumb), clipPart(append(append([]byte{}, clip...), 0, 0, 0))}, 400},
		{"clip without moov", []upPart{okMeta("bad-23"), thumbPart(thumb), clipPart(noMovie)}, 400},
		{"empty clip", []upPart{okMeta("bad-24"), thumbPart(thumb), clipPart(nil)}, 400},
		{"Motion JPEG clip", []upPart{okMeta("bad-29"), thumbPart(thumb), clipPart(mediaFixture(t, "mjpeg.mp4"))}, 400},
		{"two clips", []upPart{okMeta("bad-25"), thumbPart(thumb), clipPart(clip), clipPart(clip)}, 400},
		{"good clip then bad thumbnail", []upPart{okMeta("bad-26"), clipPart(clip), thumbPart(eoiless)}, 400},
		{"unknown part", []upPart{okMeta("bad-27"), thumbPart(thumb), {name: "device_id", data: []byte(cam.id)}}, 400},
		{"unknown part first after meta", []upPart{okMeta("bad-28"), {name: "extra", data: []byte("x")}, thumbPart(thumb)}, 400},
	}
	for _, c := range cases {
		r := e.uploadParts(cam.token, c.parts...)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.raw, c.status)
			continue
		}
		if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s: no error message: %s", c.name, r.raw)
		}
	}

	// Not multipart at all, or broken multipart.
	ct, body := multipartBody(okMeta("bad-30"), thumbPart(thumb))
	raw := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
	}{
		{"JSON body", map[string]string{"Content-Type": "application/json"}, []byte(`{"event_id":"bad-31"}`), 400},
		{"no content type", nil, body, 400},
		{"multipart without boundary", map[string]string{"Content-Type": "multipart/form-data"}, body, 400},
		{"multipart/mixed", map[string]string{"Content-Type": strings.Replace(ct, "form-data", "mixed", 1)}, body, 400},
		{"wrong boundary", map[string]string{"Content-Type": "multipart/form-data; boundary=nope"}, body, 400},
		{"cut before the end", map[string]string{"Content-Type": ct}, body[:len(body)-40], 400},
		{"cut mid-thumbnail", map[string]string{"Content-Type": ct}, body[:len(body)/2], 400},
	}
	for _, c := range raw {
		r := e.req("POST", "/api/v1/device/events", cam.token, c.hdr, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.raw, c.status)
		}
	}

	// Wrong credentials.
	hdr := map[string]string{"Content-Type": ct}
	for _, c := range []struct{ name, tok string }{
		{"person token on the device route", ann.token},
		{"no token", ""},
		{"garbage device token", "cvd_" + strings.Repeat("a", 52)},
	} {
		if r := e.req("POST", "/api/v1/device/events", c.tok, hdr, body); r.status != 401 {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/events"},
		{"GET", "/api/v1/events/" + good.id},
		{"GET", "/api/v1/events/" + good.id + "/thumbnail"},
		{"GET", "/api/v1/events/" + good.id + "/clip"},
		{"DELETE", "/api/v1/events/" + good.id},
		{"GET", "/api/v1/homes/" + home + "/audit"},
	} {
		r := e.call(p.method, p.path, cam.token, nil)
		if r.status != 401 || bytes.Contains(r.raw, good.thumb[:8]) {
			t.Errorf("device token on %s %s: %d %s", p.method, p.path, r.status, r.raw)
		}
	}

	// Nothing changed: the one good event, its blobs and nothing else.
	list, _ := e.events(ann.token, "")
	if ids := eventIDs(list); len(ids) != 1 || ids[0] != good.id {
		t.Errorf("list after bad input: %v", ids)
	}
	if files := e.blobFiles(); strings.Join(files, ",") != strings.Join(goodFiles, ",") {
		t.Errorf("blob files after bad input:\n%v\nwant\n%v", files, goodFiles)
	}
	if tmp, _ := os.ReadDir(filepath.Join(e.data, "blobs", "tmp")); len(tmp) != 0 {
		t.Errorf("%d temp blobs left", len(tmp))
	}
	// The refused event IDs are free: the camera may send them properly.
	for _, eid := range []string{"bad-10", "bad-18", "bad-21", "bad-26"} {
		e.upload(cam, eid, now, 0)
	}
	if r := e.req("GET", "/api/v1/events/"+good.id+"/clip", ann.token, nil, nil); !bytes.Equal(r.raw, good.clip) {
		t.Errorf("good clip changed")
	}
}

// TestEventUploadEveryKind uploads an event of each of domain.EventKinds:
// each is stored, listed as its kind and found by the kind filter. A kind
// not in the list is refused, at upload and in the filter, with a message
// naming the whole list, and nothing is stored.
func TestEventUploadEveryKind(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	thumb := testJPEG(t, "")
	kinds := domain.EventKinds()
	for i, k := range kinds {
		r := e.uploadParts(cam.token, meta("kind-"+string(k), recent(len(kinds)-i), string(k)), thumbPart(thumb))
		if r.status != 201 {
			t.Fatalf("upload of kind %q: %d %s", k, r.status, r.raw)
		}
		list, _ := e.events(ann.token, "?kind="+string(k))
		if len(list) != 1 || list[0]["id"] != r.str("id") || list[0]["kind"] != string(k) {
			t.Fatalf("events of kind %q: %v, want the one uploaded (%s)", k, list, r.str("id"))
		}
	}

	quoted := make([]string, 0, len(kinds))
	for _, k := range kinds {
		quoted = append(quoted, strconv.Quote(string(k)))
	}
	want := "kind must be one of " + strings.Join(quoted, ", ")
	refused := func(what string, r resp) {
		t.Helper()
		msg, _ := r.body["error"].(map[string]any)["message"].(string)
		if r.status != 400 || r.errCode() != "invalid_request" || msg != want {
			t.Errorf("%s: %d %s, want 400 with message %q", what, r.status, r.raw, want)
		}
	}
	refused("upload of kind bogus", e.uploadParts(cam.token, meta("kind-bogus", recent(1), "bogus"), thumbPart(thumb)))
	refused("filter on kind bogus", e.call("GET", "/api/v1/events?kind=motion&kind=bogus", ann.token, nil))
	if all, _ := e.events(ann.token, "?limit=200"); len(all) != len(kinds) {
		t.Errorf("%d events stored, want %d (one per kind)", len(all), len(kinds))
	}
}

// ---- 8. the last-step check ----

func TestMediaGuardBlocksWrongHome(t *testing.T) {
	e := newEventEnv(t)
	ann, bea := e.signup("ann"), e.signup("bea")
	homeA, homeB := e.home(ann, "A"), e.home(bea, "B")
	camA, camB := e.pairCamera(ann, homeA), e.pairCamera(bea, homeB)
	evA := e.upload(camA, "a-1", recent(5), 70<<10)
	evB := e.upload(camB, "b-1", recent(4), 0)
	keyA := "h/" + homeA + "/" + camA.id + "/" + evA.id + "/thumbnail"
	keyAClip := "h/" + homeA + "/" + camA.id + "/" + evA.id + "/clip"
	keyB := "h/" + homeB + "/" + camB.id + "/" + evB.id + "/thumbnail"

	blobs, err := disk.Open(filepath.Join(e.data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	sealedB, err := os.ReadFile(e.blobFile(keyB))
	if err != nil {
		t.Fatalf("B's sealed thumbnail: %v", err)
	}
	if bytes.Contains(sealedB, evB.thumb[:64]) {
		t.Fatalf("B's thumbnail is stored in the clear")
	}
	swap := func(key string, sealed []byte) {
		t.Helper()
		ctx := context.Background()
		if err := blobs.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := blobs.Put(ctx, key, bytes.NewReader(sealed)); err != nil {
			t.Fatal(err)
		}
	}

	blockedEntries := func() int {
		n := 0
		for _, en := range e.must(200, "GET", "/api/v1/homes/"+homeA+"/audit", ann.token, nil).body["entries"].([]any) {
			if en.(map[string]any)["result"] == "blocked" {
				n++
			}
		}
		return n
	}
	checkBlocked := func(what string, r resp, wantCount int) {
		t.Helper()
		if r.status != 500 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.errCode() == "" {
			t.Errorf("%s: %d %s %q, want 500 with a JSON error", what, r.status, r.header.Get("Content-Type"), r.raw)
		}
		if bytes.Contains(r.raw, []byte{0xFF, 0xD8}) || bytes.Contains(r.raw, evB.thumb[:32]) || bytes.Contains(r.raw, evA.clip[:32]) {
			t.Errorf("%s: media bytes in the answer", what)
		}
		var probe map[string]any
		if err := json.Unmarshal(r.raw, &probe); err != nil || len(probe) != 1 {
			t.Errorf("%s: body is not just the JSON error: %q", what, r.raw)
		}
		m := e.adminGet("/metrics")
		if want := "camvault_egress_blocked_total " + strconv.Itoa(wantCount) + "\n"; !strings.Contains(m, want) {
			t.Errorf("%s: metrics lack %q", what, strings.TrimSpace(want))
		}
		if n := blockedEntries(); n != wantCount {
			t.Errorf("%s: %d blocked entries in A's audit log, want %d", what, n, wantCount)
		}
	}

	if n := blockedEntries(); n != 0 {
		t.Fatalf("blocked entries before the swap: %d", n)
	}

	// B's sealed thumbnail under A's key: it opens (with B's key, the key of
	// the home its label names), but the guard sees a label for home B on a
	// request decided for home A and sends nothing.
	swap(keyA, sealedB)
	r := e.req("GET", "/api/v1/events/"+evA.id+"/thumbnail", ann.token, nil, nil)
	checkBlocked("B's thumbnail under A's key", r, 1)
	r = e.req("GET", "/api/v1/events/"+evA.id+"/thumbnail", ann.token, map[string]string{"Range": "bytes=0-1"}, nil)
	checkBlocked("B's thumbnail under A's key, ranged", r, 2)

	// A's own clip under A's thumbnail key: right home, wrong kind.
	sealedClip, err := os.ReadFile(e.blobFile(keyAClip))
	if err != nil {
		t.Fatal(err)
	}
	swap(keyA, sealedClip)
	r = e.req("GET", "/api/v1/events/"+evA.id+"/thumbnail", ann.token, nil, nil)
	checkBlocked("A's clip under A's thumbnail key", r, 3)

	// Everything else still works, and B's log records nothing of it.
	if r := e.req("GET", "/api/v1/events/"+evA.id+"/clip", ann.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, evA.clip) {
		t.Errorf("A's clip: %d", r.status)
	}
	if r := e.req("GET", "/api/v1/events/"+evB.id+"/thumbnail", bea.token, nil, nil); r.status != 200 || !bytes.Equal(r.raw, evB.thumb) {
		t.Errorf("B's thumbnail: %d", r.status)
	}
	for _, en := range e.must(200, "GET", "/api/v1/homes/"+homeB+"/audit", bea.token, nil).body["entries"].([]any) {
		m := en.(map[string]any)
		if m["result"] != "ok" || m["actor"] != bea.email && m["action"] != "device.pair" {
			t.Errorf("B's audit log: %v", m)
		}
	}
	// The blocked entries name who would have received what.
	for _, en := range e.must(200, "GET", "/api/v1/homes/"+homeA+"/audit", ann.token, nil).body["entries"].([]any) {
		m := en.(map[string]any)
		if m["result"] == "blocked" && (m["actor"] != ann.email || m["event_id"] != evA.id) {
			t.Errorf("blocked entry: %v", m)
		}
	}
}

// ---- 9. audit ----

func TestEventAuditLog(t *testing.T) {
	e := newEventEnv(t)
	ann, bob, cat, mallory := e.signup("ann"), e.signup("bob"), e.signup("cat"), e.signup("mallory")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	e.share(ann, home, bob, "viewer")
	e.share(ann, home, cat, "admin")
	ev := e.upload(cam, "aud-1", recent(5), 10<<10)

	// The entries about events; sharing is recorded too (first below).
	audit := func(tok string) []map[string]any {
		t.Helper()
		var out []map[string]any
		for _, en := range e.must(200, "GET", "/api/v1/homes/"+home+"/audit", tok, nil).body["entries"].([]any) {
			if en.(map[string]any)["event_id"] != "" {
				out = append(out, en.(map[string]any))
			}
		}
		return out
	}
	var sharing []string
	for _, en := range e.must(200, "GET", "/api/v1/homes/"+home+"/audit", ann.token, nil).body["entries"].([]any) {
		sharing = append(sharing, fmt.Sprint(en.(map[string]any)["actor"], " ", en.(map[string]any)["action"]))
	}
	if want := []string{cat.email + " invitation.accept", ann.email + " invitation.create", bob.email + " invitation.accept", ann.email + " invitation.create",
		"device " + cam.id + " device.pair", ann.email + " device.pairing_code"}; !slices.Equal(sharing, want) {
		t.Fatalf("audit entries before any look: %q, want the pairing and the sharing alone: %q", sharing, want)
	}

	// Bob (viewer) looks; Mallory (stranger) tries; Cat (admin) deletes.
	e.must(200, "GET", "/api/v1/events/"+ev.id, bob.token, nil)
	e.must(200, "GET", "/api/v1/events/"+ev.id+"/thumbnail", bob.token, nil)
	if r := e.req("GET", "/api/v1/events/"+ev.id+"/clip", bob.token, map[string]string{"Range": "bytes=0-99"}, nil); r.status != 206 {
		t.Fatalf("ranged clip: %d", r.status)
	}
	for _, p := range []string{"", "/thumbnail", "/clip"} {
		e.must(404, "GET", "/api/v1/events/"+ev.id+p, mallory.token, nil)
	}
	e.must(204, "DELETE", "/api/v1/events/"+ev.id, cat.token, nil)

	want := []struct{ action, actor string }{
		{"event.delete", cat.email},
		{"clip.view", bob.email},
		{"thumbnail.view", bob.email},
		{"event.view", bob.email},
	}
	for _, reader := range []person{ann, cat} {
		got := audit(reader.token)
		if len(got) != len(want) {
			t.Fatalf("audit as %s: %d entries, want %d: %v", reader.email, len(got), len(want), got)
		}
		var prevAt time.Time
		var prevSeq float64
		for i, w := range want {
			en := got[i]
			if en["action"] != w.action || en["actor"] != w.actor || en["device_id"] != cam.id || en["event_id"] != ev.id || en["result"] != "ok" {
				t.Errorf("entry %d = %v, want %s by %s", i, en, w.action, w.actor)
			}
			at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(en["at"]))
			if err != nil {
				t.Errorf("entry %d: at %v", i, en["at"])
			}
			seq, _ := en["seq"].(float64)
			if i > 0 && (at.After(prevAt) || seq >= prevSeq) {
				t.Errorf("entry %d (%v, seq %v) is newer than entry %d (%v, seq %v)", i, at, seq, i-1, prevAt, prevSeq)
			}
			prevAt, prevSeq = at, seq
		}
	}
	if got := e.must(200, "GET", "/api/v1/homes/"+home+"/audit?limit=2", ann.token, nil).body["entries"].([]any); len(got) != 2 ||
		got[0].(map[string]any)["action"] != "event.delete" {
		t.Errorf("audit limit=2: %v", got)
	}

	// Viewers may not read it; strangers do not learn the home exists.
	e.must(403, "GET", "/api/v1/homes/"+home+"/audit", bob.token, nil)
	got := e.call("GET", "/api/v1/homes/"+home+"/audit", mallory.token, nil)
	missing := e.call("GET", "/api/v1/homes/"+id.New()+"/audit", mallory.token, nil)
	if got.status != 404 || string(got.raw) != string(missing.raw) {
		t.Errorf("stranger reads audit: %d %s; missing home: %d %s", got.status, got.raw, missing.status, missing.raw)
	}
	for _, bad := range []string{"?limit=x", "?limit=0x", "?limit=1001", "?before=-1"} {
		if r := e.call("GET", "/api/v1/homes/"+home+"/audit"+bad, ann.token, nil); r.status != 400 {
			t.Errorf("audit%s: %d %s", bad, r.status, r.raw)
		}
	}
}

// ---- 10. at rest ----

func TestEventMediaSealedAtRest(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Glasshouse Lane")
	cam := e.pairCamera(ann, home)

	const thumbMarker = "zqxjkvbwpythumbmarkerqq"
	const clipMarker = "zqxjkvbwpyclipmarkerjj"
	thumb := testJPEG(t, thumbMarker)
	clip := testMP4(300<<10, clipMarker)
	if !bytes.Contains(thumb, []byte(thumbMarker)) || bytes.Count(clip, []byte(clipMarker)) < 50 {
		t.Fatalf("fixtures lack their markers")
	}
	r := e.uploadParts(cam.token, meta("rest-1", recent(3), "sound"), thumbPart(thumb), clipPart(clip))
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	eid := r.str("id")
	// A second event without a clip, and a retry of the first.
	thumb2 := testJPEG(t, thumbMarker+"two")
	if r := e.uploadParts(cam.token, meta("rest-2", recent(2), "person"), thumbPart(thumb2)); r.status != 201 {
		t.Fatalf("upload 2: %d %s", r.status, r.raw)
	}
	if r := e.uploadParts(cam.token, meta("rest-1", recent(3), "sound"), thumbPart(thumb), clipPart(clip)); r.status != 200 || r.str("id") != eid {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	// Served back whole (so the markers are in what was stored) ...
	if r := e.req("GET", "/api/v1/events/"+eid+"/thumbnail", ann.token, nil, nil); !bytes.Equal(r.raw, thumb) {
		t.Fatalf("thumbnail not served byte for byte")
	}
	if r := e.req("GET", "/api/v1/events/"+eid+"/clip", ann.token, nil, nil); !bytes.Equal(r.raw, clip) {
		t.Fatalf("clip not served byte for byte")
	}
	// ... and stored sealed: no marker, nor a run of the JPEG's or the
	// clip's own bytes, anywhere under the data directory.
	e.remember(thumbMarker, clipMarker, "zqxjkvbwpy")
	for _, f := range e.blobFiles() {
		b, err := os.ReadFile(e.blobFile(f))
		if err != nil {
			t.Fatal(err)
		}
		for what, run := range map[string][]byte{
			"JPEG header": thumb[:48], "JPEG body": thumb[len(thumb)/2 : len(thumb)/2+48], "JPEG 2": thumb2[len(thumb2)-48:],
			"ftyp": clip[:32], "mdat": clip[len(clip)/2 : len(clip)/2+48], "clip end": clip[len(clip)-48:],
		} {
			if bytes.Contains(b, run) {
				t.Errorf("blob %s holds the %s in the clear", f, what)
			}
		}
	}
	e.scanAtRest()
}

// TestRetryAfterDeleteStaysDeleted: a camera that re-sends an event from its
// offline queue after a person deleted it gets the same answer as any retry
// (200, the same id) and the event does not come back.
func TestRetryAfterDeleteStaysDeleted(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	started := e.clock.Now().Add(-3 * time.Hour)
	u := e.upload(cam, "queued-1", started, 0)
	e.must(204, "DELETE", "/api/v1/events/"+u.id, ann.token, nil)

	r := e.uploadParts(cam.token, meta("queued-1", started, "motion"), thumbPart(testJPEG(t, "")))
	if r.status != 200 || r.str("id") != u.id {
		t.Fatalf("retry after delete: %d %s, want 200 with id %s", r.status, r.raw, u.id)
	}
	if list, _ := e.events(ann.token, "?home="+home); len(list) != 0 {
		t.Fatalf("the deleted event came back: %v", list)
	}
	e.must(404, "GET", "/api/v1/events/"+u.id, ann.token, nil)
	if files := e.blobFiles(); len(files) != 0 {
		t.Fatalf("blobs left after delete and retry: %v", files)
	}
}

// TestRetention: events received longer ago than their home's retention
// are removed by the sweeper, blobs and all, and recorded as gone; newer
// ones stay.
func TestRetention(t *testing.T) {
	e := newEventEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	old := e.upload(cam, "old-1", e.clock.Now().Add(-time.Hour), 70<<10)
	e.clock.Advance(50 * time.Hour)
	fresh := e.upload(cam, "fresh-1", e.clock.Now().Add(-time.Hour), 0)

	e.must(400, "PATCH", "/api/v1/homes/"+home, ann.token, map[string]int{"retention_days": 0})
	h := e.must(200, "PATCH", "/api/v1/homes/"+home, ann.token, map[string]int{"retention_days": 2})
	if h.body["retention_days"] != float64(2) {
		t.Fatalf("home after PATCH: %s", h.raw)
	}
	eventually(t, "the old event swept", func() bool {
		return e.call("GET", "/api/v1/events/"+old.id, ann.token, nil).status == 404
	})
	e.must(200, "GET", "/api/v1/events/"+fresh.id, ann.token, nil)
	eventually(t, "the old event's blobs removed", func() bool { return len(e.blobFiles()) == 1 })
	// The camera re-sending the expired event does not bring it back.
	r := e.uploadParts(cam.token, meta("old-1", old.started, "motion"), thumbPart(testJPEG(t, "")))
	if r.status != 200 || r.str("id") != old.id {
		t.Fatalf("retry of an expired event: %d %s", r.status, r.raw)
	}
}
