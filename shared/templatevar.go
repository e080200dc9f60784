package shared

import "context"

// VariableService manages template variables. Every method acts for the
// actor in ctx (ActorFrom), fails with EUNAUTHORIZED when there is none and
// with EFORBIDDEN when they lack Manage Variables. An origin implements it
// over its store; a leaf reads its replica, keeps its local variables
// itself and leaves the writes of the others to the origin.
//
// A protected variable's value is sealed (server.encrypt) before it is
// stored; the records the methods return hold it sealed, and callers must
// not show it.
type VariableService interface {
	// List returns the variables o selects (SelectVariables), ordered by
	// id unless o.Sort says otherwise. EINVALID for options out of range.
	List(ctx context.Context, o ListOptions) (Page[*TemplateVar], error)

	// Get returns the variable with id. ENOTFOUND if there is none.
	Get(ctx context.Context, id string) (*TemplateVar, error)

	// Create stores v as a new variable, sealing its value when it is
	// protected, and sets its id and timestamps. EINVALID when the name is
	// missing or invalid, the location is invalid, the value holds control
	// characters or v is protected on a server without server.encrypt;
	// ETOOLARGE when the value is over MaxVarValue bytes; ECONFLICT when a
	// variable of the name exists for the location; EUNAVAILABLE when the
	// write cannot reach the origin.
	Create(ctx context.Context, v *TemplateVar) error

	// Update changes the fields of the variable with id that upd sets and
	// returns it as stored. A protected variable keeps its sealed value
	// unless upd sets one; protecting a variable seals its value, and
	// turning protection off needs a new value (EINVALID without), since
	// the sealed one is never revealed. ENOTFOUND if there is none; EINVALID
	// as Create, and on a leaf when upd makes a local variable shared;
	// ETOOLARGE and ECONFLICT as Create; EUNAVAILABLE when the write cannot
	// reach the origin.
	Update(ctx context.Context, id string, upd TemplateVarUpdate) (*TemplateVar, error)

	// Delete deletes the variable with id and returns it as it was.
	// ENOTFOUND if there is none; EUNAVAILABLE when the write cannot reach
	// the origin.
	Delete(ctx context.Context, id string) (*TemplateVar, error)
}

// MaxVarValue is the largest template variable value accepted, in bytes.
const MaxVarValue = 512 << 10

// TemplateVarUpdate holds the fields of a template variable an update sets;
// nil leaves a field as it is. Value is the plain value.
type TemplateVarUpdate struct {
	Name       *string
	Location   *string
	Value      *string
	Protected  *bool
	Local      *bool
	Restricted *bool
}

// VarFields returns the update that sets every field of v.
func VarFields(v *TemplateVar) TemplateVarUpdate {
	return TemplateVarUpdate{Name: &v.Name, Location: &v.Location, Value: &v.Value,
		Protected: &v.Protected, Local: &v.Local, Restricted: &v.Restricted}
}

// Check validates what u sets; create requires the name. canSeal says
// whether the server can seal protected values.
func (u TemplateVarUpdate) Check(create, canSeal bool) error {
	if create && (u.Name == nil || *u.Name == "") {
		return Errorf(EINVALID, "name is required")
	}
	if u.Name != nil && !ValidVarName(*u.Name) {
		return Errorf(EINVALID, "name %s is invalid: it must start with a letter or underscore and hold at most 64 letters, digits or underscores", Quote(*u.Name))
	}
	if u.Location != nil && *u.Location != "" {
		if err := CheckLocation("location", *u.Location); err != nil {
			return err
		}
	}
	if u.Value != nil {
		if len(*u.Value) > MaxVarValue {
			return Errorf(ETOOLARGE, "value is larger than %d bytes", MaxVarValue)
		}
		if err := CheckText("value", *u.Value, MaxVarValue); err != nil {
			return err
		}
	}
	if u.Protected != nil && *u.Protected && !canSeal {
		return Errorf(EINVALID, "protected: server.encrypt is not set, so protected variables cannot be stored on this server")
	}
	return nil
}

// Apply sets the fields of v that u sets, sealing the value with seal when
// the variable is (or becomes) protected; seal is nil on a server without
// server.encrypt.
func (u TemplateVarUpdate) Apply(v *TemplateVar, seal func(string) string) error {
	wasProtected := v.Protected
	for _, f := range []struct {
		dst *string
		src *string
	}{{&v.Name, u.Name}, {&v.Location, u.Location}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	for _, f := range []struct {
		dst *bool
		src *bool
	}{{&v.Protected, u.Protected}, {&v.Local, u.Local}, {&v.Restricted, u.Restricted}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	switch {
	case u.Value != nil && v.Protected:
		if seal == nil {
			return Errorf(EINVALID, "value: server.encrypt is not set, so a protected value cannot be stored on this server")
		}
		v.Value = seal(*u.Value)
	case u.Value != nil:
		v.Value = *u.Value
	case v.Protected && !wasProtected:
		if seal == nil {
			return Errorf(EINVALID, "protected: server.encrypt is not set, so protected variables cannot be stored on this server")
		}
		v.Value = seal(v.Value)
	case !v.Protected && wasProtected:
		return Errorf(EINVALID, "value is required when protected is turned off: the sealed value is never revealed")
	}
	return nil
}

// VarNameTaken returns the ECONFLICT error of a variable whose name is taken
// at its location.
func VarNameTaken(v *TemplateVar) error {
	where := "every location"
	if v.Location != "" {
		where = "location " + Quote(v.Location)
	}
	return Errorf(ECONFLICT, "a variable named %s already exists for %s", Quote(v.Name), where)
}
