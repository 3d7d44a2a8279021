package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client talks to camvault's API.
type client struct {
	base string
	http *http.Client
}

func newClient(base string) *client {
	return &client{base: strings.TrimRight(base, "/"), http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64},
	}}
}

// call sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *client) call(ctx context.Context, method, path, token string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// person is an account with a session.
type person struct {
	id, email, password, token string
}

// signup creates an account and logs it in.
func (c *client) signup(ctx context.Context) (person, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	p := person{email: "livebench-" + hex.EncodeToString(rnd[:]) + "@example.com", password: "live bench passphrase " + hex.EncodeToString(rnd[:])}
	var acct struct{ ID string }
	if err := c.call(ctx, "POST", "/api/v1/accounts", "", map[string]string{"email": p.email, "password": p.password}, &acct, http.StatusCreated); err != nil {
		return person{}, fmt.Errorf("create account: %w", err)
	}
	p.id = acct.ID
	tok, err := c.login(ctx, p)
	if err != nil {
		return person{}, err
	}
	p.token = tok
	return p, nil
}

func (c *client) login(ctx context.Context, p person) (string, error) {
	var sess struct{ Token string }
	if err := c.call(ctx, "POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": p.password}, &sess, http.StatusCreated); err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	return sess.Token, nil
}

// home creates a home of p.
func (c *client) home(ctx context.Context, p person) (string, error) {
	var home struct{ ID string }
	if err := c.call(ctx, "POST", "/api/v1/homes", p.token, map[string]string{"name": "live bench"}, &home, http.StatusCreated); err != nil {
		return "", fmt.Errorf("create home: %w", err)
	}
	return home.ID, nil
}

// paired is a camera's identity as pairing answers it.
type paired struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

// pair pairs a new camera into home.
func (c *client) pair(ctx context.Context, owner person, home string) (paired, error) {
	var code struct{ Code string }
	if err := c.call(ctx, "POST", "/api/v1/homes/"+home+"/pairing-codes", owner.token, nil, &code, http.StatusCreated); err != nil {
		return paired{}, fmt.Errorf("pairing code: %w", err)
	}
	var p paired
	in := map[string]string{"code": code.Code, "model": "CV-LIVEBENCH", "firmware": "1.0.0"}
	if err := c.call(ctx, "POST", "/api/v1/devices/pair", "", in, &p, http.StatusCreated); err != nil {
		return paired{}, fmt.Errorf("pair a camera: %w", err)
	}
	return p, nil
}

func (c *client) keepWarm(ctx context.Context, owner person, device string, warm bool) error {
	return c.call(ctx, "PATCH", "/api/v1/devices/"+device, owner.token, map[string]bool{"keep_warm": warm}, nil, http.StatusOK)
}

func (c *client) online(ctx context.Context, owner person, device string) (bool, error) {
	var d struct {
		Online bool `json:"online"`
	}
	if err := c.call(ctx, "GET", "/api/v1/devices/"+device, owner.token, nil, &d, http.StatusOK); err != nil {
		return false, err
	}
	return d.Online, nil
}

// addMember makes viewer a viewer of home: owner invites viewer's email,
// and viewer accepts.
func (c *client) addMember(ctx context.Context, owner person, home string, viewer person) error {
	var out struct {
		Invitation struct{ ID string }
	}
	if err := c.call(ctx, "POST", "/api/v1/homes/"+home+"/members", owner.token, map[string]string{"email": viewer.email, "role": "viewer"}, &out, http.StatusAccepted); err != nil {
		return err
	}
	return c.call(ctx, "POST", "/api/v1/invitations/"+out.Invitation.ID+"/accept", viewer.token, nil, nil, http.StatusNoContent)
}

func (c *client) removeMember(ctx context.Context, owner person, home, account string) error {
	return c.call(ctx, "DELETE", "/api/v1/homes/"+home+"/members/"+account, owner.token, nil, nil, http.StatusNoContent)
}

func (c *client) logout(ctx context.Context, token string) error {
	return c.call(ctx, "DELETE", "/api/v1/sessions/current", token, nil, nil, http.StatusNoContent)
}

// liveURL is the MSE WebSocket of a camera.
func (c *client) liveURL(device string) string {
	return "ws" + strings.TrimPrefix(c.base, "http") + "/api/v1/devices/" + device + "/live/mse"
}
