package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/partner"
)

// PartnerAdd registers a partner and writes its client ID and secret, the
// only time the secret is shown.
func (o *Offline) PartnerAdd(ctx context.Context, w io.Writer, name, redirectURI string) error {
	reg, err := partner.New(o.Store, nil, partner.DefaultConfig(), nil).Add(ctx, name, redirectURI)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "client_id:     %s\nclient_secret: %s\n", reg.ClientID, reg.ClientSecret)
	fmt.Fprintln(w, "The secret is shown only now; camvault keeps only its hash. Give both to the partner.")
	return nil
}

// PartnerList writes every partner.
func (o *Offline) PartnerList(ctx context.Context, w io.Writer) error {
	list, err := partner.New(o.Store, nil, partner.DefaultConfig(), nil).List(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "no partners")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tSTATE\tNAME\tREDIRECT URI\tADDED")
	for _, p := range list {
		state := "enabled"
		if p.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, state, p.Name, p.RedirectURI, p.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// PartnerSetDisabled disables (the kill switch) or enables a partner. The
// store is what every node reads on every request, so that is where it
// takes effect; when bus names the nodes' NATS, they are also told at
// once, so live sessions end without waiting for their next re-check.
func (o *Offline) PartnerSetDisabled(ctx context.Context, w io.Writer, clientID string, disabled bool, bus string, log *slog.Logger) error {
	if err := partner.New(o.Store, nil, partner.DefaultConfig(), nil).SetDisabled(ctx, clientID, disabled); err != nil {
		return err
	}
	verb := "enabled: its links work again"
	if disabled {
		verb = "disabled: every link of it stopped on every node; nobody was logged out"
	}
	fmt.Fprintf(w, "partner %s %s\n", clientID, verb)
	if bus == "" {
		return nil
	}
	b, err := openBus(ctx, Config{Bus: bus}, log)
	if err != nil {
		return fmt.Errorf("the change is stored, but the nodes could not be told at once (they see it within a second): %w", err)
	}
	defer b.Close()
	if err := authz.PublishGrantNotice(ctx, b, authz.GrantNotice{PartnerID: clientID}); err != nil {
		return fmt.Errorf("the change is stored, but the nodes could not be told at once (they see it within a second): %w", err)
	}
	return nil
}
