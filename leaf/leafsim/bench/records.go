package bench

import (
	"bytes"
	"context"
	"fmt"

	"github.com/knot-dev/knot/leaf/leafsim"
	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/shared/wire"
)

// templateName names the i-th template of the run.
func (b *bench) templateName(i int) string {
	return fmt.Sprintf("%s-%s-%d", b.opts.Prefix, b.nonce, i)
}

// createTemplate makes a container template with a spec of --spec-size
// bytes and returns its id.
func (b *bench) createTemplate(ctx context.Context, name string) (string, error) {
	kind, desc, spec := shared.TemplateContainer, "made by knot bench replication", leafsim.ContainerSpec(b.opts.SpecSize, name)
	none := []string{}
	id, err := b.api.Templates().Create(ctx, api.TemplateRequest{
		Name: &name, Kind: &kind, Description: &desc, Spec: &spec, Groups: &none, Locations: &none,
	})
	if err != nil {
		return "", fmt.Errorf("create template %s: %w", name, err)
	}
	if id == "" {
		return "", fmt.Errorf("create template %s: the origin answered no template_id", name)
	}
	b.mu.Lock()
	b.created = append(b.created, id)
	b.mu.Unlock()
	return id, nil
}

// updateSpec gives template id a new spec that names mark.
func (b *bench) updateSpec(ctx context.Context, id, mark string) error {
	spec := leafsim.ContainerSpec(b.opts.SpecSize, mark)
	if err := b.api.Templates().Update(ctx, id, api.TemplateRequest{Spec: &spec}); err != nil {
		return fmt.Errorf("update template %s: %w", id, err)
	}
	return nil
}

// marked matches the change of template id whose spec names mark.
func marked(id, mark string) func(wire.Change) bool {
	want := []byte("KNOT_BENCH_MARK=" + mark + `\n`)
	return func(c wire.Change) bool {
		return c.Kind == shared.KindTemplate && c.ID == id && bytes.Contains(c.Data, want)
	}
}

// revisionOf waits until the probe leaf received the change that names
// mark, and returns its revision.
func (b *bench) revisionOf(ctx context.Context, id, mark string) (int64, error) {
	c, err := b.sim.FindChange(ctx, marked(id, mark))
	if err != nil {
		return 0, err
	}
	return c.Revision, nil
}

// seed makes sure the origin holds --seed-users users and --seed-templates
// templates named after the prefix, making the missing ones. Seeded records
// are kept.
func (b *bench) seed(ctx context.Context) error {
	o := b.opts
	if o.SeedUsers > 0 {
		users, err := b.api.Users().List(ctx, "")
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		have := map[string]bool{}
		for _, u := range users {
			have[u.Username] = true
		}
		var missing []string
		for i := range o.SeedUsers {
			if name := fmt.Sprintf("%s-user-%d", o.Prefix, i); !have[name] {
				missing = append(missing, name)
			}
		}
		fmt.Fprintf(b.out, "seeding %d users (%d there already)\n", len(missing), o.SeedUsers-len(missing))
		err = b.parallel(ctx, len(missing), func(ctx context.Context, i int) error {
			req := api.UserCreateRequest{Username: missing[i], Email: missing[i] + "@bench.invalid", Password: crypt.NewToken()[:40]}
			if _, err := b.api.Users().Create(ctx, req); err != nil {
				return fmt.Errorf("create user %s: %w", missing[i], err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if o.SeedTemplates > 0 {
		if _, err := b.seedTemplates(ctx, "seed", o.SeedTemplates); err != nil {
			return err
		}
	}
	return nil
}

// seedTemplates makes sure the origin holds n templates named
// <prefix>-<kind>-<i>, making the missing ones with a spec of --spec-size
// bytes, and returns their ids in order. They are kept for the next run:
// deleting thousands of templates takes an origin long.
func (b *bench) seedTemplates(ctx context.Context, kind string, n int) ([]string, error) {
	templates, err := b.api.Templates().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	have := map[string]string{}
	for _, t := range templates {
		have[t.Name] = t.ID
	}
	ids := make([]string, n)
	var missing []int
	for i := range n {
		if ids[i] = have[fmt.Sprintf("%s-%s-%d", b.opts.Prefix, kind, i)]; ids[i] == "" {
			missing = append(missing, i)
		}
	}
	fmt.Fprintf(b.out, "seeding %d templates with %d-byte specs (%d there already)\n", len(missing), b.opts.SpecSize, n-len(missing))
	err = b.parallel(ctx, len(missing), func(ctx context.Context, j int) error {
		i := missing[j]
		id, err := b.createTemplate(ctx, fmt.Sprintf("%s-%s-%d", b.opts.Prefix, kind, i))
		ids[i] = id
		return err
	})
	b.mu.Lock()
	b.created = nil // seeded templates stay for the next run
	b.mu.Unlock()
	return ids, err
}
