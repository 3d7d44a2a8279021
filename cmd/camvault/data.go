package main

import (
	"context"
	"os"

	"github.com/camvault/camvault/internal/server"
)

// The commands that copy an installation's data: a backup beside the
// running server, a restore into an empty data directory, and a migration
// onto the scale-out backends.

type backupCmd struct {
	To string `help:"A new or empty directory for the backup, outside the data directory." required:"" placeholder:"DIR"`
}

func (c *backupCmd) Run(ctx context.Context, admin *adminCmd) error {
	_, err := server.Backup(ctx, admin.config(), c.To, os.Stdout)
	return err
}

type restoreCmd struct {
	From string `help:"A backup directory made by admin backup." required:"" placeholder:"DIR"`
}

func (c *restoreCmd) Run(ctx context.Context, admin *adminCmd) error {
	_, err := server.Restore(ctx, admin.config(), c.From, os.Stdout)
	return err
}

type migrateCmd struct {
	ToStore string `name:"to-store" help:"The new PostgreSQL database, empty: postgres://USER:PASSWORD@HOST/DB (the variable keeps a password out of the process list)." required:"" env:"CAMVAULT_TO_STORE" placeholder:"URL"`
	ToBlobs string `name:"to-blobs" help:"The new S3 bucket (or prefix), empty: s3://BUCKET?endpoint=URL&region=R (credentials from the usual AWS variables)." required:"" env:"CAMVAULT_TO_BLOBS" placeholder:"URL"`
	Sample  int    `help:"How many events' media to read back from the target and compare after the copy." default:"50"`
}

func (c *migrateCmd) Run(ctx context.Context, admin *adminCmd) error {
	_, err := server.Migrate(ctx, admin.config(), server.MigrateTarget{Store: c.ToStore, Blobs: c.ToBlobs, Sample: c.Sample}, os.Stdout)
	return err
}
