package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/metrics"
	"github.com/camvault/camvault/internal/sim/simtest"
	"github.com/camvault/camvault/internal/token"
	"github.com/camvault/camvault/internal/web"
	"github.com/camvault/camvault/internal/websession"
)

// TestPanicInAPageIsRecovered: a page handler that panics is answered 500
// with a page, the panic is logged with the request ID, and the request is
// counted, by the chain the pages share with the API. The app here has no
// services, so the first page that calls one panics: a real panic inside a
// web handler, not one staged around it.
func TestPanicInAPageIsRecovered(t *testing.T) {
	logs := &simtest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	app, err := web.New(web.Deps{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	h := httpmw.New(log, m).Handler(web.Mount(http.NotFoundHandler(), app))

	tok, _ := token.New(token.Session) // well formed, so it is looked up
	req := httptest.NewRequest("GET", "/events", nil)
	req.RemoteAddr = "127.0.0.1:50000" // a browser beside the server: the plain cookie
	req.Header.Set("Accept", "text/html")
	req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: tok})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Fatalf("panicking page answered %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rid := rec.Header().Get("X-Request-Id")
	if rid == "" || rec.Header().Get("X-Frame-Options") != "DENY" || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("the 500 lacks the chain's headers or the web app's CSP: %v", rec.Header())
	}
	out := logs.String()
	if !strings.Contains(out, `msg="panic serving request" request_id=`+rid) {
		t.Errorf("panic not logged with request ID %s:\n%s", rid, out)
	}
	if !strings.Contains(out, `msg="http request" request_id=`+rid+` method=GET route="GET /events" status=500`) {
		t.Errorf("no access log line for the 500:\n%s", out)
	}
	if strings.Contains(out, tok) {
		t.Error("the session token is in the log")
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, f := range families {
		if f.GetName() != "camvault_http_requests_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			counted = counted || labels["route"] == "GET /events" && labels["code"] == "500" && mt.GetCounter().GetValue() == 1
		}
	}
	if !counted {
		t.Error("the 500 is not counted by route")
	}
}
