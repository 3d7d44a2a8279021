package camera

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	c := Credentials{DeviceID: testDevice, Token: "cvd_secret", Server: "http://x"}
	if err := SaveCredentials(path, c); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	got, err := LoadCredentials(path)
	if err != nil || got.DeviceID != c.DeviceID || got.Token != c.Token {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCredentials(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("a world-readable token file was taken: %v", err)
	}
	if err := SaveCredentials(path, Credentials{DeviceID: testDevice, Token: "nope"}); err == nil {
		t.Fatal("saved a token without the cvd_ prefix")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestPair(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/devices/pair" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if in["code"] != "GOOD-CODE-0000" || in["model"] != "CV-SIM" || in["firmware"] != "1.2" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"pairing code is not valid or has expired"}}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"device_id":"` + testDevice + `","device_token":"cvd_abc"}`))
	}))
	defer srv.Close()
	c, err := Pair(t.Context(), srv.Client(), srv.URL+"/", "GOOD-CODE-0000", "CV-SIM", "1.2")
	if err != nil || c.DeviceID != testDevice || c.Token != "cvd_abc" || c.Server != srv.URL {
		t.Fatalf("pair: %+v, %v", c, err)
	}
	_, err = Pair(t.Context(), srv.Client(), srv.URL, "WRONG", "CV-SIM", "1.2")
	if err == nil || !strings.Contains(err.Error(), "pairing code is not valid") {
		t.Fatalf("a wrong code: %v", err)
	}
}
