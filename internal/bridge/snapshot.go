package bridge

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/icholy/digest"
	"golang.org/x/image/draw"

	"github.com/camvault/camvault/internal/media"
)

// maxSnapshot bounds a camera's snapshot: an 8K JPEG is a few MiB.
const maxSnapshot = 16 << 20

// maxThumbnail is the server's limit on an event's thumbnail
// (docs/device-protocol.md), and thumbnailWidth the width a larger
// snapshot is scaled to.
const (
	maxThumbnail   = 1 << 20
	thumbnailWidth = 1920
)

// snapshotter fetches a camera's still picture over HTTP, with the
// camera's user and password: Digest when the camera asks for it (most
// do), Basic otherwise. Credentials are sent only after the camera asked
// for them, and Basic never after it asked for Digest.
type snapshotter struct {
	url        string
	user, pass string
	plain      *http.Client // no credentials, and Basic
	digest     *http.Client // Digest, reusing the camera's challenge

	mu     sync.Mutex
	scheme string // "", "basic" or "digest": what the camera asked for
}

func newSnapshotter(url, user, pass string, transport http.RoundTripper) *snapshotter {
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &snapshotter{
		url: url, user: user, pass: pass,
		plain:  &http.Client{Transport: transport},
		digest: &http.Client{Transport: &digest.Transport{Username: user, Password: pass, Transport: transport}},
	}
}

// get fetches one picture and checks that it is a whole JPEG.
func (s *snapshotter) get(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	scheme := s.scheme
	s.mu.Unlock()
	res, err := s.do(ctx, scheme)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusUnauthorized && s.user != "" {
		chal := res.Header.Get("WWW-Authenticate")
		res.Body.Close()
		next := "basic"
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(chal)), "digest") {
			next = "digest"
		}
		if next == scheme {
			return nil, fmt.Errorf("snapshot: the camera refused the user name or password (%s)", res.Status)
		}
		s.mu.Lock()
		s.scheme = next
		s.mu.Unlock()
		if res, err = s.do(ctx, next); err != nil {
			return nil, err
		}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		if res.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("snapshot: the camera refused the user name or password (%s)", res.Status)
		}
		return nil, fmt.Errorf("snapshot: the camera answered %s", res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxSnapshot+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if len(b) > maxSnapshot {
		return nil, fmt.Errorf("snapshot: larger than %d MiB", maxSnapshot>>20)
	}
	if err := media.CheckJPEG(b); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return b, nil
}

func (s *snapshotter) do(ctx context.Context, scheme string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	client := s.plain
	switch scheme {
	case "basic":
		req.SetBasicAuth(s.user, s.pass)
	case "digest":
		client = s.digest
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return res, nil
}

// fitThumbnail returns a snapshot the server takes as a thumbnail: the
// camera's own bytes when they are within its limits, else the picture
// scaled to thumbnailWidth and encoded again.
func fitThumbnail(b []byte, img image.Image) ([]byte, error) {
	bounds := img.Bounds()
	if len(b) <= maxThumbnail && bounds.Dx() <= 8192 && bounds.Dy() <= 8192 {
		return b, nil
	}
	w := min(thumbnailWidth, bounds.Dx())
	h := max(1, bounds.Dy()*w/bounds.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, bounds, draw.Src, nil)
	for _, q := range []int{85, 70, 50} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: q}); err != nil {
			return nil, fmt.Errorf("thumbnail: %w", err)
		}
		if buf.Len() <= maxThumbnail {
			return buf.Bytes(), nil
		}
	}
	return nil, fmt.Errorf("thumbnail: still larger than %d KiB at %dx%d", maxThumbnail>>10, w, h)
}
