package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// durability watches, through the server's blob directory's fsyncs, what
// is on disk when: a blob file whose data an fsync synced, a name that an
// fsync of its directory begun with the name in place covered, and,
// whenever a name becomes durable, whether its event's record already
// exists (it must not: a record never comes before its blob).
type durability struct {
	data string

	mu     sync.Mutex
	db     *sqlite.File // once the server has made the database
	synced map[uint64]bool
	named  map[string]map[string]bool // event ID -> media kinds durable
	errs   []error
}

func (d *durability) wrap(path string, sync func() error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		err := sync()
		if err == nil {
			d.mu.Lock()
			d.synced[fi.Sys().(*syscall.Stat_t).Ino] = true
			d.mu.Unlock()
		}
		return err
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	if err := sync(); err != nil {
		return err
	}
	blobs := filepath.Join(d.data, "blobs")
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ent := range ents {
		key, ok := disk.KeyOf(blobs, filepath.Join(path, ent.Name()))
		parts := strings.Split(key, "/")
		if !ok || len(parts) != 5 || d.named[parts[3]][parts[4]] {
			continue
		}
		// This fsync began with the name in place: the name is on disk now.
		info, err := ent.Info()
		if err != nil {
			d.errs = append(d.errs, err)
			continue
		}
		if !d.synced[info.Sys().(*syscall.Stat_t).Ino] {
			d.errs = append(d.errs, fmt.Errorf("%s: its name was synced before its data", key))
		}
		if d.db != nil {
			if exists, err := d.db.EventLive(context.Background(), parts[3]); err != nil || exists {
				d.errs = append(d.errs, fmt.Errorf("%s: the record of event %s was committed before its blob was durable (%v)", key, parts[3], err))
			}
		}
		if d.named[parts[3]] == nil {
			d.named[parts[3]] = map[string]bool{}
		}
		d.named[parts[3]][parts[4]] = true
	}
	return nil
}

// TestAnswerAfterDurable: an upload is answered only after its blobs'
// bytes and names are on disk and its record is committed, and the record
// is committed only after the blobs are on disk (invariant 6), with
// cameras uploading at once so that directory fsyncs are shared.
func TestAnswerAfterDurable(t *testing.T) {
	d := &durability{data: t.TempDir(), synced: map[uint64]bool{}, named: map[string]map[string]bool{}}
	e := newEnvIn(t, d.data, func(o *server.Options) { o.DiskSync = d.wrap })
	db, err := sqlite.OpenFile(filepath.Join(d.data, "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d.mu.Lock()
	d.db = db
	d.mu.Unlock()

	ann := e.signup("ann")
	home := e.home(ann, "Ann's house")
	var cams []camera
	for range 4 {
		cams = append(cams, e.pairCamera(ann, home))
	}
	const perCamera = 6
	var wg sync.WaitGroup
	errs := make(chan error, len(cams)*perCamera)
	for c, cam := range cams {
		thumb := testJPEG(t, "")
		clip := testMP4(3000, "")
		wg.Go(func() {
			for i := range perCamera {
				parts := []upPart{meta(fmt.Sprintf("ev-%d-%d", c, i), recent(1), "motion"), thumbPart(thumb)}
				kinds := []string{"thumbnail"}
				if i%2 == 0 {
					parts = append(parts, clipPart(clip))
					kinds = append(kinds, "clip")
				}
				ct, body := multipartBody(parts...)
				r, err := e.rawRequest("POST", "/api/v1/device/events", cam.token, map[string]string{"Content-Type": ct}, body)
				if err != nil || r.status != 201 {
					errs <- fmt.Errorf("upload: %v %d %s", err, r.status, r.raw)
					return
				}
				// What d holds now happened before the answer.
				id := r.str("id")
				d.mu.Lock()
				for _, k := range kinds {
					if !d.named[id][k] {
						errs <- fmt.Errorf("event %s answered before its %s's name was synced", id, k)
					}
				}
				d.mu.Unlock()
				if live, err := db.EventLive(context.Background(), id); err != nil || !live {
					errs <- fmt.Errorf("event %s answered before its record was committed (%v)", id, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := errors.Join(d.errs...); err != nil {
		t.Error(err)
	}
	if len(d.named) != len(cams)*perCamera {
		t.Errorf("%d events' blobs seen synced, want %d", len(d.named), len(cams)*perCamera)
	}
}
