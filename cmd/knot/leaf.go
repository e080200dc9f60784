package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// shortID is how lists show a leaf token id (the hash of its secret).
const shortID = 12

func leafCommand() *cli.Command {
	return &cli.Command{
		Name:      "leaf",
		Usage:     "Manage the leaves of an origin: their tokens, and the list of leaves",
		UsageText: "knot leaf COMMAND [options] [arguments]",
		Description: "These commands need the Admin role on the origin; on a leaf they are forwarded to its origin.\n" +
			clientConfigHelp,
		Action: unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Aliases:   []string{"ls"},
				Usage:     "List the leaves of the origin: connected, or gone for less than server.leaf_forget_after",
				UsageText: "knot leaf list [options]",
				Flags:     clientFlags(),
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return withClient(c, func(cl *client.Client) error { return listLeaves(c, cl) })
				},
			},
			leafTokenCommand(),
		},
	}
}

func leafTokenCommand() *cli.Command {
	return &cli.Command{
		Name:      "token",
		Aliases:   []string{"tokens"},
		Usage:     "Create, list, revoke and rotate the tokens leaves connect with",
		UsageText: "knot leaf token COMMAND [options] [arguments]",
		Description: "A leaf token lets the leaf of one location connect to the origin: give it to the leaf as its\n" +
			"server.shared_token. " + clientConfigHelp,
		Action: unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "Create a token for the leaf of a location and print it (it is shown once)",
				UsageText: "knot leaf token create --location LOCATION [--name NAME] [options]",
				Flags: clientFlags(
					&cli.StringFlag{Name: "location", Usage: "the location of the leaf (required)"},
					&cli.StringFlag{Name: "name", Usage: "a name to tell the token apart"},
				),
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					loc := strings.TrimSpace(c.String("location"))
					if loc == "" {
						return usagef(c, "--location is required: the location of the leaf that will use the token")
					}
					return withClient(c, func(cl *client.Client) error {
						t, err := cl.Leaves().CreateToken(c.Context, api.LeafTokenRequest{Location: loc, Name: c.String("name")})
						if err != nil {
							return err
						}
						return printNewLeafToken(c, t, "")
					})
				},
			},
			{
				Name:      "list",
				Aliases:   []string{"ls"},
				Usage:     "List the leaf tokens",
				UsageText: "knot leaf token list [options]",
				Flags:     clientFlags(),
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					return withClient(c, func(cl *client.Client) error { return listLeafTokens(c, cl) })
				},
			},
			{
				Name:      "revoke",
				Aliases:   []string{"rm"},
				Usage:     "Revoke a leaf token; leaves connected with it are disconnected",
				UsageText: "knot leaf token revoke [options] ID",
				Description: "ID is the token's id as knot leaf token list shows it, or the start of it, as long as that\n" +
					"names one token.",
				Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, "ID"); err != nil {
						return err
					}
					return withClient(c, func(cl *client.Client) error {
						t, err := findLeafToken(c, cl, c.Args().First())
						if err != nil {
							return err
						}
						if err := cl.Leaves().DeleteToken(c.Context, t.ID); err != nil {
							return err
						}
						_, err = fmt.Fprintf(c.App.Writer, "Revoked the leaf token %s of location %s.\n", short(t.ID), t.Location)
						return err
					})
				},
			},
			{
				Name:      "rotate",
				Usage:     "Replace a leaf token by a new one; the old one works for the overlap",
				UsageText: "knot leaf token rotate [--overlap 24h] [options] ID",
				Description: "Prints the new token (it is shown once). Give it to the leaf before the overlap ends.\n" +
					"ID is the token's id as knot leaf token list shows it, or the start of it.",
				Flags: clientFlags(
					&cli.DurationFlag{Name: "overlap", Value: 24 * time.Hour, Usage: "how long the old token keeps working"},
				),
				Action: func(c *cli.Context) error {
					if err := wantArgs(c, "ID"); err != nil {
						return err
					}
					overlap := c.Duration("overlap")
					if overlap < 0 {
						return usagef(c, "--overlap %s is negative", overlap)
					}
					return withClient(c, func(cl *client.Client) error {
						old, err := findLeafToken(c, cl, c.Args().First())
						if err != nil {
							return err
						}
						t, err := cl.Leaves().RotateToken(c.Context, old.ID, api.LeafTokenRotateRequest{Overlap: overlap.String()})
						if err != nil {
							return err
						}
						return printNewLeafToken(c, t, fmt.Sprintf("The old token %s works for %s more.", short(old.ID), overlap))
					})
				},
			},
		},
	}
}

// printNewLeafToken prints the secret alone on standard output, so that a
// script can take it, and what it is on standard error.
func printNewLeafToken(c *cli.Context, t *api.LeafTokenCreated, note string) error {
	if _, err := fmt.Fprintln(c.App.Writer, t.Token); err != nil {
		return err
	}
	msg := fmt.Sprintf("This is the token of the leaf of location %s (id %s). Give it to that leaf as server.shared_token;\nit is not shown again.", t.Location, short(t.ID))
	if note != "" {
		msg += " " + note
	}
	_, err := fmt.Fprintln(c.App.ErrWriter, msg)
	return err
}

func listLeafTokens(c *cli.Context, cl *client.Client) error {
	tokens, err := cl.Leaves().Tokens(c.Context)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		_, err := fmt.Fprintln(c.App.Writer, "There are no leaf tokens; knot leaf token create --location LOCATION makes one.")
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLOCATION\tNAME\tCREATED\tEXPIRES")
	for _, t := range tokens {
		expires := "never"
		if t.ExpiresAt != nil {
			expires = t.ExpiresAt.Local().Format(time.DateTime)
			if t.Expired {
				expires += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", short(t.ID), t.Location, t.Name, t.CreatedAt.Local().Format(time.DateTime), expires)
	}
	return tw.Flush()
}

// findLeafToken returns the leaf token whose id is id or starts with it.
func findLeafToken(c *cli.Context, cl *client.Client, id string) (*api.LeafToken, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < 6 {
		return nil, usagef(c, "ID %q is too short: give at least 6 characters of it", id)
	}
	tokens, err := cl.Leaves().Tokens(c.Context)
	if err != nil {
		return nil, err
	}
	var found []*api.LeafToken
	for i := range tokens {
		if strings.HasPrefix(tokens[i].ID, id) {
			found = append(found, &tokens[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("there is no leaf token %s (knot leaf token list shows them)", id)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%s is the start of %d leaf tokens: give more of the id", id, len(found))
}

func listLeaves(c *cli.Context, cl *client.Client) error {
	leaves, err := cl.Leaves().List(c.Context)
	if err != nil {
		return err
	}
	if len(leaves) == 0 {
		_, err := fmt.Fprintln(c.App.Writer, "No leaf has connected since the origin started.")
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOCATION\tNODE\tSTATE\tVERSION\tPROTOCOL\tRUNTIMES\tSINCE\tLAST SEEN\tROUND TRIP\tAPPLIED\tLAG")
	for _, n := range leaves {
		state := "disconnected"
		if n.Connected {
			state = "connected"
		}
		if n.Restricted {
			state += " (restricted)"
		}
		if n.EpochChanges > 0 {
			state += fmt.Sprintf(" (new epoch since %s, was %s)", when(n.EpochChangedAt), n.PreviousEpoch)
		}
		runtimes := strings.Join(n.Runtimes, ",")
		if runtimes == "" {
			runtimes = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.1f ms\t%d\t%d\n", n.Location, n.NodeID, state, n.Version, n.Protocol,
			runtimes, when(n.ConnectedSince), when(n.LastSeen), n.RoundTripMillis, n.AppliedRevision, n.Lag)
	}
	return tw.Flush()
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// short returns the start of a leaf token id that lists show.
func short(id string) string { return id[:min(shortID, len(id))] }
