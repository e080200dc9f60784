package leaf

import (
	"context"
	"slices"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// The checks of a space a user is given, made by Create and, on an origin,
// for every space a restricted leaf reports (CheckReport): the leaf of a
// user's API token is trusted no more than that user at the API.

// checkSpaceFields checks the fields of sp a user chooses: its name,
// description and shell, and its state.
func checkSpaceFields(sp *shared.Space) error {
	if err := checkName("name", sp.Name); err != nil {
		return err
	}
	if err := checkText("description", sp.Description, 4096); err != nil {
		return err
	}
	if !shared.ValidShell(sp.Shell) {
		return invalid("shell %s is not one of bash, zsh, fish, sh", quote(sp.Shell))
	}
	if !sp.State.Valid() {
		return invalid("state %s is not a state of a space", quote(string(sp.State)))
	}
	return nil
}

// template returns the template id of a space of owner: EINVALID when
// there is no such template, EFORBIDDEN when owner may not use it.
func (s *SpaceService) template(ctx context.Context, owner *shared.User, id string) (*shared.Template, error) {
	t, err := storage.Get[shared.Template](ctx, s.opts.Store, id)
	if shared.ErrorCode(err) == shared.ENOTFOUND {
		return nil, invalid("template_id: template %s does not exist", quote(id))
	}
	if err != nil {
		return nil, err
	}
	if !t.UsableBy(owner.Groups) {
		return nil, forbidden("template %s is not available to the groups of user %s", quote(t.Name), quote(owner.Username))
	}
	return t, nil
}

// checkPlace checks that sp, a space of owner (old is its stored copy, nil
// for a new space), may be where it is: a restricted location holds only
// its owner's spaces; a new space, or one that changed its template or
// location, needs a template owner may use that runs at the location. The
// space quota of a new space is checked where it is written
// (spacequota.go), or by checkSpaceQuota where another server writes it.
func (s *SpaceService) checkPlace(ctx context.Context, owner *shared.User, old, sp *shared.Space) error {
	if name, ok := shared.LocationOwner(sp.Location); ok && !strings.EqualFold(name, owner.Username) {
		return forbidden("location %s is the restricted leaf of user %s, which runs only that user's spaces: choose another location for a space of %s",
			quote(sp.Location), quote(name), quote(owner.Username))
	}
	if old == nil || old.TemplateID != sp.TemplateID || !strings.EqualFold(old.Location, sp.Location) {
		t, err := s.template(ctx, owner, sp.TemplateID)
		if err != nil {
			return err
		}
		if len(t.Locations) > 0 && !slices.Contains(t.Locations, sp.Location) {
			return invalid("location: template %s cannot run in location %s (it runs in %s)", quote(t.Name), quote(sp.Location), strings.Join(t.Locations, ", "))
		}
	}
	return nil
}

// CheckReport checks, on an origin, a space a restricted leaf reports for
// owner (old is the origin's copy, nil for a new space) with the checks of
// Create; it is the hub's origin.SpaceCheck.
func (s *SpaceService) CheckReport(ctx context.Context, owner *shared.User, old, sp *shared.Space) error {
	if !owner.Active {
		return invalid("user %s is not active", quote(owner.Username))
	}
	if err := checkSpaceFields(sp); err != nil {
		return err
	}
	// No lock of the owner's creations: the hub checks reports in the
	// link's reader, which a creation at that leaf waits for.
	if err := s.checkPlace(ctx, owner, old, sp); err != nil || old != nil {
		return err
	}
	return s.checkSpaceQuota(ctx, owner, sp)
}

// quote, setIf, checkName and checkText are shared's, which origin and
// web use too.
var (
	quote     = shared.Quote
	checkName = shared.CheckName
	checkText = shared.CheckText
)

func setIf[T any](dst, src *T) { shared.SetIf(dst, src) }

func invalid(format string, args ...any) error {
	return shared.Errorf(shared.EINVALID, format, args...)
}

func forbidden(format string, args ...any) error {
	return shared.Errorf(shared.EFORBIDDEN, format, args...)
}
