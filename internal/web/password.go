package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

// Passwords: the Account page's change form, and the forgotten password
// pages (ask for a link, then set a new password from it). See
// docs/design/mail.md.

// passwordPage is the data of the forgot and reset pages.
type passwordPage struct {
	Reset        bool   // the page a mailed link opens; else the request page
	Token        string // the reset link's token
	Email        string
	Sent         bool // a request was accepted
	MailDisabled bool // this server cannot send mail
	Error        string
}

// MinPassword is the password rule's length, for the form.
func (passwordPage) MinPassword() int { return identity.MinPasswordLength }

func (p passwordPage) pageTitle() (string, string) {
	if p.Reset {
		return "Choose a new password", "login"
	}
	return "Forgot your password", "login"
}

func clientOf(r *http.Request) identity.Client {
	return identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()}
}

func (a *App) forgotPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "password", nil, passwordPage{MailDisabled: !a.identity.MailEnabled()})
}

func (a *App) forgotSubmit(w http.ResponseWriter, r *http.Request) error {
	p := passwordPage{Email: r.PostFormValue("email"), MailDisabled: !a.identity.MailEnabled()}
	if err := a.identity.RequestPasswordReset(r.Context(), p.Email, clientOf(r)); err != nil {
		return a.passwordFailed(w, r, p, err)
	}
	p.Sent = true
	a.render(w, r, http.StatusOK, "password", nil, p)
	return nil
}

// resetPage opens a mailed link. The token is in the path, which the
// access log never records (it logs the route), and the Referrer-Policy
// of every page (same-origin) keeps it from any other site. (no-referrer
// would make the browser send "Origin: null" with the form, which the
// same-origin check rightly refuses.)
func (a *App) resetPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if err := a.identity.CheckPasswordReset(r.Context(), tok); err != nil {
		a.badResetLink(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "password", nil, passwordPage{Reset: true, Token: tok})
}

func (a *App) resetSubmit(w http.ResponseWriter, r *http.Request) error {
	p := passwordPage{Reset: true, Token: r.PathValue("token")}
	next := r.PostFormValue("password")
	if next != r.PostFormValue("password2") {
		p.Error = "The two passwords are not the same."
		a.render(w, r, http.StatusBadRequest, "password", nil, p)
		return nil
	}
	if err := a.identity.ResetPassword(r.Context(), p.Token, next, clientOf(r)); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			a.badResetLink(w, r, err)
			return nil
		}
		return a.passwordFailed(w, r, p, err)
	}
	websession.Clear(w, r) // every session of the account has ended
	http.Redirect(w, r, "/login?reset=1", http.StatusSeeOther)
	return nil
}

func (a *App) badResetLink(w http.ResponseWriter, r *http.Request, err error) {
	if apperr.CodeOf(err) != apperr.NotFound {
		a.fail(w, r, nil, err)
		return
	}
	a.render(w, r, http.StatusNotFound, "message", nil, messagePage{Title: "This link does not work",
		Text: "A password reset link works once, for a short time. It was used, it expired, or it was never made. Ask for a new one.",
		Link: "/forgot-password", LinkText: "Ask for a new link"})
}

// passwordFailed shows an error on the forgot or reset form.
func (a *App) passwordFailed(w http.ResponseWriter, r *http.Request, p passwordPage, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		return err
	}
	p.Error = e.Message
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)))
		if e.Code == apperr.Throttled {
			p.Error = "Too many requests. Please wait " + waitWords(e.RetryAfter) + " before trying again."
		}
	}
	a.render(w, r, apperr.HTTPStatus(e.Code), "password", nil, p)
	return nil
}

// changePassword is the Account page's form.
func (a *App) changePassword(w http.ResponseWriter, r *http.Request, u *user) error {
	current, next := r.PostFormValue("current"), r.PostFormValue("password")
	msg, status := "The two new passwords are not the same.", http.StatusBadRequest
	if next == r.PostFormValue("password2") {
		err := a.identity.ChangePassword(r.Context(), u.Principal, current, next, clientOf(r))
		if err == nil {
			http.Redirect(w, r, "/account?done=password", http.StatusSeeOther)
			return nil
		}
		e, ok := apperr.As(err)
		if !ok || e.Code == apperr.Internal || e.Code == apperr.Unavailable {
			return err
		}
		msg, status = e.Message, apperr.HTTPStatus(e.Code)
		if e.Code == apperr.Throttled && e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)))
			msg = "Too many wrong passwords. Please wait " + waitWords(e.RetryAfter) + " before trying again."
		}
	}
	p, err := a.accountData(r, u)
	if err != nil {
		return err
	}
	p.PasswordError = msg
	a.render(w, r, status, "account", u, p)
	return nil
}
