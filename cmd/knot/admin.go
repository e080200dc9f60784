package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/config"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

func adminCommand(s streams) *cli.Command {
	flags := keyFlags("server.mysql.", "server.badgerdb.", "server.redis.", "server.memorydb.", "log.")
	return &cli.Command{
		Name:      "admin",
		UsageText: "knot admin COMMAND [options] EMAIL|FILE",
		Usage:     "Change users, or restore a leaf's replica backup, directly in a server's store, with the server stopped",
		Description: "These commands open the store that the configuration selects (the same file, variables and\n" +
			"storage flags as knot server) while no server holds it. Run them on a standalone or origin server.",
		Action: unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "set-password",
				Usage:     "Set a user's password, read from standard input",
				ArgsUsage: "EMAIL",
				Description: fmt.Sprintf("On a terminal, asks for the new password twice without echoing it; otherwise reads one line.\n"+
					"The password needs at least %d characters. The user's sessions end, and their API tokens are\n"+
					"deleted unless --keep-tokens is given.", shared.MinPasswordLength),
				Flags: append(flags, &cli.BoolFlag{Name: "keep-tokens", Usage: "keep the user's API tokens (they are deleted otherwise)"}),
				Action: func(c *cli.Context) error {
					return changeUser(c, "user.password_set", func() (func(*shared.User), error) {
						pw, err := readPassword(s)
						if err != nil {
							return nil, err
						}
						hash, err := crypt.HashPassword(pw)
						if err != nil {
							return nil, err
						}
						return func(u *shared.User) { u.PasswordHash = hash }, nil
					}, "Password of %s set.\n", func(ctx context.Context, st storage.Store, u *shared.User) (string, error) {
						return revokeCredentials(ctx, st, u.ID, c.Bool("keep-tokens"))
					})
				},
			},
			{
				Name:      "reset-totp",
				Usage:     "Clear a user's TOTP secret, so that a new one is issued at the next login",
				ArgsUsage: "EMAIL",
				Description: "For a user who lost their authenticator: the secret, any enrolment in progress and the\n" +
					"codes used are forgotten, and the next password login at the origin issues a new secret.\n" +
					"Leaves forget the secret when they hear of the change; each forgets the codes used there\n" +
					"once a new secret arrives.",
				Flags: flags,
				Action: func(c *cli.Context) error {
					return changeUser(c, "user.totp_reset", func() (func(*shared.User), error) {
						return func(u *shared.User) { u.TOTPSecret, u.TOTPLastStep = "", 0 }, nil
					}, "TOTP of %s reset; a new secret is issued at the next login.\n", forgetTOTPState)
				},
			},
			restoreReplicaCommand(flags),
		},
	}
}

// changeUser loads the configuration, opens the store and finds the user
// named by the one argument. It then calls prepare, which returns the change
// to make, applies it and writes the user back, recording event in the audit
// log. Then after, when set, does what follows from the change and says what
// it did.
func changeUser(c *cli.Context, event string, prepare func() (func(*shared.User), error), done string,
	after func(context.Context, storage.Store, *shared.User) (string, error)) error {
	switch c.NArg() {
	case 0:
		return usagef(c, "missing EMAIL")
	case 1:
	default:
		return usagef(c, "unexpected argument %q", c.Args().Get(1))
	}
	email := c.Args().First()
	cfg, logger, st, err := openOriginStore(c, "users belong to the origin, so run this command there")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := c.Context

	u, err := findUser(ctx, st, email)
	if err != nil {
		return err
	}
	apply, err := prepare()
	if err != nil {
		return err
	}
	// Put compares the revision read above. No server should run on this
	// store, but should one have written meanwhile, read the user again.
	for attempt := 1; ; attempt++ {
		apply(u)
		u.UpdatedAt = time.Now().UTC()
		err = st.Put(ctx, u)
		if err == nil || shared.ErrorCode(err) != shared.ECONFLICT || attempt == 3 {
			break
		}
		if u, err = findUser(ctx, st, email); err != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("write user %s: %w", email, err)
	}
	ev := &shared.AuditEvent{
		At: time.Now().UTC(), Actor: "knot admin", ActorType: "cli", Event: event,
		Details:  fmt.Sprintf("%s of %s from the command line", strings.ReplaceAll(strings.TrimPrefix(event, "user."), "_", " "), u.Email),
		Location: cfg.Server.Location, Properties: map[string]string{"user_id": u.ID},
	}
	if err := st.AppendAudit(ctx, ev); err != nil {
		logger.Warn("audit event not written", "event", event, "error", err)
	}
	if _, err := fmt.Fprintf(c.App.Writer, done, u.Email); err != nil {
		return err
	}
	if after == nil {
		return nil
	}
	msg, err := after(ctx, st, u)
	if err != nil || msg == "" {
		return err
	}
	_, err = fmt.Fprintln(c.App.Writer, msg)
	return err
}

// forgetTOTPState deletes what the server keeps of u's TOTP logins: an
// enrolment in progress and the last code used. It has nothing to say.
func forgetTOTPState(ctx context.Context, st storage.Store, u *shared.User) (string, error) {
	if _, err := st.Delete(ctx, shared.KindTOTP, u.ID); err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
		return "", fmt.Errorf("forget the TOTP state of %s: %w", u.Email, err)
	}
	return "", nil
}

// revokeCredentials deletes the sessions of the user with id and, unless
// keepTokens, their API tokens, and says how many it deleted.
func revokeCredentials(ctx context.Context, st storage.Store, id string, keepTokens bool) (string, error) {
	sessions, err := deleteOf[shared.Session](ctx, st, func(se *shared.Session) bool { return se.UserID == id })
	if err != nil {
		return "", fmt.Errorf("end the user's sessions: %w", err)
	}
	msg := shared.Count(sessions, "session") + " ended"
	if keepTokens {
		return msg + "; API tokens kept.", nil
	}
	tokens, err := deleteOf[shared.Token](ctx, st, func(t *shared.Token) bool { return t.UserID == id })
	if err != nil {
		return "", fmt.Errorf("delete the user's API tokens: %w", err)
	}
	return fmt.Sprintf("%s, %s deleted.", msg, shared.Count(tokens, "API token")), nil
}

// deleteOf deletes the records of a kind that match and returns how
// many it deleted.
func deleteOf[T any, P storage.RecordPtr[T]](ctx context.Context, st storage.Store, match func(P) bool) (int, error) {
	recs, err := storage.ListWhere(ctx, st, match)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if _, err := st.Delete(ctx, r.RecordKind(), r.RecordID()); err != nil && shared.ErrorCode(err) != shared.ENOTFOUND {
			return n, err
		}
		n++
	}
	return n, nil
}

// openOriginStore loads the configuration and opens the store of a
// standalone or origin server; on a leaf it fails, saying why (leafWhy).
func openOriginStore(c *cli.Context, leafWhy string) (*config.Config, *slog.Logger, storage.Store, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Role() == config.RoleLeaf {
		return nil, nil, nil, errors.New("this server is a leaf: " + leafWhy)
	}
	logger := newLogger(c.App.ErrWriter, cfg)
	st, err := openStore(c.Context, cfg, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, logger, st, nil
}

func findUser(ctx context.Context, st storage.Store, email string) (*shared.User, error) {
	u, err := storage.Lookup[shared.User](ctx, st, "email:"+strings.ToLower(email))
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, fmt.Errorf("no user has the email %q", email)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", email, err)
	}
	return u, nil
}

// readPassword reads a new password: from a terminal, twice and without
// echo; otherwise one line.
func readPassword(s streams) (string, error) {
	var pw string
	if f, ok := s.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(s.stderr, "New password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(s.stderr, "Repeat it: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(b) != string(again) {
			return "", errors.New("the passwords differ")
		}
		pw = string(b)
	} else {
		line, err := bufio.NewReader(io.LimitReader(s.stdin, 4096)).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				return "", errors.New("no password on standard input")
			}
			return "", fmt.Errorf("read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if n := utf8.RuneCountInString(pw); n < shared.MinPasswordLength {
		return "", fmt.Errorf("the password needs at least %d characters, not %d", shared.MinPasswordLength, n)
	}
	return pw, nil
}
