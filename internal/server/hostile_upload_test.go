package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/server"
)

// TestStalledUploadsStarveNoOne: one household's camera opens uploads and
// stops sending their bodies. It holds at most its own slots (a third
// upload of its own is refused with 503), another household's camera
// uploads as usual meanwhile, and after the body deadline the stalled
// uploads are cut off: their slots are free again and they leave no blob
// behind (uploads are bounded in time, which the orphan sweep relies on).
func TestStalledUploadsStarveNoOne(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Deadlines = httpmw.Deadlines{BodyGrace: 2 * time.Second, MinBodyRate: 4 << 10, MaxBody: 10 * time.Second, WriteIdle: time.Second}
	})
	mallory, ann := e.signup("mallory"), e.signup("ann")
	hostile := e.pairCamera(mallory, e.home(mallory, "Hostile"))
	honest := e.pairCamera(ann, e.home(ann, "Home"))

	// The hostile camera's uploads: headers, the meta part and a little of
	// the thumbnail, then nothing.
	stall := func(eventID string) (status chan int) {
		ct, body := multipartBody(meta(eventID, e.clock.Now(), "motion"), thumbPart(testJPEG(t, "")))
		c, err := net.Dial("tcp", strings.TrimPrefix(e.public.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// With Expect: 100-continue the server says when the handler
		// starts reading the body, which is after the upload was admitted.
		fmt.Fprintf(c, "POST /api/v1/device/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
			hostile.token, ct, len(body))
		rd := bufio.NewReader(c)
		if cont, err := http.ReadResponse(rd, nil); err != nil || cont.StatusCode != http.StatusContinue {
			t.Fatalf("stalled upload %s: %v %v; want 100 Continue", eventID, cont, err)
		}
		if _, err := c.Write(body[:len(body)/3]); err != nil {
			t.Fatal(err)
		}
		status = make(chan int, 1)
		go func() {
			res, err := http.ReadResponse(rd, nil)
			if err != nil {
				status <- 0 // cut off without an answer
				return
			}
			io.Copy(io.Discard, res.Body)
			status <- res.StatusCode
		}()
		return status
	}
	first, second := stall("stall-1"), stall("stall-2")
	if r := e.uploadParts(hostile.token, meta("third", e.clock.Now(), "motion"), thumbPart(testJPEG(t, ""))); r.status != http.StatusServiceUnavailable {
		t.Fatalf("a third upload of the camera holding two stalled ones: %d %s; want 503", r.status, r.raw)
	}
	e.upload(honest, "honest-1", e.clock.Now(), 0) // 201 while they stall

	for _, s := range []chan int{first, second} {
		if got := <-s; got == http.StatusCreated || got == http.StatusOK {
			t.Fatalf("a stalled upload was answered %d", got)
		}
	}
	e.upload(hostile, "after-stall", e.clock.Now(), 0) // its slots are free again
	if files := e.blobFiles(); len(files) != 2 {
		t.Fatalf("blobs after the stalled uploads were cut off: %v; want the two events' thumbnails", files)
	}
}
