package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

// Second factors in the web app (docs/design/second-factors.md): the
// Account page sets up and turns off TOTP and adds and removes passkeys;
// the login page asks for a one-time code after the right password, and
// signs in with a passkey. Passkey ceremonies run in static/passkeys.js
// against the JSON API (registration, with the session cookie and its
// CSRF header) and against POST /login/passkey (sign-in, which sets the
// session cookie).

// listHomes lists the homes p belongs to: open ones, and locked ones that
// require a second factor p has not set up (pages show those by name
// only, with the way to set one up, and read nothing else of them).
func (a *App) listHomes(ctx context.Context, p authz.Principal) (open, locked []homes.Home, err error) {
	hs, err := a.homes.List(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range hs {
		if h.NeedsSecondFactor {
			locked = append(locked, h)
		} else {
			open = append(open, h)
		}
	}
	return open, locked, nil
}

// secondFactorPanel is the Account page's "Two-step sign-in" section.
type secondFactorPanel struct {
	Status          identity.SecondFactorStatus
	Passkeys        []identity.PasskeyView
	PasskeysEnabled bool
}

func (a *App) secondFactorPanel(r *http.Request, u *user) (secondFactorPanel, error) {
	st, err := a.identity.SecondFactors(r.Context(), u.Principal)
	if err != nil {
		return secondFactorPanel{}, err
	}
	pks, err := a.identity.ListPasskeys(r.Context(), u.Principal)
	if err != nil {
		return secondFactorPanel{}, err
	}
	return secondFactorPanel{Status: st, Passkeys: pks, PasskeysEnabled: a.identity.PasskeysEnabled()}, nil
}

// totpPage shows a TOTP set-up: the QR code and secret, the recovery
// codes (only when it begins), and the form to confirm it.
type totpPage struct {
	QR            template.HTML
	Secret        string
	RecoveryCodes []string
	Error         string
}

func (totpPage) pageTitle() (string, string) { return "Set up an authenticator app", "account" }

func (a *App) startTOTP(w http.ResponseWriter, r *http.Request, u *user) error {
	setup, err := a.identity.StartTOTP(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	return a.showTOTP(w, r, u, http.StatusOK, setup.URL, setup.Secret, setup.RecoveryCodes, "")
}

func (a *App) showTOTP(w http.ResponseWriter, r *http.Request, u *user, status int, url, secret string, codes []string, msg string) error {
	svg, err := qrSVG(url, "QR code of the authenticator app set-up")
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, status, "totp", u, totpPage{QR: svg, Secret: secret, RecoveryCodes: codes, Error: msg})
	return nil
}

func (a *App) confirmTOTP(w http.ResponseWriter, r *http.Request, u *user) error {
	err := a.identity.ConfirmTOTP(r.Context(), u.Principal, r.PostFormValue("otp"))
	if apperr.CodeOf(err) == apperr.Invalid {
		// A wrong code: the same set-up again, to try another code.
		url, secret, perr := a.identity.PendingTOTP(r.Context(), u.Principal)
		if perr != nil {
			return errors.Join(err, perr)
		}
		return a.showTOTP(w, r, u, http.StatusBadRequest, url, secret, nil, "That code did not match. Enter the code your app shows now.")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/account?done=totp-on", http.StatusSeeOther)
	return nil
}

func (a *App) disableTOTP(w http.ResponseWriter, r *http.Request, u *user) error {
	if err := a.identity.DisableTOTP(r.Context(), u.Principal, r.PostFormValue("otp")); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?done=totp-off", http.StatusSeeOther)
	return nil
}

func (a *App) removePasskey(w http.ResponseWriter, r *http.Request, u *user) error {
	pid := r.PathValue("passkey")
	if !id.Valid(pid) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.identity.DeletePasskey(r.Context(), u.Principal, pid); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?done=passkey-removed", http.StatusSeeOther)
	return nil
}

// loginPasskey is POST /login/passkey: the answer to a passwordless
// sign-in ceremony (begun at POST /api/v1/sessions/passkey/challenges),
// as JSON. A passkey that is accepted opens a session with the cookie,
// and the answer says where to go.
func (a *App) loginPasskey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Challenge  string          `json:"challenge"`
		Credential json.RawMessage `json:"credential"`
		Next       string          `json:"next"`
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return apperr.New(apperr.TooLarge, "the passkey's answer is too large")
	}
	if err := json.Unmarshal(raw, &in); err != nil || in.Challenge == "" || len(in.Credential) == 0 {
		return writeJSONError(w, apperr.New(apperr.Invalid, "the passkey's answer is malformed"))
	}
	l, err := a.identity.FinishPasskeyLogin(r.Context(), in.Challenge, in.Credential,
		identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()})
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		return writeJSONError(w, e)
	}
	if err != nil {
		return err
	}
	websession.Set(w, r, l.Token, l.ExpiresAt)
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]string{"next": safeNext(in.Next)})
}

// writeJSONError answers a script with an error it shows as it is.
func writeJSONError(w http.ResponseWriter, e *apperr.Error) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(apperr.HTTPStatus(e.Code))
	return json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": string(e.Code), "message": e.Message}})
}
