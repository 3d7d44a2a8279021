package main

import (
	"context"
	"log/slog"
	"os"
)

type partnersCmd struct {
	Add     partnersAddCmd     `cmd:"" help:"Register a partner (a smart display, a voice assistant); prints its client ID and secret once."`
	List    partnersListCmd    `cmd:"" help:"List the partners."`
	Disable partnersDisableCmd `cmd:"" help:"Stop every link of a partner at once, on every node, without logging anybody out."`
	Enable  partnersEnableCmd  `cmd:"" help:"Let a disabled partner's links work again, without anybody linking again."`
}

type partnersAddCmd struct {
	Name        string `help:"The partner's name, as people see it on the consent page." required:""`
	RedirectURI string `name:"redirect-uri" help:"The partner's one redirect URI (https; http only on loopback), matched exactly." required:""`
}

func (c *partnersAddCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.PartnerAdd(ctx, os.Stdout, c.Name, c.RedirectURI)
}

type partnersListCmd struct{}

func (c *partnersListCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.PartnerList(ctx, os.Stdout)
}

type partnersDisableCmd struct {
	ClientID string `arg:"" name:"client-id" help:"The partner's client ID."`
}

func (c *partnersDisableCmd) Run(ctx context.Context, admin *adminCmd, log *slog.Logger) error {
	return setPartner(ctx, admin, log, c.ClientID, true)
}

type partnersEnableCmd struct {
	ClientID string `arg:"" name:"client-id" help:"The partner's client ID."`
}

func (c *partnersEnableCmd) Run(ctx context.Context, admin *adminCmd, log *slog.Logger) error {
	return setPartner(ctx, admin, log, c.ClientID, false)
}

func setPartner(ctx context.Context, admin *adminCmd, log *slog.Logger, clientID string, disabled bool) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.PartnerSetDisabled(ctx, os.Stdout, clientID, disabled, admin.Bus, log)
}
