package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

// authPage is the data of the login and signup pages.
type authPage struct {
	Signup bool
	Email  string
	Next   string
	Error  string
	Notice string
	// OTP: the password was right and the account asks for a one-time
	// code; Password carries it to the code's form (a page never stored:
	// every answer is no-store).
	OTP      bool
	Password string
}

// MinPassword is the password rule's length, for the signup form.
func (authPage) MinPassword() int { return identity.MinPasswordLength }

func (p authPage) pageTitle() (string, string) {
	if p.Signup {
		return "Create your account", "signup"
	}
	return "Log in", "login"
}

// home sends people to their timeline, or to log in.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	u, err := a.authenticate(r)
	switch {
	case err != nil:
		a.fail(w, r, nil, err)
	case u != nil:
		http.Redirect(w, r, "/events", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	u, err := a.authenticate(r)
	if err != nil {
		a.fail(w, r, nil, err)
		return
	}
	if u != nil {
		http.Redirect(w, r, "/events", http.StatusSeeOther)
		return
	}
	p := authPage{Next: safeNext(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("signed_out") != "" {
		p.Notice = "You are logged out."
	}
	if r.URL.Query().Get("reset") != "" {
		p.Notice = "Your password is changed, and every place you were logged in is logged out. Log in with the new password."
	}
	a.render(w, r, http.StatusOK, "login", nil, p)
}

func (a *App) signupPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "login", nil, authPage{Signup: true, Next: "/cameras"})
}

func (a *App) loginSubmit(w http.ResponseWriter, r *http.Request) error {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	p := authPage{Email: email, Next: safeNext(r.PostFormValue("next"))}
	if err := a.startSessionOTP(w, r, email, password, r.PostFormValue("otp"), p.Next); err != nil {
		if apperr.CodeOf(err) == apperr.OTPRequired {
			p.OTP, p.Password = true, password
			if r.PostFormValue("otp") == "" {
				err = nil // the first time, the form asks; it says nothing was wrong
			}
		}
		if err == nil {
			a.render(w, r, http.StatusUnauthorized, "login", nil, p)
			return nil
		}
		return a.authFailed(w, r, p, err)
	}
	return nil
}

func (a *App) signupSubmit(w http.ResponseWriter, r *http.Request) error {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	p := authPage{Signup: true, Email: email, Next: "/cameras"}
	if password != r.PostFormValue("password2") {
		p.Error = "The two passwords are not the same."
		a.render(w, r, http.StatusBadRequest, "login", nil, p)
		return nil
	}
	if _, err := a.identity.SignUp(r.Context(), email, password, identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()}); err != nil {
		return a.authFailed(w, r, p, err)
	}
	if err := a.startSession(w, r, email, password, p.Next); err != nil {
		return a.authFailed(w, r, p, err)
	}
	return nil
}

// authFailed shows a login or signup error on the form itself, with the
// wait spelled out when logins are throttled.
func (a *App) authFailed(w http.ResponseWriter, r *http.Request, p authPage, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		return err
	}
	p.Error = e.Message
	if e.Code == apperr.Throttled && e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		p.Error = "Too many failed attempts. Please wait " + waitWords(e.RetryAfter) + " before trying again."
	}
	if e.Code == apperr.Conflict {
		p.Error = "An account with this email already exists. Log in instead."
	}
	a.render(w, r, apperr.HTTPStatus(e.Code), "login", nil, p)
	return nil
}

func waitWords(d time.Duration) string {
	if d < time.Minute {
		return plural(max(1, int(d.Round(time.Second)/time.Second)), "second")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute")
}

// startSession logs in and sets the session cookie.
func (a *App) startSession(w http.ResponseWriter, r *http.Request, email, password, next string) error {
	return a.startSessionOTP(w, r, email, password, "", next)
}

// startSessionOTP is startSession with a one-time code.
func (a *App) startSessionOTP(w http.ResponseWriter, r *http.Request, email, password, otp, next string) error {
	l, err := a.identity.LoginOTP(r.Context(), email, password, otp, identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent(), Device: device(w, r)})
	if err != nil {
		return err
	}
	websession.Set(w, r, l.Token, l.ExpiresAt)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (a *App) logout(w http.ResponseWriter, r *http.Request, u *user) error {
	if err := a.identity.Logout(r.Context(), u.Principal); err != nil {
		return err
	}
	websession.Clear(w, r)
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
	return nil
}
