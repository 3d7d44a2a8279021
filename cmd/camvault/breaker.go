package main

import (
	"context"
	"os"
	"os/user"
)

type breakerCmd struct {
	Status breakerStatusCmd `cmd:"" help:"Show whether the cache breaker is open, since when and why."`
	Reset  breakerResetCmd  `cmd:"" help:"Close the cache breaker: every node puts the cache back in its paths within a second."`
}

type breakerStatusCmd struct{}

func (c *breakerStatusCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.BreakerStatus(ctx, os.Stdout)
}

type breakerResetCmd struct{}

func (c *breakerResetCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	who := "an operator"
	if u, err := user.Current(); err == nil {
		who = "operator " + u.Username
	}
	return o.BreakerReset(ctx, os.Stdout, who)
}
