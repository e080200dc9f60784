package shared

import (
	"slices"
	"strings"
	"time"
)

// The selections of the lists the services return: which texts a query
// searches, which filters apply and which sort keys each list offers.
// Origin and leaf services call them on the records they read.

func metaCreated[T interface{ created() time.Time }](x T) time.Time { return x.created() }

func (m *Meta) created() time.Time { return m.CreatedAt }

// SelectGroups selects groups by name; sorts: name, created.
func SelectGroups(gs []*Group, o ListOptions) (Page[*Group], error) {
	return Select(gs, o, keepMatching(o, func(g *Group) []string { return []string{g.Name} }),
		NameSorts(func(g *Group) string { return g.Name }, metaCreated[*Group]))
}

// SelectRoles selects roles by name; sorts: name, created.
func SelectRoles(rs []*Role, o ListOptions) (Page[*Role], error) {
	return Select(rs, o, keepMatching(o, func(r *Role) []string { return []string{r.Name} }),
		NameSorts(func(r *Role) string { return r.Name }, metaCreated[*Role]))
}

// SelectVariables selects variables by name or location and keeps those at
// o.Location; sorts: name, created, location.
func SelectVariables(vs []*TemplateVar, o ListOptions) (Page[*TemplateVar], error) {
	sorts := NameSorts(func(v *TemplateVar) string { return v.Name }, metaCreated[*TemplateVar])
	sorts["location"] = func(a, b *TemplateVar) int { return ByText(a.Location, b.Location) }
	keep := func(v *TemplateVar) bool {
		return o.Match(v.Name, v.Location) && (o.Location == "" || strings.EqualFold(v.Location, o.Location))
	}
	return Select(vs, o, keepIf(o.Query != "" || o.Location != "", keep), sorts)
}

// SelectTokens selects API tokens by name; sorts: name, created, expires.
func SelectTokens(ts []*Token, o ListOptions) (Page[*Token], error) {
	sorts := NameSorts(func(t *Token) string { return t.Name }, metaCreated[*Token])
	sorts["expires"] = func(a, b *Token) int { return ByTime(a.ExpiresAt, b.ExpiresAt) }
	return Select(ts, o, keepMatching(o, func(t *Token) []string { return []string{t.Name} }), sorts)
}

// SelectTemplates selects templates by name or description; sorts: name,
// created, kind, spaces (how many use it).
func SelectTemplates(ts []*TemplateUsage, o ListOptions) (Page[*TemplateUsage], error) {
	sorts := NameSorts(func(t *TemplateUsage) string { return t.Name }, func(t *TemplateUsage) time.Time { return t.CreatedAt })
	sorts["kind"] = func(a, b *TemplateUsage) int { return ByText(string(a.Kind), string(b.Kind)) }
	sorts["spaces"] = func(a, b *TemplateUsage) int { return a.Spaces - b.Spaces }
	return Select(ts, o, keepMatching(o, func(t *TemplateUsage) []string { return []string{t.Name, t.Description} }), sorts)
}

// userSorts are the orders of a user list: name (the username), created,
// email, spaces.
var userSorts = func() Sorts[UserListing] {
	sorts := NameSorts(func(l UserListing) string { return l.User.Username }, func(l UserListing) time.Time { return l.User.CreatedAt })
	sorts["email"] = func(a, b UserListing) int { return ByText(a.User.Email, b.User.Email) }
	sorts["spaces"] = func(a, b UserListing) int { return a.NumberSpaces - b.NumberSpaces }
	return sorts
}()

// SelectUsers selects users by username or email (the state filter is
// UserService.List's); sorts as userSorts.
func SelectUsers(us []UserListing, o ListOptions) (Page[UserListing], error) {
	return Select(us, o, keepMatching(o, func(l UserListing) []string { return []string{l.User.Username, l.User.Email} }), userSorts)
}

// SelectUserListings is SelectUsers over the users of v in state o.State
// (see CheckUserState), each with the number of their spaces and of those
// deployed; orders keeps the users of each state and order of v, so that
// a page sorts them once per version of v. err, the error of reading v,
// is returned as it is.
func SelectUserListings(v *SpaceList, err error, o ListOptions, orders *Orders[UserListing]) (Page[UserListing], error) {
	if err == nil {
		err = CheckUserState(o.State)
	}
	if err == nil {
		err = o.Check(sortKeys(userSorts))
	}
	if err != nil {
		return Page[UserListing]{}, err
	}
	all := orders.Get(v, o.State+"/"+o.Sort, func() []UserListing {
		ls := userListings(v, o.State)
		if o.Sort != "" {
			SortBy(ls, o.Sort, userSorts)
		}
		return ls
	})
	o.Sort = ""
	return SelectUsers(all, o)
}

// userListings returns the users of v in state, ordered by id, each with
// the number of their spaces and of those deployed.
func userListings(v *SpaceList, state string) []UserListing {
	count, deployed := map[string]int{}, map[string]int{}
	for _, sp := range v.Spaces {
		count[sp.UserID]++
		if sp.Deployed() {
			deployed[sp.UserID]++
		}
	}
	out := make([]UserListing, 0, len(v.Users))
	for _, u := range v.Users {
		if u.InState(state) {
			out = append(out, UserListing{User: u, NumberSpaces: count[u.ID], NumberSpacesDeployed: deployed[u.ID]})
		}
	}
	slices.SortFunc(out, func(a, b UserListing) int { return strings.Compare(a.User.ID, b.User.ID) })
	return out
}

// keepMatching keeps the items one of whose texts matches o's query; nil
// (keep all) without a query.
func keepMatching[T any](o ListOptions, texts func(T) []string) func(T) bool {
	return keepIf(o.Query != "", func(x T) bool { return o.Match(texts(x)...) })
}

func keepIf[T any](cond bool, keep func(T) bool) func(T) bool {
	if !cond {
		return nil
	}
	return keep
}

// SelectList returns a function that selects with sel among items as o
// says, or fails with err when reading the items failed:
// SelectList(storage.List[T](ctx, st))(o, SelectGroups).
func SelectList[T any](items []T, err error) func(o ListOptions, sel func([]T, ListOptions) (Page[T], error)) (Page[T], error) {
	return func(o ListOptions, sel func([]T, ListOptions) (Page[T], error)) (Page[T], error) {
		if err != nil {
			return Page[T]{}, err
		}
		return sel(items, o)
	}
}
