package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// CreatePartner inserts a partner.
func (s *Store) CreatePartner(ctx context.Context, p domain.Partner) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO partners (id, name, redirect_uri, secret_hash, disabled, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.RedirectURI, p.SecretHash, p.Disabled, p.Version, ts(p.CreatedAt))
	return wrap("insert partner", err)
}

const partnerCols = `id, name, redirect_uri, secret_hash, disabled, version, created_at`

func scanPartner(row scanner) (domain.Partner, error) {
	var p domain.Partner
	var created int64
	if err := row.Scan(&p.ID, &p.Name, &p.RedirectURI, &p.SecretHash, &p.Disabled, &p.Version, &created); err != nil {
		return domain.Partner{}, err
	}
	p.CreatedAt = fromTS(created)
	return p, nil
}

// PartnerByID reads a partner.
func (s *Store) PartnerByID(ctx context.Context, id string) (domain.Partner, error) {
	p, err := scanPartner(s.read.QueryRowContext(ctx, `SELECT `+partnerCols+` FROM partners WHERE id = ?`, id))
	return p, wrap("partner by id", err)
}

// ListPartners lists every partner, oldest first.
func (s *Store) ListPartners(ctx context.Context) ([]domain.Partner, error) {
	return list(ctx, s.read, "list partners", scanPartner, `SELECT `+partnerCols+` FROM partners ORDER BY created_at, id`)
}

// SetPartnerDisabled disables or enables a partner and bumps its version.
func (s *Store) SetPartnerDisabled(ctx context.Context, id string, disabled bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE partners SET disabled = ?, version = version + 1 WHERE id = ?`, disabled, id)
	return affected("set partner disabled", res, err)
}

// PutPartnerRequest inserts or replaces an authorization request.
func (s *Store) PutPartnerRequest(ctx context.Context, r domain.PartnerRequest) error {
	scopes, devices, err := requestLists(r)
	if err != nil {
		return err
	}
	var account any
	if r.AccountID != "" {
		account = r.AccountID
	}
	_, err = s.w.ExecContext(ctx,
		`INSERT INTO partner_requests (id, partner_id, redirect_uri, state, scopes, code_challenge, code_challenge_method,
		   created_at, expires_at, account_id, devices, live, code_hash)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, devices = excluded.devices,
		   live = excluded.live, code_hash = excluded.code_hash`,
		r.ID, r.PartnerID, r.RedirectURI, r.State, scopes, r.CodeChallenge, r.CodeChallengeMethod,
		ts(r.CreatedAt), ts(r.ExpiresAt), account, devices, r.Live, nilIfEmpty(r.CodeHash))
	return wrap("put partner request", err)
}

// requestLists encodes a request's lists as the JSON arrays its row keeps.
func requestLists(r domain.PartnerRequest) (scopes, devices string, err error) {
	sc, err := json.Marshal(nonNil(r.Scopes))
	if err != nil {
		return "", "", fmt.Errorf("encode scopes: %w", err)
	}
	dv, err := json.Marshal(nonNil(r.Devices))
	if err != nil {
		return "", "", fmt.Errorf("encode devices: %w", err)
	}
	return string(sc), string(dv), nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

const requestCols = `id, partner_id, redirect_uri, state, scopes, code_challenge, code_challenge_method,
	created_at, expires_at, COALESCE(account_id, ''), devices, live, code_hash`

func scanRequest(row scanner) (domain.PartnerRequest, error) {
	var r domain.PartnerRequest
	var created, expires int64
	var scopes, devices string
	if err := row.Scan(&r.ID, &r.PartnerID, &r.RedirectURI, &r.State, &scopes, &r.CodeChallenge, &r.CodeChallengeMethod,
		&created, &expires, &r.AccountID, &devices, &r.Live, &r.CodeHash); err != nil {
		return domain.PartnerRequest{}, err
	}
	r.CreatedAt, r.ExpiresAt = fromTS(created), fromTS(expires)
	if err := json.Unmarshal([]byte(scopes), &r.Scopes); err != nil {
		return domain.PartnerRequest{}, fmt.Errorf("%w: decode scopes of request %s: %w", store.ErrUnavailable, r.ID, err)
	}
	if err := json.Unmarshal([]byte(devices), &r.Devices); err != nil {
		return domain.PartnerRequest{}, fmt.Errorf("%w: decode cameras of request %s: %w", store.ErrUnavailable, r.ID, err)
	}
	return r, nil
}

// PartnerRequestByID reads an authorization request.
func (s *Store) PartnerRequestByID(ctx context.Context, id string) (domain.PartnerRequest, error) {
	r, err := scanRequest(s.read.QueryRowContext(ctx, `SELECT `+requestCols+` FROM partner_requests WHERE id = ?`, id))
	return r, wrap("partner request by id", err)
}

// PartnerRequestByCodeHash reads an authorization request by its code.
func (s *Store) PartnerRequestByCodeHash(ctx context.Context, hash []byte) (domain.PartnerRequest, error) {
	r, err := scanRequest(s.read.QueryRowContext(ctx, `SELECT `+requestCols+` FROM partner_requests WHERE code_hash = ?`, hash))
	return r, wrap("partner request by code", err)
}

// DeletePartnerRequest removes a request.
func (s *Store) DeletePartnerRequest(ctx context.Context, id string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM partner_requests WHERE id = ?`, id)
	return wrap("delete partner request", err)
}

// LinkPartner consumes a request and replaces the partner's link with the
// account by l and its tokens, in one transaction. Deleting the request is
// what makes a code single-use: of two exchanges, only one deletes it.
func (s *Store) LinkPartner(ctx context.Context, requestID string, l domain.PartnerLink, tokens []domain.PartnerToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM partner_requests WHERE id = ?`, requestID)
		if err := affected("consume partner request", res, err); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM partner_links WHERE partner_id = ? AND account_id = ?`, l.PartnerID, l.AccountID); err != nil {
			return wrap("replace partner link", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO partner_links (id, partner_id, account_id, live, created_at) VALUES (?, ?, ?, ?, ?)`,
			l.ID, l.PartnerID, l.AccountID, l.Live, ts(l.CreatedAt)); err != nil {
			return wrap("insert partner link", err)
		}
		for _, d := range l.Devices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO partner_link_devices (link_id, device_id) VALUES (?, ?)`, l.ID, d); err != nil {
				return wrap("insert partner link camera", err)
			}
		}
		return insertTokens(ctx, tx, tokens)
	})
}

func insertTokens(ctx context.Context, tx *sql.Tx, tokens []domain.PartnerToken) error {
	for _, t := range tokens {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO partner_tokens (token_hash, link_id, kind, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.Hash, t.LinkID, string(t.Kind), ts(t.CreatedAt), ts(t.ExpiresAt), ts(t.UsedAt)); err != nil {
			return wrap("insert partner token", err)
		}
	}
	return nil
}

const linkCols = `l.id, l.partner_id, l.account_id, l.live, l.created_at, p.name, p.disabled, p.version`

func scanLink(row scanner) (domain.PartnerLink, error) {
	var l domain.PartnerLink
	var created int64
	if err := row.Scan(&l.ID, &l.PartnerID, &l.AccountID, &l.Live, &created, &l.PartnerName, &l.PartnerDisabled, &l.PartnerVersion); err != nil {
		return domain.PartnerLink{}, err
	}
	l.CreatedAt = fromTS(created)
	l.Devices = []string{}
	return l, nil
}

// PartnerLink reads a link with its cameras, in one snapshot.
func (s *Store) PartnerLink(ctx context.Context, id string) (domain.PartnerLink, error) {
	var l domain.PartnerLink
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		l, err = scanLink(tx.QueryRowContext(ctx,
			`SELECT `+linkCols+` FROM partner_links l JOIN partners p ON p.id = l.partner_id WHERE l.id = ?`, id))
		if err != nil {
			return wrap("partner link", err)
		}
		devs, err := linkDevices(ctx, tx, `link_id = ?`, id)
		l.Devices = append(l.Devices, devs[id]...)
		return err
	})
	if err != nil {
		return domain.PartnerLink{}, err
	}
	return l, nil
}

func linkDevices(ctx context.Context, q querier, where string, args ...any) (map[string][]string, error) {
	type row struct{ link, device string }
	rows, err := list(ctx, q, "partner link cameras", func(sc scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.link, &r.device)
	}, `SELECT link_id, device_id FROM partner_link_devices WHERE `+where+` ORDER BY link_id, device_id`, args...)
	out := map[string][]string{}
	for _, r := range rows {
		out[r.link] = append(out[r.link], r.device)
	}
	return out, err
}

// ListPartnerLinks lists an account's links, oldest first.
func (s *Store) ListPartnerLinks(ctx context.Context, accountID string) ([]domain.PartnerLink, error) {
	var links []domain.PartnerLink
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		links, err = list(ctx, tx, "list partner links", scanLink,
			`SELECT `+linkCols+` FROM partner_links l JOIN partners p ON p.id = l.partner_id
			 WHERE l.account_id = ? ORDER BY l.created_at, l.id`, accountID)
		if err != nil {
			return err
		}
		devs, err := linkDevices(ctx, tx, `link_id IN (SELECT id FROM partner_links WHERE account_id = ?)`, accountID)
		for i := range links {
			links[i].Devices = append(links[i].Devices, devs[links[i].ID]...)
		}
		return err
	})
	return links, err
}

// DeletePartnerLink removes one of an account's links; its cameras and
// tokens go with it.
func (s *Store) DeletePartnerLink(ctx context.Context, accountID, linkID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM partner_links WHERE id = ? AND account_id = ?`, linkID, accountID)
	return affected("delete partner link", res, err)
}

const tokenCols = `token_hash, link_id, kind, created_at, expires_at, used_at`

func scanToken(row scanner) (domain.PartnerToken, error) {
	var t domain.PartnerToken
	var kind string
	var created, expires, used int64
	if err := row.Scan(&t.Hash, &t.LinkID, &kind, &created, &expires, &used); err != nil {
		return domain.PartnerToken{}, err
	}
	t.Kind, t.CreatedAt, t.ExpiresAt, t.UsedAt = domain.PartnerTokenKind(kind), fromTS(created), fromTS(expires), fromTS(used)
	return t, nil
}

// PartnerTokenByHash reads a token.
func (s *Store) PartnerTokenByHash(ctx context.Context, hash []byte) (domain.PartnerToken, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM partner_tokens WHERE token_hash = ?`, hash))
	return t, wrap("partner token by hash", err)
}

// RotatePartnerToken marks a refresh token used and inserts its
// successors, in one transaction. The conditional UPDATE is what makes a
// refresh token single-use: of two rotations racing, only one changes the
// row.
func (s *Store) RotatePartnerToken(ctx context.Context, hash []byte, at time.Time, tokens []domain.PartnerToken) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE partner_tokens SET used_at = ? WHERE token_hash = ? AND kind = 'refresh' AND used_at = 0`, ts(at), hash)
		if err != nil {
			return wrap("mark refresh token used", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return wrap("mark refresh token used", err)
		}
		if n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM partner_tokens WHERE token_hash = ? AND kind = 'refresh'`, hash).Scan(&one); err != nil {
				return wrap("read refresh token", err)
			}
			return fmt.Errorf("rotate refresh token: already used: %w", store.ErrConflict)
		}
		return insertTokens(ctx, tx, tokens)
	})
}

// DeletePartnerToken removes one token.
func (s *Store) DeletePartnerToken(ctx context.Context, hash []byte) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM partner_tokens WHERE token_hash = ?`, hash)
	return wrap("delete partner token", err)
}

// DeleteExpiredPartnerData removes expired requests and tokens.
func (s *Store) DeleteExpiredPartnerData(ctx context.Context, t time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM partner_requests WHERE expires_at <= ?`, `DELETE FROM partner_tokens WHERE expires_at <= ?`} {
			res, err := tx.ExecContext(ctx, q, ts(t))
			if err != nil {
				return wrap("delete expired partner data", err)
			}
			m, err := res.RowsAffected()
			if err != nil {
				return wrap("delete expired partner data", err)
			}
			n += m
		}
		return nil
	})
	return int(n), err
}
