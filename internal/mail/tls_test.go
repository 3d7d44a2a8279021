package mail_test

import (
	"crypto/tls"

	"github.com/camvault/camvault/internal/mail/mailtest"
)

func tlsWith(s *mailtest.Server) *tls.Config { return &tls.Config{RootCAs: s.Roots} }
