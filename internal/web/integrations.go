package web

import (
	"context"
	"net/http"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/webhook"
)

// Webhooks manages homes' webhooks (webhook.Service).
type Webhooks interface {
	Create(ctx context.Context, p authz.Principal, homeID, rawURL string, types []string) (webhook.Created, error)
	List(ctx context.Context, p authz.Principal, homeID string) ([]webhook.View, error)
	Delete(ctx context.Context, p authz.Principal, homeID, webhookID string) error
	Deliveries(ctx context.Context, p authz.Principal, homeID, webhookID string) ([]webhook.DeliveryView, error)
}

// integrationsPage is the Integrations page: each home the person manages,
// with its webhooks and their recent deliveries.
type integrationsPage struct {
	Homes  []homeHooks
	Types  []string
	Notice string
	// Created is a webhook just added, shown once with its secret.
	Created *webhook.Created
}

type homeHooks struct {
	Home  homes.Home
	Hooks []hookRow
}

type hookRow struct {
	webhook.View
	Deliveries []webhook.DeliveryView
}

func (integrationsPage) pageTitle() (string, string) { return "Integrations", "integrations" }

// integrationsPage is GET /integrations.
func (a *App) integrationsPage(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := a.integrations(r, u)
	if err != nil {
		return err
	}
	p.Notice = noticeText(r.URL.Query().Get("done"))
	a.render(w, r, http.StatusOK, "integrations", u, p)
	return nil
}

func (a *App) integrations(r *http.Request, u *user) (integrationsPage, error) {
	p := integrationsPage{Types: domain.WebhookTypes()}
	if a.webhooks == nil {
		return p, nil
	}
	hs, err := a.homes.List(r.Context(), u.Principal)
	if err != nil {
		return p, err
	}
	for _, h := range hs {
		if !authz.Allows(h.Role, authz.ManageIntegrations) {
			continue
		}
		hh := homeHooks{Home: h}
		list, err := a.webhooks.List(r.Context(), u.Principal, h.ID)
		if err != nil {
			return p, err
		}
		for _, v := range list {
			row := hookRow{View: v}
			ds, err := a.webhooks.Deliveries(r.Context(), u.Principal, h.ID, v.ID)
			if err != nil {
				return p, err
			}
			if len(ds) > 10 {
				ds = ds[:10]
			}
			row.Deliveries = ds
			hh.Hooks = append(hh.Hooks, row)
		}
		p.Homes = append(p.Homes, hh)
	}
	return p, nil
}

// addWebhook is POST /homes/{home}/webhooks: the page again, with the new
// webhook's secret shown once.
func (a *App) addWebhook(w http.ResponseWriter, r *http.Request, u *user) error {
	if a.webhooks == nil {
		a.notFound(w, r, u)
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	c, err := a.webhooks.Create(r.Context(), u.Principal, r.PathValue("home"), r.PostFormValue("url"), r.PostForm["events"])
	if err != nil {
		return err
	}
	p, err := a.integrations(r, u)
	if err != nil {
		return err
	}
	p.Created = &c
	a.render(w, r, http.StatusOK, "integrations", u, p)
	return nil
}

// removeWebhook is POST /homes/{home}/webhooks/{webhook}/remove.
func (a *App) removeWebhook(w http.ResponseWriter, r *http.Request, u *user) error {
	if a.webhooks == nil {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.webhooks.Delete(r.Context(), u.Principal, r.PathValue("home"), r.PathValue("webhook")); err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations?done=webhook-removed", http.StatusSeeOther)
	return nil
}
