package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
)

// requestTimeout bounds one REST request. Starting a space can take a while
// (an image pull), so it is generous; Ctrl-C ends a request sooner.
const requestTimeout = client.DefaultTimeout

// newClient returns a client of the knot server at base that sends token
// ("" for none) and verifies the server with tc (nil: the system's roots).
func newClient(base, token string, tc *tls.Config) (*client.Client, error) {
	return client.New(client.Config{Address: base, Token: token, TLSConfig: tc, UserAgent: "knot/" + version})
}

// withNamedSpace checks that the command has one argument, NAME, and runs
// fn with a client and the caller's space of that name (see findSpace).
func withNamedSpace(c *cli.Context, fn func(*client.Client, *api.Space) error) error {
	if err := wantArgs(c, "NAME"); err != nil {
		return err
	}
	return withClient(c, func(cl *client.Client) error {
		sp, err := findSpace(c.Context, cl, c.Args().First())
		if err != nil {
			return err
		}
		return fn(cl, sp)
	})
}

// findSpace returns the caller's space named name: an exact match, else the
// one match ignoring case. Names are unique per location, so a name held at
// several locations must be given as NAME@LOCATION.
func findSpace(ctx context.Context, c *client.Client, name string) (*api.Space, error) {
	spaces, err := c.Spaces().List(ctx, client.SpaceListOptions{})
	if err != nil {
		return nil, err
	}
	name, location, _ := strings.Cut(name, "@")
	var exact, fold []*api.Space
	for i := range spaces {
		sp := &spaces[i]
		if location != "" && !strings.EqualFold(sp.Location, location) {
			continue
		}
		if sp.Name == name {
			exact = append(exact, sp)
		} else if strings.EqualFold(sp.Name, name) {
			fold = append(fold, sp)
		}
	}
	found := exact
	if len(found) == 0 {
		found = fold
	}
	switch len(found) {
	case 0:
		if location != "" {
			return nil, fmt.Errorf("you have no space named %q at location %q (knot space list shows your spaces)", name, location)
		}
		return nil, fmt.Errorf("you have no space named %q (knot space list shows your spaces)", name)
	case 1:
		return found[0], nil
	}
	var at []string
	for _, sp := range found {
		at = append(at, sp.Location)
	}
	return nil, fmt.Errorf("you have a space named %q at each of %s: name one as %s@LOCATION", name, strings.Join(at, ", "), name)
}

// findTemplate returns the template named name among ts, or nil.
func findTemplate(ts []api.Template, name string) *api.Template {
	var fold *api.Template
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i]
		}
		if strings.EqualFold(ts[i].Name, name) {
			fold = &ts[i]
		}
	}
	return fold
}

// ptr returns a pointer to v, for the optional fields of a request.
func ptr[T any](v T) *T { return &v }
