// Package shared holds knot's domain: the records that origin, leaf and
// agent all speak of (users, groups, roles, tokens, templates, template
// variables, spaces, audit events), the coded errors that every layer returns,
// and the validation rules for names. It imports no storage, HTTP or runtime
// library; subpackages hold the wire protocol, config and srv+ resolution.
package shared
