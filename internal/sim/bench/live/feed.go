package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/camera"
)

// feed serves each camera's watermarked stream as raw Annex-B H.264 over
// HTTP, paced at 15 frames a second, for go2rtc to pull
// (GET /feed/{i} is camera i): the same fixture, watermark and frame times
// the simulated cameras send camvault. Like a camera asked to stream, a
// feed starts at the newest keyframe and sends the frames since then at
// once. One difference in the bytes: in a P frame the watermark SEI comes
// after the slice, because go2rtc's raw H.264 reader cuts access units at
// each P slice or SPS and would otherwise join every watermark to the frame
// before its own.
type feed struct {
	video   *camera.Video
	key     []byte
	cameras []cam

	srv *http.Server
	wg  sync.WaitGroup
}

func (fd *feed) serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feed/{i}", fd.handle)
	fd.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fd.wg.Go(func() { _ = fd.srv.Serve(ln) })
	return nil
}

// close stops the server and its streams and waits for them.
func (fd *feed) close() {
	if fd.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = fd.srv.Shutdown(ctx)
	_ = fd.srv.Close()
	fd.wg.Wait()
}

func (fd *feed) handle(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 || i >= len(fd.cameras) {
		http.NotFound(w, r)
		return
	}
	c := fd.cameras[i]
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	gop := uint64(fd.video.GOP())
	t0 := time.Now()
	now := uint64(t0.Unix())*camera.VideoFPS + uint64(t0.Nanosecond())*camera.VideoFPS/uint64(time.Second)
	buf := make([]byte, 0, 256<<10)
	for n := now - now%gop; ; n++ {
		due := frameTime(n)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		fs, err := fd.video.Frames(fd.key, c.device, c.home, n, n)
		if err != nil {
			return
		}
		f := fs[0]
		nalus := f.NALUs
		if !f.Keyframe && len(nalus) == 2 && h264.Type(nalus[0]) == h264.TypeSEI {
			nalus = [][]byte{nalus[1], nalus[0]}
		}
		buf = h264.AppendAnnexB(buf[:0], nalus)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// frameTime is when frame n of a stream whose origin is the Unix epoch is
// due: n/15 s after it.
func frameTime(n uint64) time.Time {
	return time.Unix(int64(n/camera.VideoFPS), int64(n%camera.VideoFPS)*int64(time.Second)/camera.VideoFPS)
}
