// Command timeline measures how listing a home's events scales with the
// number of events stored: the same requests at 10 thousand and at 10
// million stored events.
//
// It has three steps, which timeline.sh runs in order:
//
//	timeline setup   --target URL --out DIR
//	timeline load    --db DATA/camvault.db | --postgres URL  --setup DIR --total N
//	timeline measure --target URL --setup DIR --n 2000 --c 4
//
// setup makes, over the API of a running server, an owner with two homes,
// four cameras in the first and one in the second, one real event from
// each camera, and a viewer limited to two of the first home's cameras;
// it writes their IDs and session tokens to DIR/setup.json.
//
// load inserts events straight into the store's events table until the
// first home holds N events (the second a hundredth of that), in large
// transactions, with the server stopped: going through the API would
// take hours at 10 million. Each row points at the blob of its camera's
// real event, so the rows are what ingest writes except for their IDs.
// Started times are spread over the last 30 days; received times are
// now, so retention does not sweep them.
//
// measure sends --n requests of each timeline query, --c at a time, and
// prints p50, p99 and max per query: the first page of the home, of one
// camera, of every home of the owner (one scope per home), of the
// limited viewer (a scope with a camera list), a page with a kind filter,
// a page at a random depth (before = a random time in the 30 days) and
// the same depth across every home through a next cursor.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: timeline setup|load|measure [flags]")
		os.Exit(2)
	}
	ctx := context.Background()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "setup":
		err = runSetup(ctx, args)
	case "load":
		err = runLoad(ctx, args)
	case "measure":
		err = runMeasure(ctx, args)
	default:
		err = fmt.Errorf("unknown step %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "timeline:", err)
		os.Exit(1)
	}
}

// Setup is what setup writes and the other steps read.
type Setup struct {
	OwnerToken  string   `json:"owner_token"`
	ViewerToken string   `json:"viewer_token"`
	HomeA       string   `json:"home_a"`
	HomeB       string   `json:"home_b"`
	DevicesA    []string `json:"devices_a"`
	DeviceB     string   `json:"device_b"`
	// ThumbKeys and ThumbSizes are the blob of each camera's real event,
	// by device ID.
	ThumbKeys map[string]string `json:"thumb_keys"`
}

type client struct {
	base string
	http *http.Client
}

func (c *client) call(ctx context.Context, method, path, token string, body any, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.do(req, out, want)
}

func (c *client) do(req *http.Request, out any, want int) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

func runSetup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	target := fs.String("target", "http://127.0.0.1:28180", "camvault's API address")
	out := fs.String("out", "", "directory to write setup.json to")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("--out is required")
	}
	c := &client{base: *target, http: &http.Client{Timeout: 30 * time.Second}}
	suffix := fmt.Sprint(time.Now().UnixNano())
	owner, err := signUp(ctx, c, "owner-"+suffix+"@bench.example")
	if err != nil {
		return err
	}
	viewerEmail := "viewer-" + suffix + "@bench.example"
	viewer, err := signUp(ctx, c, viewerEmail)
	if err != nil {
		return err
	}
	s := Setup{OwnerToken: owner, ViewerToken: viewer, ThumbKeys: map[string]string{}}
	if s.HomeA, err = newHome(ctx, c, owner, "A"); err != nil {
		return err
	}
	if s.HomeB, err = newHome(ctx, c, owner, "B"); err != nil {
		return err
	}
	for i := range 4 {
		d, err := pairAndUpload(ctx, c, owner, s.HomeA, i)
		if err != nil {
			return err
		}
		s.DevicesA = append(s.DevicesA, d)
	}
	if s.DeviceB, err = pairAndUpload(ctx, c, owner, s.HomeB, 4); err != nil {
		return err
	}
	if err := share(ctx, c, owner, viewer, s.HomeA, viewerEmail, s.DevicesA[:2]); err != nil {
		return err
	}
	// The blob key of each camera's real event, for the loaded rows.
	var page struct {
		Events []struct {
			ID       string `json:"id"`
			DeviceID string `json:"device_id"`
		} `json:"events"`
	}
	if err := c.call(ctx, "GET", "/api/v1/events?limit=50", owner, nil, &page, http.StatusOK); err != nil {
		return err
	}
	for _, e := range page.Events {
		home := s.HomeA
		if e.DeviceID == s.DeviceB {
			home = s.HomeB
		}
		s.ThumbKeys[e.DeviceID] = "h/" + home + "/" + e.DeviceID + "/" + e.ID + "/thumbnail"
	}
	if len(s.ThumbKeys) != 5 {
		return fmt.Errorf("found %d cameras' events, want 5", len(s.ThumbKeys))
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "setup.json"), b, 0o600)
}

func signUp(ctx context.Context, c *client, email string) (string, error) {
	creds := map[string]string{"email": email, "password": "timeline bench password 1"}
	if err := c.call(ctx, "POST", "/api/v1/accounts", "", creds, nil, http.StatusCreated); err != nil {
		return "", err
	}
	var sess struct {
		Token string `json:"token"`
	}
	err := c.call(ctx, "POST", "/api/v1/sessions", "", creds, &sess, http.StatusCreated)
	return sess.Token, err
}

func newHome(ctx context.Context, c *client, token, name string) (string, error) {
	var h struct {
		ID string `json:"id"`
	}
	err := c.call(ctx, "POST", "/api/v1/homes", token, map[string]string{"name": name}, &h, http.StatusCreated)
	return h.ID, err
}

// share gives the viewer the listed cameras of home, by invitation when
// the server answers 202 (and the viewer accepts), or at once when it
// answers 201 (servers before invitations).
func share(ctx context.Context, c *client, owner, viewer, home, email string, devices []string) error {
	body := map[string]any{"email": email, "role": "viewer", "devices": devices}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/api/v1/homes/"+home+"/members", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+owner)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("share: %w", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
		return nil
	case http.StatusAccepted:
		var inv struct {
			Invitation struct {
				ID string `json:"id"`
			} `json:"invitation"`
		}
		if err := json.Unmarshal(msg, &inv); err != nil {
			return fmt.Errorf("share: %w", err)
		}
		return c.call(ctx, "POST", "/api/v1/invitations/"+inv.Invitation.ID+"/accept", viewer, nil, nil, http.StatusNoContent)
	default:
		return fmt.Errorf("share: %d: %s", resp.StatusCode, msg)
	}
}

func pairAndUpload(ctx context.Context, c *client, owner, home string, i int) (string, error) {
	var code struct {
		Code string `json:"code"`
	}
	if err := c.call(ctx, "POST", "/api/v1/homes/"+home+"/pairing-codes", owner, nil, &code, http.StatusCreated); err != nil {
		return "", err
	}
	var dev struct {
		DeviceID    string `json:"device_id"`
		DeviceToken string `json:"device_token"`
	}
	pair := map[string]string{"code": code.Code, "model": "bench", "firmware": "1"}
	if err := c.call(ctx, "POST", "/api/v1/devices/pair", "", pair, &dev, http.StatusCreated); err != nil {
		return "", err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	meta, _ := json.Marshal(map[string]string{
		"event_id": fmt.Sprintf("timeline-%d", i), "kind": "motion",
		"started_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
	})
	mw.WriteField("meta", string(meta))
	part, err := mw.CreateFormFile("thumbnail", "t.jpg")
	if err != nil {
		return "", err
	}
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for p := range img.Pix {
		img.Pix[p] = byte(p*7 + i*31)
	}
	img.Set(0, 0, color.RGBA{A: 255})
	if err := jpeg.Encode(part, img, &jpeg.Options{Quality: 80}); err != nil {
		return "", err
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/api/v1/device/events", &body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+dev.DeviceToken)
	return dev.DeviceID, c.do(req, nil, http.StatusCreated)
}

func readSetup(dir string) (Setup, error) {
	var s Setup
	b, err := os.ReadFile(filepath.Join(dir, "setup.json"))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// query is one timeline request measured.
type query struct {
	name  string
	token string
	path  func(i int) string
}

func runMeasure(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	target := fs.String("target", "http://127.0.0.1:28180", "camvault's API address")
	dir := fs.String("setup", "", "directory setup wrote to")
	n := fs.Int("n", 2000, "requests per query")
	conc := fs.Int("c", 4, "requests in flight")
	fs.Parse(args)
	s, err := readSetup(*dir)
	if err != nil {
		return err
	}
	now := time.Now()
	// Deterministic depths: the same requests at every size.
	depth := func(i int) string {
		back := time.Duration((i*7919)%(30*24*3600)) * time.Second
		return now.Add(-back).UTC().Format(time.RFC3339)
	}
	queries := []query{
		{"home, first page", s.OwnerToken, func(int) string { return "/api/v1/events?home=" + s.HomeA }},
		{"camera, first page", s.OwnerToken, func(int) string { return "/api/v1/events?device=" + s.DevicesA[1] }},
		{"every home (2 scopes)", s.OwnerToken, func(int) string { return "/api/v1/events" }},
		{"limited viewer (2 cameras)", s.ViewerToken, func(int) string { return "/api/v1/events" }},
		{"home, kind=person", s.OwnerToken, func(int) string { return "/api/v1/events?home=" + s.HomeA + "&kind=person" }},
		{"home, random depth", s.OwnerToken, func(i int) string { return "/api/v1/events?home=" + s.HomeA + "&before=" + depth(i) }},
		{"every home, next cursor", s.OwnerToken, func(i int) string { return "/api/v1/events?before=" + cursorAt(depth(i)) }},
	}
	c := &client{base: *target, http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}}
	fmt.Printf("%-28s %8s %8s %8s %8s\n", "query", "n", "p50 ms", "p99 ms", "max ms")
	for _, q := range queries {
		lat, err := measure(ctx, c, q, *n, *conc)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		slices.Sort(lat)
		fmt.Printf("%-28s %8d %8.2f %8.2f %8.2f\n", q.name, len(lat), ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(lat[len(lat)-1]))
	}
	return nil
}

// cursorAt is a next cursor at an RFC 3339 time, as the server makes
// them (microseconds and an event ID, base64url), with the greatest ID.
func cursorAt(at string) string {
	t, _ := time.Parse(time.RFC3339, at)
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + strings.Repeat("z", 26)))
}

func measure(ctx context.Context, c *client, q query, n, conc int) ([]time.Duration, error) {
	// A few requests first, so connections and caches are warm.
	for i := range 20 {
		if err := c.call(ctx, "GET", q.path(n+i), q.token, nil, nil, http.StatusOK); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range conc {
		wg.Go(func() {
			for i := range next {
				var page struct {
					Events []json.RawMessage `json:"events"`
				}
				t0 := time.Now()
				err := c.call(ctx, "GET", q.path(i), q.token, nil, &page, http.StatusOK)
				lat[i] = time.Since(t0)
				if err == nil && len(page.Events) == 0 {
					err = fmt.Errorf("an empty page")
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat, firstErr
}

func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
